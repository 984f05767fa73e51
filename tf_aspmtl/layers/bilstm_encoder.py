"""The bidirectional LSTM sentence encoder: last states of both directions, or a pooling of each."""

from __future__ import annotations

import keras
import tensorflow as tf

from tf_aspmtl.layers.encoder_utils import lengths_from_mask, pool_states
from tf_aspmtl.layers.recurrent_sentence_encoder import RecurrentSentenceEncoder


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class BiLSTMEncoder(RecurrentSentenceEncoder):
    """Bidirectional LSTM: forward state at the last real token, backward state at the first.

    With ``pooling="max"`` or ``"mean"`` (registered as ``"bilstm-max"``),
    each direction's hidden states are pooled over the real tokens instead
    (the BiLSTM-max sentence encoder of Conneau et al. 2017).

    Args:
        units: int. Hidden size of each direction; the output has ``2 * units``.
        pooling, kernel_initializer, recurrent_initializer: as for
            :class:`~tf_aspmtl.layers.recurrent_sentence_encoder.RecurrentSentenceEncoder`.

    Example:
    >>> enc = BiLSTMEncoder(units=8)
    >>> enc(tf.zeros((2, 5, 4)), mask=tf.sequence_mask([5, 2], 5)).shape
    TensorShape([2, 16])
    """

    def __init__(self, units: int = 100, pooling: str = "last", **kwargs):
        super().__init__(units=units, pooling=pooling, **kwargs)
        self.forward_lstm = self.make_lstm("forward_lstm")
        self.backward_lstm = self.make_lstm("backward_lstm")

    @property
    def output_dim(self) -> int:
        return 2 * self.units

    def build(self, input_shape):
        self.forward_lstm.build(input_shape)
        self.backward_lstm.build(input_shape)
        super().build(input_shape)

    def call(self, embedded, mask=None, training=None):
        embedded = tf.cast(embedded, self.compute_dtype)
        lengths = lengths_from_mask(mask, embedded)
        # Reverse each row's real tokens in place; padding stays on the right.
        reversed_rows = tf.reverse_sequence(embedded, lengths, seq_axis=1, batch_axis=0)
        if self.pooling == "last":
            forward = self.forward_lstm(embedded, mask=mask)
            backward = self.backward_lstm(reversed_rows, mask=mask)
        else:
            # Both directions' real steps are each row's first ``lengths`` steps, so one pooling serves both.
            forward = pool_states(self.forward_lstm.states(embedded), lengths, self.pooling)
            backward = pool_states(self.backward_lstm.states(reversed_rows), lengths, self.pooling)
        return tf.concat([forward, backward], axis=-1)
