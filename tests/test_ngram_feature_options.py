"""The n-gram features' term frequency (sublinear or binary) and NB smoothing (issue 24's feature levers)."""

import numpy as np
import pytest
import tensorflow as tf

from tf_aspmtl.preprocessing.ngram_features import NgramFeatures
from tf_aspmtl.training.ngram_config import NgramConfig

TEXTS = ["good good good book", "bad book", "good film", "bad bad film", "a dull film"]
LABELS = [1, 0, 1, 0, 0]


def _features(**kwargs) -> NgramFeatures:
    features = NgramFeatures(max_features=30, ngrams=1, **kwargs)
    features.adapt(TEXTS, labels=LABELS if kwargs.get("weighting") == "nb" else None)
    return features


def _row(features, text):
    x = features(tf.constant([text]))
    vocabulary = features.counter.get_vocabulary()
    return {vocabulary[int(c)]: float(v) for c, v in zip(x.indices[:, 1].numpy(), x.values.numpy())}


def test_binary_counts_weigh_each_ngram_its_idf_however_often_it_occurs():
    sublinear, binary = _features(), _features(term_frequency="binary")
    idf = dict(zip(binary.counter.get_vocabulary(), binary.idf.numpy()))
    row = _row(binary, "good good good book")
    expected = np.array([idf["good"], idf["book"]])
    np.testing.assert_allclose([row["good"], row["book"]], expected / np.linalg.norm(expected), rtol=1e-6)
    heavier = _row(sublinear, "good good good book")  # 1 + log 3 times the idf before the norm
    assert heavier["good"] / heavier["book"] == pytest.approx((1 + np.log(3)) * idf["good"] / idf["book"], rel=1e-5)
    assert _row(binary, "good book") == pytest.approx(row)  # repeats change nothing


def test_nb_smoothing_sets_the_count_added_to_the_ratios():
    for smoothing in (1.0, 0.25):
        features = _features(weighting="nb", nb_smoothing=smoothing)
        ratio = dict(zip(features.counter.get_vocabulary(), features.nb_ratio.numpy()))
        # "good": in 2 of the 2 positive rows and 0 negative; every n-gram's counts summed per class
        vocabulary = features.counter.get_vocabulary()[1:]
        positive = {w: sum(w in t.split() for t, y in zip(TEXTS, LABELS) if y == 1) for w in vocabulary}
        negative = {w: sum(w in t.split() for t, y in zip(TEXTS, LABELS) if y == 0) for w in vocabulary}
        p = np.array([positive[w] for w in vocabulary]) + smoothing
        q = np.array([negative[w] for w in vocabulary]) + smoothing
        expected = np.log(p / p.sum()) - np.log(q / q.sum())
        np.testing.assert_allclose([ratio[w] for w in vocabulary], expected, rtol=1e-5)
    sharper = _features(weighting="nb", nb_smoothing=0.25)
    plain = _features(weighting="nb")
    good = plain.counter.get_vocabulary().index("good")
    assert sharper.nb_ratio.numpy()[good] > plain.nb_ratio.numpy()[good] > 0  # less smoothing, larger ratios


def test_the_options_survive_the_config_and_are_left_out_at_their_defaults():
    features = _features(weighting="nb", term_frequency="binary", nb_smoothing=0.5)
    config = features.get_config()
    assert (config["term_frequency"], config["nb_smoothing"]) == ("binary", 0.5)
    copy = NgramFeatures.from_config(config)
    assert (copy.term_frequency, copy.nb_smoothing) == ("binary", 0.5)
    assert not {"term_frequency", "nb_smoothing"} & set(_features().get_config())  # saved configs as before


@pytest.mark.parametrize("kwargs, message", [
    ({"term_frequency": "log"}, "Unknown term_frequency 'log'"),
    ({"weighting": "nb", "nb_smoothing": 0.0}, "nb_smoothing must be a finite number > 0"),
    ({"weighting": "nb", "nb_smoothing": float("nan")}, "nb_smoothing must be a finite number > 0"),
    ({"nb_smoothing": 0.5}, "nb_smoothing smooths the NB ratios of weighting 'nb'"),
])
def test_bad_values_are_refused_by_the_layer(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NgramFeatures(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    ({"term_frequency": "log"}, "NgramConfig.term_frequency must be one of"),
    ({"feature_weighting": "nb", "nb_smoothing": -1.0}, "NgramConfig.nb_smoothing must be a finite number > 0"),
    ({"nb_smoothing": 0.5}, "NgramConfig.nb_smoothing smooths the NB ratios: it needs feature_weighting 'nb'"),
])
def test_bad_values_are_refused_by_the_run_config(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NgramConfig(**kwargs)


def test_the_run_config_records_them_only_when_set():
    assert not {"term_frequency", "nb_smoothing"} & set(NgramConfig().settings())
    settings = NgramConfig(feature_weighting="nb", term_frequency="binary", nb_smoothing=0.5).settings()
    assert (settings["term_frequency"], settings["nb_smoothing"]) == ("binary", 0.5)
