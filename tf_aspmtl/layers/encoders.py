"""Sentence encoders: a masked sequence of word vectors in, one feature vector out.

Every encoder takes ``embedded`` of shape ``[batch, length, dim]`` and a
boolean ``mask`` of shape ``[batch, length]`` (True on real tokens, padding on
the right) and returns ``[batch, output_dim]``. Encoders are looked up by name
in :data:`ENCODERS`, so adding one is a class and a line.
"""

from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class LSTMEncoder(keras.layers.Layer):
    """LSTM whose sentence feature is the hidden state at the last real token.

    This is the paper's encoder: ``s_T = LSTM(x_1..x_T)``. Padding is masked,
    so the state at the last real token is returned, whatever the padding.

    Args:
        units: int. Hidden size, which is also the output size.

    Example:
    >>> enc = LSTMEncoder(units=8)
    >>> enc(tf.zeros((2, 5, 4)), mask=tf.sequence_mask([5, 2], 5)).shape
    TensorShape([2, 8])
    """

    def __init__(self, units: int = 100, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.units = int(units)
        self.lstm = keras.layers.LSTM(self.units, name="lstm")

    @property
    def output_dim(self) -> int:
        return self.units

    def build(self, input_shape):
        self.lstm.build(input_shape)
        super().build(input_shape)

    def call(self, embedded, mask=None, training=None):
        return self.lstm(embedded, mask=mask, training=training)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def compute_mask(self, inputs, mask=None):
        return None  # the mask is consumed: the sentence feature has no time axis

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class BiLSTMEncoder(keras.layers.Layer):
    """Bidirectional LSTM: forward state at the last real token, backward at the first.

    Args:
        units: int. Hidden size of each direction; the output has ``2 * units``.

    Example:
    >>> enc = BiLSTMEncoder(units=8)
    >>> enc(tf.zeros((2, 5, 4)), mask=tf.sequence_mask([5, 2], 5)).shape
    TensorShape([2, 16])
    """

    def __init__(self, units: int = 100, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.units = int(units)
        self.bilstm = keras.layers.Bidirectional(
            keras.layers.LSTM(self.units), merge_mode="concat", name="bilstm"
        )

    @property
    def output_dim(self) -> int:
        return 2 * self.units

    def build(self, input_shape):
        self.bilstm.build(input_shape)
        super().build(input_shape)

    def call(self, embedded, mask=None, training=None):
        return self.bilstm(embedded, mask=mask, training=training)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def compute_mask(self, inputs, mask=None):
        return None  # the mask is consumed: the sentence feature has no time axis

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class CNNEncoder(keras.layers.Layer):
    """Convolutions of several widths, each max-pooled over the real tokens.

    Args:
        filters: int. Filters per kernel width.
        kernel_sizes: sequence of int. Kernel widths; the output has
            ``filters * len(kernel_sizes)`` features.

    Example:
    >>> enc = CNNEncoder(filters=4, kernel_sizes=(2, 3))
    >>> enc(tf.zeros((2, 5, 4)), mask=tf.sequence_mask([5, 2], 5)).shape
    TensorShape([2, 8])
    """

    def __init__(self, filters: int = 100, kernel_sizes: Sequence[int] = (3, 4, 5), **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.filters = int(filters)
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        if not self.kernel_sizes:
            raise ValueError("CNNEncoder needs at least one kernel size; got kernel_sizes=().")
        self.convs = [
            keras.layers.Conv1D(self.filters, k, padding="same", activation="relu", name=f"conv{k}")
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
        if mask is None:
            mask = tf.ones(tf.shape(embedded)[:2], dtype=tf.bool)
        # Zero the padded inputs so that "same" padding sees zeros, as at the edges.
        embedded = embedded * tf.cast(mask, embedded.dtype)[..., None]
        keep = mask[..., None]
        pooled = []
        for conv in self.convs:
            maps = conv(embedded)
            maps = tf.where(keep, maps, tf.zeros_like(maps))  # relu >= 0, so 0 is a safe floor
            pooled.append(tf.reduce_max(maps, axis=1))
        return tf.concat(pooled, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def compute_mask(self, inputs, mask=None):
        return None  # the mask is consumed: the sentence feature has no time axis

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "kernel_sizes": list(self.kernel_sizes)})
        return config


ENCODERS: dict[str, type[keras.layers.Layer]] = {
    "lstm": LSTMEncoder,
    "bilstm": BiLSTMEncoder,
    "cnn": CNNEncoder,
}


def get_encoder(kind: str, units: int, **kwargs) -> keras.layers.Layer:
    """Builds the encoder registered under ``kind`` with ``units`` features per direction/filter.

    Args:
        kind: str. One of :data:`ENCODERS`.
        units: int. Hidden size (LSTM, BiLSTM per direction) or filters per width (CNN).
        **kwargs: passed to the layer (for example ``name``).

    Raises:
        ValueError: for an unknown name.
    """
    if kind not in ENCODERS:
        raise ValueError(f"Unknown encoder {kind!r}; expected one of {sorted(ENCODERS)}")
    cls = ENCODERS[kind]
    if cls is CNNEncoder:
        return cls(filters=units, **kwargs)
    return cls(units=units, **kwargs)
