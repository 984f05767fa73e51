"""Weighted rows for the n-gram model: ``fit(sample_weight=...)`` on raw rows, and self-training's pseudo-labelled
rows weighing less than the labelled ones (``pseudo_label_weight``, ``pseudo_label_weighting``; issue 24)."""

import keras
import numpy as np
import pandas as pd
import pytest

import tf_aspmtl
from tests.ngram_two_tasks import LABELS, TASKS, TEXTS, two_task_model
from tf_aspmtl.training import NgramConfig
from tf_aspmtl.training.ngram_self_training import class_balance_weights, pseudo_label_weights

X = {"text": TEXTS, "task": TASKS}
CLASSES = {"books": ["neg", "pos"], "dvd": ["neg", "mid", "pos"]}
Y = [CLASSES[t][c] for t, c in zip(TASKS, LABELS)]


def _fit(sample_weight=None, **model_options):
    keras.utils.set_random_seed(0)
    model = two_task_model(**model_options)
    model.compile(learning_rate=0.1)
    model.fit(X, Y, batch_size=4, epochs=2, verbose=0, seed=1, sample_weight=sample_weight)
    return model


def _task_rows(model, task):
    """The private kernel's rows of ``task`` (row ``i * tasks + k`` is ``W_private[k]``'s row ``i``)."""
    return model.private_kernel.numpy()[model.task_id(task)::model.num_tasks]


def test_rows_of_weight_zero_teach_the_model_nothing():
    weights = [0.0 if t == "dvd" else 1.0 for t in TASKS]
    model = _fit(weights)
    assert not _task_rows(model, "dvd").any(), "a task whose rows all weigh 0 has its private weights untouched"
    assert _task_rows(model, "books").any()
    assert not model.bias.numpy()[model.task_id("dvd")].any() and model.bias.numpy()[model.task_id("books")].any()
    unweighted = _fit()
    assert _task_rows(unweighted, "dvd").any()


def test_the_loss_is_the_weighted_mean_so_scaling_every_weight_changes_nothing():
    once, thrice = _fit([1.0, 0.5, 1.0, 0.25, 1.0, 1.0, 0.5]), _fit([3.0, 1.5, 3.0, 0.75, 3.0, 3.0, 1.5])
    for a, b in zip(once.get_weights(), thrice.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    plain = _fit()
    assert not np.allclose(once.shared_kernel.numpy(), plain.shared_kernel.numpy()), "the weights did nothing"


@pytest.mark.parametrize("weights, message", [
    ([1.0] * 6, r"one number per row \(7\); got shape \(6,\)"),
    ([1.0, 1.0, -0.5, 1.0, 1.0, 1.0, 1.0], r"finite and >= 0; row 2 is -0.5"),
    ([1.0, 1.0, 1.0, 1.0, float("nan"), 1.0, 1.0], "row 4 is nan"),
    ([0.0] * 7, "zero on every row"),
    (["a"] * 7, "must be numbers"),
])
def test_bad_sample_weights_are_named(weights, message):
    model = two_task_model()
    model.compile()
    with pytest.raises(ValueError, match=message):
        model.fit(X, Y, epochs=1, verbose=0, sample_weight=weights)


def test_a_kind_that_does_not_weigh_raw_rows_says_so():
    frame = pd.DataFrame({"text": TEXTS, "task": TASKS, "label": Y})
    model = tf_aspmtl.FullySharedMTL(tf_aspmtl.MultiTaskPreprocessor.from_frame(frame, max_length=4),
                                     embedding_dim=4, hidden_dim=4, encoder="lstm", word_vectors="random", seed=0)
    model.compile()
    with pytest.raises(ValueError, match=r"FullySharedMTL.fit does not weigh raw rows \(sample_weight\)"):
        model.fit(X, Y, epochs=1, verbose=0, sample_weight=[1.0] * 7)


def test_pseudo_label_weights_scale_the_teachers_margin_over_chance():
    pseudo = pd.DataFrame({"confidence": [0.75, 1.0, 0.875, 0.5]})
    np.testing.assert_allclose(pseudo_label_weights(pseudo, 2, 1.0, "confidence"), [0.5, 1.0, 0.75, 0.0])
    np.testing.assert_allclose(pseudo_label_weights(pseudo, 2, 0.5, "confidence"), [0.25, 0.5, 0.375, 0.0])
    np.testing.assert_allclose(pseudo_label_weights(pseudo.assign(confidence=[1 / 3, 1.0, 2 / 3, 0.5]), 3, 1.0,
                                                    "confidence"), [0.0, 1.0, 0.5, 0.25])
    np.testing.assert_array_equal(pseudo_label_weights(pseudo, 2, 0.3), [0.3] * 4)
    with pytest.raises(ValueError, match="'constant' or 'confidence'; got 'margin'"):
        pseudo_label_weights(pseudo, 2, 1.0, "margin")


def test_balance_weights_give_each_class_of_a_task_the_weight_of_its_rarest():
    pseudo = pd.DataFrame({"task": ["a", "a", "a", "a", "b", "b", "c"], "label": [1, 1, 0, 1, 1, 1, 0]})
    np.testing.assert_allclose(class_balance_weights(pseudo, [0, 1]), [1 / 3, 1 / 3, 1, 1 / 3, 0, 0, 0])
    three = pd.DataFrame({"task": ["a"] * 6, "label": [0, 1, 1, 2, 2, 2]})
    np.testing.assert_allclose(class_balance_weights(three, [0, 1, 2]), [1, 0.5, 0.5, 1 / 3, 1 / 3, 1 / 3])


def test_bad_pseudo_label_settings_name_the_field(capsys):
    from experiments.ngram import config_from_flags, parse_args

    for bad in (0, 1.5, -0.1, float("nan"), True):
        with pytest.raises(ValueError, match=r"NgramConfig.pseudo_label_weight must be a number in \(0, 1\]"):
            NgramConfig(self_training_threshold=0.8, pseudo_label_weight=bad)
    with pytest.raises(ValueError, match=r"pseudo_label_weighting must be one of \['constant', 'confidence'\]"):
        NgramConfig(self_training_threshold=0.8, pseudo_label_weighting="margin")
    with pytest.raises(ValueError, match=r"pseudo_label_balance must be one of \['rows', 'weights'\]; got 'all'"):
        NgramConfig(self_training_threshold=0.8, pseudo_label_balance="all")
    for lever in ({"pseudo_label_weighting": "confidence"}, {"pseudo_label_balance": "weights"}):
        with pytest.raises(ValueError, match="weigh pseudo-labelled rows: they need self-training"):
            NgramConfig(**lever)
    with pytest.raises(SystemExit):
        parse_args(["--output-dir", "x", "--pseudo-label-weight", "0.5"])
    assert "they need self-training" in capsys.readouterr().err
    config = config_from_flags(["--self-training-threshold", "0.8", "--pseudo-label-weight", "0.5",
                                "--pseudo-label-weighting", "confidence"])
    assert config.settings()["pseudo_label_weight"] == 0.5 and config.settings()["pseudo_label_weighting"] == \
        "confidence"
    assert NgramConfig.from_results({"tasks": list(config.tasks), "settings": config.settings()}) == config
    assert "pseudo_label_weight" not in NgramConfig(self_training_threshold=0.8).settings()
