"""Gradient reversal: identity forward, gradient times ``-scale`` backward; optionally warmed up over epochs."""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf


def reversal_warmup_factor(epoch: int, warmup_epochs: int) -> float:
    """The factor of the reversed gradient at ``epoch`` (0-based) under Ganin et al.'s (2016) warm-up.

    ``2 / (1 + exp(-10 p)) - 1`` with ``p = min(1, epoch / warmup_epochs)``: 0 in the first epoch (the
    discriminator learns, the encoder is not yet pushed), then rising quickly (0.762 at p = 0.2, 0.964 at
    p = 0.4) to 0.99991 from epoch ``warmup_epochs`` on. Domain-adversarial training (Ganin et al., JMLR 2016)
    uses it so that the early, noisy discriminator does not steer the encoder.

    Args:
        epoch: int >= 0. Keras' epoch index.
        warmup_epochs: int >= 0. Epochs of the warm-up; 0: no warm-up (the factor is 1).

    Example:
    >>> round(reversal_warmup_factor(1, 5), 4), reversal_warmup_factor(0, 5), reversal_warmup_factor(3, 0)
    (0.7616, 0.0, 1.0)
    """
    for name, value in (("epoch", epoch), ("warmup_epochs", warmup_epochs)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be an int >= 0; got {value!r}")
    if warmup_epochs == 0:
        return 1.0
    p = min(1.0, epoch / warmup_epochs)
    return 2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0


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
    """Layer form of :func:`reverse_gradient`, with an optional warm-up of its scale over epochs.

    The output has the layer's ``compute_dtype`` (float16 under
    ``"mixed_float16"``), as Keras layers do; in float32 it equals the input
    bit for bit. The mask, if any, passes through.

    With ``warmup_epochs > 0`` the backward factor is ``-scale * f(epoch)``,
    ``f`` :func:`reversal_warmup_factor`. ``f`` lives in a non-trainable
    variable, ``warmup_factor`` (0 when made: ``f(0)``), read in the graph,
    so a traced train step sees each new value without retracing;
    :meth:`set_epoch` sets it, and
    :class:`~tf_aspmtl.models.reversal_warmup.ReversalWarmup` calls it at the
    start of every epoch of ``fit`` with Keras' epoch index. The value is
    therefore a function of the epoch index alone, never of a count kept
    across calls: a resumed ``fit`` (``initial_epoch``) sets the factor an
    uninterrupted one had. The variable is made in the constructor, not in
    ``build``, so that restoring a checkpoint before the first call finds it;
    without a warm-up there is no variable and the config has no
    ``warmup_epochs`` key: the layer (and any model of it) is what it was
    before the option existed.

    Args:
        scale: float. The backward pass multiplies the incoming gradient by
            ``-scale``; ``0.0`` blocks it, ``1.0`` is the plain reversal.
        warmup_epochs: int >= 0. Epochs of the warm-up; 0 (default): none.

    Example:
    >>> layer = GradientReversal(scale=1.0)
    >>> layer(tf.ones((2, 3))).shape
    TensorShape([2, 3])
    >>> warm = GradientReversal(scale=0.5, warmup_epochs=5)
    >>> round(warm.set_epoch(1), 4), round(float(warm.current_scale), 4)
    (0.7616, 0.3808)
    """

    def __init__(self, scale: float = 1.0, warmup_epochs: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)
        if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, (int, np.integer)) or warmup_epochs < 0:
            raise ValueError(f"warmup_epochs must be an int >= 0 (0: no warm-up); got {warmup_epochs!r}")
        self.warmup_epochs = int(warmup_epochs)
        self.supports_masking = True
        self.warmup_factor = None
        if self.warmup_epochs:
            self.warmup_factor = self.add_weight(shape=(), dtype="float32", initializer="zeros", trainable=False,
                                                 autocast=False, name="warmup_factor")

    @property
    def current_scale(self) -> float:
        """The factor the backward pass now multiplies the gradient by, negated: ``scale * f(epoch)``."""
        return self.scale * (1.0 if self.warmup_factor is None else float(keras.ops.convert_to_numpy(
            self.warmup_factor)))

    def set_epoch(self, epoch: int) -> float:
        """Sets the warm-up factor of ``epoch`` (0-based, Keras' index); returns it.

        Raises:
            ValueError: the layer has no warm-up (``warmup_epochs=0``).
        """
        if self.warmup_factor is None:
            raise ValueError(f"{self.name} has no warm-up (warmup_epochs=0): nothing to set for epoch {epoch}")
        factor = reversal_warmup_factor(epoch, self.warmup_epochs)
        self.warmup_factor.assign(factor)
        return factor

    def call(self, inputs):
        scale = self.scale if self.warmup_factor is None else self.scale * tf.convert_to_tensor(self.warmup_factor)
        return reverse_gradient(tf.cast(inputs, self.compute_dtype), scale)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.scale})
        if self.warmup_epochs:  # only then: a layer without a warm-up keeps the config it always had
            config["warmup_epochs"] = self.warmup_epochs
        return config
