"""Every term of the objective on several replicas is the one-process term of the global batch, and so is its gradient.

The difference loss pairs rows; the other terms are means over (labelled) rows, which each replica's own mean gets
wrong when the replicas hold different numbers of (labelled) rows.

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


@pytest.mark.slow
@pytest.mark.parametrize("replicas, options", [(2, ("--fit",)), (3, ())])  # 3: slices of 5, 5 and 6 rows
def test_every_term_and_gradient_on_replicas_are_the_global_batch(replicas, options):
    # Labelled rows per replica: 5 / 5 of 8 and 8 (2 replicas); 2 / 5 / 3 of 5, 5 and 6 (3 replicas); sample weights
    # and task weights too. Each replica's own mean gave e.g. task losses 0.603 / 0.457 / 0.514 against 0.502.
    results = _replica_run(replicas, "--terms", *options)
    assert set(results) == {"reversal", "confusion"}
    for objective, run in results.items():
        expected = {"task_loss", "adv_loss", "diff_loss", "loss"} | (
            {"memory_adv_loss", "mean_match_loss", "perturbation_loss"} if objective == "reversal" else {"confusion_loss"})
        assert set(run["one_process"]) == expected, objective
        for name, value in run["one_process"].items():
            assert run["replicas"][name] == pytest.approx([value] * replicas, rel=1e-6, abs=1e-7), (objective, name)
        assert any("shared_encoder" in n and g > 0 for n, g in run["gradient_scale"].items())
        assert any("task_discriminator" in n and g > 0 for n, g in run["gradient_scale"].items())
        _assert_close(run["gradient_gap"], run["gradient_scale"])
        if "--fit" in options:  # two SGD steps of Keras' fit; the second reads the memory the first wrote
            _assert_close(run["fit_step_gap"], run["gradient_scale"])
            for name, (one, replicated) in run["trackers"].items():
                assert replicated == pytest.approx(one, rel=1e-5, abs=1e-7), (objective, name)


def _full_objective_outputs(rng, rows=6, memory=5):
    """y, y_pred and sample weights of a batch for every term (the memory's outputs included)."""
    f32 = lambda *shape: tf.constant(rng.normal(size=shape), tf.float32)  # noqa: E731
    y_pred = {"logits": f32(rows, 2), "task_id": tf.constant([1] * rows, tf.int32), "shared": f32(rows, 4),
              "private": f32(rows, 4), "discriminator_logits": f32(rows, 2), "memory_discriminator_logits": f32(memory, 2),
              "memory_task_id": tf.constant([0, 0, 1, 0, -1], tf.int32), "memory_features": f32(memory, 4)}
    y = tf.constant([0, -1, 1, 1, -1, 0], tf.int32)
    return y, y_pred, tf.constant(rng.uniform(0.5, 1.5, size=rows), tf.float32)


def test_one_process_terms_are_unchanged_bit_for_bit():
    y, y_pred, sample_weight = _full_objective_outputs(np.random.default_rng(0))
    objective = MultiTaskObjective(adversarial_weight=0.3, difference_weight=0.5, discriminator_memory=5,
                                   mean_matching_weight=0.2, task_weights=[1.0, 0.7])
    same_y, same_pred, same_weight = objective.global_batch(y, y_pred, sample_weight)
    assert same_y is y and same_weight is sample_weight and all(same_pred[k] is v for k, v in y_pred.items())
    gathered = objective.terms(y, y_pred, sample_weight, gather_replicas=True)
    own = objective.terms(y, y_pred, sample_weight)
    assert set(own) == {"task_loss", "adv_loss", "memory_adv_loss", "mean_match_loss", "diff_loss", "loss"}
    for name in own:
        assert np.asarray(gathered[name]).tobytes() == np.asarray(own[name]).tobytes(), name


@pytest.mark.parametrize("perturbation", ["adversarial", "virtual"])
def test_one_process_perturbation_term_is_unchanged_bit_for_bit(perturbation):
    import keras

    rng = np.random.default_rng(0)
    embedded = tf.constant(rng.normal(size=(6, 3, 4)), tf.float32)
    mask = tf.constant(rng.uniform(size=(6, 3)) < 0.8)
    kernel = tf.constant(rng.normal(size=(4, 2)), tf.float32)
    y = tf.constant([0, -1, 1, 1, -1, 0], tf.int32)
    task_ids = tf.ones([6], tf.int32)
    weight = tf.constant(rng.uniform(0.5, 1.5, size=6), tf.float32)

    def logits_at(vectors):
        return tf.matmul(tf.reduce_sum(tf.tanh(vectors), axis=1), kernel)

    objective = MultiTaskObjective(embedding_perturbation=perturbation, task_weights=[1.0, 0.7])
    values = [objective.perturbation_loss(y, logits_at(embedded), task_ids, embedded, mask, logits_at,
                                          sample_weight=weight, seed=keras.random.SeedGenerator(3),
                                          gather_replicas=gather)
              for gather in (False, True)]
    assert np.asarray(values[0]).tobytes() == np.asarray(values[1]).tobytes()


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
