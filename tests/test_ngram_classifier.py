"""The shared/private n-gram linear model: features, forward pass, sparse updates, training, saving, bad input."""

import json
import zipfile

import h5py
import numpy as np
import pytest
import tensorflow as tf

from tf_aspmtl.models.shared_private_ngram_classifier import SharedPrivateNgramClassifier
from tf_aspmtl.optimizers import LazyAdam
from tf_aspmtl.preprocessing.ngram_features import NgramFeatures
from tf_aspmtl.preprocessing.ngram_preprocessor import NgramPreprocessor

TEXTS = ["a good book", "a bad book", "good read , great plot", "awful plot", "great film", "bad film , awful"]
TASKS = ["books", "books", "books", "books", "dvd", "dvd"]
LABELS = [1, 0, 1, 0, 1, 0]


def _features(max_features=100):
    features = NgramFeatures(max_features=max_features)
    features.adapt(TEXTS)
    return features


def _rows(texts, task_ids, labels, batch_size=8):
    return tf.data.Dataset.from_tensor_slices(
        ({"text": tf.constant(texts), "task_id": tf.constant(task_ids, tf.int32)}, tf.constant(labels, tf.int32))
    ).batch(batch_size)


def _preprocessor(class_names=(("0", "1"), ("0", "1")), features=None):
    return NgramPreprocessor(["books", "dvd"], {"books": list(class_names[0]), "dvd": list(class_names[1])},
                             features or _features())


def _model(**kwargs):
    return SharedPrivateNgramClassifier(_preprocessor(), **kwargs)


def test_features_are_sublinear_tf_idf_of_words_and_pairs_with_unit_norm():
    features = _features()
    vocabulary = features.counter.get_vocabulary()
    assert "good book" in vocabulary and "book" in vocabulary
    x = features(tf.constant(["book book good", "zzz unseen"]))
    dense = tf.sparse.to_dense(tf.sparse.reorder(x)).numpy()
    assert np.isclose(np.linalg.norm(dense[0]), 1.0)
    assert not dense[1].any()  # nothing it knows: an all-zero row, not NaN
    idf = features.idf.numpy()
    book, good = vocabulary.index("book"), vocabulary.index("good")
    # book: tf 2 in 2 of 6 texts; good: tf 1 in 2 of 6: same idf, so the weights differ by 1 + log 2.
    assert np.isclose(idf[book], idf[good])
    assert np.isclose(dense[0, book] / dense[0, good], 1 + np.log(2), rtol=1e-5)
    assert idf[0] == 0  # the unknown n-grams


def test_a_rows_features_are_the_same_floats_in_any_batch():
    # Training reads features computed once, in chunks; serving computes them per request batch.
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)]
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 120), p=np.linspace(2, 0.1, 40) / np.linspace(2, 0.1, 40).sum()))
             for _ in range(300)]
    features = NgramFeatures(max_features=500)
    features.adapt(texts)
    together = features(tf.constant(texts))
    apart = tf.sparse.concat(0, [features(tf.constant(texts[i:i + 7])) for i in range(0, len(texts), 7)])
    np.testing.assert_array_equal(together.indices.numpy(), apart.indices.numpy())
    np.testing.assert_array_equal(together.values.numpy(), apart.values.numpy())
    pre = NgramPreprocessor(["t"], {"t": ["0", "1"]}, features)
    batches = list(pre.evaluation_dataset(texts, np.zeros(300, np.int32), np.zeros(300, np.int32), batch_size=64))
    assert isinstance(batches[0][0]["ngram_features"], tf.SparseTensor)
    np.testing.assert_array_equal(tf.sparse.concat(0, [x["ngram_features"] for x, _ in batches]).values.numpy(),
                                  together.values.numpy())


def test_features_refuse_to_run_before_adapt_and_to_adapt_twice():
    fresh = NgramFeatures()
    with pytest.raises(ValueError, match="adapt"):
        fresh(tf.constant(["text"]))
    with pytest.raises(ValueError, match="at least one text"):
        fresh.adapt([])
    adapted = _features()
    with pytest.raises(ValueError, match="adapted already"):
        adapted.adapt(TEXTS)


