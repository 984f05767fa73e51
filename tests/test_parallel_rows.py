"""parallel_row_slices: a per-row function on slices of a batch gives the result of the whole batch, dense or sparse."""

import numpy as np
import pytest
import tensorflow as tf

from tf_aspmtl.models.parallel_rows import MIN_ROWS_PER_SLICE, parallel_row_slices
from tf_aspmtl.preprocessing.tokenizer import standardize


def _lengths_as_sparse(texts):
    lengths = tf.strings.length(texts, unit="UTF8_CHAR")
    rows = tf.range(tf.shape(texts, out_type=tf.int64)[0])
    indices = tf.stack([rows, tf.cast(lengths % 5, tf.int64)], axis=1)
    return tf.SparseTensor(indices, tf.cast(lengths, tf.float32), [tf.shape(texts, out_type=tf.int64)[0], 5])


@pytest.mark.parametrize("rows", [0, 1, 2 * MIN_ROWS_PER_SLICE - 1, 2 * MIN_ROWS_PER_SLICE, 101])
@pytest.mark.parametrize("slices", [1, 2, 3])
def test_slices_give_the_whole_batch_result_in_row_order(rows, slices):
    texts = tf.constant([f"Row {i}: it's {'very ' * (i % 4)}GOOD." for i in range(rows)], tf.string)
    dense = tf.function(lambda t: parallel_row_slices(standardize, t, slices))(texts)
    assert dense.numpy().tolist() == standardize(texts).numpy().tolist()
    sparse = tf.function(lambda t: parallel_row_slices(_lengths_as_sparse, t, slices))(texts)
    np.testing.assert_array_equal(tf.sparse.to_dense(sparse).numpy(), tf.sparse.to_dense(_lengths_as_sparse(texts)))


def test_slices_must_be_positive():
    with pytest.raises(ValueError, match="slices must be >= 1; got 0"):
        parallel_row_slices(standardize, tf.constant(["a"]), 0)
