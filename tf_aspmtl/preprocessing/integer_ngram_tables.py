"""An n-gram vocabulary as two integer hash tables: texts' n-gram counts without making n-gram strings."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

OUTSIDE = "[UNK]"
"""The first entry of a ``TextVectorization`` vocabulary: the column of every n-gram outside it."""


class IntegerNgramTables(tf.Module):
    """Counts a vocabulary's n-grams in tokenised texts from integer ids, with the columns ``TextVectorization`` gives.

    The vocabulary's n-grams and their prefixes are the nodes of a trie, each with an integer id: a vocabulary
    entry's id is its column (``1 .. V - 1``), every other node (a word or a prefix that is no entry itself) an id
    from ``V`` up. A word's node is found by a string lookup (``words``; -1 for a word in no entry), and the node of
    ``w1 .. wk`` from the node of ``w1 .. wk-1`` and the word's node by one integer lookup (``edges``, keyed
    ``parent * B + word`` with ``B`` above every node; -1 for no node). A text's n-grams are then integer
    arithmetic and ``ngrams - 1`` integer lookups per word, whatever the n-grams' length and the number of
    words: no n-gram string is made or hashed (the work of ``tf.strings.ngrams`` and a string lookup of every
    n-gram). The counts are ``TextVectorization(ngrams=n, output_mode="count")``'s on the vocabulary's columns
    (tested), and n-grams outside the vocabulary are not counted.

    Made by :meth:`from_vocabulary`; a ``tf.Module``, so its tables are saved with a model that calls it.

    Args:
        words: the words of the vocabulary's entries.
        word_nodes: int64 array. Each word's node.
        edge_keys: int64 array. ``parent * base + word`` of every node of two or more words.
        edge_nodes: int64 array. The node of each edge key.
        ngrams: the longest n-gram, in words.
        vocabulary_size: the vocabulary's entries, ``[UNK]`` included (``V``): the nodes below it are columns.
        base: ``B``, above every node (and so above every word part of a key).
    """

    def __init__(self, words: Sequence[str], word_nodes: np.ndarray, edge_keys: np.ndarray, edge_nodes: np.ndarray,
                 ngrams: int, vocabulary_size: int, base: int):
        super().__init__(name="integer_ngram_tables")
        self.ngrams = int(ngrams)
        self.base = int(base)
        self.vocabulary_size = int(vocabulary_size)
        self.words = self.edges = None  # a table may not be empty: none for a vocabulary of [UNK] alone ...
        if len(words):
            self.words = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(tf.constant(list(words), tf.string),
                                                    tf.constant(word_nodes, tf.int64)),
                default_value=-1)
        if len(edge_keys):  # ... or of single words (no edge)
            self.edges = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(tf.constant(edge_keys, tf.int64),
                                                    tf.constant(edge_nodes, tf.int64)),
                default_value=-1)

    @classmethod
    def from_vocabulary(cls, vocabulary: Sequence[str | bytes], ngrams: int) -> IntegerNgramTables | None:
        """The tables of a ``TextVectorization`` vocabulary (``[UNK]`` first, then n-grams of words joined by
        single spaces), or None when its edge keys (``B ** 2``, ``B`` the trie's nodes) would not fit in int64:
        more than three billion nodes.

        Vectorised (TensorFlow's string split and hash-based unique, NumPy's integer arithmetic, one level of the
        trie at a time): a vocabulary of a million n-grams takes about a second, not the ten a Python loop over
        its entries takes.

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
        size = len(lengths) + 1  # V: the columns, [UNK]'s 0 included
        columns = np.arange(1, size, dtype=np.int64)
        # At most one node a word and one a word of an entry past its first, so every node is below base - 1: no
        # edge key has word part base - 1, the part a missing word (-1) gives (:meth:`count`).
        base = size + len(unique_words) + int(np.maximum(lengths - 1, 0).sum()) + 1
        if base >= 3_037_000_499:  # base ** 2 >= 2 ** 63
            return None
        # Words: an entry of one word is that word's node (its column); every other word gets a node from V up.
        word_nodes = np.full(len(unique_words), -1, np.int64)
        single = lengths == 1
        starts = (np.cumsum(lengths) - lengths).astype(np.int64)  # each entry's first word in flat order
        word_nodes[occurrence[starts[single]]] = columns[single]
        unset = np.flatnonzero(word_nodes < 0)
        word_nodes[unset] = np.arange(size, size + len(unset))
        following = size + len(unset)  # the next new node's id
        nodes = word_nodes[occurrence[starts]]  # each entry's node of its first k words
        edge_keys, edge_nodes = [], []
        for k in range(1, int(lengths.max(initial=0))):  # level k + 1 of the trie: entries of more than k words
            longer = np.flatnonzero(lengths > k)
            keys = nodes[longer] * base + word_nodes[occurrence[starts[longer] + k]]
            level_keys, where = np.unique(keys, return_inverse=True)
            level_nodes = np.full(len(level_keys), -1, np.int64)
            ends = lengths[longer] == k + 1  # the entries the node stands for (their column)
            if np.unique(where[ends]).size != ends.sum():
                raise ValueError("the n-gram vocabulary repeats an entry")
            level_nodes[where[ends]] = columns[longer[ends]]
            unset = np.flatnonzero(level_nodes < 0)
            level_nodes[unset] = np.arange(following, following + len(unset))
            following += len(unset)
            nodes[longer] = level_nodes[where]
            edge_keys.append(level_keys)
            edge_nodes.append(level_nodes)
        if np.unique(nodes[single]).size != single.sum():
            raise ValueError("the n-gram vocabulary repeats an entry")
        return cls([_text(w) for w in unique_words], word_nodes,
                   np.concatenate(edge_keys) if edge_keys else np.array([], np.int64),
                   np.concatenate(edge_nodes) if edge_nodes else np.array([], np.int64), ngrams, size, base)

    def count(self, tokens: tf.RaggedTensor) -> tf.SparseTensor:
        """int64 ``[rows, vocabulary_size]``: each row's count of every vocabulary n-gram in columns 1 and up,
        indices in row-major order. Column 0 is what is left: the n-grams outside the vocabulary and, at each
        text's end, the positions too close to it for an n-gram of each length (not ``TextVectorization``'s
        count of the n-grams outside the vocabulary; a column whose idf is 0 in :class:`NgramFeatures`).

        Args:
            tokens: tf.string ragged ``[rows, None]``: each text's words, in order.
        """
        rows = tokens.value_rowids()
        size = tf.size(rows)
        none = tf.fill([size], tf.constant(-1, tf.int64))
        words = none if self.words is None else self.words.lookup(tokens.flat_values)  # each word's node, -1: none
        tail = self.ngrams - 1  # past the last word: no node and row -1, so no n-gram runs over the end
        later_words = tf.concat([words, tf.fill([tail], tf.constant(-1, tf.int64))], 0)
        later_rows = tf.concat([rows, tf.fill([tail], tf.constant(-1, tf.int64))], 0)
        nodes = [words]
        for k in range(1, self.ngrams):  # nodes[k][i]: the node of the (k + 1) words from word i (-1: none)
            # No node for the first k words (-1) gives a key below 0, a missing word (-1) word part base - 1: both
            # are no edge, so only n-grams that would run into the next text need a mask.
            keys = tf.where(tf.equal(rows, later_rows[k:k + size]), nodes[-1] * self.base + later_words[k:k + size],
                            tf.constant(-1, tf.int64))
            nodes.append(none if self.edges is None else self.edges.lookup(keys))
        # Word i's n-grams side by side: a row's columns stay together, in order, for one counting op. A node from
        # V up is no entry: column 0, as is no node.
        stacked = tf.reshape(tf.stack(nodes, axis=1), [-1])
        columns = tf.where((stacked > 0) & (stacked < self.vocabulary_size), stacked, tf.constant(0, tf.int64))
        # tf.sparse.bincount refuses a batch of no rows (as a multi-task serving graph gives the tasks a request has
        # no row of): one more row, empty, is counted, and left out of the shape (it holds no entry).
        splits = tokens.row_splits * self.ngrams
        per_row = tf.RaggedTensor.from_row_splits(columns, tf.concat([splits, splits[-1:]], 0), validate=False)
        counts = tf.sparse.bincount(per_row, minlength=self.vocabulary_size, maxlength=self.vocabulary_size, axis=-1)
        return tf.SparseTensor(counts.indices, counts.values,
                               tf.stack([tokens.nrows(out_type=tf.int64), tf.constant(self.vocabulary_size, tf.int64)]))


def _text(entry: str | bytes) -> str:
    return entry.decode() if isinstance(entry, bytes) else str(entry)
