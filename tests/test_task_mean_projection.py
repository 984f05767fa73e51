"""The shared space's task-mean projection (issue 23: a shared space a probe cannot read from the tasks' means).

- ``TaskMeanProjection`` keeps bias-corrected moving averages of each task's feature, updated in training only and
  without gradient, and removes the span of their differences: every task's mean is then the same.
- ``shared_mean_projection`` is an option of the backbone, the families, the config and the command line: the
  shared feature the heads, the adversary, the probe and a served task read is the projected one; recorded only
  when set, kept by save / load, refused by name where it cannot apply.
"""

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from experiments import train
from tf_aspmtl.layers import TaskMeanProjection
from tf_aspmtl.models import AdversarialSharedPrivateMTL, SharedPrivateBackbone
from tf_aspmtl.training import TrainConfig


def _task_rows(rng, tasks=3, rows=5, dim=4):
    """Rows of each task around its own mean, and their task ids."""
    centers = rng.normal(0.0, 3.0, size=(tasks, dim))
    x = np.concatenate([centers[t] + rng.normal(size=(rows, dim)) for t in range(tasks)]).astype("float32")
    return x, np.repeat(np.arange(tasks), rows).astype("int32")


def test_after_one_update_of_each_task_every_tasks_mean_is_the_same():
    x, ids = _task_rows(np.random.default_rng(0))
    layer = TaskMeanProjection(num_tasks=3, dim=4, momentum=0.9)
    out = layer(tf.constant(x), tf.constant(ids), training=True).numpy()  # one update each: bias-corrected exactly
    np.testing.assert_allclose(layer.task_means.numpy() / (1 - 0.9), [x[ids == t].mean(0) for t in range(3)],
                               rtol=1e-5)
    means = np.array([out[ids == t].mean(0) for t in range(3)])
    np.testing.assert_allclose(means - means[0], 0.0, atol=1e-5)
    assert np.abs(np.array([x[ids == t].mean(0) for t in range(3)]) - x[ids == 0].mean(0)).max() > 1.0
    # Only the T - 1 directions of the differences go: what is orthogonal to them is unchanged.
    q = layer.basis().numpy()
    assert q.shape == (4, 2)
    np.testing.assert_allclose(q.T @ q, np.eye(2), atol=1e-5)
    np.testing.assert_allclose(out, x - x @ q @ q.T, atol=1e-5)


def test_features_pass_unchanged_until_every_task_was_seen_and_inference_never_updates():
    x, ids = _task_rows(np.random.default_rng(1))
    layer = TaskMeanProjection(num_tasks=3, dim=4)
    first = ids < 2
    np.testing.assert_array_equal(layer(tf.constant(x[first]), tf.constant(ids[first]), training=True).numpy(),
                                  x[first])
    before = layer.task_means.numpy().copy(), layer.task_updates.numpy().copy()
    layer(tf.constant(x), tf.constant(ids), training=False)
    np.testing.assert_array_equal(layer.task_means.numpy(), before[0])
    assert layer.task_updates.numpy().tolist() == [1, 1, 0]
    layer(tf.constant(x[~first]), tf.constant(ids[~first]), training=True)
    assert not np.allclose(layer(tf.constant(x), tf.constant(ids)).numpy(), x)


def test_the_averages_move_by_the_momentum_and_no_gradient_reaches_them():
    layer = TaskMeanProjection(num_tasks=2, dim=1, momentum=0.5)
    for value in (2.0, 4.0):
        layer(tf.constant([[value], [value]]), tf.constant([0, 1]), training=True)
    # raw: 0.5 * (0.5 * 0 + 0.5 * 2) + 0.5 * 4 = 2.5; bias-corrected by 1 - 0.5^2: 3.333
    np.testing.assert_allclose(layer.task_means.numpy(), [[2.5], [2.5]])
    wide = TaskMeanProjection(num_tasks=2, dim=2, momentum=0.0)
    wide(tf.constant([[1.0, 0.0], [3.0, 1.0]]), tf.constant([0, 1]), training=True)
    x = tf.Variable([[1.0, 2.0], [3.0, 5.0]])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(wide(x, tf.constant([0, 1]), training=True) * tf.constant([[1.0, 2.0]]))
    q = wide.basis().numpy()  # the gradient of x - x Q Q^T: the upstream one, projected the same way
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), np.tile([1.0, 2.0] - np.array([1.0, 2.0]) @ q @ q.T,
                                                                       (2, 1)), atol=1e-5)
    assert not any(w.trainable for w in layer.weights + wide.weights)


