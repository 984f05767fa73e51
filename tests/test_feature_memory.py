"""The discriminator's feature memory (issue 23): recent shared rows of every task, for the discriminator alone.

- ``FeatureMemory`` returns its rows as they were before the call and writes a training batch over the oldest
  ones (wrapping; a batch wider than the memory keeps its last rows); inference never writes.
- The memory term is the cross entropy of the filled slots, reaches the discriminator and never the encoder.
- ``discriminator_memory`` is a setting of the objective, the config and the command line: refused by name when it
  cannot apply, recorded only when set, kept by save / load with the memory's rows.
"""

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from experiments import train
from tf_aspmtl.layers import FeatureMemory
from tf_aspmtl.losses import memory_adversarial_loss
from tf_aspmtl.models import AdversarialSharedPrivateMTL
from tf_aspmtl.objective import MEMORY_LOGITS, MEMORY_TASK_ID, MultiTaskObjective
from tf_aspmtl.training import TrainConfig


def _rows(values, width=2):
    return tf.constant([[float(v)] * width for v in values])


def test_the_memory_returns_what_it_held_and_writes_over_the_oldest_rows():
    memory = FeatureMemory(rows=4, dim=2)
    stored, ids = memory(_rows([1, 2, 3]), tf.constant([0, 1, 2]), training=True)
    assert ids.numpy().tolist() == [-1] * 4 and not stored.numpy().any()
    stored, ids = memory(_rows([4, 5]), tf.constant([3, 3]), training=True)  # wraps: slots 3 and 0
    assert ids.numpy().tolist() == [0, 1, 2, -1]
    assert stored.numpy()[:, 0].tolist() == [1, 2, 3, 0]
    assert memory.task_ids.numpy().tolist() == [3, 1, 2, 3] and memory.features.numpy()[:, 0].tolist() == [5, 2, 3, 4]
    memory(_rows([9]), tf.constant([1]), training=False)  # inference reads only
    assert memory.task_ids.numpy().tolist() == [3, 1, 2, 3] and int(memory.cursor.numpy()) == 1
    memory(_rows(range(10, 16)), tf.constant([0, 1, 2, 0, 1, 2]), training=True)  # wider than the memory
    assert sorted(memory.features.numpy()[:, 0].tolist()) == [12, 13, 14, 15]


def test_the_memory_works_inside_a_traced_function_and_refuses_bad_sizes():
    memory = FeatureMemory(rows=3, dim=1)
    step = tf.function(lambda x, t: memory(x, t, training=True)[1])
    seen = [step(tf.constant([[float(k)]]), tf.constant([k])).numpy().tolist() for k in range(4)]
    assert seen == [[-1, -1, -1], [0, -1, -1], [0, 1, -1], [0, 1, 2]]
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="FeatureMemory rows must be an int >= 1"):
            FeatureMemory(rows=bad, dim=1)


def test_the_memory_term_counts_filled_slots_only():
    logits = tf.constant([[2.0, 0.0], [0.0, 2.0], [5.0, -5.0]])
    expected = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 0], logits=logits[:2]).numpy().mean()
    assert memory_adversarial_loss(tf.constant([0, 0, -1]), logits).numpy() == pytest.approx(expected)
    assert memory_adversarial_loss(tf.constant([-1, -1, -1]), logits).numpy() == 0.0


def _model(memory=8, objective="reversal"):
    keras.utils.set_random_seed(0)
    model = AdversarialSharedPrivateMTL(["a", "b"], vocabulary_size=20, embedding_dim=4, hidden_dim=3, encoder="cnn",
                                        adversarial_weight=0.5, adversarial_objective=objective,
                                        discriminator_memory=memory)
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    return model


def _inputs(task, rows=4):
    ids = np.random.default_rng(task).integers(1, 20, size=(rows, 6)).astype("int32")
    return {"token_ids": ids, "task_id": np.full(rows, task, "int32")}


