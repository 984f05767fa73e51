"""parallel_row_slices: a per-row function on slices of a batch gives the result of the whole batch, in row order."""

import pytest
import tensorflow as tf

from tf_aspmtl.models.parallel_rows import MIN_ROWS_PER_SLICE, parallel_row_slices
from tf_aspmtl.preprocessing.tokenizer import standardize


def _row_numbers(texts):
    """float32 [rows, 2]: each text's length and the number it names (distinct per row)."""
    number = tf.strings.to_number(tf.strings.regex_replace(texts, r"^Row (\d+):.*", r"\1"))
    return tf.stack([tf.cast(tf.strings.length(texts), tf.float32), number], axis=1)


def _words(texts):
    """tf.string [rows, longest row's words]: as wide as the batch's longest text, padded with ""."""
    return tf.strings.split(texts).to_tensor("")


@pytest.mark.parametrize("rows,slices", [(1, 2), (2 * MIN_ROWS_PER_SLICE - 1, 2), (2 * MIN_ROWS_PER_SLICE, 2),
                                         (101, 2), (101, 3), (5, 1)])
@pytest.mark.parametrize("longest_first", [True, False])
def test_slices_give_the_whole_batch_result_in_row_order(rows, slices, longest_first):
    lines = [f"Row {i}: it's {'very ' * (i % 4)}GOOD." for i in range(rows)]
    lines[0 if longest_first else -1] += " and long" * 9  # the widest row in the first or the last slice
    texts = tf.constant(lines, tf.string)
    for fn in (_row_numbers, standardize, _words):
        sliced = tf.function(lambda t: parallel_row_slices(fn, t, slices))(texts)
        assert sliced.numpy().tolist() == fn(texts).numpy().tolist()
    assert parallel_row_slices(_row_numbers, texts, slices).shape.as_list() == [rows, 2]


def test_slices_must_be_positive():
    with pytest.raises(ValueError, match="slices must be >= 1; got 0"):
        parallel_row_slices(standardize, tf.constant(["a"]), 0)
