"""A linear layer on sparse features whose gradient touches only the features present in the batch."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf


def sparse_matmul(x: tf.SparseTensor, kernel: tf.Tensor | tf.Variable, kernel_rows: tf.Tensor | None = None
                  ) -> tf.Tensor:
    """``x @ kernel`` for a sparse ``x`` [batch, width] and a dense ``kernel`` [width, units].

    Computed with ``tf.nn.embedding_lookup_sparse``, so the gradient of
    ``kernel`` is ``tf.IndexedSlices`` over the columns of ``x`` that have a
    value: an optimizer with sparse updates (:class:`tf_aspmtl.optimizers.LazyAdam`)
    then changes only those rows. A row of ``x`` without any value gets zeros.

    Args:
        x: tf.SparseTensor float32 [batch, width] (e.g. :class:`~tf_aspmtl.preprocessing.NgramFeatures`).
        kernel: float32 [rows, units]; a variable is read once.
        kernel_rows: optional int64 [values]: the kernel row each value of ``x`` multiplies (by default its
            column, ``x.indices[:, 1]``); :func:`task_sparse_matmul` points each row of ``x`` at its task's rows.
    """
    if isinstance(kernel, tf.Variable) or hasattr(kernel, "value"):
        kernel = kernel.value
    ids = tf.SparseTensor(x.indices, x.indices[:, 1] if kernel_rows is None else kernel_rows, x.dense_shape)
    out = tf.nn.embedding_lookup_sparse(kernel, ids, x, combiner="sum")
    # embedding_lookup_sparse returns rows up to the last row with a value: pad the empty rows back with zeros.
    rows = tf.cast(x.dense_shape[0], tf.int32)
    return tf.pad(out, [[0, rows - tf.shape(out)[0]], [0, 0]])


def task_sparse_matmul(x: tf.SparseTensor, task_kernels: tf.Tensor | tf.Variable, task_ids: tf.Tensor,
                       num_tasks: int) -> tf.Tensor:
    """Row ``r`` of the result is ``x[r] @ W[task_ids[r]]``: each row of sparse ``x`` times its own task's matrix.

    The tasks' matrices ``W[k]`` [width, units] are stored interleaved, as one
    ``task_kernels`` [width * num_tasks, units] whose row ``i * num_tasks + k``
    is row ``i`` of ``W[k]`` (the same memory as [width, num_tasks * units]).
    Only the rows a batch's values point at are read, and the gradient is
    ``tf.IndexedSlices`` over those ``(feature, task)`` rows alone: a step
    leaves every other task's weights, and their optimizer state, untouched.
    Each row's sum runs over its values in the order :func:`sparse_matmul`'s does.

    Args:
        x: tf.SparseTensor float32 [batch, width].
        task_kernels: float32 [width * num_tasks, units].
        task_ids: int [batch], each in ``[0, num_tasks)``.
        num_tasks: int. Number of interleaved matrices.
    """
    task_of_value = tf.gather(tf.cast(tf.reshape(task_ids, [-1]), tf.int64), x.indices[:, 0])
    return sparse_matmul(x, task_kernels, kernel_rows=x.indices[:, 1] * num_tasks + task_of_value)


def task_kernel_slice(task_kernels: tf.Tensor | tf.Variable, task: int, num_tasks: int,
                      columns: int | None = None) -> tf.Tensor:
    """Task ``task``'s matrix [width, columns] out of :func:`task_sparse_matmul`'s interleaved ``task_kernels``."""
    units = task_kernels.shape[1]
    return tf.reshape(task_kernels, [-1, num_tasks, units])[:, task, :units if columns is None else columns]


def load_interleaved_task_kernels(store, variables, task_kernels) -> dict:
    """``store`` of a layer's variables (Keras' ``load_own_variables``), with ``task_kernels``' entry reshaped from
    the [width, num_tasks * units] layout of files written before the kernels were interleaved (same memory order)."""
    position = next(i for i, v in enumerate(variables) if v is task_kernels)
    entries = {key: store[key] for key in store.keys()}
    old = np.asarray(entries[str(position)])
    if old.shape != tuple(task_kernels.shape) and old.size == int(np.prod(task_kernels.shape)):
        entries[str(position)] = old.reshape(task_kernels.shape)
    return entries


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
        # float32 whatever the global policy (a float32 model's weights, float32 logits as compute_output_spec says).
        kwargs.setdefault("dtype", "float32")
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
