"""The n-gram model's two levers: naive-Bayes-weighted features and self-training on the unlabelled reviews."""

import hashlib
import importlib
import json
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tests.tiny_fdu import TASKS, write_folder_with_planted_dev_copies
from tf_aspmtl.data import load_fdu_mtl
from tf_aspmtl.models.shared_private_ngram_classifier import SharedPrivateNgramClassifier
from tf_aspmtl.preprocessing.ngram_features import NgramFeatures, nb_log_count_ratios
from tf_aspmtl.preprocessing.ngram_preprocessor import NgramPreprocessor
from tf_aspmtl.training import NgramConfig, RunFolderError, run_ngram
from tf_aspmtl.training.held_out_duplicates import _text_key
from tf_aspmtl.training.model_fingerprint import model_fingerprint
from tf_aspmtl.training.teacher_pseudo_labels import PSEUDO_LABELS, TEACHER_DIR, TEACHER_DONE

teacher_module = importlib.import_module("tf_aspmtl.training.teacher_pseudo_labels")  # the package exports its function

TRAIN = ["a good book , a great read", "a bad book", "good plot but awful ending", "awful , awful plot",
         "great film", "bad film , not good", "the film was not bad at all", "really good , really great"]
LABELS = [1, 0, 0, 0, 1, 0, 1, 1]
PROBES = TRAIN + ["good good good film", "unseen words only", "", "Bad BOOK !"]


def _ngrams(text: str) -> set[str]:
    words = text.split()
    return set(words) | {f"{a} {b}" for a, b in zip(words, words[1:])}


def _nb_features(max_features=40):
    features = NgramFeatures(max_features=max_features, weighting="nb")
    features.adapt(TRAIN, labels=LABELS)
    return features


# ----------------------------------------------------------------------- defaults unchanged

def test_the_default_features_and_run_record_are_those_of_the_code_before_the_levers():
    """Digests computed by the code of commit f3c8200 (before the levers) on this corpus: the tf-idf path's floats,
    and the model's fingerprint a run folder records (a changed one would refuse to resume earlier folders). Only
    ``weight_shapes`` has changed since: the private kernel is stored [width * tasks, classes] (task_sparse_matmul),
    so a run folder of the earlier layout, whose optimizer state has the old shapes, is refused rather than resumed.
    And column 0 (idf 0) holds other zeros since the n-grams are counted from integer ids: the digest is of the
    other columns (from f3c8200's layer with its column-0 entries: bdb9ab01...; they were zeros too)."""
    features = NgramFeatures(max_features=40)
    features.adapt(TRAIN)
    x = tf.sparse.reorder(features(tf.constant(PROBES)))
    weighted = x.indices.numpy()[:, 1] > 0
    assert (x.values.numpy()[~weighted] == 0).all()
    digest = hashlib.sha256(x.indices.numpy()[weighted].astype("<i8").tobytes()
                            + x.values.numpy()[weighted].astype("<f4").tobytes()).hexdigest()
    assert digest == "a55367735c9b395c223c69d66ed687f74f022a7062e7275af149490248a99f32"
    assert features.nb_ratio is None and "weighting" not in features.get_config()
    preprocessor = NgramPreprocessor(["books", "dvd"], {"books": ["0", "1"], "dvd": ["0", "1"]}, features,
                                     name="preprocessor")
    model = SharedPrivateNgramClassifier(preprocessor, name="sp_ngram")
    assert model_fingerprint(model) == {
        "config.dtype": "3c876e27cb55ae1f", "config.l2": "8aed642bf5118b9d",
        "config.per_task_metrics": "b5bea41b6c623f7c", "config.preprocessor": "46ed881ad59de660",
        "config.trainable": "b5bea41b6c623f7c", "weight_shapes": "a45a1923c571d162"}
    assert NgramConfig().settings() == {"max_features": 200_000, "ngrams": 2, "l2": 0.0, "learning_rate": 1e-3,
                                        "batch_size": 64, "epochs": 20, "patience": 3}


# ----------------------------------------------------------------------- NB weighting

