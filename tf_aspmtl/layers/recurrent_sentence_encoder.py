"""The base of the LSTM encoders: hidden size, pooling and the LSTMs' initializers, held and serialised once."""

from __future__ import annotations

from tf_aspmtl.initializers import initializer_identifier
from tf_aspmtl.layers.encoder_utils import check_pooling
from tf_aspmtl.layers.fused_lstm import FusedLSTM
from tf_aspmtl.layers.sentence_encoder import SentenceEncoder


class RecurrentSentenceEncoder(SentenceEncoder):
    """A sentence encoder made of :class:`FusedLSTM` directions (:class:`LSTMEncoder`, :class:`BiLSTMEncoder`).

    Args:
        units: int. Hidden size of each LSTM.
        pooling: str. ``"last"`` (the state at the last real token), ``"max"`` or ``"mean"`` of the states.
        kernel_initializer: Keras initializer of each LSTM's input kernel.
        recurrent_initializer: Keras initializer of its recurrent kernel.
    """

    default_initializers = {"kernel_initializer": "glorot_uniform", "recurrent_initializer": "orthogonal"}

    def __init__(self, units: int = 100, pooling: str = "last", kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.pooling = check_pooling(pooling)
        self.kernel_initializer = initializer_identifier(kernel_initializer)
        self.recurrent_initializer = initializer_identifier(recurrent_initializer)

    def make_lstm(self, name: str) -> FusedLSTM:
        """One LSTM direction of this encoder's size, dtype policy and initializers."""
        return FusedLSTM(self.units, name=name, dtype=self.dtype_policy, kernel_initializer=self.kernel_initializer,
                         recurrent_initializer=self.recurrent_initializer)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "pooling": self.pooling, "kernel_initializer": self.kernel_initializer,
                       "recurrent_initializer": self.recurrent_initializer})
        return config
