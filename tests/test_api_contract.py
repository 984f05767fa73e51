"""The contract of README's "Using the library", run as written on 2 real tasks and a few hundred rows."""

import json
import os

import keras
import numpy as np
import pytest

import tf_aspmtl
from tf_aspmtl.data import load_fdu_mtl


@pytest.fixture(scope="module")
def frames():
    data = load_fdu_mtl(tasks=["books", "dvd"], splits=("train", "dev"))
    train = data[data["split"] == "train"].groupby("task").head(150).reset_index(drop=True)
    dev = data[data["split"] == "dev"].groupby("task").head(50).reset_index(drop=True)
    train["label"] = train["label"].map({0: "negative", 1: "positive"})  # string labels, as users have
    dev["label"] = dev["label"].map({0: "negative", 1: "positive"})
    return train, dev


def test_dataframe_to_served_model(frames, tmp_path):
    train, dev = frames
    # The README's lines at the paper's sizes; a batch of rows a task is enough to run each of them.
    train, dev = train.groupby("task").head(16).reset_index(drop=True), dev.groupby("task").head(8)
    pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(train, max_length=200)
    model = tf_aspmtl.AdversarialSharedPrivateMTL(pre)
    assert (model.backbone.hidden_dim, model.objective.adversarial_weight, model.objective.difference_weight) == \
        (100, 0.05, 0.01)
    model.compile()
    assert isinstance(model.optimizer, tf_aspmtl.LazyAdam)
    history = model.fit({"text": train.text, "task": train.task}, train.label,
                        validation_data=({"text": dev.text, "task": dev.task}, dev.label), batch_size=16, epochs=2,
                        callbacks=[keras.callbacks.EarlyStopping("val_mean_task_accuracy", mode="max", patience=1)],
                        verbose=0)
    assert "val_mean_task_accuracy" in history.history and "adv_loss" in history.history
    texts = ["A gripping story, beautifully written.", "The disc would not play."]
    probs = model.predict({"text": texts, "task": ["books", "dvd"]}, verbose=0)
    assert probs.shape == (2, 2) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)

    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict({"text": texts, "task": ["books", "dvd"]}, verbose=0), probs, atol=1e-6)

    exported = model.export(str(tmp_path / "serving"), verbose=False)
    assert sorted(e.name for e in exported) == ["books", "dvd"]
    assert os.path.exists(tmp_path / "serving" / "models.config")
    served = keras.layers.TFSMLayer(str(tmp_path / "serving" / "dvd" / "1"), call_endpoint="serving_default")
    out = served(tf_constant(texts[1:]))
    np.testing.assert_allclose(np.asarray(out["probabilities"]), probs[1:], atol=1e-5)
    assert out["label"].numpy()[0].decode() in ("negative", "positive")

    new = model.transfer("music", classes=["negative", "positive"], mode="bc")
    assert isinstance(new, tf_aspmtl.MultiTaskClassifier) and new.task_names == ["music"]


def test_truncation_survives_save_load_and_export(frames, tmp_path):
    # Long reviews keep their first quarter and last three quarters of 8 tokens, in Python, .keras and SavedModel.
    train, _ = frames
    pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(train, max_length=8, truncation="head+tail")
    model = tf_aspmtl.SharedPrivateMTL(pre, embedding_dim=4, hidden_dim=4, encoder="lstm", word_vectors="random")
    texts = [" ".join(train.text[:3]), "the disc would not play"]
    x = {"text": texts, "task": ["dvd", "dvd"]}
    probs = model.predict(x, verbose=0)
    changed = texts[0].split()[:2] + ["unheard-of"] * 5 + texts[0].split()[-6:]
    assert np.allclose(model.predict({"text": [" ".join(changed)], "task": ["dvd"]}, verbose=0), probs[:1])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded.preprocessor.text_vectorizer.truncation == "head+tail"
    np.testing.assert_allclose(loaded.predict(x, verbose=0), probs, atol=1e-6)
    model.export(str(tmp_path / "serving"), tasks=["dvd"], warmup_requests=False, verbose=False)
    served = keras.layers.TFSMLayer(str(tmp_path / "serving" / "dvd" / "1"), call_endpoint="serving_default")
    np.testing.assert_allclose(np.asarray(served(tf_constant(texts))["probabilities"]), probs, atol=1e-5)


def tf_constant(values):
    import tensorflow as tf

    return tf.constant(values)


