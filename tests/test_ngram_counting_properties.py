"""Property-based tests (hypothesis): n-grams counted as integers are TextVectorization's, for any texts and n.

`most_frequent_ngrams` (the vocabulary) and `IntegerNgramTables` (the counts, a trie of the vocabulary) against
`keras.layers.TextVectorization` adapted and called on the same texts: any mix of a few words (repeats, ties,
Keras' own OOV token, words beyond ASCII, words that are prefixes of others), 1- to 5-word n-grams, vocabularies
from a few entries to all of them.
"""

import keras
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tf_aspmtl.preprocessing.integer_ngram_tables import IntegerNgramTables
from tf_aspmtl.preprocessing.ngram_vocabulary import most_frequent_ngrams

WORDS = ["good", "goo", "bad", "book", ".", "café", "书", "[UNK]", "a", "ab"]
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_TEXTS = st.lists(st.lists(st.sampled_from(WORDS), max_size=9).map(" ".join), min_size=1, max_size=12)


def _counted(counts: tf.SparseTensor) -> dict:
    """{(row, column): count} of the columns >= 1."""
    return {(int(r), int(c)): int(v) for (r, c), v in zip(counts.indices.numpy(), counts.values.numpy()) if c > 0}


@PROPERTY
@given(_TEXTS.filter(lambda train: any(set(text.split()) - {"[UNK]"} for text in train)), _TEXTS,
       st.integers(1, 5), st.integers(2, 200), st.integers(1, 5))
def test_vocabulary_and_counts_are_text_vectorizations(train, texts, ngrams, max_tokens, batch_size):
    # (train holds a word other than Keras' OOV token: on none, e.g. train=["[UNK]"], Keras' layer is left without a
    # table and fails; ours gives [UNK] alone, tested in test_ngram_vocabulary.py)
    counter = keras.layers.TextVectorization(max_tokens=max_tokens, standardize=None, split="whitespace",
                                             ngrams=ngrams, output_mode="count", sparse=True)
    counter.adapt(tf.data.Dataset.from_tensor_slices(tf.constant(train)).batch(batch_size))
    batches = [tf.strings.split(tf.constant(train[i:i + batch_size])) for i in range(0, len(train), batch_size)]
    vocabulary = most_frequent_ngrams(batches, ngrams, max_tokens)
    assert list(vocabulary) == counter.get_vocabulary()
    tables = IntegerNgramTables.from_vocabulary(vocabulary, ngrams)
    counts = tables.count(tf.strings.split(tf.constant(texts)))
    assert counts.dense_shape.numpy().tolist() == [len(texts), len(vocabulary)]
    assert _counted(counts) == _counted(counter(tf.constant(texts)))
