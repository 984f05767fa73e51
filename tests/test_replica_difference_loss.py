"""Every term of the objective on several replicas is the one-process term of the global batch, and so is its gradient.

The difference loss pairs rows; the other terms are means over (labelled) rows, which each replica's own mean gets
wrong when the replicas hold different numbers of (labelled) rows. The same for the n-gram model's task loss and the
language model's mean over target tokens (which also has to be scaled by ``1 / replicas``, as Keras sums gradients).

The replicas run in a process of their own (:mod:`tests.replica_difference_loss`), which splits the CPU into
logical devices before TensorFlow first uses it; each such run takes 10-25 s on 2 cores, so those tests are marked
slow (``pytest -m slow``). The one-process path, checked by default here, is the loss it always was.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
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


@pytest.mark.slow
@pytest.mark.parametrize("model, options", [("--ngram", ("--fit",)), ("--lm", ("--fit",))])  # slices of 5, 5, 6
def test_other_models_loss_and_gradient_on_replicas_are_the_global_batch(model, options):
    # n-gram model (l2, label smoothing, sample weights): 2 / 3 / 5 labelled rows; its own means gave 1.000 / 1.338 /
    # 1.414 against 1.294. Language model (both directions, sampled softmax): rows of 1 to 6 tokens; unscaled, the
    # summed gradient was about 3 times the one-process one and fit logged 6.18 against 2.09.
    run = _replica_run(3, model, *options)
    assert run["replicas"] == pytest.approx([run["one_process"]] * 3, rel=1e-6)
    assert all(g > 0 for g in run["gradient_scale"].values())
    _assert_close(run["gradient_gap"], run["gradient_scale"])
    for name, (one, replicated) in run["trackers"].items():  # the n-gram model's task and l2 losses
        assert replicated == pytest.approx(one, rel=1e-6), name
    if "--fit" in options:  # two SGD steps of Keras' fit (its own scaling of the logged loss), uneven slices
        _assert_close(run["fit_step_gap"], run["gradient_scale"])
        for name, (one, replicated) in run["fit_logs"].items():
            assert replicated == pytest.approx(one, rel=1e-6), name


def _loss_and_gradient_bytes(model, x, y=None, sample_weight=None, training=True):
    with tf.GradientTape() as tape:
        loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=True), sample_weight=sample_weight,
                                  training=training)
    grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, model.trainable_variables)]
    return [np.asarray(loss).tobytes()] + [np.asarray(g).tobytes() for g in grads]


def test_one_process_ngram_loss_is_unchanged_bit_for_bit():
    # In training the loss gathers the replicas' rows; in one process that is the evaluation loss, bit for bit.
    # (Not the helper's model: importing the helper splits this process's CPU.)
    import pandas as pd

    from tf_aspmtl.models import SharedPrivateNgramClassifier

    frame = pd.DataFrame({"text": ["good book", "dull book plot", "great film", "bad boring film", "fun pages", "bad"],
                          "task": ["a", "a", "b", "b", "a", "b"], "label": [1, 0, 1, 0, 1, 0]})
    model = SharedPrivateNgramClassifier.from_frame(frame, max_features=20, l2=0.01, label_smoothing=0.1)
    rng = np.random.default_rng(4)
    for v in (model.shared_kernel, model.private_kernel, model.bias):
        v.assign(rng.normal(scale=0.5, size=v.shape).astype("float32"))
    x = model.preprocessor({"text": tf.constant(list(frame.text)), "task": tf.constant(list(frame.task))})
    y, weight = tf.constant([1, -1, 1, 0, -1, 0]), tf.constant(rng.uniform(0.5, 1.5, size=6), tf.float32)
    values = [_loss_and_gradient_bytes(model, x, y, weight, training) for training in (True, False)]
    assert values[0] == values[1]


def test_one_process_language_model_loss_is_unchanged_bit_for_bit():
    # The full softmax in training too (num_sampled >= vocabulary): training differs from evaluation only by the gather.
    from tf_aspmtl.models import EncoderLanguageModel

    keras.utils.set_random_seed(0)
    model = EncoderLanguageModel(40, embedding_dim=8, units=4, direction=["forward", "backward"], num_sampled=40)
    model.compile(optimizer=keras.optimizers.SGD(1.0))
    ids = tf.constant(np.random.default_rng(5).integers(1, 40, size=(6, 5)), tf.int64)
    assert _loss_and_gradient_bytes(model, ids) == _loss_and_gradient_bytes(model, ids, training=False)


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
