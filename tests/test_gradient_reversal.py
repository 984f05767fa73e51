"""Gradient reversal: identity forward, exactly -scale times the gradient backward."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_aspmtl.layers import GradientReversal, reverse_gradient


@pytest.mark.parametrize("scale", [1.0, 0.05, 3.0])
def test_forward_identity_backward_negated(scale):
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 5)), tf.float32)
    upstream = tf.constant(np.random.default_rng(1).normal(size=(4, 5)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = reverse_gradient(x, scale)
        objective = tf.reduce_sum(y * upstream)
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    np.testing.assert_allclose(tape.gradient(objective, x).numpy(), -scale * upstream.numpy(), rtol=1e-6)


def test_numerical_gradient_of_composed_function():
    # f(x) = sum(sin(x)); through the reversal the gradient is -scale * cos(x).
    x = tf.constant([0.3, -1.2, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        f = tf.reduce_sum(tf.sin(GradientReversal(scale=0.5)(x)))
    eps = 1e-3
    numeric = np.array(
        [(np.sin(x.numpy()[i] + eps) - np.sin(x.numpy()[i] - eps)) / (2 * eps) for i in range(3)]
    )
    np.testing.assert_allclose(tape.gradient(f, x).numpy(), -0.5 * numeric, rtol=1e-4)


def test_scale_zero_blocks_gradient():
    x = tf.constant([1.0, 2.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        f = tf.reduce_sum(GradientReversal(0.0)(x) ** 2)
    np.testing.assert_array_equal(tape.gradient(f, x).numpy(), [0.0, 0.0])


def test_layer_config_round_trip():
    layer = GradientReversal(scale=0.25, name="grl")
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(clone, GradientReversal)
    assert clone.scale == 0.25 and clone.name == "grl"
