"""Gradient reversal: identity forward, gradient times ``-scale`` backward."""

from __future__ import annotations

import keras
import tensorflow as tf


def reverse_gradient(x: tf.Tensor, scale: float | tf.Tensor = 1.0) -> tf.Tensor:
    """Returns ``x`` unchanged; its gradient is multiplied by ``-scale``.

    This is the trick of Ganin and Lempitsky (2015) that turns the min-max
    game between the shared encoder and the task discriminator into one
    minimisation: the discriminator minimises its loss, and the encoder below
    the reversal receives the negated gradient, i.e. maximises it.

    Args:
        x: tf.Tensor. Any float tensor.
        scale: float or scalar tensor. Factor of the reversed gradient.

    Returns:
        A tensor equal to ``x``.

    Example:
    >>> x = tf.constant([1.0, 2.0])
    >>> with tf.GradientTape() as tape:
    ...     tape.watch(x)
    ...     y = tf.reduce_sum(3.0 * reverse_gradient(x, 0.5))
    >>> tape.gradient(y, x).numpy()
    array([-1.5, -1.5], dtype=float32)
    """
    scale = tf.cast(scale, x.dtype)

    @tf.custom_gradient
    def _reverse(t):
        def grad(upstream):
            return -scale * upstream

        return tf.identity(t), grad

    return _reverse(x)


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class GradientReversal(keras.layers.Layer):
    """Layer form of :func:`reverse_gradient`.

    The output has the layer's ``compute_dtype`` (float16 under
    ``"mixed_float16"``), as Keras layers do; in float32 it equals the input
    bit for bit. The mask, if any, passes through.

    Args:
        scale: float. The backward pass multiplies the incoming gradient by
            ``-scale``; ``0.0`` blocks it, ``1.0`` is the plain reversal.

    Example:
    >>> layer = GradientReversal(scale=1.0)
    >>> layer(tf.ones((2, 3))).shape
    TensorShape([2, 3])
    """

    def __init__(self, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)
        self.supports_masking = True

    def call(self, inputs):
        return reverse_gradient(tf.cast(inputs, self.compute_dtype), self.scale)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale})
        return config
