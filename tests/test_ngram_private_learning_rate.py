"""The private path's learning rate relative to the shared path's (``private_learning_rate_multiplier``, issue 24)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.ngram_two_tasks import LABELS, TASKS, TEXTS, two_task_model
from tf_aspmtl.models.shared_private_ngram_classifier import SharedPrivateNgramClassifier
from tf_aspmtl.models.task import LOGITS
from tf_aspmtl.training.ngram_config import NgramConfig


def _model(**kwargs) -> SharedPrivateNgramClassifier:
    return two_task_model(name="balanced", per_task_metrics=False, **kwargs)


def _one_step(model: SharedPrivateNgramClassifier) -> SharedPrivateNgramClassifier:
    model.compile(learning_rate=0.01)
    model.fit({"text": tf.constant(TEXTS), "task": tf.constant(TASKS)}, np.array(LABELS), batch_size=len(TEXTS),
              epochs=1, shuffle=False, verbose=0)
    return model


def _paths(model, multiplier):
    """Each row's shared and private contributions to its logits, as the model combines them."""
    x = model.preprocessor({"text": tf.constant(TEXTS), "task": tf.constant(TASKS)})
    features, task_ids = x["ngram_features"], x["task_id"].numpy()
    dense = tf.sparse.to_dense(features).numpy()
    shared = dense @ model.shared_kernel.numpy()
    private_rows = model.private_kernel.numpy().reshape(-1, model.num_tasks, model.max_classes)
    private = np.stack([dense[i] @ private_rows[:, k, :] for i, k in enumerate(task_ids)])
    return shared, multiplier * private


@pytest.mark.parametrize("multiplier", [0.5, 3.0])
def test_one_adam_step_moves_the_private_logits_that_many_times_as_far(multiplier):
    keras.utils.set_random_seed(0)
    plain = _one_step(_model())
    keras.utils.set_random_seed(0)
    scaled = _one_step(_model(private_learning_rate_multiplier=multiplier))
    shared_1, private_1 = _paths(plain, 1.0)
    shared_c, private_c = _paths(scaled, multiplier)
    # From zero weights the first step's gradients have the same signs, and Adam's first step is their sign times the
    # learning rate (up to Adam's epsilon beside the gradient's size, which the scale changes): the stored private
    # weights move alike, their logits c times as far; the shared path is the same.
    np.testing.assert_allclose(shared_c, shared_1, rtol=2e-3, atol=1e-6)
    np.testing.assert_allclose(private_c, multiplier * private_1, rtol=2e-3, atol=1e-6)
    assert np.abs(private_1).max() > 1e-3


def test_the_logits_and_every_tasks_folded_head_read_the_multiplier():
    model = two_task_model(random_weights_seed=1, private_learning_rate_multiplier=2.5)
    logits = model({"text": tf.constant(TEXTS), "task": tf.constant(TASKS)})[LOGITS].numpy()
    shared, private = _paths(model, 2.5)
    task_ids = [0 if t == "books" else 1 for t in TASKS]
    expected = shared + private + model.bias.numpy()[task_ids]
    for row, task in enumerate(TASKS):
        n = 2 if task == "books" else 3
        np.testing.assert_allclose(logits[row, :n], expected[row, :n], rtol=1e-5, atol=1e-5)
        head = model.task_head(task)
        features = model.preprocessor.features(tf.constant([TEXTS[row]]))
        np.testing.assert_allclose(head(features).numpy()[0], logits[row, :n], rtol=1e-5, atol=1e-5)


def test_the_setting_survives_the_config_and_is_left_out_at_one():
    model = _model(private_learning_rate_multiplier=0.5)
    config = model.get_config()
    assert config["private_learning_rate_multiplier"] == 0.5
    assert SharedPrivateNgramClassifier.from_config(config).private_learning_rate_multiplier == 0.5
    assert "private_learning_rate_multiplier" not in _model().get_config()  # run folders' fingerprints as before
    assert model.with_class_names([["n", "p"], ["n", "m", "p"]]).private_learning_rate_multiplier == 0.5


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf"), float("nan"), True])
def test_a_bad_value_is_refused_by_the_model_and_the_run_config(bad):
    with pytest.raises(ValueError, match="private_learning_rate_multiplier must be a finite number > 0"):
        _model(private_learning_rate_multiplier=bad)
    with pytest.raises(ValueError, match="NgramConfig.private_learning_rate_multiplier must be a finite number > 0"):
        NgramConfig(private_learning_rate_multiplier=bad)


def test_the_run_config_records_it_only_when_set():
    assert "private_learning_rate_multiplier" not in NgramConfig().settings()
    assert NgramConfig(private_learning_rate_multiplier=2).settings()["private_learning_rate_multiplier"] == 2.0