def test_nb_ratios_are_the_log_count_ratios_of_the_rows_holding_each_ngram():
    features = _nb_features()
    vocabulary = features.counter.get_vocabulary()
    held = [_ngrams(t) for t in TRAIN]
    p = np.array([sum(f in h for h, y in zip(held, LABELS) if y == 1) for f in vocabulary[1:]], float)
    q = np.array([sum(f in h for h, y in zip(held, LABELS) if y == 0) for f in vocabulary[1:]], float)
    expected = np.log((p + 1) / (p + 1).sum()) - np.log((q + 1) / (q + 1).sum())
    ratio = features.nb_ratio.numpy()
    assert ratio[0] == 0  # the unknown n-grams
    np.testing.assert_allclose(ratio[1:], expected, rtol=1e-6)
    np.testing.assert_allclose(nb_log_count_ratios(p, q), expected)
    # Each row: the tf-idf features (unit norm), each column times its ratio; not normalised again.
    tfidf = NgramFeatures(max_features=40)
    tfidf.adapt(TRAIN)
    assert tfidf.counter.get_vocabulary() == vocabulary
    plain, scaled = (tf.sparse.to_dense(tf.sparse.reorder(f(tf.constant(PROBES)))).numpy() for f in (tfidf, features))
    np.testing.assert_allclose(scaled, plain * ratio, rtol=1e-6, atol=1e-7)


def test_an_ngram_of_positive_rows_only_gets_a_positive_ratio_and_one_of_negative_rows_a_negative_one():
    features = _nb_features()
    vocabulary = features.counter.get_vocabulary()
    ratio = dict(zip(vocabulary, features.nb_ratio.numpy()))
    assert ratio["great"] > 0 and ratio["really"] > 0  # only in positive rows
    assert ratio["awful"] < 0 and ratio["plot"] < 0  # only in negative rows
    assert ratio["great"] > ratio["really"]  # 2 positive rows against 1


def test_a_rows_nb_features_are_the_same_floats_in_any_batch():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)]
    texts = [" ".join(rng.choice(words, size=rng.integers(1, 120))) for _ in range(300)]
    features = NgramFeatures(max_features=500, weighting="nb")
    features.adapt(texts, labels=rng.integers(0, 2, size=300))
    together = features(tf.constant(texts))
    apart = tf.sparse.concat(0, [features(tf.constant(texts[i:i + 7])) for i in range(0, len(texts), 7)])
    np.testing.assert_array_equal(together.indices.numpy(), apart.indices.numpy())
    np.testing.assert_array_equal(together.values.numpy(), apart.values.numpy())
    chunked = NgramPreprocessor(["t"], {"t": ["0", "1"]}, features).featurize(texts, chunk_rows=64)
    np.testing.assert_array_equal(chunked.values.numpy(), together.values.numpy())


def test_nb_features_travel_with_the_saved_and_the_exported_model(tmp_path):
    import keras

    from tf_aspmtl.export import export_model

    features = _nb_features()
    restored = NgramFeatures.from_config(features.get_config())
    assert restored.weighting == "nb" and restored.nb_ratio.shape == features.nb_ratio.shape
    preprocessor = NgramPreprocessor(["books", "dvd"], {"books": ["0", "1"], "dvd": ["0", "1"]}, features)
    model = SharedPrivateNgramClassifier(preprocessor, name="nb")
    rng = np.random.default_rng(0)
    for w in (model.shared_kernel, model.private_kernel, model.bias):
        w.assign(rng.normal(size=w.shape).astype("float32"))
    model.save(tmp_path / "nb.keras")
    loaded = keras.models.load_model(tmp_path / "nb.keras")
    texts = tf.constant(PROBES)
    np.testing.assert_array_equal(loaded.features(texts).values.numpy(), model.features(texts).values.numpy())
    exported = export_model(model, tmp_path / "serving", tasks=["dvd"])  # check=True compares with the model too
    served = tf.saved_model.load(exported[0].path)
    width = features.vocabulary_size
    assert sorted(tuple(v.shape) for v in served.variables) == [(2,), (width,), (width,), (width, 2)]
    got = served.signatures["serving_default"](text=texts)["probabilities"].numpy()
    predicted = model.predict({"text": PROBES, "task": ["dvd"] * len(PROBES)}, verbose=0)
    np.testing.assert_allclose(got, predicted, atol=1e-6)
    head = model.task_head("dvd")
    np.testing.assert_allclose(got, tf.nn.softmax(head(model.features(texts))).numpy(), atol=1e-6)
    tfidf = NgramFeatures(max_features=40)  # the same vocabulary and idf, no ratios
    tfidf.adapt(TRAIN)
    assert np.abs(tf.nn.softmax(head(tfidf(texts))).numpy() - got).max() > 1e-3  # the ratios are in the graph
    info = json.loads((tmp_path / "serving" / "dvd" / "1" / "assets.extra" / "export.json").read_text())
    assert info["model"]["features"] == "word n-gram tf-idf scaled by NB log-count ratios"


