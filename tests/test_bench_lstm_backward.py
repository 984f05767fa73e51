"""experiments.bench_lstm_backward: the candidate backward pass gives BlockLSTMGrad's gradients; bad options fail."""

import json

import numpy as np
import pytest
import tensorflow as tf

from experiments import bench_lstm_backward as bench


@pytest.mark.parametrize("steps", [1, 5])
def test_the_batched_backward_gives_the_gradients_of_tensorflows_own(steps):
    lstms = bench._lstms(tf)
    x = tf.random.stateless_normal([steps, 3, bench.INPUT_DIM], seed=[0, steps])
    w = tf.random.stateless_normal([bench.INPUT_DIM + bench.UNITS, 4 * bench.UNITS], seed=[1, steps]) * 0.2
    b = tf.random.stateless_normal([4 * bench.UNITS], seed=[2, steps]) * 0.2
    upstream = tf.random.stateless_normal([steps, 3, bench.UNITS], seed=[3, steps])
    grads = {}
    for kind in ("BlockLSTMGrad", "batched, graph ops"):
        with tf.GradientTape() as tape:
            tape.watch([x, w, b])
            loss = tf.reduce_sum(lstms[kind](x, w, b) * upstream)
        grads[kind] = tape.gradient(loss, [x, w, b])
    for ours, theirs in zip(grads["batched, graph ops"], grads["BlockLSTMGrad"]):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-5)


def test_a_run_records_every_length_and_lstm_count(tmp_path):
    out = tmp_path / "lstm_backward.json"
    bench.main(["--lengths", "3", "--rounds", "1", "--iterations", "1", "--output", str(out)])
    rows = json.loads(out.read_text())["rows"]
    assert [(r["steps"], r["lstms"]) for r in rows] == [(3, 1), (3, 2)]
    assert all(r["max_relative_difference"]["batched, graph ops"] < 1e-4 for r in rows)


@pytest.mark.parametrize("lengths", ["a,3", "0"])
def test_bad_lengths_are_a_usage_error(lengths, tmp_path):
    with pytest.raises(SystemExit):
        bench.main(["--lengths", lengths, "--output", str(tmp_path / "x.json")])
