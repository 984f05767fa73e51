"""The backbone and the task model follow the Keras conventions: config, dtype policies, masking, a training step."""

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tf_aspmtl
from tf_aspmtl.models import SharedPrivateBackbone

IDS = tf.constant([[5, 6, 7, 0], [8, 9, 0, 0], [3, 0, 0, 0]])
TASKS = tf.constant([1, 0, 1])


def _backbone(**kwargs):
    return SharedPrivateBackbone(2, vocabulary_size=20, embedding_dim=4, hidden_dim=3, use_private=True, **kwargs)


def test_config_round_trip_with_the_same_weights_gives_the_same_features():
    layer = _backbone()
    out = layer(IDS, TASKS)
    clone = SharedPrivateBackbone.from_config(layer.get_config())
    clone.build()
    clone.set_weights(layer.get_weights())
    for key, value in clone(IDS, TASKS).items():
        np.testing.assert_allclose(value.numpy(), out[key].numpy(), atol=1e-6)
    assert out["features"].shape == (3, 6)


def test_mixed_rows_equal_one_task_batches_and_padding_changes_nothing():
    layer = _backbone()
    mixed = layer(IDS, TASKS)["features"].numpy()
    for k in (0, 1):
        rows = np.flatnonzero(TASKS.numpy() == k)
        alone = layer.task_features(tf.gather(IDS, rows), k)["features"].numpy()
        np.testing.assert_allclose(mixed[rows], alone, atol=1e-6)
    longer = tf.pad(IDS, [[0, 0], [0, 3]])
    np.testing.assert_allclose(layer(longer, TASKS)["features"].numpy(), mixed, atol=1e-6)


def test_mixed_precision_policy_gives_its_compute_dtype():
    layer = _backbone(dtype="mixed_float16")
    out = layer(IDS, TASKS)
    assert {v.dtype for v in out.values()} == {tf.float16}
    assert {w.dtype for w in layer.weights} == {"float32"}


# the loss scaling through the optimizer is the default suite's (above); this is the mixed-precision policy's
@pytest.mark.slow
def test_model_trains_under_mixed_precision_with_a_scaled_loss():
    frame = pd.DataFrame({"text": ["good book", "bad film", "great read", "awful", "fine", "poor"] * 4,
                          "task": ["books"] * 12 + ["dvd"] * 12, "label": ["pos", "neg"] * 12})
    pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(frame, max_length=8)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = tf_aspmtl.AdversarialSharedPrivateMTL(pre, embedding_dim=4, hidden_dim=4, word_vectors="random")
        model.compile()
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        history = model.fit({"text": frame.text, "task": frame.task}, frame.label, batch_size=4, epochs=2, verbose=0)
        assert all(np.isfinite(history.history["loss"]))
        out = model({"text": tf.constant(["good"]), "task": tf.constant(["books"])})
        assert out["logits"].dtype == tf.float16
    finally:
        keras.config.set_dtype_policy(previous)


def test_training_step_scales_the_loss_through_the_optimizer(monkeypatch):
    """Keras' train_step pattern: the loss goes through optimizer.scale_loss, so loss_scale_factor works."""
    frame = pd.DataFrame({"text": ["good book", "bad film"] * 8, "task": ["books"] * 8 + ["dvd"] * 8,
                          "label": ["pos", "neg"] * 8})
    pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(frame, max_length=8)
    losses = {}
    for factor in (None, 1024.0):
        keras.utils.set_random_seed(0)
        model = tf_aspmtl.SharedPrivateMTL(pre, embedding_dim=4, hidden_dim=4, word_vectors="random")
        model.compile(optimizer=tf_aspmtl.LazyAdam(1e-2, loss_scale_factor=factor))
        scaled = []
        real = model.optimizer.scale_loss
        monkeypatch.setattr(model.optimizer, "scale_loss", lambda loss: scaled.append(1) or real(loss))
        losses[factor] = model.fit({"text": frame.text, "task": frame.task}, frame.label, batch_size=4, epochs=2,
                                   verbose=0, seed=0).history["loss"]
        assert scaled, "train_step did not call optimizer.scale_loss"
    # Scaled by 1024 and unscaled again, the sparse embedding gradient included: the same training.
    np.testing.assert_allclose(losses[1024.0], losses[None], rtol=1e-4)
