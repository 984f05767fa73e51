"""configure_cpu_threads: sets TensorFlow's pools before start-up, refuses clearly after."""

import subprocess
import sys

import pytest
import tensorflow as tf

from tf_aspmtl.runtime import configure_cpu_threads


@pytest.mark.slow  # a fresh Python process with TensorFlow imported anew (multi-process)
def test_sets_pools_in_a_fresh_process():
    code = (
        "import tensorflow as tf\n"
        "from tf_aspmtl.runtime import configure_cpu_threads\n"
        "configure_cpu_threads(intra_op=1, inter_op=2)\n"
        "tf.constant(1.0) + 1.0\n"
        "print(tf.config.threading.get_intra_op_parallelism_threads(), "
        "tf.config.threading.get_inter_op_parallelism_threads())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == ["1", "2"]


def test_bad_count_and_late_call_are_refused():
    with pytest.raises(ValueError, match="intra_op"):
        configure_cpu_threads(intra_op=0)
    tf.constant(1.0) + 1.0  # TensorFlow is running now
    other = tf.config.threading.get_intra_op_parallelism_threads() + 1  # asking for the pools in force is no change
    with pytest.raises(RuntimeError, match="before building a model"):
        configure_cpu_threads(intra_op=other, inter_op=1)
    configure_cpu_threads()  # nothing asked, nothing to refuse


def test_configure_threads_refuses_a_zero_count_rather_than_taking_the_default():
    from tf_aspmtl.runtime import configure_threads

    with pytest.raises(ValueError, match="intra_op"):
        configure_threads(intra_op=0)
    with pytest.raises(ValueError, match="inter_op"):
        configure_threads(inter_op=0)
