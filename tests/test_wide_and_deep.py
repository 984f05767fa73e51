"""The wide-and-deep model: both paths train together, the deep one is ASP-MTL's, the wide one the n-gram model's
split, exports serve predict's (calibrated) probabilities from raw text, and the main job's run trains it."""

import json

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tf_aspmtl
from experiments import train
from tests.tiny_fdu import write_fdu_folder
from tf_aspmtl.layers import SharedPrivateSparseLinear
from tf_aspmtl.models.wide_and_deep_mtl import WIDE_LOGITS
from tf_aspmtl.preprocessing.ngram_preprocessor import NGRAM_FEATURES
from tf_aspmtl.training import TrainConfig

ROWS = pd.DataFrame({
    "text": ["a good book", "a dull book , too long", "great fun", "awful plot", "the disc skips", "a fine film",
             "bad sound", "well made", "good but slow", "not bad at all"] * 4,
    "task": (["books"] * 4 + ["dvd"] * 4 + ["books", "dvd"]) * 4,
    "label": ["pos", "neg", "pos", "neg", "neg", "pos", "neg", "pos", "pos", "neg"] * 4,
})
X = {"text": list(ROWS.text), "task": list(ROWS.task)}
PROBE = {"text": ["a good film", "zzz unseen", "", "a dull book"], "task": ["dvd", "books", "dvd", "books"]}
SIZES = dict(embedding_dim=4, hidden_dim=4, word_vectors="random", seed=0)


def _model(**kwargs) -> tf_aspmtl.WideAndDeepMTL:
    pre = tf_aspmtl.WideAndDeepPreprocessor.from_frame(ROWS, max_length=8, max_features=60)
    return tf_aspmtl.WideAndDeepMTL(pre, **{**SIZES, **kwargs})


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    model = _model()
    model.compile(learning_rate=0.05)
    history = model.fit(X, ROWS.label, batch_size=4, epochs=4, verbose=0)
    return model, history.history


def test_training_lowers_the_loss_and_trains_both_paths(trained):
    model, history = trained
    assert history["loss"][-1] < 0.7 * history["loss"][0]
    assert set(history) >= {"task_loss", "adv_loss", "diff_loss"}  # ASP-MTL's objective
    assert np.abs(model.wide.shared_kernel.numpy()).max() > 0 and np.abs(model.wide.private_kernel.numpy()).max() > 0
    untrained = _model()  # the same seed: the deep path's starting weights
    moved = [not np.allclose(a, b) for a, b in zip(model.backbone.get_weights(), untrained.backbone.get_weights())]
    assert all(moved)


def test_with_zero_wide_weights_it_is_the_asp_mtl_of_its_deep_path(trained):
    model, _ = trained
    deep = tf_aspmtl.AdversarialSharedPrivateMTL(tf_aspmtl.MultiTaskPreprocessor(
        model.task_names, {t: model.preprocessor.classes(t) for t in model.task_names},
        text_vectorizer=model.preprocessor.text_vectorizer), **SIZES)
    for part in ("backbone", "heads", "discriminator"):
        getattr(deep, part).set_weights(getattr(model, part).get_weights())
    both = model.predict(PROBE, verbose=0)
    wide = model.wide.get_weights()
    model.wide.set_weights([np.zeros_like(w) for w in wide])
    try:
        np.testing.assert_allclose(model.predict(PROBE, verbose=0), deep.predict(PROBE, verbose=0), atol=1e-6)
    finally:
        model.wide.set_weights(wide)
    assert not np.allclose(both, deep.predict(PROBE, verbose=0), atol=1e-3)  # the wide path changes the answers


def test_raw_rows_predict_mixed_tasks_in_row_order(trained):
    model, _ = trained
    got = model.predict(PROBE, batch_size=3, verbose=0)
    one_by_one = np.concatenate([model.predict({"text": [t], "task": [k]}, verbose=0)
                                 for t, k in zip(PROBE["text"], PROBE["task"])])
    np.testing.assert_allclose(got, one_by_one, atol=1e-6)
    assert got.shape == (4, 2) and np.allclose(got.sum(1), 1.0, atol=1e-6)