def test_the_projection_works_inside_a_traced_function_and_refuses_bad_settings():
    layer = TaskMeanProjection(num_tasks=2, dim=2, momentum=0.0)
    step = tf.function(lambda x, t: layer(x, t, training=True))
    step(tf.constant([[1.0, 0.0]]), tf.constant([0]))
    out = step(tf.constant([[3.0, 1.0]]), tf.constant([1]))
    np.testing.assert_allclose(out.numpy(), [[0.2, -0.4]], atol=1e-6)
    for kwargs, message in (({"num_tasks": 1, "dim": 2}, "num_tasks must be an int >= 2"),
                            ({"num_tasks": 2, "dim": 0}, "dim must be an int >= 1"),
                            ({"num_tasks": 2, "dim": 2, "momentum": 1.0}, r"momentum must be a number in \[0, 1\)")):
        with pytest.raises(ValueError, match=message):
            TaskMeanProjection(**kwargs)


def _model(**kwargs):
    keras.utils.set_random_seed(0)
    model = AdversarialSharedPrivateMTL(["a", "b", "c"], vocabulary_size=20, embedding_dim=4, hidden_dim=3,
                                        encoder="cnn", shared_mean_projection=True, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    return model


def _inputs(task, rows=4):
    ids = np.random.default_rng(task).integers(1, 20, size=(rows, 6)).astype("int32")
    return {"token_ids": ids, "task_id": np.full(rows, task, "int32")}


def test_the_model_trains_through_it_and_save_load_and_serving_read_the_stored_averages(tmp_path):
    model = _model()
    x = {k: np.concatenate([_inputs(t)[k] for t in range(3)]) for k in ("token_ids", "task_id")}
    model.fit(tf.data.Dataset.from_tensor_slices((x, np.array([0, 1] * 6))).batch(4), epochs=2, verbose=0)
    projection = model.backbone.shared_projection
    assert projection.task_updates.numpy().tolist() == [2, 2, 2]  # one batch per task and epoch
    out = model(x)
    raw = model.backbone.shared_encoder(*model.backbone.embed(x["token_ids"])[:1],
                                        mask=model.backbone.embed(x["token_ids"])[1])
    q = projection.basis().numpy()
    np.testing.assert_allclose(out["shared"].numpy(), raw.numpy() - raw.numpy() @ q @ q.T, atol=1e-5)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.backbone.shared_mean_projection
    np.testing.assert_array_equal(loaded.backbone.shared_projection.task_means.numpy(), projection.task_means.numpy())
    np.testing.assert_allclose(loaded(x)["probabilities"].numpy(), out["probabilities"].numpy(), atol=1e-6)
    # A task's served logits (only its own encoders, no dispatch) are the model's for its rows.
    task_rows = x["task_id"] == 2
    served = model.task_logits(x["token_ids"][task_rows], 2).numpy()
    np.testing.assert_allclose(served, out["logits"].numpy()[task_rows][:, :2], atol=1e-5)


def test_without_the_option_the_backbone_and_its_config_are_as_before():
    plain = SharedPrivateBackbone(3, vocabulary_size=20, embedding_dim=4, hidden_dim=3, use_private=True)
    assert plain.shared_projection is None and "shared_mean_projection" not in plain.get_config()
    config = _model().backbone.get_config()
    assert config["shared_mean_projection"] is True
    assert SharedPrivateBackbone.from_config(config).shared_projection is not None
    with pytest.raises(ValueError, match="shared_mean_projection .* needs a shared encoder and two tasks or more"):
        SharedPrivateBackbone(1, vocabulary_size=20, embedding_dim=4, hidden_dim=3, shared_mean_projection=True)
    with pytest.raises(ValueError, match="transfer of a model with shared_mean_projection is not supported"):
        _model().transfer("new", [0, 1])


def test_the_training_option_is_recorded_only_when_set_and_refused_by_name():
    assert "shared_mean_projection" not in TrainConfig().to_dict()
    config = train.resolve_config(train.parse_args(["--model", "sp-mtl", "--shared-mean-projection"]))
    assert config.shared_mean_projection
    record = json.loads(json.dumps(config.to_dict()))
    assert record["shared_mean_projection"] is True and TrainConfig.from_dict(record) == config
    with pytest.raises(ValueError, match="TrainConfig.shared_mean_projection .* not 'single'"):
        dataclasses.replace(TrainConfig(), model="single", shared_mean_projection=True)


def test_set_task_means_makes_them_the_averages_exactly_and_refuses_bad_means():
    x, ids = _task_rows(np.random.default_rng(2))
    layer = TaskMeanProjection(num_tasks=3, dim=4, momentum=0.9)
    layer(tf.constant(x[::-1]), tf.constant(ids[::-1] * 0), training=True)  # some other averages first
    exact = np.array([x[ids == t].mean(0) for t in range(3)])
    layer.set_task_means(exact)
    out = layer(tf.constant(x), tf.constant(ids)).numpy()
    means = np.array([out[ids == t].mean(0) for t in range(3)])
    np.testing.assert_allclose(means - means[0], 0.0, atol=1e-5)
    assert layer.task_updates.numpy().min() >= 1  # every task counts as seen
    with pytest.raises(ValueError, match=r"holds means of shape \(3, 4\); got \(2, 4\)"):
        layer.set_task_means(exact[:2])
    with pytest.raises(ValueError, match="must be finite"):
        layer.set_task_means(np.full((3, 4), np.nan))


def _task_means(features, task_ids):
    return np.array([features[task_ids == t].mean(0) for t in range(3)])


def test_refresh_shared_means_leaves_every_task_the_same_mean_shared_feature_over_the_rows():
    from tf_aspmtl.training import refresh_shared_means

    model = _model()
    x = {k: np.concatenate([_inputs(t, rows=8)[k] for t in range(3)]) for k in ("token_ids", "task_id")}
    model.fit(tf.data.Dataset.from_tensor_slices((x, np.array([0, 1] * 12))).batch(8), epochs=2, verbose=0)
    before = _task_means(model(x)["shared"].numpy(), x["task_id"])
    assert np.abs(before - before[0]).max() > 1e-3  # the moving averages leave differences
    info = refresh_shared_means(model, tf.data.Dataset.from_tensor_slices((x, np.zeros(24))).batch(5))  # mixed
    assert info["rows"] == {"a": 8, "b": 8, "c": 8} and info["largest_change"] > 0
    after = _task_means(model(x)["shared"].numpy(), x["task_id"])
    np.testing.assert_allclose(after - after[0], 0.0, atol=1e-5)
    two_tasks = {k: v[x["task_id"] < 2] for k, v in x.items()}
    with pytest.raises(ValueError, match=r"needs rows of every task; none of \['c'\]"):
        refresh_shared_means(model, tf.data.Dataset.from_tensor_slices(two_tasks).batch(5))
    plain = AdversarialSharedPrivateMTL(["a", "b"], vocabulary_size=20, embedding_dim=4, hidden_dim=3, encoder="cnn")
    with pytest.raises(ValueError, match="has no shared projection to refresh"):
        refresh_shared_means(plain, tf.data.Dataset.from_tensor_slices(two_tasks).batch(5))


@pytest.mark.parametrize("means, removed", [
    ([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], []),  # no difference: nothing to remove
    ([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]], [0]),  # differences along x only: x alone goes
])
def test_dependent_mean_differences_remove_their_span_only(means, removed):
    # Q is a basis of the span of the differences; a QR decomposition of dependent columns fills the missing
    # ones with arbitrary unit vectors, which would cut directions that tell no task from another.
    layer = TaskMeanProjection(num_tasks=3, dim=3, momentum=0.0)
    layer.set_task_means(np.array(means, np.float32))
    x = np.array([[1.0, 2.0, 3.0], [-4.0, 5.0, 0.5]], np.float32)
    want = x.copy()
    want[:, removed] = 0.0
    np.testing.assert_allclose(layer(tf.constant(x), tf.constant([0, 1])).numpy(), want, atol=1e-5)
    q = layer.basis().numpy()
    assert q.shape == (3, 2)
    np.testing.assert_allclose(q @ q.T, np.diag([1.0 if i in removed else 0.0 for i in range(3)]), atol=1e-5)
