"""The CNN sentence encoder: convolutions of several widths, max-pooled over the real tokens."""

from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf

from tf_aspmtl.initializers import initializer_identifier
from tf_aspmtl.layers.sentence_encoder import SentenceEncoder


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class CNNEncoder(SentenceEncoder):
    """Convolutions of several widths, each max-pooled over the real tokens.

    Args:
        filters: int. Filters per kernel width.
        kernel_sizes: sequence of int. Kernel widths; the output has
            ``filters * len(kernel_sizes)`` features.
        kernel_initializer: Keras initializer of every convolution's kernel.

    Example:
    >>> enc = CNNEncoder(filters=4, kernel_sizes=(2, 3))
    >>> enc(tf.zeros((2, 5, 4)), mask=tf.sequence_mask([5, 2], 5)).shape
    TensorShape([2, 8])
    """

    default_initializers = {"kernel_initializer": "glorot_uniform"}

    def __init__(self, filters: int = 100, kernel_sizes: Sequence[int] = (3, 4, 5),
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_initializer = initializer_identifier(kernel_initializer)
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        if not self.kernel_sizes:
            raise ValueError("CNNEncoder needs at least one kernel size; got kernel_sizes=().")
        self.convs = [
            keras.layers.Conv1D(
                self.filters, k, padding="same", activation="relu", kernel_initializer=self.kernel_initializer,
                name=f"conv{k}", dtype=self.dtype_policy,
            )
            for k in self.kernel_sizes
        ]

    @property
    def output_dim(self) -> int:
        return self.filters * len(self.kernel_sizes)

    def build(self, input_shape):
        for conv in self.convs:
            conv.build(input_shape)
        super().build(input_shape)

    def call(self, embedded, mask=None, training=None):
        embedded = tf.cast(embedded, self.compute_dtype)
        if mask is None:
            mask = tf.ones(tf.shape(embedded)[:2], dtype=tf.bool)
        # No step at all (every text of the batch empty): one masked step, as a convolution needs one (a cond, so
        # the usual batch is not copied).
        mask = tf.cast(mask, tf.bool)
        embedded, mask = tf.cond(
            tf.shape(embedded)[1] > 0, lambda: (embedded, mask),
            lambda: (tf.pad(embedded, [[0, 0], [0, 1], [0, 0]]), tf.pad(mask, [[0, 0], [0, 1]])))
        # Zero the padded inputs so that "same" padding sees zeros, as at the edges.
        embedded = embedded * tf.cast(mask, embedded.dtype)[..., None]
        keep = mask[..., None]
        pooled = []
        for conv in self.convs:
            maps = conv(embedded)
            maps = tf.where(keep, maps, tf.zeros_like(maps))  # relu >= 0, so 0 is a safe floor
            pooled.append(tf.reduce_max(maps, axis=1))
        return tf.concat(pooled, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "kernel_sizes": list(self.kernel_sizes),
                       "kernel_initializer": self.kernel_initializer})
        return config
