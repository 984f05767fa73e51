"""One softmax classifier per task, applied to a batch that may mix tasks."""

from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf

from tf_aspmtl.initializers import initializer_identifier

_MASKED_LOGIT = -1e9
# -1e9 is -inf in float16 (whose range is +-65504); keras.layers.Softmax masks with -3e4 there too.
_MASKED_LOGIT_FLOAT16 = -3e4


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class TaskHeads(keras.layers.Layer):
    """K linear classifiers stored as one ``[K, features, max_classes]`` kernel.

    Row b is classified by head ``task_ids[b]``. Tasks may have different
    numbers of classes: logits are padded to ``max(num_classes)`` and the
    padding classes get a logit of -1e9, i.e. probability 0.

    The logits have the layer's ``compute_dtype``; the weights are kept in
    ``variable_dtype``. In float16 (``"mixed_float16"``) the padding logit is
    -3e4 instead, as -1e9 would be -inf there.

    Args:
        num_classes: sequence of int. Classes of each task.
        kernel_initializer: Keras initializer (name, config or instance) of the kernel.

    Example:
    >>> heads = TaskHeads([2, 3])
    >>> heads(tf.ones((2, 4)), tf.constant([0, 1])).shape
    TensorShape([2, 3])
    """

    def __init__(self, num_classes: Sequence[int], kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.num_classes = [int(c) for c in num_classes]
        self.kernel_initializer = initializer_identifier(kernel_initializer)
        if not self.num_classes or min(self.num_classes) < 2:
            raise ValueError(f"Every task needs at least 2 classes; got num_classes={self.num_classes}")
        self.max_classes = max(self.num_classes)
        self._padding_classes = [[j >= c for j in range(self.max_classes)] for c in self.num_classes]

    def build(self, features_shape, task_ids_shape=None):
        k, dim = len(self.num_classes), int(features_shape[-1])
        self.kernel = self.add_weight(
            shape=(k, dim, self.max_classes), initializer=self.kernel_initializer, name="kernel"
        )
        self.bias = self.add_weight(shape=(k, self.max_classes), initializer="zeros", name="bias")
        super().build(features_shape)

    def call(self, features, task_ids):
        dtype = self.compute_dtype
        features = tf.cast(features, dtype)
        task_ids = tf.cast(tf.reshape(task_ids, [-1]), tf.int32)
        kernel = tf.cast(tf.gather(self.kernel, task_ids), dtype)  # [batch, dim, classes]
        logits = tf.einsum("bd,bdc->bc", features, kernel)
        masked = _MASKED_LOGIT_FLOAT16 if dtype == "float16" else _MASKED_LOGIT
        class_bias = tf.constant([[masked if pad else 0.0 for pad in row] for row in self._padding_classes], dtype)
        return logits + tf.cast(tf.gather(self.bias, task_ids), dtype) + tf.gather(class_bias, task_ids)

    def task_logits(self, features, task: int) -> tf.Tensor:
        """Logits [batch, num_classes[task]] of rows that all belong to ``task``: its head alone, no padding classes.

        What a served per-task graph runs: its slice of the kernel, none of the dispatch.
        """
        classes = self.num_classes[task]
        kernel = tf.convert_to_tensor(self.kernel)[task, :, :classes]
        bias = tf.convert_to_tensor(self.bias)[task, :classes]
        return tf.matmul(features, tf.cast(kernel, features.dtype)) + tf.cast(bias, features.dtype)

    def compute_output_shape(self, features_shape, task_ids_shape=None):
        return (features_shape[0], self.max_classes)

    def get_config(self):
        config = super().get_config()
        config.update({"num_classes": self.num_classes, "kernel_initializer": self.kernel_initializer})
        return config
