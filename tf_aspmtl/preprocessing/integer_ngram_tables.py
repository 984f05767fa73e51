"""An n-gram vocabulary as two integer hash tables: texts' n-gram counts without making n-gram strings."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

OUTSIDE = "[UNK]"
"""The first entry of a ``TextVectorization`` vocabulary: the column of every n-gram outside it."""


class IntegerNgramTables(tf.Module):
    """Counts a vocabulary's n-grams in tokenised texts from word ids, with the columns ``TextVectorization`` gives.

    Every word of the vocabulary's n-grams gets an id ``1..W`` (other words ``W + 1``), and an n-gram of words
    ``w1 .. wk`` the key ``((w1 * B) + w2) * B + ...`` with ``B = W + 2``: keys of different lengths differ,
    since no id is 0, and an n-gram holding an unknown word (``W + 1``) is no vocabulary key. A text's n-grams are
    then integer arithmetic on its word ids: no n-gram string is made or hashed, the work of ``tf.strings.ngrams``
    and a string lookup of every n-gram. The counts are ``TextVectorization(ngrams=n, output_mode="count")``'s on
    the vocabulary's columns (tested), and n-grams outside the vocabulary are not counted.

    Made by :meth:`from_vocabulary`; a ``tf.Module``, so its tables are saved with a model that calls it.

    Args:
        words: the vocabulary's words, id ``i + 1`` for ``words[i]``.
        keys: int64 array. The key of each vocabulary n-gram, in column order (column ``i + 1`` for ``keys[i]``).
        ngrams: the longest n-gram, in words.
    """

    def __init__(self, words: Sequence[str], keys: np.ndarray, ngrams: int):
        super().__init__(name="integer_ngram_tables")
        self.ngrams = int(ngrams)
        self.base = len(words) + 2
        self.vocabulary_size = len(keys) + 1
        self.words = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(list(words), tf.string),
                                                tf.range(1, len(words) + 1, dtype=tf.int64)),
            default_value=len(words) + 1)
        self.columns = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(keys, tf.int64),
                                                tf.range(1, len(keys) + 1, dtype=tf.int64)),
            default_value=0)

    @classmethod
    def from_vocabulary(cls, vocabulary: Sequence[str | bytes], ngrams: int) -> IntegerNgramTables | None:
        """The tables of a ``TextVectorization`` vocabulary (``[UNK]`` first, then n-grams of words joined by
        single spaces), or None when its longest n-grams' keys would not fit in int64 (``(W + 2) ** ngrams``).

        Vectorised (TensorFlow's string split and hash-based unique, NumPy's integer arithmetic): a vocabulary of
        a million n-grams takes about a second, not the ten a Python loop over its entries takes. Words get ids
        in sorted order.

        Raises:
            ValueError: the vocabulary does not start with ``[UNK]``, or holds an entry of more than ``ngrams``
                words or a repeated one.
        """
        first = vocabulary[0] if len(vocabulary) else None
        if (first.decode() if isinstance(first, bytes) else first) != OUTSIDE:
            raise ValueError(f"an n-gram vocabulary starts with {OUTSIDE!r}; got {list(vocabulary[:1])}")
        with tf.init_scope():  # eager, also when first called inside a traced function
            grams = tf.strings.split(tf.constant(list(vocabulary[1:]), tf.string), sep=" ")
            lengths = grams.row_lengths().numpy()
            unique_words, occurrence = tf.unique(grams.flat_values)
            unique_words, occurrence = unique_words.numpy(), occurrence.numpy()
        too_long = np.flatnonzero(lengths > ngrams)
        if too_long.size:
            column = int(too_long[0]) + 1
            raise ValueError(f"vocabulary entry {column} {_text(vocabulary[column])!r} has more than {ngrams} words")
        order = np.argsort(unique_words, kind="stable")  # ids 1..W in the words' sorted order
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(1, len(order) + 1)
        ids = rank[occurrence]
        base = len(unique_words) + 2
        if base ** ngrams >= 2 ** 63:
            return None
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        keys = np.zeros(len(lengths), np.int64)
        for k in range(int(lengths.max(initial=0))):  # key = ((w1 * B) + w2) * B + ...: position k of each entry
            longer = lengths > k
            keys[longer] = keys[longer] * base + ids[starts[longer] + k]
        if np.unique(keys).size != keys.size:
            raise ValueError("the n-gram vocabulary repeats an entry")
        return cls([_text(w) for w in unique_words[order]], keys, ngrams)

    def count(self, tokens: tf.RaggedTensor) -> tf.SparseTensor:
        """int64 ``[rows, vocabulary_size]``: each row's count of every vocabulary n-gram in columns 1 and up,
        indices in row-major order. Column 0 is what is left: the n-grams outside the vocabulary and, at each
        text's end, the positions too close to it for an n-gram of each length (not ``TextVectorization``'s
        count of the n-grams outside the vocabulary; a column whose idf is 0 in :class:`NgramFeatures`).

        Args:
            tokens: tf.string ragged ``[rows, None]``: each text's words, in order.
        """
        ids = self.words.lookup(tokens.flat_values)
        rows = tokens.value_rowids()
        words = tf.size(ids)
        tail = self.ngrams - 1  # past the last word: id 0 and row -1, so no n-gram runs over the end
        later_ids = tf.concat([ids, tf.zeros([tail], tf.int64)], 0)
        later_rows = tf.concat([rows, tf.fill([tail], tf.constant(-1, tf.int64))], 0)
        grams, gram = [ids], ids
        for k in range(1, self.ngrams):  # gram[i]: the key of the (k + 1)-gram starting at word i (-1: none)
            gram = gram * self.base + later_ids[k:k + words]
            in_one_row = tf.equal(rows, later_rows[k:k + words])
            grams.append(tf.where(in_one_row, gram, tf.constant(-1, tf.int64)))
        # Word i's n-grams side by side: a row's columns stay together, in order, for one counting op.
        columns = self.columns.lookup(tf.reshape(tf.stack(grams, axis=1), [-1]))
        per_row = tf.RaggedTensor.from_row_splits(columns, tokens.row_splits * self.ngrams, validate=False)
        return tf.sparse.bincount(per_row, minlength=self.vocabulary_size, maxlength=self.vocabulary_size, axis=-1)


def _text(entry: str | bytes) -> str:
    return entry.decode() if isinstance(entry, bytes) else str(entry)
