"""IntegerNgramTables counts a vocabulary's n-grams as TextVectorization does, from word ids."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_aspmtl.preprocessing.integer_ngram_tables import IntegerNgramTables
from tf_aspmtl.preprocessing.ngram_features import NgramFeatures

WORDS = ["good", "bad", "book", "the", "not", "a", ".", "very", "it", "'s"]


def _texts(rng, rows):
    """Texts of 0 to 12 words from a small pool, so n-grams repeat within and across rows; some rows empty or of
    one or two words (shorter than the longest n-gram)."""
    return [" ".join(rng.choice(WORDS, size=rng.integers(0, 13))) for _ in range(rows)]


def _counted(counts: tf.SparseTensor):
    """{(row, column): count} of the columns >= 1."""
    return {(int(r), int(c)): int(v) for (r, c), v in zip(counts.indices.numpy(), counts.values.numpy()) if c > 0}


@pytest.mark.parametrize("ngrams, max_tokens", [(1, 6), (2, 30), (3, 60), (3, 100_000), (4, 80), (4, 100_000), (6, 100_000)])
def test_the_counts_are_text_vectorizations_on_the_vocabulary_columns(ngrams, max_tokens):
    rng = np.random.default_rng(ngrams * 1000 + max_tokens)
    counter = keras.layers.TextVectorization(max_tokens=max_tokens, standardize=None, split="whitespace",
                                             ngrams=ngrams, output_mode="count", sparse=True)
    counter.adapt(_texts(rng, 200))
    tables = IntegerNgramTables.from_vocabulary(counter.get_vocabulary(), ngrams)
    texts = _texts(rng, 300) + ["", "unseen words only here", "good unseen good", "good"]
    counts = tables.count(tf.strings.split(tf.constant(texts)))
    assert counts.dense_shape.numpy().tolist() == [len(texts), counter.vocabulary_size()]
    assert _counted(counts) == _counted(counter(tf.constant(texts)))
    order = counts.indices.numpy()
    assert (np.lexsort((order[:, 1], order[:, 0])) == np.arange(len(order))).all(), "row-major order"
    for few in ([""], ["", ""], ["good"], ["good", ""], ["good bad"]):  # no n-gram, or shorter ones only
        counts = tables.count(tf.strings.split(tf.constant(few)))
        assert counts.dense_shape.numpy()[0] == len(few)
        assert _counted(counts) == _counted(counter(tf.constant(few)))


def test_an_ngram_with_an_unknown_word_is_never_a_shorter_known_one():
    tables = IntegerNgramTables.from_vocabulary(["[UNK]", "good", "book", "good book"], ngrams=3)
    counts = tables.count(tf.strings.split(tf.constant(["zzz good book", "good zzz book", "good book zzz"])))
    assert _counted(counts) == {(0, 1): 1, (0, 2): 1, (0, 3): 1, (1, 1): 1, (1, 2): 1,
                                (2, 1): 1, (2, 2): 1, (2, 3): 1}


def test_keys_too_large_for_int64_are_found_once_and_the_strings_counted(monkeypatch):
    made = []
    monkeypatch.setattr(IntegerNgramTables, "from_vocabulary", lambda *a: made.append(1))  # returns None
    features = NgramFeatures(max_features=50, ngrams=2)
    features.adapt(_texts(np.random.default_rng(3), 50))  # the tables are made here, for the idf's counts
    expected = tf.sparse.reorder(features.counter(tf.constant(["good book", "bad"])))
    for _ in range(3):
        counts = features.count(tf.constant(["good book", "bad"]))
    assert made == [1]
    np.testing.assert_array_equal(counts.indices.numpy(), expected.indices.numpy())
    np.testing.assert_array_equal(counts.values.numpy(), expected.values.numpy())


def test_bad_vocabularies_are_named():
    with pytest.raises(ValueError, match="starts with '\\[UNK\\]'"):
        IntegerNgramTables.from_vocabulary(["good", "bad"], ngrams=1)
    with pytest.raises(ValueError, match="entry 2 'a b c' has more than 2 words"):
        IntegerNgramTables.from_vocabulary(["[UNK]", "a", "a b c"], ngrams=2)
    for repeated in (["[UNK]", "a", "b", "a"], ["[UNK]", "a b", "b", "a b"], ["[UNK]", "a b c", "a b c", "a"]):
        with pytest.raises(ValueError, match="repeats an entry"):
            IntegerNgramTables.from_vocabulary(repeated, ngrams=3)


def test_a_vocabulary_of_the_unknown_column_alone_counts_nothing():
    tables = IntegerNgramTables.from_vocabulary(["[UNK]"], ngrams=3)
    counts = tables.count(tf.strings.split(tf.constant(["good book", ""])))
    assert counts.dense_shape.numpy().tolist() == [2, 1] and _counted(counts) == {}


def test_long_ngrams_of_many_distinct_words_are_counted_as_integers():
    """Keys are a trie's nodes, not the words' ids packed into one int64: ten-word n-grams of 100,000 distinct
    words (100,002 ** 10 is far past int64) are counted, and only the vocabulary's n-grams."""
    words = [f"w{i}" for i in range(100_000)]
    vocabulary = ["[UNK]", *words, " ".join(words[:10]), " ".join(words[5:15]), "w7 w3"]
    tables = IntegerNgramTables.from_vocabulary(vocabulary, ngrams=10)
    text = " ".join(words[:15] + ["w7", "w3", "w7", "w4"])
    counts = _counted(tables.count(tf.strings.split(tf.constant([text, "w9 w8"]))))
    expected = {(0, 1 + i): 1 for i in range(15) if i not in (3, 4, 7)}
    expected.update({(0, 4): 2, (0, 5): 2, (0, 8): 3, (0, 100_001): 1, (0, 100_002): 1, (0, 100_003): 1,
                     (1, 10): 1, (1, 9): 1})
    assert counts == expected