@pytest.mark.parametrize("objective", ["reversal", "confusion"])
def test_the_memory_term_trains_the_discriminator_and_never_the_encoder(objective):
    model = _model(objective=objective)
    model(_inputs(0), training=True)  # fills 4 slots with task 0's shared rows
    x = _inputs(1)
    with tf.GradientTape() as tape:
        out = model(x, training=True)
        assert out[MEMORY_TASK_ID].numpy().tolist() == [0] * 4 + [-1] * 4
        term = model.objective.terms(tf.constant([0, 1, 0, 1]), out)["memory_adv_loss"]
    weights = [model.discriminator.kernel, *model.shared_encoder.trainable_weights, *model.embedding.trainable_weights]
    grads = tape.gradient(term, weights)
    assert grads[0] is not None and float(tf.reduce_max(tf.abs(grads[0]))) > 0
    assert all(g is None for g in grads[1:])
    assert MEMORY_LOGITS in out and out[MEMORY_LOGITS].shape == (8, 2)


def test_fit_fills_the_memory_and_save_load_keeps_it(tmp_path):
    model = _model(memory=6)
    x = {k: np.concatenate([_inputs(0)[k], _inputs(1)[k]]) for k in ("token_ids", "task_id")}
    data = tf.data.Dataset.from_tensor_slices((x, np.array([0, 1] * 4))).batch(4)
    history = model.fit(data, epochs=2, verbose=0)
    assert "memory_adv_loss" in history.history and history.history["memory_adv_loss"][-1] > 0
    assert sorted(set(model.discriminator_memory.task_ids.numpy().tolist())) == [0, 1]
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.objective.discriminator_memory == 6
    np.testing.assert_array_equal(loaded.discriminator_memory.features.numpy(),
                                  model.discriminator_memory.features.numpy())


def test_without_the_memory_the_objective_config_is_as_before():
    assert "discriminator_memory" not in MultiTaskObjective(adversarial_weight=0.05).get_config()
    assert MultiTaskObjective(adversarial_weight=0.05, discriminator_memory=4).get_config()["discriminator_memory"] == 4
    assert _model(memory=0).discriminator_memory is None
    with pytest.raises(ValueError, match=r"discriminator_memory=4 feeds the task discriminator.*adversarial_weight"):
        MultiTaskObjective(discriminator_memory=4)
    with pytest.raises(ValueError, match="discriminator_memory must be an int >= 0"):
        MultiTaskObjective(adversarial_weight=0.05, discriminator_memory=-2)


def test_the_training_option_is_recorded_only_when_set_and_refused_by_name():
    assert "discriminator_memory" not in TrainConfig().to_dict()
    config = train.resolve_config(train.parse_args(["--discriminator-memory", "256"]))
    assert config.discriminator_memory == 256
    record = json.loads(json.dumps(config.to_dict()))
    assert record["discriminator_memory"] == 256 and TrainConfig.from_dict(record) == config
    with pytest.raises(ValueError, match=r"TrainConfig.discriminator_memory feeds .* got model='sp-mtl'"):
        dataclasses.replace(TrainConfig(), model="sp-mtl", discriminator_memory=8)
    with pytest.raises(ValueError, match=r"TrainConfig.discriminator_memory must be >= 0"):
        TrainConfig(discriminator_memory=-1)


def test_a_mixed_precision_model_keeps_float32_rows_and_trains():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        model = _model(memory=6)
        model(_inputs(1), training=True)
        out = model(_inputs(0), training=True)
        assert model.discriminator_memory.features.dtype == "float32"
        assert out[MEMORY_LOGITS].dtype == tf.float16 and out[MEMORY_TASK_ID].numpy().tolist() == [1] * 4 + [-1] * 2
        shared = tf.cast(model(_inputs(1))["shared"], tf.float32).numpy()
        np.testing.assert_allclose(model.discriminator_memory.features.numpy()[2:4], shared[2:4], atol=1e-3)
    finally:
        keras.config.set_dtype_policy(previous)


