"""Sentence encoders: a masked sequence of word vectors in, one feature vector out.

Every encoder takes ``embedded`` of shape ``[batch, length, dim]`` and a
boolean ``mask`` of shape ``[batch, length]`` (True on real tokens, padding on
the right) and returns ``[batch, output_dim]``. Each is a class in its own
module (:class:`~tf_aspmtl.layers.sentence_encoder.SentenceEncoder`, their
base; ``lstm_encoder``, ``bilstm_encoder``, ``cnn_encoder``; the LSTM ones run
:class:`~tf_aspmtl.layers.fused_lstm.FusedLSTM`). This module looks them up by
name in :data:`ENCODERS` and re-exports them, so adding one is a class and a
line here.

Every encoder honours its dtype policy: variables are created in
``variable_dtype``, the computation runs in and the output has
``compute_dtype`` (``float16`` under ``"mixed_float16"``), and sub-layers are
given the parent's policy, so ``LSTMEncoder(dtype="mixed_bfloat16")`` is
mixed-precision throughout.
"""

from __future__ import annotations

from tf_aspmtl.initializers import weight_initializer
from tf_aspmtl.layers.bilstm_encoder import BiLSTMEncoder
from tf_aspmtl.layers.cnn_encoder import CNNEncoder
from tf_aspmtl.layers.encoder_utils import POOLINGS
from tf_aspmtl.layers.fused_lstm import FusedLSTM
from tf_aspmtl.layers.lstm_encoder import LSTMEncoder
from tf_aspmtl.layers.sentence_encoder import SentenceEncoder

__all__ = [
    "ENCODERS",
    "POOLINGS",
    "BiLSTMEncoder",
    "CNNEncoder",
    "FusedLSTM",
    "LSTMEncoder",
    "SentenceEncoder",
    "get_encoder",
]


ENCODERS: dict[str, tuple[type[SentenceEncoder], dict]] = {
    "lstm": (LSTMEncoder, {}),
    "lstm-max": (LSTMEncoder, {"pooling": "max"}),
    "bilstm": (BiLSTMEncoder, {}),
    "bilstm-max": (BiLSTMEncoder, {"pooling": "max"}),
    "cnn": (CNNEncoder, {}),
}
"""Encoder names: the class and the arguments each name adds."""


def get_encoder(kind: str, units: int, initializer: str = "default", **kwargs) -> SentenceEncoder:
    """Builds the encoder registered under ``kind`` with ``units`` features per direction/filter.

    Args:
        kind: str. One of :data:`ENCODERS`.
        units: int. Hidden size (LSTM, BiLSTM per direction) or filters per width (CNN).
        initializer: str. The scheme of its kernels, one of
            :data:`~tf_aspmtl.initializers.WEIGHT_INITIALIZERS` ("default": Keras' defaults;
            "uniform": U(-0.1, 0.1)).
        **kwargs: passed to the layer (for example ``name``).

    Raises:
        ValueError: for an unknown name or scheme.
    """
    if kind not in ENCODERS:
        raise ValueError(f"Unknown encoder {kind!r}; expected one of {sorted(ENCODERS)}")
    cls, options = ENCODERS[kind]
    kwargs = {**{arg: weight_initializer(initializer, default) for arg, default in cls.default_initializers.items()},
              **kwargs}
    if cls is CNNEncoder:
        return cls(filters=units, **options, **kwargs)
    return cls(units=units, **options, **kwargs)
