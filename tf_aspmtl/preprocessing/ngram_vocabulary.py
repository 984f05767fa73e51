"""The vocabulary ``TextVectorization.adapt`` learns for word n-grams, counted as integers instead of strings."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import tensorflow as tf

from tf_aspmtl.preprocessing.integer_ngram_tables import OUTSIDE

_MERGE_AT = 1 << 24
"""Distinct (n-gram, count) pairs held from earlier batches before they are merged into one sorted array."""


def most_frequent_ngrams(batches: Iterable[tf.RaggedTensor], ngrams: int, max_tokens: int) -> np.ndarray | None:
    """The vocabulary of ``keras.layers.TextVectorization(max_tokens, standardize=None, split="whitespace",
    ngrams=ngrams, output_mode="count")`` adapted on the same texts, or None when its words are too many to count
    this way (more than ``2 ** (63 // ngrams) - 1``: about two million for three-word n-grams).

    The same entries in the same order (tested): ``[UNK]``, then the ``max_tokens - 1`` most frequent n-grams of 1 to
    ``ngrams`` words by count, ties by the n-gram's UTF-8 bytes, both descending, as Keras sorts. Keras counts
    every n-gram as a string in a hash table and sorts every distinct one in Python; here each word gets an integer
    id, an n-gram the ids packed into an int64 (``63 // ngrams`` bits a word), NumPy counts the keys, and only the
    n-grams that can make the cut are turned into strings and sorted.

    Args:
        batches: each batch's texts as words: tf.string ragged ``[texts, None]``, e.g. ``tf.strings.split`` of
            standardised texts.
        ngrams: the longest n-gram, in words (>= 1).
        max_tokens: the vocabulary's size, ``[UNK]`` included (>= 2).

    Returns:
        A 1-d object array of str, ``[UNK]`` first, for ``TextVectorization.set_vocabulary``; or None.
    """
    bits = 63 // ngrams
    words = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, default_value=0)
    word_batches: list[np.ndarray] = []  # the words in id order (id i + 1 is the i-th)
    known = 0
    held_keys: list[np.ndarray] = []
    held_counts: list[np.ndarray] = []
    held = 0
    for tokens in batches:
        flat = tokens.flat_values
        distinct, _ = tf.unique(flat)
        new = tf.boolean_mask(distinct, tf.equal(words.lookup(distinct), 0))
        added = int(tf.size(new))
        if known + added >= 1 << bits:
            return None
        words.insert(new, tf.range(known + 1, known + added + 1, dtype=tf.int64))
        word_batches.append(new.numpy())
        known += added
        ids = words.lookup(flat).numpy()
        rows = tokens.value_rowids().numpy()
        grams, gram = [ids], ids
        for k in range(1, ngrams):  # gram[i]: word i's (k + 1)-gram, kept where words i..i + k are in one text
            gram = (gram[:-1] << bits) | ids[k:]
            grams.append(gram[rows[:-k] == rows[k:]])
        keys, counts = np.unique(np.concatenate(grams), return_counts=True)
        held_keys.append(keys)
        held_counts.append(counts)
        held += len(keys)
        if held > _MERGE_AT:
            keys, counts = _merged(held_keys, held_counts)
            held_keys, held_counts, held = [keys], [counts], len(keys)
    if not held_keys:
        return np.array([OUTSIDE], dtype=object)
    keys, counts = _merged(held_keys, held_counts)
    outside = int(words.lookup(tf.constant([OUTSIDE]))[0])  # Keras drops its own OOV token from the counts
    if outside:
        keep = keys != outside
        keys, counts = keys[keep], counts[keep]
    learned = max_tokens - 1
    if len(keys) > learned:  # every n-gram that can make the cut: a count at least the learned-th largest
        cut = np.partition(counts, len(counts) - learned)[len(counts) - learned]
        keep = counts >= cut
        keys, counts = keys[keep], counts[keep]
    texts = _ngram_texts(keys, np.concatenate(word_batches) if word_batches else np.array([], object), bits)
    # Sorted as fixed-width bytes (C comparisons, ~4 times faster than Python's), unless a text ends in a NUL byte,
    # which fixed-width bytes would drop.
    by_text = texts if any(t.endswith(b"\0") for t in texts) else texts.astype(bytes)
    chosen = np.lexsort((by_text, counts))[::-1][:learned]
    return np.array([OUTSIDE] + [t.decode("utf-8") for t in texts[chosen]], dtype=object)


def _merged(keys: list[np.ndarray], counts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct keys and their summed counts."""
    if len(keys) == 1:
        return keys[0], counts[0]
    distinct, where = np.unique(np.concatenate(keys), return_inverse=True)
    return distinct, np.bincount(where, weights=np.concatenate(counts), minlength=len(distinct)).astype(np.int64)


def _ngram_texts(keys: np.ndarray, words: np.ndarray, bits: int) -> np.ndarray:
    """Each packed key's n-gram as bytes, words joined by single spaces (object array)."""
    mask = (1 << bits) - 1
    lengths = np.ones(len(keys), np.int64)
    while True:  # a key of n words is at least 2 ** (bits * (n - 1)): its first word's id is >= 1
        longer = (keys >> (bits * lengths)) > 0
        if not longer.any():
            break
        lengths += longer
    ids = np.zeros(int(lengths.sum()), np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    for j in range(int(lengths.max(initial=0))):  # word j of each n-gram of more than j words
        has = lengths > j
        ids[starts[has] + j] = (keys[has] >> (bits * (lengths[has] - 1 - j))) & mask
    ragged = tf.RaggedTensor.from_row_lengths(tf.gather(tf.constant(words, tf.string), ids - 1), lengths)
    return tf.strings.reduce_join(ragged, axis=-1, separator=" ").numpy()