def test_bad_weightings_and_labels_are_named():
    with pytest.raises(ValueError, match=r"Unknown weighting 'bm25'; expected one of \['tfidf', 'nb'\]"):
        NgramFeatures(weighting="bm25")
    with pytest.raises(ValueError, match="adapt needs the training rows' 0/1 labels"):
        NgramFeatures(weighting="nb").adapt(TRAIN)
    with pytest.raises(ValueError, match="labels are for 'nb' only"):
        NgramFeatures().adapt(TRAIN, labels=LABELS)
    for bad in (LABELS[:3], [2] * len(TRAIN), [1] * len(TRAIN)):
        with pytest.raises(ValueError, match="needs one label per text"):
            NgramFeatures(weighting="nb").adapt(TRAIN, labels=bad)
    with pytest.raises(ValueError, match="smoothing must be"):
        nb_log_count_ratios(np.ones(2), np.ones(2), smoothing=0)


# ----------------------------------------------------------------------- config and command line

def test_the_levers_round_trip_through_dicts_files_results_and_flags(tmp_path):
    from experiments.ngram import config_from_flags, identity

    config = NgramConfig(tasks=("books", "dvd"), feature_weighting="nb", self_training_threshold=0.9)
    assert NgramConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert config.settings()["feature_weighting"] == "nb" and config.settings()["self_training_threshold"] == 0.9
    assert NgramConfig.from_results({"tasks": ["books", "dvd"], "seed": 0, "settings": config.settings()}) == config
    path = tmp_path / "levers.json"
    path.write_text(json.dumps({"model": "sp-ngram", **config.to_dict()}))
    assert NgramConfig.from_json_file(path) == config
    flags = config_from_flags(["--tasks", "books,dvd", "--feature-weighting", "nb", "--self-training-threshold", "0.9"])
    assert flags == config and identity(flags) != identity(NgramConfig(tasks=("books", "dvd")))
    assert not config_from_flags([]).self_training and config_from_flags([]).feature_weighting == "tfidf"


def test_bad_lever_values_name_the_field(capsys):
    from experiments.ngram import parse_args

    with pytest.raises(ValueError, match=r"NgramConfig.feature_weighting must be one of \['tfidf', 'nb'\]; got 'NB'"):
        NgramConfig(feature_weighting="NB")
    for bad in (0.5, 0.3, 1.2, -0.9, float("nan"), True, "0.9"):
        with pytest.raises(ValueError, match=r"NgramConfig.self_training_threshold must be 0 \(off\) or a number in"):
            NgramConfig(self_training_threshold=bad)
    assert NgramConfig(self_training_threshold=1).self_training_threshold == 1.0
    with pytest.raises(ValueError, match="levers.json: NgramConfig.self_training_threshold"):
        NgramConfig.from_dict({"self_training_threshold": 0.4}, where="levers.json")
    with pytest.raises(SystemExit):
        parse_args(["--output-dir", "x", "--self-training-threshold", "0.2"])
    assert "NgramConfig.self_training_threshold must be 0 (off)" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"NgramConfig.student_features must be one of \['train', 'train\+pseudo'\]"):
        NgramConfig(self_training_threshold=0.9, student_features="pseudo")
    with pytest.raises(ValueError, match=r"NgramConfig.feature_dropout must be a number in \[0, 1\); got 1"):
        NgramConfig(feature_dropout=1)
    assert "feature_dropout" not in NgramConfig().settings()
    assert NgramConfig(feature_dropout=0.5).settings()["feature_dropout"] == 0.5
    with pytest.raises(ValueError, match="student_features 'train\\+pseudo' needs self-training"):
        NgramConfig(student_features="train+pseudo")


# ----------------------------------------------------------------------- runs

