"""Encoders: masked padding changes nothing, the LSTM feature is the last real state."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf_aspmtl.layers import ENCODERS, LSTMEncoder, TaskHeads, get_encoder


def _padded(x, extra):
    return np.concatenate([x, np.random.default_rng(9).normal(size=(x.shape[0], extra, x.shape[2]))], axis=1)


@pytest.mark.parametrize("kind", sorted(ENCODERS))
def test_padding_is_masked(kind):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 4)).astype(np.float32)
    lengths = np.array([5, 3, 1])
    enc = get_encoder(kind, 6)
    short = enc(tf.constant(x), mask=tf.sequence_mask(lengths, 5))
    # The same rows with 4 more steps of noise after the end: masked, so no change.
    long = enc(tf.constant(_padded(x, 4), tf.float32), mask=tf.sequence_mask(lengths, 9))
    np.testing.assert_allclose(short.numpy(), long.numpy(), atol=1e-5)
    assert short.shape == (3, enc.output_dim)


def test_lstm_feature_is_last_real_hidden_state():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 6, 4)).astype(np.float32)
    enc = LSTMEncoder(units=5)
    out = enc(tf.constant(x), mask=tf.sequence_mask([6, 2], 6)).numpy()
    # Row 1 has 2 real tokens: its feature is the plain LSTM's state after token 2.
    plain = enc.lstm(tf.constant(x[1:2, :2])).numpy()
    np.testing.assert_allclose(out[1:2], plain, atol=1e-6)


@pytest.mark.parametrize("kind", sorted(ENCODERS))
def test_encoder_config_round_trip(kind):
    enc = get_encoder(kind, 7, name="enc")
    enc.build((None, None, 4))
    clone = keras.layers.deserialize(keras.layers.serialize(enc))
    assert type(clone) is type(enc) and clone.output_dim == enc.output_dim


def test_unknown_encoder_names_the_choices():
    with pytest.raises(ValueError, match=r"Unknown encoder 'gru'; expected one of \['bilstm', 'bilstm-max', 'cnn', 'lstm', 'lstm-max'\]"):
        get_encoder("gru", 4)


@pytest.mark.parametrize("pooling", ["max", "mean"])
def test_lstm_pooling_reads_real_states_only(pooling):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 6, 4)).astype(np.float32)
    lengths = [6, 2, 0]
    enc = LSTMEncoder(units=5, pooling=pooling)
    out = enc(tf.constant(x), mask=tf.sequence_mask(lengths, 6)).numpy()
    # The plain LSTM's states over each row's real tokens, pooled by numpy.
    states = np.transpose(enc.lstm.states(tf.constant(x)).numpy(), (1, 0, 2))
    reduce = np.max if pooling == "max" else np.mean
    for row, n in enumerate(lengths[:2]):
        np.testing.assert_allclose(out[row], reduce(states[row, :n], axis=0), atol=1e-6)
    np.testing.assert_array_equal(out[2], np.zeros(5))  # no real token: the zero vector


def test_bilstm_max_pools_each_direction_over_real_tokens():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 5, 4)).astype(np.float32)
    enc = get_encoder("bilstm-max", 3)
    out = enc(tf.constant(x), mask=tf.sequence_mask([5, 3], 5)).numpy()
    # Row 1 alone, cut to its 3 real tokens: forward states and the states of the reversed text.
    row = tf.constant(x[1:2, :3])
    forward = enc.forward_lstm.states(row).numpy()[:, 0].max(axis=0)
    backward = enc.backward_lstm.states(tf.reverse(row, axis=[1])).numpy()[:, 0].max(axis=0)
    np.testing.assert_allclose(out[1], np.concatenate([forward, backward]), atol=1e-6)
    assert enc.get_config()["pooling"] == "max"


def test_unknown_pooling_is_refused():
    with pytest.raises(ValueError, match=r"Unknown pooling 'min'; expected one of \['last', 'max', 'mean'\]"):
        LSTMEncoder(units=4, pooling="min")


def test_task_heads_mask_missing_classes():
    heads = TaskHeads([2, 3])
    logits = heads(tf.ones((2, 4)), tf.constant([0, 1]))
    probs = tf.nn.softmax(logits).numpy()
    assert probs[0, 2] == 0.0  # task 0 has no third class
    assert probs[1, 2] > 0.0
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)


def _keras_order(w, units):
    i, c, f, o = np.split(w, 4, axis=-1)  # FusedLSTM: input, cell, forget, output
    return np.concatenate([i, f, c, o], axis=-1)  # keras.layers.LSTM: input, forget, cell, output


def test_fused_lstm_equals_keras_lstm_forward_and_backward():
    rng = np.random.default_rng(2)
    x = tf.constant(rng.normal(size=(3, 7, 4)), tf.float32)
    mask = tf.sequence_mask([7, 4, 1], 7)
    enc = LSTMEncoder(units=5)
    enc.build((None, None, 4))
    fused = enc.lstm
    fused.bias.assign(rng.normal(size=20).astype("float32"))
    reference = keras.layers.LSTM(5)
    reference.build((None, None, 4))
    for src, dst in zip((fused.kernel, fused.recurrent_kernel, fused.bias), reference.cell.weights):
        dst.assign(_keras_order(src.numpy(), 5))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours, theirs = enc(x, mask=mask), reference(x, mask=mask)
        loss_ours, loss_theirs = tf.reduce_sum(ours**2), tf.reduce_sum(theirs**2)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-5)
    np.testing.assert_allclose(tape.gradient(loss_ours, x).numpy(), tape.gradient(loss_theirs, x).numpy(), atol=1e-5)
    grad_ours = tape.gradient(loss_ours, fused.kernel).numpy()
    grad_theirs = tape.gradient(loss_theirs, reference.cell.kernel).numpy()
    np.testing.assert_allclose(_keras_order(grad_ours, 5), grad_theirs, atol=1e-5)


def test_empty_text_gives_the_zero_state():
    enc = LSTMEncoder(units=3)
    out = enc(tf.ones((2, 4, 2)), mask=tf.sequence_mask([0, 2], 4)).numpy()
    np.testing.assert_array_equal(out[0], 0.0)
    assert np.abs(out[1]).sum() > 0


def test_frozen_lstm_weights_give_the_same_states_and_end_with_the_context():
    from tf_aspmtl.layers.fused_lstm import FusedLSTM, frozen_lstm_weights

    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, FusedLSTM(units=4)(inputs))
    x = tf.random.stateless_normal((2, 5, 3), seed=(1, 2))
    before = model(x).numpy()
    (lstm,) = [layer for layer in model.layers if isinstance(layer, FusedLSTM)]
    with frozen_lstm_weights(model):
        within = model(x).numpy()
        lstm.kernel.assign(lstm.kernel + 1.0)  # a change of the variables is not seen inside: the constant is read
        assert np.array_equal(model(x).numpy(), within)
    np.testing.assert_array_equal(within, before)
    assert not np.allclose(model(x).numpy(), before)  # after the context, the variables are read again


@pytest.mark.parametrize("kind", sorted(ENCODERS))
def test_a_batch_without_time_steps_gives_zero_features(kind):
    # Every text of the batch empty and padded to its longest text: no step at all. "max" and "mean" pooling gave
    # zeros; the last-state LSTMs and the CNN raised instead of giving an empty text's zero feature.
    enc = get_encoder(kind, 3)
    out = enc(tf.zeros((2, 0, 4)), mask=tf.zeros((2, 0), tf.bool))
    np.testing.assert_array_equal(out.numpy(), np.zeros((2, enc.output_dim), np.float32))
