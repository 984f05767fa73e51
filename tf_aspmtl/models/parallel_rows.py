"""Runs a per-row function on slices of a batch that TensorFlow computes at once, one slice a core."""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

DEFAULT_PARALLEL_SLICES = 2
"""Slices of a served batch computed at once (this project's serving machines have 2 cores); 1 turns it off."""
MIN_ROWS_PER_SLICE = 16
"""A batch smaller than ``slices * MIN_ROWS_PER_SLICE`` rows runs whole: splitting it costs more than it saves."""


def parallel_row_slices(fn: Callable[[tf.Tensor], tf.Tensor], texts: tf.Tensor,
                        slices: int = DEFAULT_PARALLEL_SLICES) -> tf.Tensor:
    """``fn(texts)``, computed as ``slices`` contiguous slices of the rows put back together in row order.

    Text preprocessing ops (regular expressions, n-gram lookups) run on one
    thread each, so one op over a whole batch keeps one core busy; the
    slices are independent ops, which TensorFlow's inter-op threads run at
    the same time. The result is ``fn(texts)`` exactly when ``fn`` computes
    each row from that row alone (as the library's tokenizer,
    :class:`~tf_aspmtl.preprocessing.NgramFeatures` and the models' heads
    do). A batch of fewer than ``slices * MIN_ROWS_PER_SLICE`` rows runs
    whole (a ``tf.cond``): a single review then costs what it cost without
    slices, give or take the conditional (``experiments/results/speed_equality/
    serving_parallel_slices.md`` compares this with the alternatives).

    Args:
        fn: tf.string [rows] -> a dense tensor of rank 1 or 2 whose first dimension is the rows; a rank-2
            output may be as wide as its slice's widest row (as token ids are): the slices are right-padded
            with zeros ("" for strings) to the widest, which is the whole batch's width.
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
        if parts[0].shape.rank == 2:  # e.g. token ids, each slice as wide as its longest row: pad to the widest
            width = tf.reduce_max(tf.stack([tf.shape(part)[1] for part in parts]))
            zero = tf.zeros([], parts[0].dtype)
            parts = [tf.pad(part, [[0, 0], [0, width - tf.shape(part)[1]]], constant_values=zero) for part in parts]
        return tf.concat(parts, axis=0)

    return tf.cond(rows >= slices * MIN_ROWS_PER_SLICE, in_slices, lambda: fn(texts))