@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder_with_planted_dev_copies(tmp_path_factory.mktemp("fdu"))


def test_an_nb_run_learns_its_ratios_from_the_train_split_alone(folder, tmp_path):
    import keras

    config = NgramConfig(tasks=tuple(TASKS), epochs=2, batch_size=8, feature_weighting="nb")
    results = run_ngram(config, tmp_path / "run", folder, dev_only=True, verbose=0)
    model = keras.models.load_model(tmp_path / "run" / "model" / "model.keras", compile=False)
    data = load_fdu_mtl(folder, tasks=TASKS, splits=("train", "dev"))
    train = data[data["split"] == "train"]
    expected = NgramFeatures(max_features=config.max_features, weighting="nb")
    expected.adapt(train["text"].tolist(), labels=train["label"].to_numpy())
    np.testing.assert_array_equal(model.features.nb_ratio.numpy(), expected.nb_ratio.numpy())
    with_dev = NgramFeatures(max_features=config.max_features, weighting="nb")
    with_dev.adapt(data["text"].tolist(), labels=data["label"].to_numpy())
    assert with_dev.nb_ratio.shape != expected.nb_ratio.shape or \
        not np.array_equal(with_dev.nb_ratio.numpy(), expected.nb_ratio.numpy())
    assert results["settings"]["feature_weighting"] == "nb" and "self_training" not in results
    assert results["nb_weighting"]["rows"] == len(train) == 20
    assert results["nb_weighting"]["positive_rows"] == int((train["label"] == 1).sum())


SELF = NgramConfig(tasks=tuple(TASKS), epochs=3, batch_size=8, learning_rate=0.1, self_training_threshold=0.6)
"""Small enough for seconds; the learning rate makes the teacher sure of some unlabelled rows."""


