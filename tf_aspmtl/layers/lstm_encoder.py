"""The LSTM sentence encoder: the state at the last real token (the paper's), or a pooling of all states."""

from __future__ import annotations

import keras
import tensorflow as tf

from tf_aspmtl.initializers import initializer_identifier
from tf_aspmtl.layers.encoder_utils import check_pooling, lengths_from_mask, pool_states
from tf_aspmtl.layers.fused_lstm import FusedLSTM
from tf_aspmtl.layers.sentence_encoder import SentenceEncoder


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class LSTMEncoder(SentenceEncoder):
    """LSTM whose sentence feature is the hidden state at the last real token, or a pooling of all.

    With ``pooling="last"`` this is the paper's encoder: ``s_T = LSTM(x_1..x_T)``.
    ``"max"`` and ``"mean"`` pool the hidden states over the real tokens
    (registered as ``"lstm-max"``). Padding is masked whatever the pooling.

    Args:
        units: int. Hidden size, which is also the output size.
        pooling: str. ``"last"`` (default), ``"max"`` or ``"mean"``.
        kernel_initializer: Keras initializer of the LSTM's input kernel.
        recurrent_initializer: Keras initializer of its recurrent kernel.

    Example:
    >>> enc = LSTMEncoder(units=8)
    >>> enc(tf.zeros((2, 5, 4)), mask=tf.sequence_mask([5, 2], 5)).shape
    TensorShape([2, 8])
    """

    default_initializers = {"kernel_initializer": "glorot_uniform", "recurrent_initializer": "orthogonal"}

    def __init__(self, units: int = 100, pooling: str = "last", kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.pooling = check_pooling(pooling)
        self.kernel_initializer = initializer_identifier(kernel_initializer)
        self.recurrent_initializer = initializer_identifier(recurrent_initializer)
        initializers = {"kernel_initializer": self.kernel_initializer,
                        "recurrent_initializer": self.recurrent_initializer}
        self.lstm = FusedLSTM(self.units, name="lstm", dtype=self.dtype_policy, **initializers)

    @property
    def output_dim(self) -> int:
        return self.units

    def build(self, input_shape):
        self.lstm.build(input_shape)
        super().build(input_shape)

    def call(self, embedded, mask=None, training=None):
        embedded = tf.cast(embedded, self.compute_dtype)
        if self.pooling == "last":
            return self.lstm(embedded, mask=mask)
        return pool_states(self.lstm.states(embedded), lengths_from_mask(mask, embedded), self.pooling)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "pooling": self.pooling, "kernel_initializer": self.kernel_initializer,
                       "recurrent_initializer": self.recurrent_initializer})
        return config
