"""Weight initialisation schemes: "uniform" is the paper's U(-0.1, 0.1) on every kernel; "default" is Keras' own."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layer_harness import check_config_round_trip
from tf_aspmtl.initializers import UNIFORM_LIMIT, weight_initializer
from tf_aspmtl.layers import BiLSTMEncoder, CNNEncoder, LSTMEncoder, TaskHeads, get_encoder
from tf_aspmtl.models import AdversarialSharedPrivateMTL
from tf_aspmtl.training.model_fingerprint import fingerprint_differences, model_fingerprint


def _asp(initializer, encoder="lstm", seed=0):
    keras.utils.set_random_seed(seed)
    return AdversarialSharedPrivateMTL(["books", "dvd"], vocabulary_size=40, embedding_dim=8, hidden_dim=4,
                                       encoder=encoder, word_vectors="random", initializer=initializer)


@pytest.mark.parametrize("encoder", ["lstm", "bilstm", "cnn"])
def test_uniform_draws_every_kernel_and_the_random_embedding_from_the_papers_range(encoder):
    uniform, default = _asp("uniform", encoder), _asp("default", encoder)
    kernels = []
    for u, d in zip(uniform.weights, default.weights):
        assert u.path.split("/", 1)[1] == d.path.split("/", 1)[1]  # the same weight (model names differ)
        if u.path.endswith("bias"):  # biases keep their initialisers (zeros; the LSTM forget gate's 1)
            np.testing.assert_array_equal(u.numpy(), d.numpy(), err_msg=u.path)
            continue
        values = u.numpy()
        assert np.abs(values).max() <= UNIFORM_LIMIT, u.path
        assert not np.array_equal(values, d.numpy()), u.path
        kernels.append(values.ravel())
    kernels = np.concatenate(kernels)
    # The whole range, with U(-0.1, 0.1)'s spread (std 0.1 / sqrt(3)), not a narrower draw inside it.
    assert np.abs(kernels).max() > 0.099
    assert np.std(kernels) == pytest.approx(UNIFORM_LIMIT / np.sqrt(3), rel=0.1)
    # Keras' defaults reach beyond it (Glorot kernels at these sizes), and its embedding stays within 0.05.
    assert max(np.abs(w.numpy()).max() for w in default.weights if "kernel" in w.path) > UNIFORM_LIMIT
    assert np.abs(default.embedding.embeddings.numpy()).max() <= 0.05
    assert np.abs(uniform.embedding.embeddings.numpy()).max() > 0.05


def test_uniform_weights_are_drawn_apart_and_repeat_with_the_seed():
    model = _asp("uniform", "bilstm")
    same_shape = {}
    for w in model.weights:
        if not w.path.endswith("bias"):
            same_shape.setdefault(w.shape, []).append(w.numpy())
    for group in same_shape.values():  # shared, private and both directions' kernels: each its own draw
        for i in range(len(group)):
            for j in range(i):
                assert not np.array_equal(group[i], group[j])
    again, other_seed = _asp("uniform", "bilstm"), _asp("uniform", "bilstm", seed=1)
    for a, b, c in zip(model.get_weights(), again.get_weights(), other_seed.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model.heads.kernel.numpy(), other_seed.heads.kernel.numpy())


def test_the_scheme_survives_config_and_keras_file(tmp_path):
    model = _asp("uniform")
    clone = AdversarialSharedPrivateMTL.from_config(json.loads(json.dumps(model.get_config())))
    assert clone.backbone.initializer == "uniform"
    assert clone.get_config() == model.get_config()
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded.backbone.initializer == "uniform"
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_the_default_scheme_leaves_the_config_and_run_fingerprint_as_before_the_option():
    default, uniform = _asp("default"), _asp("uniform")
    assert "initializer" not in default.get_config()["backbone"]["config"]  # a run folder from before resumes
    assert AdversarialSharedPrivateMTL.from_config(default.get_config()).backbone.initializer == "default"
    # A run folder of one scheme refuses the other.
    assert fingerprint_differences(model_fingerprint(default), model_fingerprint(uniform)) == ["config.backbone"]


def test_layers_take_keras_initializers_and_keep_them_through_config():
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 5, 4)), tf.float32)
    mask = tf.sequence_mask([5, 2], 5)
    one_instance = keras.initializers.RandomUniform(-0.1, 0.1)  # unseeded: one instance, several weights
    for layer in (LSTMEncoder(units=3, kernel_initializer=one_instance, recurrent_initializer="zeros"),
                  BiLSTMEncoder(units=3, kernel_initializer=one_instance),
                  CNNEncoder(filters=3, kernel_sizes=(2, 3), kernel_initializer=one_instance)):
        out = layer(x, mask=mask)
        check_config_round_trip(layer, {"embedded": x, "mask": mask}, out)
    lstm = LSTMEncoder(units=3, recurrent_initializer="zeros")
    lstm(x, mask=mask)
    assert not np.any(lstm.lstm.recurrent_kernel.numpy())
    bilstm = BiLSTMEncoder(units=3, kernel_initializer=one_instance)
    bilstm(x, mask=mask)  # each direction draws its own kernel from the one instance
    assert not np.array_equal(bilstm.forward_lstm.kernel.numpy(), bilstm.backward_lstm.kernel.numpy())
    heads = TaskHeads([2, 3], kernel_initializer=weight_initializer("uniform", "glorot_uniform"))
    features, task_ids = tf.ones((2, 4)), tf.constant([0, 1])
    check_config_round_trip(heads, {"features": features, "task_ids": task_ids}, heads(features, task_ids))
    assert np.abs(heads.kernel.numpy()).max() <= UNIFORM_LIMIT


def test_bad_schemes_and_initializers_are_named():
    with pytest.raises(ValueError, match=r"Unknown initializer 'glorot'; expected one of \['default', 'uniform'\]"):
        _asp("glorot")
    with pytest.raises(ValueError, match="Unknown initializer 'normal'"):
        get_encoder("lstm", 4, initializer="normal")
    with pytest.raises(ValueError, match="An initializer must be a Keras initializer name, config dict or "
                                         "Initializer; got 0.1"):
        TaskHeads([2], kernel_initializer=0.1)
