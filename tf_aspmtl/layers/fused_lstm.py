"""One fused LSTM direction: TensorFlow's ``BlockLSTM`` op over a whole masked sequence."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras
import tensorflow as tf

from tf_aspmtl.initializers import initializer_identifier
from tf_aspmtl.layers.encoder_utils import lengths_from_mask

# The dtypes TensorFlow's BlockLSTM op accepts (its attr T), on CPU and GPU alike.
_BLOCK_LSTM_DTYPES = ("float16", "float32")


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class FusedLSTM(keras.layers.Layer):
    """One LSTM direction over a whole sequence in one fused op; returns the last real state.

    The recurrence runs inside TensorFlow's ``BlockLSTM`` kernel (one op for
    every time step, forward and backward, on CPU and GPU) instead of a
    ``tf.while_loop`` of small ops as ``keras.layers.LSTM`` does on CPU, which
    is faster, the more so when other jobs share the cores
    (``experiments/bench_lstm.py`` in git history, ``ce5b5f2``, timed the two). The
    cell is the standard one without peepholes: gates in the order
    input, cell, forget, output; Keras' default initialisers (Glorot kernel,
    orthogonal recurrent kernel, forget-gate bias 1) unless others are given.

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
        kernel_initializer: Keras initializer (name, config or instance) of the input kernel.
        recurrent_initializer: Keras initializer of the recurrent kernel.

    Example:
    >>> lstm = FusedLSTM(units=8)
    >>> lstm(tf.zeros((2, 5, 4)), mask=tf.sequence_mask([5, 2], 5)).shape
    TensorShape([2, 8])
    """

    def __init__(self, units: int = 100, kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.units = int(units)
        self.kernel_initializer = initializer_identifier(kernel_initializer)
        self.recurrent_initializer = initializer_identifier(recurrent_initializer)

    def build(self, input_shape):
        dim, h = int(input_shape[-1]), self.units
        self.kernel = self.add_weight(shape=(dim, 4 * h), initializer=self.kernel_initializer, name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(h, 4 * h), initializer=self.recurrent_initializer,
                                                name="recurrent_kernel")
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
            w=tf.cast(self._frozen_weight if getattr(self, "_frozen_weight", None) is not None
                      else tf.concat([self.kernel, self.recurrent_kernel], axis=0), op_dtype),
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
        lengths = lengths_from_mask(mask, embedded)
        hidden = self.states(embedded)
        # No step at all (every text of the batch empty): one zero state to read, masked below (a cond, so the
        # usual batch's states are not copied).
        hidden = tf.cond(tf.shape(hidden)[0] > 0, lambda: hidden,
                         lambda: tf.zeros(tf.concat([[1], tf.shape(hidden)[1:]], 0), hidden.dtype))
        last = tf.gather_nd(hidden, tf.stack([tf.maximum(lengths - 1, 0), tf.range(tf.shape(lengths)[0])], 1))
        return last * tf.cast(lengths > 0, last.dtype)[:, None]  # an empty text has the zero state

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units, "kernel_initializer": self.kernel_initializer,
                       "recurrent_initializer": self.recurrent_initializer})
        return config


@contextlib.contextmanager
def frozen_lstm_weights(model: keras.layers.Layer) -> Iterator[None]:
    """Within this context, every :class:`FusedLSTM` of ``model`` reads its ``[kernel; recurrent_kernel]`` matrix
    as one constant of the weights' current values, rather than concatenating the two variables at each call.

    For graphs traced to be served (:mod:`tf_aspmtl.export`): a served call then does no weight concatenation
    (at batch 1 it was a fifth of an LSTM export's op time). The values are the same, so are the outputs; the
    variables themselves are untouched and read again once the context ends.
    """
    layers = [layer for layer in model._flatten_layers() if isinstance(layer, FusedLSTM)]
    for layer in layers:  # object.__setattr__: a plain tensor, not layer state for Keras to track or save
        object.__setattr__(layer, "_frozen_weight",
                           tf.constant(tf.concat([layer.kernel, layer.recurrent_kernel], axis=0)))
    try:
        yield
    finally:
        for layer in layers:
            object.__setattr__(layer, "_frozen_weight", None)
