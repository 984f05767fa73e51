"""most_frequent_ngrams learns TextVectorization.adapt's n-gram vocabulary, entry for entry, from integer counts."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_aspmtl.preprocessing import ngram_vocabulary
from tf_aspmtl.preprocessing.ngram_features import NgramFeatures
from tf_aspmtl.preprocessing.ngram_vocabulary import most_frequent_ngrams

# Few words, so n-grams repeat and many share a count (ties, broken by the n-gram's bytes); words beyond ASCII,
# Keras' own OOV token as a word (Keras drops it from its counts) and words that are prefixes of others.
WORDS = ["good", "goo", "bad", "book", "the", ".", "café", "über", "书", "[UNK]", "a", "ab", "b"]


def _texts(rng, rows):
    return [" ".join(rng.choice(WORDS, size=rng.integers(0, 11))) for _ in range(rows)]


def _keras_vocabulary(texts, ngrams, max_tokens, batch_size):
    counter = keras.layers.TextVectorization(max_tokens=max_tokens, standardize=None, split="whitespace",
                                             ngrams=ngrams, output_mode="count", sparse=True)
    counter.adapt(tf.data.Dataset.from_tensor_slices(tf.constant(texts)).batch(batch_size))
    return counter.get_vocabulary()


def _ours(texts, ngrams, max_tokens, batch_size):
    batches = [tf.strings.split(tf.constant(texts[i:i + batch_size])) for i in range(0, len(texts), batch_size)]
    return most_frequent_ngrams(batches, ngrams, max_tokens)


@pytest.mark.parametrize("ngrams, max_tokens, batch_size", [(1, 5, 64), (2, 40, 7), (3, 120, 50), (3, 100_000, 33),
                                                            (4, 300, 128), (6, 100_000, 40)])
def test_the_vocabulary_is_text_vectorizations_entry_for_entry(ngrams, max_tokens, batch_size):
    texts = _texts(np.random.default_rng(ngrams * 100 + max_tokens), 250) + ["", "good"]
    assert list(_ours(texts, ngrams, max_tokens, batch_size)) == _keras_vocabulary(texts, ngrams, max_tokens,
                                                                                   batch_size)


def test_no_words_give_the_oov_entry_alone():
    assert list(_ours(["", " "], 2, 10, 8)) == _keras_vocabulary(["", " "], 2, 10, 8) == ["[UNK]"]
    # Texts of Keras' OOV token alone: the same vocabulary (Keras' layer fails on them: no table to build).
    assert list(_ours(["[UNK]", "[UNK] [UNK]"], 1, 10, 8)) == ["[UNK]"]


def test_long_ngrams_of_many_words_are_counted_and_only_ids_past_the_keys_bits_give_none(monkeypatch):
    many = [" ".join(f"w{(start * 7 + i) % 300}" for i in range(60)) for start in range(0, 400, 50)]  # 300 words
    assert list(_ours(many, 10, 5_000, 3)) == _keras_vocabulary(many, 10, 5_000, 3)
    monkeypatch.setattr(ngram_vocabulary, "_WORD_BITS", 8)  # 255 word ids at most
    assert _ours(many, 2, 100, 2) is None


def test_an_ngram_features_layer_learns_the_same_columns_either_way(monkeypatch):
    rng = np.random.default_rng(9)
    train = _texts(rng, 200)
    labels = rng.integers(0, 2, len(train))
    fast = NgramFeatures(max_features=80, ngrams=3, weighting="nb")
    fast.adapt(train, labels=labels)
    monkeypatch.setattr("tf_aspmtl.preprocessing.ngram_features.most_frequent_ngrams", lambda *a: None)
    slow = NgramFeatures(max_features=80, ngrams=3, weighting="nb")  # TextVectorization.adapt's strings
    slow.adapt(train, labels=labels)
    assert fast.counter.get_vocabulary() == slow.counter.get_vocabulary()
    np.testing.assert_array_equal(fast.idf.numpy(), slow.idf.numpy())
    np.testing.assert_array_equal(fast.nb_ratio.numpy(), slow.nb_ratio.numpy())
    texts = tf.constant(_texts(rng, 50))
    a, b = fast(texts), slow(texts)
    np.testing.assert_array_equal(a.indices.numpy(), b.indices.numpy())
    np.testing.assert_array_equal(a.values.numpy(), b.values.numpy())


def test_a_word_ending_in_a_nul_byte_sorts_by_its_whole_bytes():
    """Fixed-width bytes would drop a trailing NUL and tie "b\\0" with "b" (Keras' own vocabulary loses the NUL, so
    the order itself is checked): equal counts, UTF-8 bytes descending."""
    assert list(_ours(["b\0 b"], 2, 50, 8)) == ["[UNK]", "b\0 b", "b\0", "b"]
    assert list(_ours(["b\0 b", "b b\0"], 2, 50, 8)) == ["[UNK]", "b\0", "b", "b b\0", "b\0 b"]