def test_families_keep_every_argument_through_config(frames):
    train, _ = frames
    pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(train.groupby('task').head(20), max_length=16)
    model = tf_aspmtl.SharedPrivateMTL(pre, hidden_dim=4, difference_weight=0.01, word_vectors="random")
    clone = tf_aspmtl.SharedPrivateMTL.from_config(json.loads(json.dumps(model.get_config())))
    assert clone.objective.difference_weight == 0.01 and clone.backbone.hidden_dim == 4
    assert clone.get_config() == model.get_config()
    assert clone.preprocessor.task_names == ["books", "dvd"]
    assert clone.preprocessor.classes("books") == ["negative", "positive"]


def test_raw_labels_unknown_to_a_task_are_named(frames):
    train, _ = frames
    pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(train.groupby('task').head(20), max_length=16)
    model = tf_aspmtl.FullySharedMTL(pre, hidden_dim=4, word_vectors="random")
    model.compile()
    with pytest.raises(ValueError, match=r"Row 1: label 'meh' is not a class of task 'books'"):
        model.fit({"text": ["a", "b"], "task": ["books", "books"]}, ["positive", "meh"], verbose=0)
    with pytest.raises(ValueError, match=r"Row 0: unknown task 'cars'"):
        model.predict({"text": ["a"], "task": ["cars"]}, verbose=0)


@pytest.mark.slow  # a fresh Python process with TensorFlow imported anew (multi-process)
def test_import_alone_registers_every_class_for_safe_loading(tmp_path):
    import subprocess
    import sys

    import pandas as pd

    f = pd.DataFrame({"text": ["good", "bad", "ok", "no"], "task": ["a", "b", "a", "b"], "label": [1, 0, 0, 1]})
    m = tf_aspmtl.AdversarialSharedPrivateMTL(tf_aspmtl.MultiTaskPreprocessor.from_frame(f, max_length=4),
                                              hidden_dim=2, embedding_dim=2, word_vectors="random")
    m.compile()
    m.save(tmp_path / "m.keras")  # here; loaded in a fresh process that imports nothing but tf_aspmtl and keras
    load = "import keras, tf_aspmtl; m = keras.models.load_model(%r, safe_mode=True); print(type(m).__name__)" % str(
        tmp_path / "m.keras")
    out = subprocess.run([sys.executable, "-c", load], check=True, capture_output=True, text=True)
    assert out.stdout.strip().endswith("AdversarialSharedPrivateMTL")


def test_ngram_model_from_dataframe_to_served_model(frames, tmp_path):
    # The best configuration's model in the same few lines as the LSTMs' (README, "The best configuration").
    train, dev = frames
    model = tf_aspmtl.SharedPrivateNgramClassifier.from_frame(train, max_features=5000)
    assert model.task_names == ["books", "dvd"] and model.class_names == [["negative", "positive"]] * 2
    model.compile()
    assert isinstance(model.optimizer, tf_aspmtl.LazyAdam)
    history = model.fit({"text": train.text, "task": train.task}, train.label,
                        validation_data=({"text": dev.text, "task": dev.task}, dev.label), batch_size=16, epochs=3,
                        verbose=0)
    assert history.history["mean_task_accuracy"][-1] > history.history["mean_task_accuracy"][0]
    assert "val_acc_books" in history.history
    scores = model.evaluate({"text": dev.text, "task": dev.task}, dev.label, return_dict=True, verbose=0)
    assert 0.5 < scores["mean_task_accuracy"] <= 1.0
    texts = ["A gripping story, beautifully written.", "The disc would not play."]
    probs = model.predict({"text": texts, "task": ["books", "dvd"]}, verbose=0)
    model.save(tmp_path / "ngram.keras")
    loaded = keras.models.load_model(tmp_path / "ngram.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict({"text": texts, "task": ["books", "dvd"]}, verbose=0), probs, atol=1e-6)
    exported = loaded.export(str(tmp_path / "serving"), verbose=False)
    assert sorted(e.name for e in exported) == ["books", "dvd"]
    served = keras.layers.TFSMLayer(str(tmp_path / "serving" / "dvd" / "1"), call_endpoint="serving_default")
    out = served(tf_constant(texts[1:]))
    np.testing.assert_allclose(np.asarray(out["probabilities"]), probs[1:], atol=1e-5)
    with pytest.raises(ValueError, match="no column 'label'"):
        tf_aspmtl.SharedPrivateNgramClassifier.from_frame(train.drop(columns="label"))
