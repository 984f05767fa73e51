"""Sentence encoders: a masked sequence of word vectors in, one feature vector out.

Every encoder takes ``embedded`` of shape ``[batch, length, dim]`` and a
boolean ``mask`` of shape ``[batch, length]`` (True on real tokens, padding on
the right) and returns ``[batch, output_dim]``. Encoders are looked up by name
in :data:`ENCODERS`, so adding one is a class and a line.

Every layer here honours its dtype policy: variables are created in
``variable_dtype``, the computation runs in and the output has
``compute_dtype`` (``float16`` under ``"mixed_float16"``), and sub-layers are
given the parent's policy, so ``LSTMEncoder(dtype="mixed_bfloat16")`` is
mixed-precision throughout.
"""

from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf


# The dtypes TensorFlow's BlockLSTM op accepts (its attr T), on CPU and GPU alike.
_BLOCK_LSTM_DTYPES = ("float16", "float32")


def _lengths(mask, embedded):
    if mask is None:
        return tf.fill([tf.shape(embedded)[0]], tf.shape(embedded)[1])
    return tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)


POOLINGS = ("last", "max", "mean")
"""How an LSTM encoder turns its hidden states into one feature: the state at
the last real token (the paper's), or the max or the mean over the real tokens."""


def _check_pooling(pooling: str) -> str:
    if pooling not in POOLINGS:
        raise ValueError(f"Unknown pooling {pooling!r}; expected one of {list(POOLINGS)}")
    return pooling


