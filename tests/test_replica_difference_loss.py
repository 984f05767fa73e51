"""The difference loss on several replicas is the one-process loss of the global batch, and so is its gradient.

The replicas run in a process of their own (:mod:`tests.replica_difference_loss`), which splits the CPU into
logical devices before TensorFlow first uses it; each such run takes 10-25 s on 2 cores, so those tests are marked
slow (``pytest -m slow``). The one-process path, checked by default here, is the loss it always was.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tf_aspmtl.distribute import all_replica_rows
from tf_aspmtl.objective import MultiTaskObjective

REPO = Path(__file__).resolve().parents[1]


def _replica_run(replicas: int, *options: str) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-m", "tests.replica_difference_loss", str(replicas), *options],
                          cwd=str(REPO), env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _assert_close(gaps: dict, scales: dict):
    # Float summation order only: a relative 1e-5 of each gradient (the left-out pairs gave 0.1 to 0.5).
    for name, gap in gaps.items():
        assert gap <= 1e-7 + 1e-5 * scales[name], (name, gap, scales[name])


@pytest.mark.slow
@pytest.mark.parametrize("replicas, options", [(2, ("--fit",)), (3, ())])  # 3: slices of 5, 5 and 6 rows
def test_difference_loss_and_gradient_on_replicas_are_the_global_batch(replicas, options):
    results = _replica_run(replicas, *options)
    for normalization in ("normalized", "sum"):
        run = results[normalization]
        assert run["replicas"] == pytest.approx([run["one_process"]] * replicas, rel=1e-6), normalization
        assert any("shared_encoder" in n and g > 0 for n, g in run["gradient_scale"].items())
        assert any("private_encoder" in n and g > 0 for n, g in run["gradient_scale"].items())
        _assert_close(run["gradient_gap"], run["gradient_scale"])
        if "--fit" in options:  # one SGD step (rate 1) of Keras' fit: its own summing of the replicas' gradients
            _assert_close(run["fit_step_gap"], run["gradient_scale"])


def test_one_process_difference_loss_is_unchanged():
    rng = np.random.default_rng(0)
    shared, private = (tf.constant(rng.normal(size=(6, 4)), tf.float32) for _ in range(2))
    task_ids = tf.constant([0, 0, 1, 1, 1, 0], tf.int32)
    assert all(a is b for a, b in zip(all_replica_rows([shared, private, task_ids]), [shared, private, task_ids]))
    y_pred = {"logits": tf.zeros([6, 2]), "task_id": task_ids, "shared": shared, "private": private}
    y = tf.zeros([6], tf.int32)
    for normalization in ("normalized", "sum"):
        objective = MultiTaskObjective(difference_weight=0.5, difference_normalization=normalization)
        gathered = objective.terms(y, y_pred, gather_replicas=True)
        own = objective.terms(y, y_pred)
        for name in own:
            assert np.asarray(gathered[name]).tobytes() == np.asarray(own[name]).tobytes(), name
