"""The four families on a small real subset: losses fall, save/load, dispatch, Keras integration."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import SUBSET_TASKS
from tf_aspmtl.data.pipeline import make_eval_dataset, make_training_dataset
from tf_aspmtl.models import (
    AdversarialSharedPrivateMTL,
    FullySharedMTL,
    MultiTaskClassifier,
    SharedPrivateMTL,
    SingleTaskClassifier,
)

SMALL = dict(embedding_dim=16, hidden_dim=16)


def _task_probs(model, texts, task, **kwargs):
    """Probabilities of one task's classes for raw texts, through model.predict."""
    probs = model.predict({"text": list(texts), "task": [task] * len(texts)}, verbose=0, **kwargs)
    return probs[:, : model.num_classes[model.task_id(task)]]


def _model(cls, vectorizer, tasks=SUBSET_TASKS, **kwargs):
    model = cls(tasks, vocabulary_size=vectorizer.vocabulary_size, text_vectorizer=vectorizer, **SMALL, **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(0.01))
    return model


@pytest.mark.parametrize(
    "cls, tasks",
    [
        (SingleTaskClassifier, ["books"]),
        (FullySharedMTL, SUBSET_TASKS),
        (SharedPrivateMTL, SUBSET_TASKS),
        (AdversarialSharedPrivateMTL, SUBSET_TASKS),
    ],
)
def test_family_training_loss_falls_on_real_text(cls, tasks, fdu_subset, small_vectorizer, request):
    if cls is AdversarialSharedPrivateMTL:  # the module's ASP-MTL, trained here and read by the tests below
        _, history = request.getfixturevalue("asp_run")
    else:
        train, _ = fdu_subset
        train = train[train["task"].isin(tasks)]
        ds, steps = make_training_dataset(train, small_vectorizer, tasks, batch_size=16)
        model = _model(cls, small_vectorizer, tasks)
        history = model.fit(ds, steps_per_epoch=steps, epochs=4, verbose=0).history
    assert history["task_loss"][-1] < 0.8 * history["task_loss"][0]
    assert history["accuracy"][-1] > 0.75
    if cls is AdversarialSharedPrivateMTL:
        for term in ("adv_loss", "diff_loss", "discriminator_accuracy"):
            assert all(np.isfinite(history[term]))
        # The total is the weighted sum of the logged terms (to float error of epoch means).
        expected = history["task_loss"][-1] + 0.05 * history["adv_loss"][-1] + 0.01 * history["diff_loss"][-1]
        assert history["loss"][-1] == pytest.approx(expected, rel=0.05)


@pytest.fixture(scope="module")
def asp_run(fdu_subset, small_vectorizer):
    """ASP-MTL trained 4 epochs on the three tasks, and its history (one training for the family test and the
    tests that only read a trained model)."""
    keras.utils.set_random_seed(0)
    train, _ = fdu_subset
    ds, steps = make_training_dataset(train, small_vectorizer, SUBSET_TASKS, batch_size=16)
    model = _model(AdversarialSharedPrivateMTL, small_vectorizer)
    history = model.fit(ds, steps_per_epoch=steps, epochs=4, verbose=0).history
    return model, history


@pytest.fixture(scope="module")
def trained_asp(asp_run):
    return asp_run[0]


def test_keras_file_round_trip_predicts_identically(trained_asp, fdu_subset, tmp_path):
    _, dev = fdu_subset
    texts = dev[dev["task"] == "MR"]["text"].tolist()[:12] + ["", "Ünïcode 日本語 😀", "\xa0 \t "]
    before = _task_probs(trained_asp, texts, "MR")
    path = tmp_path / "asp.keras"
    trained_asp.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, AdversarialSharedPrivateMTL)
    assert json.dumps(loaded.get_config(), sort_keys=True) == json.dumps(trained_asp.get_config(), sort_keys=True)
    np.testing.assert_allclose(_task_probs(loaded, texts, "MR"), before, atol=1e-6)
    np.testing.assert_allclose(before.sum(axis=1), 1.0, rtol=1e-5)


