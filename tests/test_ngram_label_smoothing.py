"""Label smoothing in the n-gram model's loss (``label_smoothing``, issue 24's list of levers)."""

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tests.ngram_two_tasks import LABELS, TASKS, TEXTS, two_task_model
from tf_aspmtl.models.shared_private_ngram_classifier import SharedPrivateNgramClassifier
from tf_aspmtl.models.task import LOGITS
from tf_aspmtl.training.ngram_config import NgramConfig


def _model(**kwargs) -> SharedPrivateNgramClassifier:
    return two_task_model(random_weights_seed=0, name="smoothed", **kwargs)


def _loss(model, labels):
    x = {"text": tf.constant(TEXTS), "task": tf.constant(TASKS)}
    y_pred = model(x)
    loss = model.compute_loss(x, tf.constant(labels), y_pred)
    return float(loss), y_pred[LOGITS].numpy()


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_the_loss_is_the_cross_entropy_against_targets_spread_over_each_tasks_own_classes(smoothing):
    model = _model(label_smoothing=smoothing)
    loss, logits = _loss(model, LABELS)
    expected = []
    for row, (task, label) in enumerate(zip(TASKS, LABELS)):
        n = 2 if task == "books" else 3
        z = logits[row, :n].astype(np.float64)  # books' third logit is masked: it is not among its classes
        log_p = z - z.max() - np.log(np.exp(z - z.max()).sum())
        target = np.full(n, smoothing / n)
        target[label] += 1 - smoothing
        expected.append(-(target * log_p).sum())
    assert loss == pytest.approx(np.mean(expected), rel=1e-5)


def test_unlabelled_rows_count_for_nothing_with_smoothing_too():
    model = _model(label_smoothing=0.2)
    labels = list(LABELS)
    loss_all, _ = _loss(model, labels)
    labels[1] = labels[4] = -1  # unlabelled rows (self-training's streams mark them -1)
    loss_some, logits = _loss(model, labels)
    assert loss_some != pytest.approx(loss_all)
    kept = [i for i, label in enumerate(labels) if label >= 0]
    only = _model(label_smoothing=0.2)
    x = {"text": tf.constant([TEXTS[i] for i in kept]), "task": tf.constant([TASKS[i] for i in kept])}
    assert float(only.compute_loss(x, tf.constant([labels[i] for i in kept]), only(x))) == pytest.approx(loss_some,
                                                                                                       rel=1e-5)


def test_trained_on_separable_rows_its_probabilities_stop_short_of_one():
    frame = pd.DataFrame({"text": ["good", "bad", "good good", "bad bad"] * 4, "task": ["books"] * 16,
                          "label": ["pos", "neg", "pos", "neg"] * 4})
    top = {}
    for smoothing in (0.0, 0.2):
        keras.utils.set_random_seed(0)
        model = SharedPrivateNgramClassifier.from_frame(frame, max_features=20, ngrams=1,
                                                        label_smoothing=smoothing, per_task_metrics=False)
        model.compile(learning_rate=0.3)
        model.fit({"text": frame.text, "task": frame.task}, frame.label, epochs=40, verbose=0)
        top[smoothing] = model.predict({"text": ["good", "bad"], "task": ["books"] * 2}, verbose=0).max(axis=1)
    assert (top[0.0] > 0.97).all()
    # the smoothed targets' optimum is 1 - 0.2 + 0.2 / 2 = 0.9 on the label
    np.testing.assert_allclose(top[0.2], 0.9, atol=0.03)


def test_the_setting_survives_the_config_and_is_left_out_when_off():
    model = _model(label_smoothing=0.1)
    config = model.get_config()
    assert config["label_smoothing"] == 0.1
    assert SharedPrivateNgramClassifier.from_config(config).label_smoothing == 0.1
    assert "label_smoothing" not in _model().get_config()  # configs (and run folders' fingerprints) as before
    assert model.with_class_names([["n", "p"], ["n", "m", "p"]]).label_smoothing == 0.1


@pytest.mark.parametrize("bad", [-0.1, 1.0, float("nan"), True])
def test_a_bad_value_is_refused_by_the_model_and_the_run_config(bad):
    with pytest.raises(ValueError, match="label_smoothing must be a number in \\[0, 1\\)"):
        _model(label_smoothing=bad)
    with pytest.raises(ValueError, match="NgramConfig.label_smoothing must be a number in \\[0, 1\\)"):
        NgramConfig(label_smoothing=bad)


def test_the_run_config_records_it_only_when_on():
    assert "label_smoothing" not in NgramConfig().settings()
    assert NgramConfig(label_smoothing=0.1).settings()["label_smoothing"] == 0.1