def test_features_from_the_tables_are_the_floats_of_the_string_counts(monkeypatch):
    rng = np.random.default_rng(7)
    train = _texts(rng, 200)
    features = NgramFeatures(max_features=50, ngrams=3, weighting="nb")
    features.adapt(train, labels=rng.integers(0, 2, len(train)))
    texts = tf.constant(_texts(rng, 100) + ["It's a VERY good book!", ""])
    from_tables = features(texts)
    assert isinstance(features._tables, IntegerNgramTables)
    monkeypatch.setattr(NgramFeatures, "_integer_tables", lambda self: None)  # the counter's n-gram strings
    from_strings = features(texts)
    for x in (from_tables, from_strings):  # column 0 (idf 0) holds zeros
        assert (x.values.numpy()[x.indices.numpy()[:, 1] == 0] == 0).all()
    assert _weights(from_tables) == _weights(from_strings)


def _weights(x: tf.SparseTensor):
    """{(row, column): float} of the columns >= 1."""
    return {(int(r), int(c)): v for (r, c), v in zip(x.indices.numpy(), x.values.numpy()) if c > 0}


def test_words_beyond_ascii_and_a_first_use_inside_a_traced_function_count_as_the_strings_do():
    rng = np.random.default_rng(11)
    pool = ["café", "naïve", "über", "good", "书", "😀", "a"]
    texts = [" ".join(rng.choice(pool, size=rng.integers(0, 9))) for _ in range(150)]
    features = NgramFeatures(max_features=200, ngrams=3)
    features.adapt(texts)
    expected = tf.sparse.reorder(features.counter(tf.constant(texts)))
    counts = tf.function(features.count, input_signature=[tf.TensorSpec([None], tf.string)])(tf.constant(texts))
    assert isinstance(features._tables, IntegerNgramTables), "the tables are made (eagerly) during the trace"
    assert _counted(counts) == _counted(expected)
