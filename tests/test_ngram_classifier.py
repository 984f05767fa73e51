"""The shared/private n-gram linear model: features, forward pass, sparse updates, training, saving, bad input."""

import numpy as np
import pytest
import tensorflow as tf

from tf_aspmtl.models.shared_private_ngram_classifier import SharedPrivateNgramClassifier
from tf_aspmtl.optimizers import LazyAdam
from tf_aspmtl.preprocessing.ngram_features import NgramFeatures

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


def _model(**kwargs):
    return SharedPrivateNgramClassifier(_features(), ["books", "dvd"], [["0", "1"], ["0", "1"]], **kwargs)


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
    private = (x @ model.private_kernel.numpy()).reshape(2, 2, 2)
    expected = shared + private[[0, 1], [0, 1]] + model.bias.numpy()[[0, 1]]
    np.testing.assert_allclose(out["logits"].numpy(), expected, rtol=1e-5, atol=1e-5)
    by_id = model({"text": texts, "task_id": tf.constant([0, 1])})
    np.testing.assert_allclose(by_id["probabilities"].numpy(), out["probabilities"].numpy())


def test_a_step_changes_only_the_ngrams_of_the_batch():
    model = _model()
    model.compile(optimizer=LazyAdam(0.1))
    before = model.private_kernel.numpy().copy()
    model.fit(_rows(["a good book"], [0], [1]), epochs=1, verbose=0)
    changed = np.flatnonzero(np.abs(model.private_kernel.numpy() - before).sum(axis=1))
    vocabulary = model.features.counter.get_vocabulary()
    assert sorted(vocabulary[i] for i in changed) == sorted(["a", "good", "book", "a good", "good book"])


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


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="adapted"):
        SharedPrivateNgramClassifier(NgramFeatures(), ["a"], [["0", "1"]])
    with pytest.raises(ValueError, match="one list of >= 2 classes per task"):
        SharedPrivateNgramClassifier(_features(), ["a", "b"], [["0", "1"]])
    with pytest.raises(ValueError, match="l2"):
        _model(l2=-1.0)
    model = _model()
    with pytest.raises(ValueError, match="row 1: label 7 is not a class of task 'dvd'"):
        model.encode_labels(["books", "dvd"], [1, 7])
    with pytest.raises(ValueError, match="Unknown task 'kitchen'"):
        model.task_ids(["kitchen"])
    with pytest.raises(ValueError, match="takes raw rows"):
        model({"token_ids": tf.zeros((1, 3), tf.int32)})


def test_the_experiment_trains_on_dev_selection_resumes_and_refuses_another_run(tmp_path, monkeypatch):
    import json

    from experiments import ngram
    from tests.tiny_fdu import write_fdu_folder

    (tmp_path / "fdu").mkdir()
    data = write_fdu_folder(tmp_path / "fdu")
    base = ["--data-dir", str(data), "--tasks", "books,dvd", "--epochs", "2", "--batch-size", "8", "--verbose", "0",
            "--output-dir", str(tmp_path / "run")]
    first = ngram.main(base + ["--dev-only"])
    assert "avg_test_error" not in first and first["epochs_run"] == 2
    assert set(first["per_task"]) == {"books", "dvd"} and first["history"]["val_mean_task_accuracy"]
    # The same run again trains nothing (the folder says training finished) and gives the same dev numbers.
    again = ngram.main(base)
    assert again["per_task"]["books"]["dev_error"] == first["per_task"]["books"]["dev_error"]
    assert "test_error" in again["per_task"]["dvd"]
    assert json.loads((tmp_path / "run" / "results.json").read_text())["avg_test_error"] == again["avg_test_error"]
    with pytest.raises(SystemExit, match="seed differ"):
        ngram.main(base + ["--seed", "3"])


def test_the_summary_pairs_each_seed_with_the_best_configuration_of_that_seed(tmp_path):
    import json

    from experiments.ngram import summary

    for seed, (ours, best) in enumerate([(11.0, 12.0), (12.5, 12.0)]):
        (tmp_path / f"ngram{seed}.json").write_text(json.dumps(
            {"seed": seed, "avg_dev_error": ours, "best_epoch": 4, "training_wall_time_s": 120.0}))
        (tmp_path / f"best{seed}.json").write_text(json.dumps({"avg_dev_error": best}))
    text = summary([str(tmp_path / "ngram1.json"), str(tmp_path / "ngram0.json")],
                   best_runs=str(tmp_path / "best{seed}.json"))
    assert "| 0 | 11.00 | 12.00 | +1.00 | 4 | 2.0 |" in text and "| 1 | 12.50 | 12.00 | -0.50 |" in text
    assert "Mean gain: +0.25 +- 1.06 points over 2 seeds." in text
    assert "Test error" not in text and "Dev only: the test split was not read." in text
    (tmp_path / "ngram0.json").write_text(json.dumps({"seed": 0, "avg_dev_error": 11.0, "avg_test_error": 11.5,
                                                      "best_epoch": 4, "training_wall_time_s": 120.0}))
    (tmp_path / "tested0.json").write_text(json.dumps({"avg_test_error": 13.0}))
    text = summary([str(tmp_path / "ngram0.json")], best_runs=str(tmp_path / "best{seed}.json"),
                   best_tested=str(tmp_path / "tested{seed}.json"))
    assert "Dev only" not in text and "the test split was read once per run, after the choice" in text
    assert "| 0 | 11.50 | 13.00 | -1.50 |" in text and "Mean: n-gram 11.50, best config 13.00 over 1 seed(s)." in text
