"""Runs a per-row function over a batch sorted by length, chunk by chunk, each chunk only as long as its longest row."""

from __future__ import annotations

from typing import Callable

import tensorflow as tf


def length_sorted_map(fn: Callable[[tf.Tensor], tf.Tensor], ids: tf.Tensor, chunk_rows: int,
                      output_dim: int) -> tf.Tensor:
    """``fn(ids)`` [rows, output_dim], computed on chunks of ``chunk_rows`` rows sorted by length.

    A recurrent encoder runs every row of a batch to the batch's longest
    text, so a batch mixing a 20-token and a 200-token review pays 200 steps
    for both. Here the rows are sorted by length (token id 0 is padding) and
    run in chunks, each cut to its own longest row; the outputs are put back
    in the batch's order. A row's output is the same either way when ``fn``
    reads a row's real tokens only.

    Args:
        fn: int ids [n, length] -> float32 [n, output_dim].
        ids: int [rows, length]. Token ids, 0 = padding.
        chunk_rows: int >= 1. Rows per chunk.
        output_dim: int. Width of ``fn``'s output.
    """
    if int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows must be >= 1; got {chunk_rows}")
    chunk_rows = int(chunk_rows)
    lengths = tf.reduce_sum(tf.cast(ids != 0, tf.int32), axis=1)
    order = tf.argsort(lengths, direction="DESCENDING", stable=True)
    ids = tf.gather(ids, order)
    lengths = tf.gather(lengths, order)
    rows = tf.shape(ids)[0]
    chunks = (rows + chunk_rows - 1) // chunk_rows

    def body(i, outputs):
        start = i * chunk_rows
        end = tf.minimum(start + chunk_rows, rows)
        width = tf.maximum(lengths[start], 1)  # rows are sorted: the chunk's first is its longest
        return i + 1, outputs.write(i, fn(ids[start:end, :width]))

    parts = tf.TensorArray(tf.float32, size=chunks, infer_shape=False, element_shape=[None, output_dim])
    _, parts = tf.while_loop(lambda i, _: i < chunks, body, [tf.constant(0), parts], parallel_iterations=2)
    sorted_outputs = tf.cond(rows > 0, lambda: parts.concat(), lambda: tf.zeros([0, output_dim], tf.float32))
    return tf.scatter_nd(order[:, None], sorted_outputs, [rows, output_dim])
