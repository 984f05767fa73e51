"""The LSTM sentence encoder: the state at the last real token (the paper's), or a pooling of all states."""

from __future__ import annotations

import keras
import tensorflow as tf

from tf_aspmtl.layers.encoder_utils import lengths_from_mask, pool_states
from tf_aspmtl.layers.recurrent_sentence_encoder import RecurrentSentenceEncoder


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class LSTMEncoder(RecurrentSentenceEncoder):
    """LSTM whose sentence feature is the hidden state at the last real token, or a pooling of all.

    With ``pooling="last"`` this is the paper's encoder: ``s_T = LSTM(x_1..x_T)``.
    ``"max"`` and ``"mean"`` pool the hidden states over the real tokens
    (registered as ``"lstm-max"``). Padding is masked whatever the pooling.

    Args:
        units: int. Hidden size, which is also the output size.
        pooling, kernel_initializer, recurrent_initializer: as for
            :class:`~tf_aspmtl.layers.recurrent_sentence_encoder.RecurrentSentenceEncoder`.

    Example:
    >>> enc = LSTMEncoder(units=8)
    >>> enc(tf.zeros((2, 5, 4)), mask=tf.sequence_mask([5, 2], 5)).shape
    TensorShape([2, 8])
    """

    def __init__(self, units: int = 100, pooling: str = "last", **kwargs):
        super().__init__(units=units, pooling=pooling, **kwargs)
        self.lstm = self.make_lstm("lstm")

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