def test_each_task_exports_a_saved_model_of_raw_text_with_its_folded_wide_weights(trained, tmp_path):
    model, _ = trained
    exported = model.export(str(tmp_path / "serving"), verbose=False, warmup_requests=False)  # checked too
    assert [e.name for e in exported] == ["books", "dvd"]
    dvd = tf.saved_model.load(exported[1].path)
    width = model.preprocessor.ngram_vocabulary_size
    shapes = [tuple(v.shape) for v in dvd.variables]
    assert (width, 2) in shapes and (width, 2 * 2) not in shapes  # one task's wide matrix, not every task's
    texts = ["a good film", "zzz unseen", "", "the disc skips, bad sound"]
    out = dvd.signatures["serving_default"](text=tf.constant(texts))
    expected = model.predict({"text": texts, "task": ["dvd"] * len(texts)}, verbose=0)
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-5)
    info = json.loads((tmp_path / "serving" / "dvd" / "1" / "assets.extra" / "export.json").read_text())
    assert info["model"]["class"] == "WideAndDeepMTL" and info["model"]["ngram_vocabulary_size"] == width


def test_config_and_keras_file_round_trip_keep_the_wide_settings_and_the_outputs(trained, tmp_path):
    model = _model(wide_learning_rate_multiplier=0.25)
    model.compile(learning_rate=0.05)
    model.set_weights(trained[0].get_weights())  # trained weights (the wide ones non-zero), without a fit of its own
    assert np.abs(model.wide.private_kernel.numpy()).max() > 0
    config = json.loads(json.dumps(model.get_config()))
    assert config["wide_learning_rate_multiplier"] == 0.25
    assert json.loads(json.dumps(tf_aspmtl.WideAndDeepMTL.from_config(config).get_config())) == config
    model.save(tmp_path / "model.keras")
    loaded = tf_aspmtl.Task.load(tmp_path / "model.keras")
    assert type(loaded) is tf_aspmtl.WideAndDeepMTL and loaded.wide_learning_rate_multiplier == 0.25
    assert isinstance(loaded.preprocessor, tf_aspmtl.WideAndDeepPreprocessor)
    np.testing.assert_allclose(loaded.predict(PROBE, verbose=0), model.predict(PROBE, verbose=0), atol=1e-6)


# calibration into every export is the default suite's in tests/test_calibration.py; this is the wide-and-deep twin
@pytest.mark.slow
def test_calibration_keeps_every_label_and_reaches_the_export(trained, tmp_path):
    model, _ = trained
    raw = model.predict(X, verbose=0)
    temperatures = model.calibrate(X, ROWS.label)
    try:
        calibrated = model.predict(X, verbose=0)
        assert np.array_equal(calibrated.argmax(1), raw.argmax(1)) and not np.allclose(calibrated, raw)
        exported = model.export(str(tmp_path / "serving"), tasks=["books"], verbose=False, warmup_requests=False)
        books = tf.saved_model.load(exported[0].path).signatures["serving_default"]
        texts = ["a good book", "awful plot"]
        np.testing.assert_allclose(books(text=tf.constant(texts))["probabilities"].numpy(),
                                   model.predict({"text": texts, "task": ["books"] * 2}, verbose=0), atol=1e-5)
        model.save(tmp_path / "calibrated.keras")
        assert tf_aspmtl.Task.load(tmp_path / "calibrated.keras").temperatures == pytest.approx(temperatures)
    finally:
        model.set_temperatures(None)  # the other tests read the model uncalibrated


def test_the_multiplier_scales_the_wide_paths_first_adam_step():
    x = tf.SparseTensor([[0, 1], [1, 3]], [1.0, 0.5], [2, 5])
    task_ids, labels = tf.constant([0, 1]), tf.constant([1, 0])
    steps = []
    for multiplier in (1.0, 4.0):
        layer = SharedPrivateSparseLinear(5, [2, 2], learning_rate_multiplier=multiplier)
        optimizer = tf_aspmtl.LazyAdam(0.01)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, layer(x, task_ids)))
        optimizer.apply(tape.gradient(loss, layer.trainable_variables), layer.trainable_variables)
        steps.append(layer(x, task_ids).numpy())
    assert np.abs(steps[0]).max() > 0
    np.testing.assert_allclose(steps[1], 4.0 * steps[0], rtol=1e-4)