def _pool_states(hidden, lengths, pooling: str):
    """Max or mean of time-major ``hidden`` [length, batch, units] over each row's first ``lengths`` steps.

    A row without real tokens gets the zero vector.
    """
    real = tf.transpose(tf.sequence_mask(lengths, tf.shape(hidden)[0]))[:, :, None]  # [length, batch, 1]
    if pooling == "max":
        lowest = tf.constant(hidden.dtype.min, hidden.dtype)
        pooled = tf.reduce_max(tf.where(real, hidden, lowest), axis=0)
    else:
        total = tf.reduce_sum(tf.where(real, hidden, tf.zeros_like(hidden)), axis=0)
        pooled = total / tf.cast(tf.maximum(lengths, 1), hidden.dtype)[:, None]
    return tf.where((lengths > 0)[:, None], pooled, tf.zeros_like(pooled))


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class FusedLSTM(keras.layers.Layer):
    """One LSTM direction over a whole sequence in one fused op; returns the last real state.

    The recurrence runs inside TensorFlow's ``BlockLSTM`` kernel (one op for
    every time step, forward and backward, on CPU and GPU) instead of a
    ``tf.while_loop`` of small ops as ``keras.layers.LSTM`` does on CPU, which
    is faster, the more so when other jobs share the cores
    (``python -m experiments.bench_lstm``). The
    cell is the standard one without peepholes: gates in the order
    input, cell, forget, output; Keras' default initialisers (Glorot kernel,
    orthogonal recurrent kernel, forget-gate bias 1).

    Padding must be on the right. Steps after a row's last real token are
    computed but never read, so they change nothing.

    Mixed precision: the op exists for float16 and float32 only (on CPU as
    on GPU). Under a float16 compute dtype (``"mixed_float16"``) it runs in
    float16, like ``keras.layers.LSTM``; under any other compute dtype
    (``"mixed_bfloat16"``, ``"float64"``) the inputs and the weights, as the
    policy gives them, are cast to float32 for the op and the result is cast
    back, so the output always has the layer's ``compute_dtype``.

    Args:
        units: int. Hidden size.

    Example:
    >>> lstm = FusedLSTM(units=8)
    >>> lstm(tf.zeros((2, 5, 4)), mask=tf.sequence_mask([5, 2], 5)).shape
    TensorShape([2, 8])
    """

    def __init__(self, units: int = 100, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.units = int(units)

    def build(self, input_shape):
        dim, h = int(input_shape[-1]), self.units
        self.kernel = self.add_weight(shape=(dim, 4 * h), initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(h, 4 * h), initializer="orthogonal", name="recurrent_kernel")
        self.bias = self.add_weight(shape=(4 * h,), initializer=self._bias_initializer, name="bias")
        super().build(input_shape)

    def _bias_initializer(self, shape, dtype=None):
        h, dtype = self.units, dtype or self.variable_dtype
        # Gates i, c, f, o; the forget gate's bias starts at 1.
        return tf.concat([tf.zeros([2 * h], dtype), tf.ones([h], dtype), tf.zeros([h], dtype)], axis=0)

    def states(self, embedded):
        """Hidden states of every step, time-major: [length, batch, units], in ``compute_dtype``."""
        compute_dtype = self.compute_dtype
        op_dtype = compute_dtype if compute_dtype in _BLOCK_LSTM_DTYPES else "float32"
        embedded = tf.cast(embedded, op_dtype)  # tf.cast to the same dtype is the identity
        batch = tf.shape(embedded)[0]
        zeros = tf.zeros([batch, self.units], op_dtype)
        peephole = tf.zeros([self.units], op_dtype)
        outputs = tf.raw_ops.BlockLSTM(
            seq_len_max=tf.cast(tf.shape(embedded)[1], tf.int64),
            x=tf.transpose(embedded, [1, 0, 2]),
            cs_prev=zeros,
            h_prev=zeros,
            w=tf.cast(tf.concat([self.kernel, self.recurrent_kernel], axis=0), op_dtype),
            wci=peephole,
            wcf=peephole,
            wco=peephole,
            b=tf.cast(self.bias, op_dtype),
            forget_bias=0.0,
            cell_clip=-1.0,
            use_peephole=False,
        )
        return tf.cast(outputs[6], compute_dtype)

    def call(self, embedded, mask=None):
        embedded = tf.cast(embedded, self.compute_dtype)
        lengths = _lengths(mask, embedded)
        hidden = self.states(embedded)
        last = tf.gather_nd(hidden, tf.stack([tf.maximum(lengths - 1, 0), tf.range(tf.shape(lengths)[0])], 1))
        return last * tf.cast(lengths > 0, last.dtype)[:, None]  # an empty text has the zero state

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


class SentenceEncoder(keras.layers.Layer):
    """Base of the encoders: ``[batch, length, dim]`` + mask in, ``[batch, output_dim]`` out.

    The mask is consumed (the feature has no time axis), so none is passed on.
    Subclasses define ``output_dim``, ``build`` and ``call``.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    @property
    def output_dim(self) -> int:
        raise NotImplementedError

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_dim)

    def compute_mask(self, inputs, mask=None):
        return None


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class LSTMEncoder(SentenceEncoder):
    """LSTM whose sentence feature is the hidden state at the last real token, or a pooling of all.

    With ``pooling="last"`` this is the paper's encoder: ``s_T = LSTM(x_1..x_T)``.
    ``"max"`` and ``"mean"`` pool the hidden states over the real tokens
    (registered as ``"lstm-max"``). Padding is masked whatever the pooling.

    Args:
        units: int. Hidden size, which is also the output size.
        pooling: str. ``"last"`` (default), ``"max"`` or ``"mean"``.

    Example:
    >>> enc = LSTMEncoder(units=8)
    >>> enc(tf.zeros((2, 5, 4)), mask=tf.sequence_mask([5, 2], 5)).shape
    TensorShape([2, 8])
    """

    def __init__(self, units: int = 100, pooling: str = "last", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.pooling = _check_pooling(pooling)
        self.lstm = FusedLSTM(self.units, name="lstm", dtype=self.dtype_policy)

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
        return _pool_states(self.lstm.states(embedded), _lengths(mask, embedded), self.pooling)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "pooling": self.pooling})
        return config


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class BiLSTMEncoder(SentenceEncoder):
    """Bidirectional LSTM: forward state at the last real token, backward state at the first.

    With ``pooling="max"`` or ``"mean"`` (registered as ``"bilstm-max"``),
    each direction's hidden states are pooled over the real tokens instead
    (the BiLSTM-max sentence encoder of Conneau et al. 2017).

    Args:
        units: int. Hidden size of each direction; the output has ``2 * units``.
        pooling: str. ``"last"`` (default), ``"max"`` or ``"mean"``.

    Example:
    >>> enc = BiLSTMEncoder(units=8)
    >>> enc(tf.zeros((2, 5, 4)), mask=tf.sequence_mask([5, 2], 5)).shape
    TensorShape([2, 16])
    """

    def __init__(self, units: int = 100, pooling: str = "last", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.pooling = _check_pooling(pooling)
        self.forward_lstm = FusedLSTM(self.units, name="forward_lstm", dtype=self.dtype_policy)
        self.backward_lstm = FusedLSTM(self.units, name="backward_lstm", dtype=self.dtype_policy)

    @property
    def output_dim(self) -> int:
        return 2 * self.units

    def build(self, input_shape):
        self.forward_lstm.build(input_shape)
        self.backward_lstm.build(input_shape)
        super().build(input_shape)

    def call(self, embedded, mask=None, training=None):
        embedded = tf.cast(embedded, self.compute_dtype)
        lengths = _lengths(mask, embedded)
        # Reverse each row's real tokens in place; padding stays on the right.
        reversed_rows = tf.reverse_sequence(embedded, lengths, seq_axis=1, batch_axis=0)
        if self.pooling == "last":
            forward = self.forward_lstm(embedded, mask=mask)
            backward = self.backward_lstm(reversed_rows, mask=mask)
        else:
            # Both directions' real steps are each row's first ``lengths`` steps, so one pooling serves both.
            forward = _pool_states(self.forward_lstm.states(embedded), lengths, self.pooling)
            backward = _pool_states(self.backward_lstm.states(reversed_rows), lengths, self.pooling)
        return tf.concat([forward, backward], axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "pooling": self.pooling})
        return config


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class CNNEncoder(SentenceEncoder):
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
        self.filters = int(filters)
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        if not self.kernel_sizes:
            raise ValueError("CNNEncoder needs at least one kernel size; got kernel_sizes=().")
        self.convs = [
            keras.layers.Conv1D(
                self.filters, k, padding="same", activation="relu", name=f"conv{k}", dtype=self.dtype_policy
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
        config.update({"filters": self.filters, "kernel_sizes": list(self.kernel_sizes)})
        return config


ENCODERS: dict[str, tuple[type[SentenceEncoder], dict]] = {
    "lstm": (LSTMEncoder, {}),
    "lstm-max": (LSTMEncoder, {"pooling": "max"}),
    "bilstm": (BiLSTMEncoder, {}),
    "bilstm-max": (BiLSTMEncoder, {"pooling": "max"}),
    "cnn": (CNNEncoder, {}),
}
"""Encoder names: the class and the arguments each name adds."""


def get_encoder(kind: str, units: int, **kwargs) -> SentenceEncoder:
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
    cls, options = ENCODERS[kind]
    if cls is CNNEncoder:
        return cls(filters=units, **options, **kwargs)
    return cls(units=units, **options, **kwargs)
