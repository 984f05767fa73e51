"""Helpers shared by the LSTM sentence encoders: row lengths from a mask, and the poolings of hidden states."""

from __future__ import annotations

import tensorflow as tf


def lengths_from_mask(mask, embedded):
    if mask is None:
        return tf.fill([tf.shape(embedded)[0]], tf.shape(embedded)[1])
    return tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)


POOLINGS = ("last", "max", "mean")
"""How an LSTM encoder turns its hidden states into one feature: the state at
the last real token (the paper's), or the max or the mean over the real tokens."""


def check_pooling(pooling: str) -> str:
    if pooling not in POOLINGS:
        raise ValueError(f"Unknown pooling {pooling!r}; expected one of {list(POOLINGS)}")
    return pooling


def pool_states(hidden, lengths, pooling: str):
    """Max or mean of time-major ``hidden`` [length, batch, units] over each row's first ``lengths`` steps.

    A row without real tokens gets the zero vector.
    """
    real = tf.transpose(tf.sequence_mask(lengths, tf.shape(hidden)[0]))[:, :, None]  # [length, batch, 1]
    if pooling == "max":
        lowest = tf.constant(hidden.dtype.min, hidden.dtype)
        pooled = tf.reduce_max(tf.where(real, hidden, lowest), axis=0)
    else:
        total = tf.reduce_sum(tf.where(real, hidden, tf.zeros_like(hidden)), axis=0)
        pooled = total / tf.cast(tf.maximum(lengths, 1), hidden.dtype)[:, None]
    return tf.where((lengths > 0)[:, None], pooled, tf.zeros_like(pooled))