def test_mixed_task_batch_equals_per_task_batches(trained_asp, fdu_subset):
    _, dev = fdu_subset
    rows = dev.groupby("task", sort=False).head(4)
    task_ids = rows["task"].map(SUBSET_TASKS.index).to_numpy("int32")
    mixed = trained_asp.predict({"text": tf.constant(rows["text"].tolist()), "task_id": task_ids}, verbose=0)
    for task in SUBSET_TASKS:
        sel = (rows["task"] == task).to_numpy()
        alone = _task_probs(trained_asp, rows["text"][sel].tolist(), task)
        np.testing.assert_allclose(mixed[sel], alone, atol=1e-5)


def test_step_touches_only_its_tasks_private_encoder(trained_asp, small_vectorizer):
    ids = small_vectorizer(tf.constant(["a great book", "dull and long"]))
    x = {"token_ids": ids, "task_id": tf.constant([1, 1])}
    encoders = trained_asp.private_encoders
    variables = [v for e in encoders for v in e.trainable_variables]

    @tf.function  # as in fit: the graph holds every branch, one of which runs
    def gradient_norms():
        with tf.GradientTape() as tape:
            out = trained_asp(x, training=True)
            loss = trained_asp.loss_terms(tf.constant([1, 0]), out)["loss"]
        grads = tape.gradient(loss, variables)
        return [tf.constant(0.0) if g is None else tf.reduce_sum(tf.abs(tf.convert_to_tensor(g))) for g in grads]

    per_encoder = np.split(np.array([float(n) for n in gradient_norms()]), len(encoders))
    assert per_encoder[1].sum() > 0
    assert per_encoder[0].sum() == 0 and per_encoder[2].sum() == 0


def test_fit_rejects_batches_that_mix_tasks(small_vectorizer):
    model = _model(SharedPrivateMTL, small_vectorizer)
    ids = small_vectorizer(tf.constant(["good", "bad"]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="one task each"):
        model.fit({"token_ids": ids, "task_id": np.array([0, 1])}, np.array([1, 0]), verbose=0)


def test_evaluate_reports_each_task(trained_asp, fdu_subset, small_vectorizer):
    _, dev = fdu_subset
    logs = trained_asp.evaluate(make_eval_dataset(dev, small_vectorizer, SUBSET_TASKS), return_dict=True, verbose=0)
    for task in SUBSET_TASKS:
        assert 0.0 <= logs[f"acc_{task}"] <= 1.0
    assert logs["mean_task_accuracy"] == pytest.approx(np.mean([logs[f"acc_{t}"] for t in SUBSET_TASKS]), rel=1e-5)


def test_standard_callbacks_select_on_dev(fdu_subset, small_vectorizer, tmp_path):
    train, dev = fdu_subset
    ds, steps = make_training_dataset(train, small_vectorizer, SUBSET_TASKS, batch_size=16)
    dev_ds = make_eval_dataset(dev, small_vectorizer, SUBSET_TASKS)
    model = _model(AdversarialSharedPrivateMTL, small_vectorizer)
    best = tmp_path / "best.weights.h5"
    callbacks = [
        keras.callbacks.ModelCheckpoint(str(best), monitor="val_mean_task_accuracy", mode="max",
                                        save_best_only=True, save_weights_only=True),
        keras.callbacks.EarlyStopping(monitor="val_mean_task_accuracy", mode="max", patience=1),
        keras.callbacks.TensorBoard(str(tmp_path / "tb")),
        keras.callbacks.BackupAndRestore(str(tmp_path / "backup")),
    ]
    history = model.fit(ds, steps_per_epoch=4, epochs=3, validation_data=dev_ds, callbacks=callbacks, verbose=0)
    assert best.exists() and any((tmp_path / "tb").rglob("events.out.tfevents*"))
    scores = history.history["val_mean_task_accuracy"]
    model.load_weights(str(best))
    assert model.evaluate(dev_ds, return_dict=True, verbose=0)["mean_task_accuracy"] == pytest.approx(max(scores))


def test_fit_inside_a_distribution_strategy(fdu_subset, small_vectorizer):
    train, _ = fdu_subset
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    ds, _ = make_training_dataset(train, small_vectorizer, SUBSET_TASKS, batch_size=8)
    with strategy.scope():
        model = _model(AdversarialSharedPrivateMTL, small_vectorizer)
    history = model.fit(ds, steps_per_epoch=3, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0])


