"""The vocabulary ``TextVectorization.adapt`` learns for word n-grams, counted as integers instead of strings."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import tensorflow as tf

from tf_aspmtl.preprocessing.integer_ngram_tables import OUTSIDE

_WORD_BITS = 31
"""Bits of a word's id in a level's key ``prefix * 2 ** 31 + word``; a prefix's id then has 32."""


def most_frequent_ngrams(batches: Iterable[tf.RaggedTensor], ngrams: int, max_tokens: int) -> np.ndarray | None:
    """The vocabulary of ``keras.layers.TextVectorization(max_tokens, standardize=None, split="whitespace",
    ngrams=ngrams, output_mode="count")`` adapted on the same texts, or None when its words or its distinct n-grams
    of one length are too many to count this way (more than ``2 ** 31`` words or ``2 ** 32`` n-grams).

    The same entries in the same order (tested): ``[UNK]``, then the ``max_tokens - 1`` most frequent n-grams of 1 to
    ``ngrams`` words by count, ties by the n-gram's UTF-8 bytes, both descending, as Keras sorts. Keras counts
    every n-gram as a string in a hash table and sorts every distinct one in Python; here each word gets an integer
    id, the texts are held as their words' ids (16 bytes a word), and NumPy counts the distinct n-grams of each
    length in turn, an n-gram of ``k + 1`` words keyed by the id of its first ``k`` words and its last word's
    (``prefix * 2 ** 31 + word``), whatever the number of words and ``ngrams``; only the n-grams that can make the
    cut are turned into strings and sorted.

    Args:
        batches: each batch's texts as words: tf.string ragged ``[texts, None]``, e.g. ``tf.strings.split`` of
            standardised texts.
        ngrams: the longest n-gram, in words (>= 1).
        max_tokens: the vocabulary's size, ``[UNK]`` included (>= 2).

    Returns:
        A 1-d object array of str, ``[UNK]`` first, for ``TextVectorization.set_vocabulary``; or None.
    """
    words = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, default_value=0)
    word_batches: list[np.ndarray] = []  # the words in id order (id i + 1 is the i-th)
    id_batches: list[np.ndarray] = []  # every text's word ids, in order
    row_batches: list[np.ndarray] = []  # the text of each
    known = rows_seen = 0
    for tokens in batches:
        flat = tokens.flat_values
        distinct, _ = tf.unique(flat)
        new = tf.boolean_mask(distinct, tf.equal(words.lookup(distinct), 0))
        added = int(tf.size(new))
        if known + added >= 1 << _WORD_BITS:
            return None
        words.insert(new, tf.range(known + 1, known + added + 1, dtype=tf.int64))
        word_batches.append(new.numpy())
        known += added
        id_batches.append(words.lookup(flat).numpy())
        row_batches.append(tokens.value_rowids().numpy() + rows_seen)
        rows_seen += int(tokens.nrows())
    ids = np.concatenate(id_batches) if id_batches else np.zeros(0, np.int64)
    rows = np.concatenate(row_batches) if row_batches else np.zeros(0, np.int64)
    del id_batches, row_batches
    word_counts = np.bincount(ids, minlength=known + 1)
    levels = []  # level k - 1: the distinct n-grams of k + 1 words (sorted keys, id j + 1 for keys[j]) and counts
    prefixes = ids  # prefixes[i]: the id of the k words from word i
    for k in range(1, ngrams):
        in_one_row = rows[:-k] == rows[k:]
        keys, where, counts = np.unique((prefixes[:-1][in_one_row] << _WORD_BITS) | ids[k:][in_one_row],
                                        return_inverse=True, return_counts=True)
        if len(keys) >= 1 << (63 - _WORD_BITS):
            return None
        levels.append((keys, counts))
        prefixes = np.zeros(len(in_one_row), np.int64)
        prefixes[in_one_row] = where.reshape(-1) + 1
    outside = int(words.lookup(tf.constant([OUTSIDE]))[0])  # Keras drops its own OOV token from the counts
    word_counts[outside] = 0  # (0 when the texts hold no [UNK]: the id no word has)
    # Every n-gram as (length, id, count), words first; those that can make the cut turned into text.
    lengths = np.concatenate([np.full(known, 1)] + [np.full(len(c), k + 2) for k, (_, c) in enumerate(levels)])
    gram_ids = np.concatenate([np.arange(1, known + 1)] + [np.arange(1, len(c) + 1) for _, c in levels])
    counts = np.concatenate([word_counts[1:]] + [c for _, c in levels]).astype(np.int64)
    keep = counts > 0
    lengths, gram_ids, counts = lengths[keep], gram_ids[keep], counts[keep]
    learned = max_tokens - 1
    if len(counts) > learned:  # every n-gram that can make the cut: a count at least the learned-th largest
        cut = np.partition(counts, len(counts) - learned)[len(counts) - learned]
        keep = counts >= cut
        lengths, gram_ids, counts = lengths[keep], gram_ids[keep], counts[keep]
    if not len(counts):
        return np.array([OUTSIDE], dtype=object)
    words_in_order = np.concatenate(word_batches)
    texts = _ngram_texts(lengths, gram_ids, levels, words_in_order)
    # Sorted as fixed-width bytes (C comparisons, ~4 times faster than Python's), unless a text ends in a NUL byte,
    # which fixed-width bytes would drop: only where a word does (there are fewer words than texts to look at).
    by_text = texts if any(w.endswith(b"\0") for w in words_in_order) else texts.astype(bytes)
    chosen = np.lexsort((by_text, counts))[::-1][:learned]
    return np.array([OUTSIDE] + [t.decode("utf-8") for t in texts[chosen]], dtype=object)


def _ngram_texts(lengths: np.ndarray, gram_ids: np.ndarray, levels: list[tuple[np.ndarray, np.ndarray]],
                 words: np.ndarray) -> np.ndarray:
    """Each n-gram's text (bytes, words joined by single spaces; object array): the n-gram of ``lengths[i]`` words
    with id ``gram_ids[i]`` of its length, its words found by following its ids' keys back to the first word."""
    ids = np.zeros(int(lengths.sum()), np.int64)  # each n-gram's word ids, in order
    ends = np.cumsum(lengths)
    current = gram_ids.copy()
    for j in range(int(lengths.max(initial=0))):  # word j from the end of each n-gram longer than j
        longer = lengths > j
        position = ends[longer] - 1 - j
        still = lengths[longer] - j  # the current id's n-gram length
        last = current[longer].copy()
        for length in np.unique(still):
            at = still == length
            if length == 1:  # a word's id is the word
                ids[position[at]] = last[at]
            else:
                key = levels[length - 2][0][last[at] - 1]
                ids[position[at]] = key & ((1 << _WORD_BITS) - 1)
                last[at] = key >> _WORD_BITS
        current[longer] = last
    ragged = tf.RaggedTensor.from_row_lengths(tf.gather(tf.constant(words, tf.string), ids - 1), lengths)
    return tf.strings.reduce_join(ragged, axis=-1, separator=" ").numpy()