def test_logits_are_shared_plus_the_rows_own_task_weights():
    model = _model()
    rng = np.random.default_rng(0)
    for w in (model.shared_kernel, model.private_kernel, model.bias):
        w.assign(rng.normal(size=w.shape).astype("float32"))
    texts = tf.constant(["a good book", "great film"])
    out = model({"text": texts, "task": tf.constant(["books", "dvd"])})
    x = tf.sparse.to_dense(tf.sparse.reorder(model.features(texts))).numpy()
    shared = x @ model.shared_kernel.numpy()
    private = (x @ model.private_kernel.numpy().reshape(x.shape[1], 2 * 2)).reshape(2, 2, 2)
    expected = shared + private[[0, 1], [0, 1]] + model.bias.numpy()[[0, 1]]
    np.testing.assert_allclose(out["logits"].numpy(), expected, rtol=1e-5, atol=1e-5)
    by_id = model({"text": texts, "task_id": tf.constant([0, 1])})
    np.testing.assert_allclose(by_id["probabilities"].numpy(), out["probabilities"].numpy())


def test_a_step_changes_only_the_ngrams_and_the_task_of_the_batch():
    model = _model()
    model.compile(optimizer=LazyAdam(0.1))
    model.fit(_rows(["good film"], [1], [0]), epochs=1, verbose=0)  # dvd's weights and optimizer state move
    before = [v.numpy().copy() for v in (model.private_kernel, *model.optimizer.variables)]
    model.fit(_rows(["a good book"], [0], [1]), epochs=1, verbose=0)
    changed = np.flatnonzero(np.abs(model.private_kernel.numpy() - before[0]).sum(axis=1))
    vocabulary = model.features.counter.get_vocabulary()
    assert sorted(vocabulary[i] for i in changed // 2) == sorted(["a", "good", "book", "a good", "good book"])
    assert set(changed % 2) == {0}  # books' rows only
    dvd_rows = np.arange(1, model.private_kernel.shape[0], 2)
    for old, new in zip(before, (model.private_kernel, *model.optimizer.variables)):
        if tuple(new.shape) == tuple(model.private_kernel.shape):  # the kernel and its Adam moments
            np.testing.assert_array_equal(new.numpy()[dvd_rows], old[dvd_rows])


def test_feature_dropout_leaves_out_a_share_of_ngrams_in_training_only_drawn_from_seed_and_step():
    model = _model(feature_dropout=0.5, feature_dropout_seed=3)
    x = model.features(tf.constant(["good read , great plot a good book bad film , awful"] * 40))
    dropped = model._dropped_features(x)
    kept = {tuple(i): v for i, v in zip(dropped.indices.numpy(), dropped.values.numpy())}
    full = {tuple(i): v for i, v in zip(x.indices.numpy(), x.values.numpy())}
    assert set(kept) < set(full) and 0.4 < len(kept) / len(full) < 0.6
    assert all(np.isclose(v, 2 * full[i]) for i, v in kept.items())  # the rest scaled by 1 / (1 - p)
    again = model._dropped_features(x)
    np.testing.assert_array_equal(again.indices.numpy(), dropped.indices.numpy())
    model.compile(optimizer=LazyAdam(0.1))
    model.optimizer.iterations.assign(1)
    assert not np.array_equal(model._dropped_features(x).indices.numpy(), dropped.indices.numpy())
    # Not at inference, and off by default (the config then is the one written before the option).
    rows = {"text": tf.constant(["a good book"]), "task_id": tf.constant([0])}
    np.testing.assert_array_equal(model(rows)["logits"].numpy(), model(rows, training=False)["logits"].numpy())
    assert "feature_dropout" not in _model().get_config()
    assert model.get_config()["feature_dropout"] == 0.5 and model.get_config()["feature_dropout_seed"] == 3
    for bad in (1.0, -0.1, float("nan"), True):
        with pytest.raises(ValueError, match="feature_dropout must be a number in \\[0, 1\\)"):
            _model(feature_dropout=bad)


def test_a_step_with_feature_dropout_touches_only_the_ngrams_it_kept():
    model = _model(feature_dropout=0.6, feature_dropout_seed=1)
    model.compile(optimizer=LazyAdam(0.1))
    texts = ["good read , great plot a good book"]
    x = model.features(tf.constant(texts))
    kept = model._dropped_features(x)  # the draws of step 0, the step fit makes
    model.fit(_rows(texts, [0], [1]), epochs=1, verbose=0)
    changed = np.flatnonzero(np.abs(model.shared_kernel.numpy()).sum(axis=1))
    weighted = kept.indices.numpy()[:, 1]
    assert sorted(changed) == sorted(weighted[weighted > 0]) and len(changed) < len(x.values) - 1


def test_a_model_saved_with_the_earlier_private_kernel_layout_loads(tmp_path):
    import keras

    model = _random_model()
    path = tmp_path / "ngram.keras"
    model.save(path)
    old_layout = tmp_path / "old.keras"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(old_layout, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "model.weights.h5":
                weights = tmp_path / "w.h5"
                weights.write_bytes(data)
                with h5py.File(weights, "r+") as h5:
                    kernel = h5["vars/1"][...]
                    del h5["vars/1"]
                    h5["vars/1"] = kernel.reshape(model.features.vocabulary_size, -1)  # [width, tasks * classes]
                data = weights.read_bytes()
            dst.writestr(item, data)
    loaded = keras.models.load_model(old_layout)
    np.testing.assert_array_equal(loaded.private_kernel.numpy(), model.private_kernel.numpy())


def test_it_learns_the_training_rows_and_survives_save_and_load(tmp_path):
    import keras

    model = _model()
    model.compile(optimizer=LazyAdam(0.1))
    rows = _rows(TEXTS, model.task_ids(TASKS), model.encode_labels(TASKS, LABELS), batch_size=3)
    history = model.fit(rows, epochs=20, verbose=0)
    x = {"text": tf.constant(TEXTS), "task_id": tf.constant(model.task_ids(TASKS))}
    assert history.history["mean_task_accuracy"][-1] == 1.0
    path = tmp_path / "ngram.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert loaded.task_names == ["books", "dvd"] and loaded.features.vocabulary_size == model.features.vocabulary_size


def _random_model(class_names=(("0", "1"), ("neg", "mid", "pos")), name="ng"):
    """An untrained model whose random weights stand in for training (the dvd task has 3 classes)."""
    model = SharedPrivateNgramClassifier(_preprocessor(class_names), name=name)
    rng = np.random.default_rng(0)
    for w in (model.shared_kernel, model.private_kernel, model.bias):
        w.assign(rng.normal(size=w.shape).astype("float32"))
    return model


PROBES = ["a good book", "great film , bad plot", "", "zzz unseen", "bad \xff".encode("latin-1")]


def test_raw_row_predict_takes_lists_of_mixed_tasks_and_bytes():
    model = _random_model()
    got = model.predict({"text": PROBES, "task": ["books", "dvd", "dvd", "books", "dvd"]}, batch_size=2, verbose=0)
    ids = tf.constant(model.task_ids(["books", "dvd", "dvd", "books", "dvd"]))
    expected = model({"text": tf.constant(PROBES), "task_id": ids})["probabilities"].numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert got.shape == (5, 3) and np.all(got[[0, 3], 2] == 0)  # books has two classes


def test_each_task_exports_to_a_saved_model_with_only_its_own_weights(tmp_path):
    from tf_aspmtl.export import export_model

    model = _random_model()
    exported = export_model(model, tmp_path / "serving", multitask=True)  # check=True compares with the model
    assert [e.name for e in exported] == ["books", "dvd", "multitask"]
    dvd = tf.saved_model.load(exported[1].path)
    shapes = sorted(tuple(v.shape) for v in dvd.variables)
    width = model.features.vocabulary_size
    assert shapes == [(3,), (width,), (width, 3)]  # bias, idf, W_shared + W_private[dvd]: no other task's weights
    out = dvd.signatures["serving_default"](text=tf.constant(PROBES))
    expected = model.predict({"text": PROBES, "task": ["dvd"] * len(PROBES)}, verbose=0)
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-6)
    assert out["label"].numpy().tolist() == [["neg", "mid", "pos"][i].encode() for i in out["label_id"].numpy()]
    info = json.loads((tmp_path / "serving" / "dvd" / "1" / "assets.extra" / "export.json").read_text())
    assert info["model"]["class"] == "SharedPrivateNgramClassifier" and info["model"]["heads_in_graph"] == 1


def test_a_served_batch_computed_in_slices_gives_the_probabilities_of_one_batch():
    model = _random_model()
    texts = tf.constant([TEXTS[i % len(TEXTS)] + " plot" * (i % 7) for i in range(37)])  # >= 2 slices of 16 rows
    served = model.serving_function(model.task_id("dvd")).probabilities(texts).numpy()
    whole = tf.nn.softmax(model.task_head("dvd")(model.features(texts))).numpy()
    np.testing.assert_array_equal(served, whole)


# the export command on a .keras file is the default suite's in tests/test_export.py; this is its n-gram twin
@pytest.mark.slow
def test_the_export_command_takes_a_saved_ngram_model(tmp_path, capsys):
    from export.__main__ import main as export_main

    model = _random_model()
    model.save(tmp_path / "ngram.keras")
    assert export_main(["--model", str(tmp_path / "ngram.keras"), "--output", str(tmp_path / "out"),
                        "--tasks", "books", "--no-warmup"]) == 0
    served = tf.saved_model.load(str(tmp_path / "out" / "books" / "1")).signatures["serving_default"]
    expected = model.predict({"text": ["a good book"], "task": ["books"]}, verbose=0)[:, :2]
    np.testing.assert_allclose(served(text=tf.constant(["a good book"]))["probabilities"].numpy(), expected, atol=1e-6)


def test_an_ensemble_mixes_ngram_and_lstm_members_and_exports(tmp_path):
    import keras
    import pandas as pd

    from tf_aspmtl import FullySharedMTL, MultiTaskEnsemble, MultiTaskPreprocessor

    frame = pd.DataFrame({"text": TEXTS, "task": TASKS, "label": [str(v) for v in LABELS]})
    lstm = FullySharedMTL(MultiTaskPreprocessor.from_frame(frame, max_length=8), hidden_dim=4,
                               word_vectors="random", seed=0, name="lstm")
    ngram = _random_model(class_names=lstm.class_names)
    ensemble = MultiTaskEnsemble([lstm, ngram], member_weights=[1, 3])
    x = {"text": TEXTS, "task": TASKS}
    expected = 0.25 * lstm.predict(x, verbose=0) + 0.75 * ngram.predict(x, verbose=0)
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), expected, atol=1e-6)
    scores = ensemble.evaluate_frame(frame, members=True)
    assert len(scores["members"]) == 2 and set(scores["per_task"]) == {"books", "dvd"}

    ngram.save(tmp_path / "ngram.keras")
    assert type(MultiTaskEnsemble.load_member(tmp_path / "ngram.keras")) is SharedPrivateNgramClassifier
    ensemble.save(tmp_path / "ensemble.keras")
    loaded = keras.models.load_model(tmp_path / "ensemble.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-6)
    exported = ensemble.export(tmp_path / "serving", tasks=["dvd"], verbose=False)  # checked against predict
    info = json.loads((tmp_path / "serving" / "dvd" / "1" / "assets.extra" / "export.json").read_text())
    assert [m["class"] for m in info["model"]["members"]] == ["FullySharedMTL", "SharedPrivateNgramClassifier"]
    assert len(exported) == 1


def test_classes_renamed_keep_the_weights_and_the_errors_name_the_mismatch():
    model = _random_model()
    named = model.with_class_names([["negative", "positive"], ["bad", "so-so", "good"]])
    x = {"text": TEXTS, "task": TASKS}
    np.testing.assert_allclose(named.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-7)
    assert named.class_names[1] == ["bad", "so-so", "good"] and model.class_names[1] == ["neg", "mid", "pos"]
    assert named.encode_labels(["dvd"], ["good"]).tolist() == [2]
    with pytest.raises(ValueError, match=r"keep each task's number of classes \[2, 3\]"):
        model.with_class_names([["a", "b"], ["c", "d"]])


def test_an_ensemble_refuses_a_model_that_cannot_read_raw_text_by_name():
    import keras

    from tf_aspmtl import MultiTaskEnsemble

    plain = keras.Sequential([keras.layers.Dense(2)], name="plain")
    with pytest.raises(ValueError, match="member 1 \\('plain'\\) is a Sequential; expected a tf_aspmtl Task"):
        MultiTaskEnsemble([_random_model(), plain])
    other = _random_model(class_names=(("0", "1"), ("a", "b", "c")), name="other")
    with pytest.raises(ValueError, match="task 'dvd' has classes \\['a', 'b', 'c'\\]"):
        MultiTaskEnsemble([_random_model(), other])


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="adapted"):
        NgramPreprocessor(["a"], {"a": ["0", "1"]}, NgramFeatures())
    with pytest.raises(ValueError, match="at least 2 classes"):
        NgramPreprocessor(["a", "b"], {"a": ["0", "1"], "b": ["0"]}, _features())
    with pytest.raises(ValueError, match="needs a TaskPreprocessor"):
        SharedPrivateNgramClassifier(_features())
    with pytest.raises(ValueError, match="l2"):
        _model(l2=-1.0)
    model = _model()
    with pytest.raises(ValueError, match="Row 1: label 7 is not a class of task 'dvd'"):
        model.encode_labels(["books", "dvd"], [1, 7])
    with pytest.raises(ValueError, match="unknown task 'kitchen'"):
        model.task_ids(["kitchen"])
    with pytest.raises(ValueError, match="takes a dict with 'text'"):
        model({"token_ids": tf.zeros((1, 3), tf.int32)})