def test_fit_builds_the_optimizer_before_tracing_as_the_first_step_would(fdu_subset, small_vectorizer):
    # Keras builds the optimizer inside the first trace of the training step when no strategy is set, and a
    # tf.function whose first trace creates variables is traced twice; fit builds it before, to the same state.
    train, _ = fdu_subset
    train = train[train["task"].isin(SUBSET_TASKS[:2])]
    built_at_start = []

    class Probe(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            built_at_start.append(self.model.optimizer.built)

    models = []
    for fit in (MultiTaskClassifier.fit, keras.Model.fit):  # ours, then Keras' own (the optimizer built lazily)
        keras.utils.set_random_seed(0)
        # the same variable paths; the smallest multi-task graph (every kind's fit builds its optimizer alike)
        model = _model(FullySharedMTL, small_vectorizer, tasks=SUBSET_TASKS[:2], name="fs")
        ds, _ = make_training_dataset(train, small_vectorizer, SUBSET_TASKS[:2], batch_size=8, seed=0)
        fit(model, ds, steps_per_epoch=3, epochs=1, verbose=0, shuffle=False, callbacks=[Probe()])
        models.append(model)
    assert built_at_start == [True, False]
    ours, keras_own = models

    def slots(model):  # the optimizer's own name ("adam", "adam_1") left out
        return [v.path.split("/", 1)[1] for v in model.optimizer.variables]

    assert slots(ours) == slots(keras_own)
    for a, b in zip(ours.optimizer.variables + ours.weights, keras_own.optimizer.variables + keras_own.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_config_round_trip_and_bad_arguments(small_vectorizer):
    model = _model(AdversarialSharedPrivateMTL, small_vectorizer, adversarial_weight=0.3)
    clone = AdversarialSharedPrivateMTL.from_config(model.get_config())
    assert clone.objective.adversarial_weight == 0.3 and clone.task_names == SUBSET_TASKS
    assert clone.get_config() == model.get_config()
    with pytest.raises(ValueError, match="at least 2 tasks"):
        AdversarialSharedPrivateMTL(["books"])
    with pytest.raises(ValueError, match="exactly one task"):
        SingleTaskClassifier(["books", "MR"])
    with pytest.raises(ValueError, match="Unknown task 'dvd'"):
        model.task_id("dvd")
    with pytest.raises(ValueError, match="needs both shared and private"):
        FullySharedMTL(["a", "b"], difference_weight=0.1)
    with pytest.raises(ValueError, match="Unknown difference_normalization 'frobenius'"):
        AdversarialSharedPrivateMTL(["a", "b"], difference_normalization="frobenius")
    with pytest.raises(ValueError, match="Unknown adversarial_objective 'minimax'"):
        AdversarialSharedPrivateMTL(["a", "b"], adversarial_objective="minimax")


def test_word_vectors_are_loaded_into_the_embedding(small_vectorizer):
    model = _model(FullySharedMTL, small_vectorizer)
    matrix = np.random.default_rng(0).normal(size=(small_vectorizer.vocabulary_size, 16)).astype("float32")
    model.set_word_vectors(matrix)
    np.testing.assert_array_equal(model.embedding.embeddings.numpy(), matrix)
    with pytest.raises(ValueError, match="shape"):
        model.set_word_vectors(matrix[:, :8])