def test_a_perturbation_sees_the_wide_logits_and_trains():
    keras.utils.set_random_seed(2)
    model = _model(embedding_perturbation="virtual", perturbation_weight=1.0)
    model.compile(learning_rate=0.05)
    batch = model.preprocessor({"text": tf.constant(X["text"][:4]), "task": tf.constant(X["task"][:4])})
    outputs = model(batch, training=False)
    assert np.abs(outputs[WIDE_LOGITS].numpy()).max() == 0  # zero at the start: make it matter
    model.wide.set_weights([np.random.default_rng(0).normal(size=w.shape) for w in model.wide.get_weights()])
    outputs = model(batch, training=False)
    embedded, mask = model.backbone.embed(batch["token_ids"])
    unperturbed = model.perturbed_logits(embedded, mask, batch["task_id"], outputs, training=False)
    np.testing.assert_allclose(unperturbed.numpy(), outputs["logits"].numpy(), atol=1e-5)  # VAT's KL starts at 0
    history = model.fit(X, ROWS.label, batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(history["perturbation_loss"][0]) and history["perturbation_loss"][0] > 0


def test_the_preprocessor_joins_two_preprocessors_of_the_same_tasks_only():
    tokens = tf_aspmtl.MultiTaskPreprocessor.from_frame(ROWS, max_length=8)
    ngrams = tf_aspmtl.NgramPreprocessor.from_frame(ROWS, max_features=60)
    joined = tf_aspmtl.WideAndDeepPreprocessor.from_preprocessors(tokens, ngrams)
    texts = tf.constant(["a good book", "zzz"])
    out = joined({"text": texts, "task": tf.constant(["books", "dvd"])})
    np.testing.assert_array_equal(out["token_ids"].numpy(), tokens.token_ids(texts).numpy())
    np.testing.assert_array_equal(tf.sparse.to_dense(out[NGRAM_FEATURES]).numpy(),
                                  tf.sparse.to_dense(ngrams.features(texts)).numpy())
    other = tf_aspmtl.NgramPreprocessor.from_frame(ROWS.replace({"task": {"dvd": "music"}}), max_features=60)
    with pytest.raises(ValueError, match="same tasks and classes"):
        tf_aspmtl.WideAndDeepPreprocessor.from_preprocessors(tokens, other)
    with pytest.raises(ValueError, match="needs a WideAndDeepPreprocessor"):
        tf_aspmtl.WideAndDeepMTL(tokens, **SIZES)
    with pytest.raises(ValueError, match="wide_learning_rate_multiplier must be a finite number > 0"):
        tf_aspmtl.WideAndDeepMTL(joined, wide_learning_rate_multiplier=float("nan"), **SIZES)


def test_its_evaluation_batches_hold_the_n_gram_features_of_their_own_rows():
    model = _model()
    texts, task_ids, labels = model.preprocessor.rows(X, ROWS.label)
    batches = list(model.preprocessor.evaluation_dataset(texts, task_ids, labels, batch_size=8))
    inputs, _ = batches[0]  # the first 8 books rows, in order
    books = [t for t, k in zip(texts, task_ids) if k == 0][:8]
    np.testing.assert_array_equal(tf.sparse.to_dense(inputs[NGRAM_FEATURES]).numpy(),
                                  tf.sparse.to_dense(model.preprocessor.ngram_features(tf.constant(books))).numpy())
    assert sorted(inputs) == ["ngram_features", "task_id", "token_ids"]


def test_wide_settings_belong_to_the_wide_deep_model_only():
    with pytest.raises(ValueError, match="wide path of model='wide-deep'"):
        TrainConfig(model="asp-mtl", wide_learning_rate_multiplier=0.5)
    with pytest.raises(ValueError, match="wide_learning_rate_multiplier > 0"):
        TrainConfig(model="wide-deep", wide_learning_rate_multiplier=0.0)
    assert TrainConfig(model="wide-deep", ngrams=3).ngrams == 3


@pytest.mark.slow  # experiments.train's own end-to-end test runs by default; this one adds the wide path
def test_the_main_job_trains_and_exports_a_wide_deep_model(tmp_path):
    (tmp_path / "fdu").mkdir()
    data_dir = write_fdu_folder(tmp_path / "fdu")
    out, exports = tmp_path / "run", tmp_path / "exports"
    argv = ["--quick", "--model", "wide-deep", "--tasks", "books,dvd", "--epochs", "1", "--hidden-dim", "4",
            "--max-length", "8", "--embedding", "random", "--embedding-dim", "8", "--ngram-max-features", "50",
            "--wide-learning-rate-multiplier", "2", "--verbose", "0", "--data-dir", str(data_dir),
            "--output-dir", str(out), "--export", str(exports)]
    assert train.main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["model"] == "wide-deep" and results["config"]["wide_learning_rate_multiplier"] == 2.0
    assert all(0 <= r["test_error"] <= 100 for r in results["per_task"].values())
    model = tf_aspmtl.Task.load(out / "model" / "model.keras")
    assert isinstance(model, tf_aspmtl.WideAndDeepMTL) and model.preprocessor.ngram_vocabulary_size <= 50
    assert model.wide_learning_rate_multiplier == 2.0
    for task in ("books", "dvd"):
        assert (exports / task / "1" / "saved_model.pb").exists()
