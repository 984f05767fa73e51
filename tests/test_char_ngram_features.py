"""Character n-grams inside word boundaries (NgramFeatures(analyzer="char_wb")): issue 24's character-n-gram lead."""

import numpy as np
import pytest
import tensorflow as tf

from tf_aspmtl.preprocessing.ngram_features import NgramFeatures, char_ngrams

TEXTS = ["good book", "bad book", "goodish film", "bad film"]
LABELS = [1, 0, 1, 0]


def test_each_word_is_padded_and_cut_into_ngrams_of_every_length():
    assert char_ngrams(tf.constant(["ab c", ""]), 2, 3).to_list() == [
        [b" a", b"ab", b"b ", b" ab", b"ab ", b" c", b"c ", b" c "], []]


def test_ngrams_never_cross_words_and_multibyte_characters_stay_whole():
    grams = char_ngrams(tf.constant(["ab cd", "é"]), 3, 3).to_list()
    assert b"b c" not in grams[0] and b"ab " in grams[0] and b" cd" in grams[0]
    assert grams[1] == [" é ".encode()]


def test_counts_are_the_texts_character_ngrams_and_rows_have_unit_norm():
    features = NgramFeatures(max_features=500, ngrams=4, min_ngram=2, analyzer="char_wb")
    features.adapt(TEXTS)
    vocabulary = features.counter.get_vocabulary()
    counts = features.count(tf.constant(["good good"]))
    seen = {vocabulary[int(c)]: int(v) for c, v in zip(counts.indices[:, 1].numpy(), counts.values.numpy())}
    assert seen["goo"] == 2 and seen[" g"] == 2 and "d b" not in seen
    x = features(tf.constant(["good film", "zzz"]))
    norms = tf.math.unsorted_segment_sum(tf.square(x.values), x.indices[:, 0], 2).numpy()
    np.testing.assert_allclose(norms, [1.0, 0.0], atol=1e-6)  # an unknown text has no weighted n-gram


def test_nb_ratios_favour_the_class_a_character_ngram_appears_in():
    features = NgramFeatures(max_features=500, ngrams=4, min_ngram=3, analyzer="char_wb", weighting="nb")
    features.adapt(TEXTS, labels=LABELS)
    ratio = dict(zip(features.counter.get_vocabulary(), features.nb_ratio.numpy()))
    assert ratio["goo"] > 0 > ratio["bad"] and abs(ratio["boo"]) < min(ratio["goo"], -ratio["bad"])  # in both classes


def test_the_analyzer_survives_the_config_and_word_layers_keep_theirs():
    features = NgramFeatures(max_features=50, ngrams=5, min_ngram=2, analyzer="char_wb")
    config = features.get_config()
    assert (config["analyzer"], config["min_ngram"]) == ("char_wb", 2)
    copy = NgramFeatures.from_config(config)
    assert (copy.analyzer, copy.min_ngram, copy.ngrams) == ("char_wb", 2, 5)
    assert "analyzer" not in NgramFeatures(max_features=50).get_config()


@pytest.mark.parametrize("kwargs, message", [
    ({"analyzer": "char"}, "Unknown analyzer 'char'"),
    ({"analyzer": "char_wb", "ngrams": 2, "min_ngram": 3}, "need 1 <= min_ngram <= ngrams"),
    ({"ngrams": 3, "min_ngram": 2}, "word n-grams run from 1 word"),
])
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NgramFeatures(max_features=50, **kwargs)