@pytest.fixture(scope="module")
def self_run(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("self") / "run"
    return out, run_ngram(SELF, out, folder, dev_only=True, verbose=0)


def _teacher_probabilities(out, frame):
    """The finished teacher's probabilities of ``frame``'s rows (its best weights, in a model of the run's)."""
    import keras

    student = keras.models.load_model(out / "model" / "model.keras", compile=False)
    teacher = SharedPrivateNgramClassifier(student.preprocessor, name="sp_ngram")
    teacher.load_weights(out / "model" / TEACHER_DIR / "best.weights.h5")
    return teacher.predict({"text": frame["text"].tolist(), "task": frame["task"].tolist()}, verbose=0)


def test_self_training_labels_only_unlabelled_rows_balanced_above_the_threshold(folder, self_run):
    out, results = self_run
    st = results["self_training"]
    pseudo = pd.read_parquet(out / "model" / PSEUDO_LABELS)
    assert len(pseudo) > 0, "the tiny teacher should be sure of some rows (else this test proves little)"
    unlabeled = load_fdu_mtl(folder, tasks=TASKS, splits=("unlabeled",))
    labelled = load_fdu_mtl(folder, tasks=TASKS, splits=("train", "dev", "test"))
    assert set(zip(pseudo["task"], pseudo["text"])) <= set(zip(unlabeled["task"], unlabeled["text"]))
    assert not {_text_key(t) for t in pseudo["text"]} & {_text_key(t) for t in labelled["text"]}
    assert st["dropped_repeats_of_dev_or_test"]["books"] >= 2  # the planted dev texts
    # Every kept row is one the teacher is sure of, with its class; per task, as many rows of each class as the
    # teacher is sure of for its rarer class.
    candidates = unlabeled[unlabeled["text"].map(_text_key).isin({_text_key(t) for t in labelled["text"]}) == False]  # noqa: E712
    probabilities = _teacher_probabilities(out, candidates)
    sure = pd.DataFrame({"task": candidates["task"].to_numpy(), "label": probabilities.argmax(1),
                         "confidence": probabilities.max(1)})
    sure = sure[sure["confidence"] >= SELF.self_training_threshold]
    assert (pseudo["confidence"] >= 0.6).all()
    for task in TASKS:
        counts = {str(c): int(((pseudo["task"] == task) & (pseudo["label"] == c)).sum()) for c in (0, 1)}
        assert counts["0"] == counts["1"] == min(int(((sure["task"] == task) & (sure["label"] == c)).sum())
                                                 for c in (0, 1))
        assert st["pseudo_labels"][task] == counts and st["pseudo_labelled_rows"][task] == 2 * counts["0"]
    assert st["student_train_rows"] == 20 + len(pseudo) and st["threshold"] == 0.6
    teacher = json.loads((out / "model" / TEACHER_DIR / TEACHER_DONE).read_text())
    assert st["teacher_dev_error"] == teacher["dev_error"] and st["teacher_best_epoch"] == teacher["best_epoch"]
    assert results["training_wall_time_s"] > st["teacher_training_wall_time_s"] > 0
    assert results["settings"]["self_training_threshold"] == 0.6 and results["dev_only"]
    assert not (out / "model" / TEACHER_DIR / "logs").exists()  # as the run without self-training: no TensorBoard


# exact resume is the default suite's for training runs (tests/test_exact_resume.py); this is self-training's
@pytest.mark.slow
def test_a_self_training_run_resumes_its_teacher_and_student_exactly(folder, self_run, tmp_path, monkeypatch):
    import keras

    out, results = self_run
    saved = pd.read_parquet(out / "model" / PSEUDO_LABELS)
    # Killed after the teacher finished training, before its marker and pseudo labels, and before the student.
    rerun = tmp_path / "run"
    shutil.copytree(out, rerun)
    for name in ("state.json", "state.previous.json", "best.weights.h5", "model.keras", "history.csv",
                 PSEUDO_LABELS, f"{TEACHER_DIR}/{TEACHER_DONE}"):
        (rerun / "model" / name).unlink(missing_ok=True)
    for stale in (rerun / "model").glob("epoch-*"):
        stale.unlink()
    fits = []
    real_fit = keras.Model.fit
    monkeypatch.setattr(keras.Model, "fit", lambda self, *a, **k: fits.append(1) or real_fit(self, *a, **k))
    again = run_ngram(SELF, rerun, folder, dev_only=True, verbose=0)
    assert len(fits) == 1, "only the student trains: the finished teacher's best weights are loaded"
    pd.testing.assert_frame_equal(pd.read_parquet(rerun / "model" / PSEUDO_LABELS), saved)
    assert again["per_task"] == results["per_task"] and again["history"] == results["history"]
    # The teacher's clock runs on in the process that loads it; its processes do not (it trained nothing here).
    bookkeeping = ("teacher_training_wall_time_s",)
    assert {k: v for k, v in again["self_training"].items() if k not in bookkeeping} == \
        {k: v for k, v in results["self_training"].items() if k not in bookkeeping}
    first, second = (keras.models.load_model(d / "model" / "model.keras", compile=False) for d in (out, rerun))
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)

    # Everything saved: nothing trains or labels again, same numbers.
    monkeypatch.setattr(teacher_module, "pseudo_label", lambda *a, **k: pytest.fail("labelled again"))
    third = run_ngram(SELF, rerun, folder, dev_only=True, verbose=0)
    assert len(fits) == 1 and third["per_task"] == results["per_task"] and third["epochs_trained_here"] == 0

    # A self-training dev-only folder is not promoted to a run that reads test (its student never saw test texts
    # compared with the unlabelled rows).
    with pytest.raises(RunFolderError, match="dev_only differ.*unlabelled repeats of test texts"):
        run_ngram(SELF, rerun, folder, verbose=0)


def test_a_student_with_pseudo_features_learns_them_from_train_and_its_pseudo_labelled_rows(folder, self_run,
                                                                                           tmp_path):
    import keras

    out, results = self_run
    config = replace(SELF, feature_weighting="nb", student_features="train+pseudo")
    again = run_ngram(config, tmp_path / "run", folder, dev_only=True, verbose=0)
    pseudo = pd.read_parquet(tmp_path / "run" / "model" / PSEUDO_LABELS)
    train = load_fdu_mtl(folder, tasks=TASKS, splits=("train",))
    rows = pd.concat([train[["text", "label"]], pseudo[["text", "label"]]], ignore_index=True)
    expected = NgramFeatures(max_features=config.max_features, weighting="nb")
    expected.adapt(rows["text"].tolist(), labels=rows["label"].to_numpy())
    student = keras.models.load_model(tmp_path / "run" / "model" / "model.keras", compile=False)
    assert student.features.vocabulary_size == expected.vocabulary_size > \
        keras.models.load_model(out / "model" / "model.keras", compile=False).features.vocabulary_size
    np.testing.assert_array_equal(student.features.nb_ratio.numpy(), expected.nb_ratio.numpy())
    assert again["nb_weighting"]["rows"] == again["self_training"]["student_train_rows"] == len(rows) > len(train)
    assert again["settings"]["student_features"] == "train+pseudo" and "student_features" not in results["settings"]


