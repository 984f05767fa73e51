"""A linear layer on sparse features whose gradient touches only the features present in the batch."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def sparse_matmul(x: tf.SparseTensor, kernel: tf.Tensor | tf.Variable) -> tf.Tensor:
    """``x @ kernel`` for a sparse ``x`` [batch, width] and a dense ``kernel`` [width, units].

    Computed with ``tf.nn.embedding_lookup_sparse``, so the gradient of
    ``kernel`` is ``tf.IndexedSlices`` over the columns of ``x`` that have a
    value: an optimizer with sparse updates (:class:`tf_aspmtl.optimizers.LazyAdam`)
    then changes only those rows. A row of ``x`` without any value gets zeros.

    Args:
        x: tf.SparseTensor float32 [batch, width] (e.g. :class:`~tf_aspmtl.preprocessing.NgramFeatures`).
        kernel: float32 [width, units]; a variable is read once.
    """
    if isinstance(kernel, tf.Variable) or hasattr(kernel, "value"):
        kernel = kernel.value
    ids = tf.SparseTensor(x.indices, x.indices[:, 1], x.dense_shape)
    out = tf.nn.embedding_lookup_sparse(kernel, ids, x, combiner="sum")
    # embedding_lookup_sparse returns rows up to the last row with a value: pad the empty rows back with zeros.
    rows = tf.cast(x.dense_shape[0], tf.int32)
    return tf.pad(out, [[0, rows - tf.shape(out)[0]], [0, 0]])


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class SparseLinearHead(keras.layers.Layer):
    """Logits ``x @ kernel + bias`` of sparse features ``x`` [batch, width] (see :func:`sparse_matmul`).

    :meth:`tf_aspmtl.SharedPrivateNgramClassifier.serving_layers` builds one
    per served task from its trained weights (``kernel = W_shared +
    W_private[task]``), so a task's SavedModel holds one ``width x classes``
    matrix instead of every task's.

    Args:
        width: int. Number of input features.
        units: int. Number of outputs (classes).
        kernel: optional array [width, units]. Initial kernel (zeros otherwise).
        bias: optional array [units]. Initial bias (zeros otherwise).

    Example:
    >>> head = SparseLinearHead(3, 2, kernel=np.eye(3, 2), bias=[0.0, 1.0])
    >>> x = tf.SparseTensor([[0, 1]], [2.0], [1, 3])
    >>> head(x).numpy().tolist()
    [[0.0, 3.0]]
    """

    def __init__(self, width: int, units: int, kernel=None, bias=None, **kwargs):
        super().__init__(**kwargs)
        if int(width) < 1 or int(units) < 1:
            raise ValueError(f"width and units must be >= 1; got width={width}, units={units}")
        self.width, self.units = int(width), int(units)
        kernel = None if kernel is None else np.asarray(kernel, np.float32)
        bias = None if bias is None else np.asarray(bias, np.float32)
        if kernel is not None and kernel.shape != (self.width, self.units):
            raise ValueError(f"kernel has shape {kernel.shape}; expected ({self.width}, {self.units})")
        if bias is not None and bias.shape != (self.units,):
            raise ValueError(f"bias has shape {bias.shape}; expected ({self.units},)")
        self.kernel = self.add_weight(shape=(self.width, self.units), initializer="zeros", name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
        if kernel is not None:
            self.kernel.assign(kernel)
        if bias is not None:
            self.bias.assign(bias)
        self.built = True

    def call(self, x):
        if not isinstance(x, tf.SparseTensor):
            raise ValueError(f"{type(self).__name__} takes a tf.SparseTensor [batch, {self.width}]; "
                             f"got {type(x).__name__}")
        return sparse_matmul(x, self.kernel) + self.bias

    def compute_output_spec(self, x):
        return keras.KerasTensor((x.shape[0], self.units), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({"width": self.width, "units": self.units})
        return config
