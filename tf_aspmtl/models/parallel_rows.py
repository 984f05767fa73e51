"""Runs a per-row function on slices of a batch that TensorFlow's executor computes at once, one slice a core."""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

DEFAULT_PARALLEL_SLICES = 2
"""Slices of a served batch computed at once (this project's serving machines have 2 cores); 1 turns it off."""
MIN_ROWS_PER_SLICE = 16
"""A batch smaller than ``slices * MIN_ROWS_PER_SLICE`` rows runs whole: splitting it costs more than it saves."""


def parallel_row_slices(fn: Callable[[tf.Tensor], tf.Tensor | tf.SparseTensor], texts: tf.Tensor,
                        slices: int = DEFAULT_PARALLEL_SLICES) -> tf.Tensor | tf.SparseTensor:
    """``fn(texts)``, computed as ``slices`` contiguous slices of the rows put back together in row order.

    Text preprocessing ops (regular expressions, n-gram lookups) run on one
    thread each, so one op over a whole batch keeps one core busy; the
    slices are independent ops, which TensorFlow's inter-op threads run at
    the same time. The result is ``fn(texts)`` exactly when ``fn`` computes
    each row from that row alone (as the library's tokenizer and
    :class:`~tf_aspmtl.preprocessing.NgramFeatures` do). A batch of fewer than
    ``slices * MIN_ROWS_PER_SLICE`` rows runs whole.

    Args:
        fn: tf.string [rows] -> a dense tensor or a tf.SparseTensor whose first dimension is the rows.
        texts: tf.string [rows].
        slices: int >= 1. Slices of the rows (1: ``fn(texts)`` as it is).
    """
    slices = int(slices)
    if slices < 1:
        raise ValueError(f"slices must be >= 1; got {slices}")
    if slices == 1:
        return fn(texts)
    rows = tf.shape(texts)[0]

    def in_slices():
        bounds = [rows * i // slices for i in range(slices + 1)]
        parts = [fn(texts[start:end]) for start, end in zip(bounds[:-1], bounds[1:])]
        if isinstance(parts[0], tf.SparseTensor):
            return tf.sparse.concat(0, parts)
        return tf.concat(parts, axis=0)

    # Not empty slices beside a small batch instead: the library's text layers refuse an empty batch.
    return tf.cond(rows >= slices * MIN_ROWS_PER_SLICE, in_slices, lambda: fn(texts))