def test_the_run_selects_on_dev_resumes_and_refuses_another_run(tmp_path):
    from tests.tiny_fdu import write_fdu_folder
    from tf_aspmtl.training import NgramConfig, RunFolderError, run_ngram

    (tmp_path / "fdu").mkdir()
    data = write_fdu_folder(tmp_path / "fdu")
    config = NgramConfig(tasks=("books", "dvd"), epochs=2, batch_size=8)
    first = run_ngram(config, tmp_path / "run", data, dev_only=True, verbose=0)
    assert "avg_test_error" not in first and first["epochs_run"] == 2 and first["epochs_trained_here"] == 2
    assert set(first["per_task"]) == {"books", "dvd"} and first["history"]["val_mean_task_accuracy"]
    assert first["settings"] == {"max_features": 200_000, "ngrams": 2, "l2": 0.0, "learning_rate": 1e-3,
                                 "batch_size": 8, "epochs": 2, "patience": 3}
    assert NgramConfig.from_results(first) == config
    # The same run again trains nothing (the folder says training finished), gives the same dev numbers, reads test.
    again = run_ngram(config, tmp_path / "run", data, verbose=0)
    assert again["epochs_trained_here"] == 0 and again["per_task"]["books"]["dev_error"] == \
        first["per_task"]["books"]["dev_error"]
    assert 0 <= again["per_task"]["dvd"]["test_error"] <= 100 and "avg_test_error" in again
    assert (tmp_path / "run" / "model" / "model.keras").exists()
    with pytest.raises(RunFolderError, match="seed differ"):
        run_ngram(NgramConfig(tasks=("books", "dvd"), epochs=2, batch_size=8, seed=3), tmp_path / "run", data)