# ------------------------------------------------------------------ mean matching
def test_mean_matching_compares_each_tasks_batch_mean_with_the_other_tasks_stored_mean():
    from tf_aspmtl.losses import task_mean_matching_loss

    rng = np.random.default_rng(7)
    shared, stored = rng.normal(size=(5, 3)), rng.normal(size=(6, 3))
    task_ids, stored_ids = np.array([0, 0, 2, 2, 2]), np.array([0, 1, 1, 2, -1, 0])
    want, rows = 0.0, 0
    filled = stored[stored_ids >= 0]
    center, scale = filled.mean(0), np.sqrt(filled.var(0) + 1e-6)  # standardised by the stored rows, as a probe
    for k in (0, 2):  # the batch's tasks; the other tasks' stored rows, empty slot left out
        others = stored[(stored_ids >= 0) & (stored_ids != k)]
        rows_k = shared[task_ids == k] / scale
        gap = rows_k.mean(0) - (others / scale).mean(0)
        noise = rows_k.var(0, ddof=1).mean() / len(rows_k)  # the batch mean's own sampling variance
        want += len(rows_k) * ((gap ** 2).mean() - noise)
        rows += (task_ids == k).sum()
    got = task_mean_matching_loss(tf.constant(shared, tf.float32), tf.constant(task_ids), tf.constant(stored, tf.float32),
                                  tf.constant(stored_ids), 3)
    assert got.numpy() == pytest.approx(want / rows, rel=1e-5)
    # Scaled features: the same term. Equal means: nothing to pull; no stored row of another task: nothing to compare.
    scaled = task_mean_matching_loss(tf.constant(shared * 0.1, tf.float32), tf.constant(task_ids),
                                     tf.constant(stored * 0.1, tf.float32), tf.constant(stored_ids), 3)
    assert scaled.numpy() == pytest.approx(want / rows, rel=1e-3)
    same = tf.constant(np.tile(stored[:1], (5, 1)), tf.float32)
    assert abs(task_mean_matching_loss(same, tf.constant(task_ids), same[:3], tf.constant([1, 1, 0]), 3).numpy()) < 1e-9
    # Unbiased: rows drawn around the other tasks' mean give 0 on average, however few a batch.
    draws = [task_mean_matching_loss(tf.constant(rng.normal(size=(4, 3)), tf.float32), tf.zeros(4, tf.int32),
                                     tf.constant(rng.normal(size=(400, 3)), tf.float32),
                                     tf.constant(np.r_[np.zeros(200), np.ones(200)], tf.int32), 2).numpy()
             for _ in range(300)]
    assert abs(np.mean(draws)) < 0.02 < np.std(draws)
    assert task_mean_matching_loss(tf.constant(shared, tf.float32), tf.zeros(5, tf.int32), tf.constant(stored, tf.float32),
                                   tf.constant([0, 0, -1, -1, 0, 0]), 3).numpy() == 0.0


def test_mean_matching_trains_the_encoder_through_the_batch_and_is_logged():
    keras.utils.set_random_seed(0)
    model = AdversarialSharedPrivateMTL(["a", "b"], vocabulary_size=20, embedding_dim=4, hidden_dim=3, encoder="cnn",
                                        adversarial_weight=0.5, discriminator_memory=8, mean_matching_weight=2.0)
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    model(_inputs(0), training=True)
    with tf.GradientTape() as tape:
        out = model(_inputs(1), training=True)
        term = model.objective.terms(tf.constant([0, 1, 0, 1]), out)["mean_match_loss"]
    grads = tape.gradient(term, [*model.shared_encoder.trainable_weights, model.discriminator.kernel])
    assert float(term) > 0 and any(float(tf.reduce_max(tf.abs(g))) > 0 for g in grads[:-1]) and grads[-1] is None
    x = {k: np.concatenate([_inputs(0)[k], _inputs(1)[k]]) for k in ("token_ids", "task_id")}
    history = model.fit(tf.data.Dataset.from_tensor_slices((x, np.array([0, 1] * 4))).batch(4), epochs=1, verbose=0)
    assert "mean_match_loss" in history.history


def test_mean_matching_needs_the_memory_and_is_recorded_only_when_set():
    with pytest.raises(ValueError, match="mean_matching_weight=1.0 compares .* set discriminator_memory > 0"):
        MultiTaskObjective(adversarial_weight=0.05, mean_matching_weight=1.0)
    assert "mean_matching_weight" not in MultiTaskObjective(adversarial_weight=0.05, discriminator_memory=4).get_config()
    with pytest.raises(ValueError, match="TrainConfig.mean_matching_weight compares .* set discriminator_memory > 0"):
        TrainConfig(mean_matching_weight=1.0)
    config = train.resolve_config(train.parse_args(["--discriminator-memory", "256", "--mean-matching-weight", "3"]))
    assert config.to_dict()["mean_matching_weight"] == 3.0 and "mean_matching_weight" not in TrainConfig().to_dict()