# ----------------------------------------------------------------------- pseudo-labelled rows' weights
# (tests/test_ngram_pseudo_label_weights.py has the rest)

def test_a_weighted_student_learns_from_the_same_pseudo_labels_with_their_weights(folder, self_run, tmp_path):
    import keras

    out, plain = self_run
    weighted_config = replace(SELF, pseudo_label_weight=0.5, pseudo_label_weighting="confidence")
    weighted = run_ngram(weighted_config, tmp_path / "weighted", folder, dev_only=True, verbose=0)
    pseudo = pd.read_parquet(tmp_path / "weighted" / "model" / PSEUDO_LABELS)
    assert len(pseudo) > 0, "the tiny teacher should be sure of some rows (else this test proves little)"
    pd.testing.assert_frame_equal(pseudo, pd.read_parquet(out / "model" / PSEUDO_LABELS))
    record = weighted["self_training"]["pseudo_label_weights"]
    assert record["weight"] == 0.5 and record["weighting"] == "confidence"
    assert record["mean"] == pytest.approx(0.5 * float(np.mean(2 * pseudo["confidence"] - 1)))
    assert "pseudo_label_weights" not in plain["self_training"]
    assert weighted["self_training"]["teacher_dev_error"] == plain["self_training"]["teacher_dev_error"]
    students = [keras.models.load_model(run / "model" / "model.keras", compile=False)
                for run in (out, tmp_path / "weighted")]
    assert not np.array_equal(students[0].shared_kernel.numpy(), students[1].shared_kernel.numpy())
    assert weighted["settings"]["pseudo_label_weighting"] == "confidence"


def test_a_student_balanced_by_weights_learns_from_every_confident_row(folder, self_run, tmp_path):
    out, balanced_rows = self_run
    by_weights = run_ngram(replace(SELF, pseudo_label_balance="weights"), tmp_path / "weights", folder,
                           dev_only=True, verbose=0)
    every = pd.read_parquet(tmp_path / "weights" / "model" / PSEUDO_LABELS)
    kept = pd.read_parquet(out / "model" / PSEUDO_LABELS)
    assert (every["confidence"] >= 0.6).all() and len(every) > len(kept), \
        "the tiny teacher should be sure of more rows of one class than of the other (else this proves little)"
    assert set(zip(kept["task"], kept["text"])) <= set(zip(every["task"], every["text"]))
    record = by_weights["self_training"]
    for task in TASKS:
        rows = every[every["task"] == task]
        counts = [int((rows["label"] == c).sum()) for c in (0, 1)]
        assert record["pseudo_labels"][task] == {"0": counts[0], "1": counts[1]}
        # each class weighs its rarest class's rows in total (a task lacking a class: none of its rows)
        assert record["pseudo_label_weights"]["total"][task] == pytest.approx(2 * min(counts))
        assert balanced_rows["self_training"]["pseudo_labelled_rows"][task] == 2 * min(counts)
    assert record["pseudo_label_weights"]["balance"] == "weights"
    assert "pseudo_label_weights" not in balanced_rows["self_training"]


def test_the_best_models_report_says_what_data_the_levers_used():
    from experiments.best import data_used

    def run(**levers):
        return {"model": "sp-ngram", "settings": NgramConfig(**levers).settings()}

    assert data_used(run()) == ("the labelled train rows only (n-gram vocabulary and idf from the train split): no "
                                "unlabelled text, no word vectors, no pretraining")
    assert "vocabulary, idf and NB ratios from the train split): no unlabelled" in data_used(run(feature_weighting="nb"))
    assert "and pseudo-labelled unlabelled reviews" in data_used(run(self_training_threshold=0.9))
    assert "NB ratios from the train split and the pseudo-labelled rows" in data_used(
        run(self_training_threshold=0.9, feature_weighting="nb", student_features="train+pseudo"))