def test_the_run_config_reads_a_file_and_names_what_is_wrong(tmp_path):
    from tf_aspmtl.training import NgramConfig

    good = tmp_path / "best.json"
    good.write_text(json.dumps({"model": "sp-ngram", "epochs": 40, "tasks": ["books", "dvd"], "provenance": {}}))
    config = NgramConfig.from_json_file(good, patience=7)
    assert (config.epochs, config.patience, config.tasks, config.ngrams) == (40, 7, ("books", "dvd"), 2)
    lstm = tmp_path / "lstm.json"
    lstm.write_text(json.dumps({"model": "asp-mtl", "epochs": 3}))
    with pytest.raises(ValueError, match="lstm.json: 'model' is 'asp-mtl'"):
        NgramConfig.from_json_file(lstm)
    with pytest.raises(ValueError, match=r"config: unknown field\(s\) \['hidden_dim'\]"):
        NgramConfig.from_dict({"model": "sp-ngram", "hidden_dim": 3})
    for field, bad in (("epochs", 0), ("learning_rate", float("nan")), ("l2", -1.0), ("batch_size", 2.5)):
        with pytest.raises(ValueError, match=f"NgramConfig.{field} must be"):
            NgramConfig(**{field: bad})
    with pytest.raises(ValueError, match="NgramConfig.tasks must be a non-empty list"):
        NgramConfig(tasks="books")
