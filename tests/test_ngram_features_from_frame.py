"""The n-gram model's best features and self-training from a user's own frame: the route README shows."""

import numpy as np
import pandas as pd
import pytest

import tf_aspmtl
from tf_aspmtl.preprocessing import NgramFeatures, NgramPreprocessor
from tf_aspmtl.training import NgramConfig, pseudo_label, with_pseudo_labels
from tf_aspmtl.training.ngram_run import ngram_preprocessor

WORDS = {1: ["great", "lovely", "fine", "superb"], 0: ["awful", "dull", "broken", "poor"]}


def _rows(n: int = 48, seed: int = 0) -> pd.DataFrame:
    """Two tasks of reviews whose words lean to their class; integer labels, as FDU-MTL's files hold."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label, task = i % 2, ("books", "dvd")[(i // 2) % 2]
        words = list(rng.choice(WORDS[label], 3)) + list(rng.choice(WORDS[1 - label], 1)) + [task[:3], "plot"]
        rows.append({"text": " ".join(rng.permutation(words)), "task": task, "label": label})
    return pd.DataFrame(rows)


def test_nb_features_from_a_frame_of_named_labels_equal_the_runs():
    # The run's route (FDU-MTL's 0/1 labels) and from_frame's on the same rows labelled by name learn the same
    # vocabulary, idf and NB ratios: class id 1, "positive", is the positive side.
    train = _rows()
    config = NgramConfig(tasks=("books", "dvd"), max_features=60, ngrams=3, feature_weighting="nb",
                         term_frequency="binary")
    run = ngram_preprocessor(config, train).features
    named = train.assign(label=train["label"].map({0: "negative", 1: "positive"}))
    features = NgramFeatures(max_features=60, ngrams=3, weighting="nb", term_frequency="binary")
    pre = NgramPreprocessor.from_frame(named, features=features)
    assert pre.features is features and pre.classes("dvd") == ["negative", "positive"]
    assert features.counter.get_vocabulary() == run.counter.get_vocabulary()
    np.testing.assert_array_equal(features.idf.numpy(), run.idf.numpy())
    np.testing.assert_array_equal(features.nb_ratio.numpy(), run.nb_ratio.numpy())
    assert features.nb_ratio.numpy()[features.counter.get_vocabulary().index("great")] > 0


def test_nb_features_refuse_a_task_without_two_classes():
    rows = pd.concat([_rows(), pd.DataFrame({"text": ["so so"], "task": ["dvd"], "label": [2]})])
    with pytest.raises(ValueError, match=r"other than two.*'dvd': \[0, 1, 2\]"):
        NgramPreprocessor.from_frame(rows, features=NgramFeatures(max_features=30, weighting="nb"))


def test_features_given_with_its_settings_or_adapted_are_refused():
    rows = _rows()
    with pytest.raises(ValueError, match="with features given, set them there"):
        NgramPreprocessor.from_frame(rows, max_features=30, features=NgramFeatures(max_features=30))
    adapted = NgramFeatures(max_features=30)
    adapted.adapt(rows["text"].tolist())
    with pytest.raises(ValueError, match="not adapted yet"):
        tf_aspmtl.SharedPrivateNgramClassifier.from_frame(rows, features=adapted)


def test_with_pseudo_labels_gives_train_rows_then_the_teachers_rows_in_trains_label_values():
    train = _rows().assign(label=lambda f: f["label"].map({0: "bad", 1: "good"}))
    teacher = tf_aspmtl.SharedPrivateNgramClassifier.from_frame(
        train, features=NgramFeatures(max_features=60, weighting="nb"), label_smoothing=0.1)
    teacher.compile(learning_rate=0.05)
    teacher.fit({"text": train.text, "task": train.task}, train.label, epochs=8, verbose=0)
    unlabeled = _rows(24, seed=1).drop(columns="label")
    rows = with_pseudo_labels(teacher, train, unlabeled, threshold=0.6)
    picked = pseudo_label(teacher, unlabeled, threshold=0.6)
    assert len(picked) > 0
    pd.testing.assert_frame_equal(rows.iloc[:len(train)], train[["text", "task", "label"]])
    added = rows.iloc[len(train):].reset_index(drop=True)
    assert added["text"].tolist() == picked["text"].tolist() and added["task"].tolist() == picked["task"].tolist()
    assert added["label"].tolist() == [("bad", "good")[i] for i in picked["label"]]
    # An unlabelled review that repeats a held-out one (other case and punctuation) is labelled unless held_out names it.
    repeat = pd.concat([unlabeled, pd.DataFrame({"text": ["Great, LOVELY superb!"], "task": ["books"]})])
    held_out = pd.DataFrame({"text": ["great lovely superb"], "task": ["books"], "label": ["good"]})
    assert "Great, LOVELY superb!" in with_pseudo_labels(teacher, train, repeat, threshold=0.6)["text"].tolist()
    kept = with_pseudo_labels(teacher, train, repeat, threshold=0.6, held_out=held_out)
    assert "Great, LOVELY superb!" not in kept["text"].tolist() and len(kept) > len(train)
    # confidence_weights: the same rows, weighted 1 (train) and 2c - 1 (each pseudo-labelled row's margin)
    weighted = with_pseudo_labels(teacher, train, unlabeled, threshold=0.6, confidence_weights=True)
    pd.testing.assert_frame_equal(weighted.drop(columns="weight"), rows)
    np.testing.assert_allclose(weighted["weight"], [1.0] * len(train) + (2 * picked["confidence"] - 1).tolist())
    student = tf_aspmtl.SharedPrivateNgramClassifier(teacher.preprocessor)
    student.compile(learning_rate=0.05)
    history = student.fit({"text": rows.text, "task": rows.task}, rows.label, epochs=1, verbose=0,
                          sample_weight=weighted.weight)
    assert np.isfinite(history.history["task_loss"][0])


def test_with_pseudo_labels_names_what_it_lacks():
    train = _rows()
    teacher = tf_aspmtl.SharedPrivateNgramClassifier.from_frame(train, max_features=30)
    with pytest.raises(ValueError, match=r"train lacks column\(s\) \['label'\]"):
        with_pseudo_labels(teacher, train.drop(columns="label"), train[["text", "task"]])

    class Bare:  # pseudo_label's duck-typed teacher: no preprocessor to name the classes
        task_names = ["books", "dvd"]

    with pytest.raises(ValueError, match="teacher.preprocessor.decode_labels"):
        with_pseudo_labels(Bare(), train, train[["text", "task"]])
    with pytest.raises(ValueError, match=r"held_out needs a text column.*\['review'\]"):
        with_pseudo_labels(teacher, train, train[["text", "task"]], held_out=pd.DataFrame({"review": ["x"]}))
    with pytest.raises(ValueError, match=r"unlabeled lacks column\(s\) \['text'\]; it has \['review', 'task'\]"):
        with_pseudo_labels(teacher, train, pd.DataFrame({"review": ["x"], "task": ["books"]}), held_out=train)


def test_with_pseudo_labels_refuses_a_teacher_whose_classes_are_not_trains_label_values():
    # A teacher of 0/1 classes and a train frame of names (or the reverse) would give a label column of both kinds.
    train = _rows()
    teacher = tf_aspmtl.SharedPrivateNgramClassifier.from_frame(train, max_features=60)
    teacher.compile(learning_rate=0.05)
    teacher.fit({"text": train.text, "task": train.task}, train.label, epochs=8, verbose=0)
    unlabeled = _rows(24, seed=1).drop(columns="label")
    assert len(pseudo_label(teacher, unlabeled, threshold=0.6)) > 0
    named = train.assign(label=train["label"].map({0: "negative", 1: "positive"}))
    with pytest.raises(ValueError, match=r"train's 'label' values \['negative', 'positive'\] of task 'books' are "
                                         r"not the teacher's classes \[0, 1\]"):
        with_pseudo_labels(teacher, named, unlabeled, threshold=0.6)
    renamed = teacher.with_class_names([["negative", "positive"]] * 2)
    with pytest.raises(ValueError, match=r"values \[0, 1\] of task 'books' are not the teacher's classes "
                                         r"\['negative', 'positive'\]"):
        with_pseudo_labels(renamed, train, unlabeled, threshold=0.6)
    assert with_pseudo_labels(renamed, named, unlabeled, threshold=0.6)["label"].isin(["negative", "positive"]).all()
