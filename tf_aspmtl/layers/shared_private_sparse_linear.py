"""Per-task linear logits of sparse features from a shared and a private weight matrix: a wide path's logits."""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from tf_aspmtl.layers.sparse_linear_head import (SparseLinearHead, load_interleaved_task_kernels, sparse_matmul,
                                                 task_kernel_slice, task_sparse_matmul)


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class SharedPrivateSparseLinear(keras.layers.Layer):
    """Logits ``c * x (V_shared + V_private[task])`` of sparse features ``x``, one row's task at a time.

    The linear half of a wide-and-deep model: every task trains ``V_shared``,
    only task ``k`` trains ``V_private[k]`` (the split of
    :class:`~tf_aspmtl.models.SharedPrivateNgramClassifier`, without a
    bias: the deep heads have theirs). The weights start at zero and their
    gradient touches only the features of the batch, and of ``V_private`` only
    the batch's tasks' rows (:func:`task_sparse_matmul`), so LazyAdam updates
    those rows alone: an absent task's weights and optimizer state stay as they are.

    ``c`` (``learning_rate_multiplier``) is the path's learning rate relative to
    the optimizer's: the weights are ``c * V`` and the optimizer moves ``V``.
    Adam's step does not depend on the gradient's scale, so ``c * V`` moves
    ``c`` times as far per step as weights stored as they are. One optimizer
    then trains both paths of a model at their own rates, and its state is
    saved and resumed as any model's. Changing ``c`` after training changes
    the logits: it is part of the config.

    Padding classes (beyond a task's own) get logits too; the model's heads mask them.

    Args:
        width: int. Number of input features.
        num_classes: sequence of int. Classes of each task.
        learning_rate_multiplier: float > 0. ``c``.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> layer = SharedPrivateSparseLinear(5, [2, 3])
    >>> x = tf.SparseTensor([[0, 1], [1, 4]], [1.0, 0.5], [2, 5])
    >>> layer(x, tf.constant([0, 1])).shape
    TensorShape([2, 3])
    """

    def __init__(self, width: int, num_classes: Sequence[int], learning_rate_multiplier: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = [int(c) for c in num_classes]
        if int(width) < 1 or not self.num_classes or min(self.num_classes) < 1:
            raise ValueError(f"width and every task's classes must be >= 1; got width={width}, "
                             f"num_classes={self.num_classes}")
        multiplier = float(learning_rate_multiplier)
        if not np.isfinite(multiplier) or multiplier <= 0:
            raise ValueError(f"learning_rate_multiplier must be a finite number > 0; got {learning_rate_multiplier!r}")
        self.width = int(width)
        self.learning_rate_multiplier = multiplier
        self.num_tasks, self.max_classes = len(self.num_classes), max(self.num_classes)
        self.shared_kernel = self.add_weight(shape=(self.width, self.max_classes), initializer="zeros",
                                             name="shared_kernel", autocast=False)
        # Row i * num_tasks + k is task k's row i (task_sparse_matmul): a step reads and updates its tasks' rows only.
        self.private_kernel = self.add_weight(shape=(self.width * self.num_tasks, self.max_classes),
                                              initializer="zeros", name="private_kernel", autocast=False)
        self.built = True

    def call(self, features, task_ids):
        if not isinstance(features, tf.SparseTensor):
            raise ValueError(f"{type(self).__name__} takes a tf.SparseTensor [batch, {self.width}]; "
                             f"got {type(features).__name__}")
        features = tf.sparse.SparseTensor(features.indices, tf.cast(features.values, tf.float32),
                                          features.dense_shape)
        task_ids = tf.cast(tf.reshape(task_ids, [-1]), tf.int32)
        # An id >= num_tasks would read another feature's row of a valid task (rows are interleaved): refuse it.
        tf.debugging.assert_less(task_ids, self.num_tasks, message=f"{self.name}: a task id is >= {self.num_tasks}")
        tf.debugging.assert_non_negative(task_ids, message=f"{self.name}: a task id is negative")
        shared = sparse_matmul(features, self.shared_kernel)
        private = task_sparse_matmul(features, self.private_kernel, task_ids, self.num_tasks)
        return tf.cast(self.learning_rate_multiplier * (shared + private), self.compute_dtype)

    def task_kernel(self, task: int) -> tf.Tensor:
        """Task ``task``'s weights ``c * (V_shared + V_private[task])`` [width, num_classes[task]]."""
        classes = self.num_classes[task]
        kernel = self.shared_kernel[:, :classes] + task_kernel_slice(self.private_kernel, task, self.num_tasks, classes)
        return self.learning_rate_multiplier * kernel

    def task_head(self, task: int, name: str | None = None) -> SparseLinearHead:
        """A :class:`SparseLinearHead` holding :meth:`task_kernel` (and no bias): what a served task reads, one
        ``width x classes`` matrix rather than every task's."""
        return SparseLinearHead(self.width, self.num_classes[task], kernel=self.task_kernel(task),
                                name=name or f"{self.name}_task_{task}")

    def load_own_variables(self, store):
        super().load_own_variables(load_interleaved_task_kernels(
            store, self._trainable_variables + self._non_trainable_variables, self.private_kernel))

    def compute_output_spec(self, features, task_ids):
        return keras.KerasTensor((features.shape[0], self.max_classes), dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"width": self.width, "num_classes": self.num_classes,
                       "learning_rate_multiplier": self.learning_rate_multiplier})
        return config
