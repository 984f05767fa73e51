"""Every model kind is a Task and keeps the same contract: raw rows in, config round trip, .keras reload, served
probabilities equal to predict's."""

import json

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tf_aspmtl
from tf_aspmtl.serving import task_serving_fn

ROWS = pd.DataFrame({
    "text": ["a good book", "a dull book , too long", "great fun", "awful plot", "the disc skips", "a fine film",
             "bad sound", "well made"] * 3,
    "task": ["books", "books", "books", "books", "dvd", "dvd", "dvd", "dvd"] * 3,
    "label": ["pos", "neg", "pos", "neg", "neg", "pos", "neg", "pos"] * 3,
})
X = {"text": list(ROWS.text), "task": list(ROWS.task)}
PROBE = {"text": ["a good film", "zzz unseen", ""], "task": ["dvd", "books", "dvd"]}


def _lstm_family(cls, **kwargs):
    def build():
        pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(ROWS, max_length=8)
        return cls(pre, embedding_dim=4, hidden_dim=4, encoder="lstm", word_vectors="random", seed=0, **kwargs)
    return build


def _ngram():
    return tf_aspmtl.SharedPrivateNgramClassifier.from_frame(ROWS, max_features=40)


def _wide_deep():
    pre = tf_aspmtl.WideAndDeepPreprocessor.from_frame(ROWS, max_length=8, max_features=40)
    return tf_aspmtl.WideAndDeepMTL(pre, embedding_dim=4, hidden_dim=4, word_vectors="random", seed=0)


def _ensemble():
    return tf_aspmtl.MultiTaskEnsemble([_lstm_family(tf_aspmtl.SharedPrivateMTL)(), _ngram()], member_weights=[1, 2])


KINDS = {
    "fs-mtl": _lstm_family(tf_aspmtl.FullySharedMTL),
    "asp-mtl": _lstm_family(tf_aspmtl.AdversarialSharedPrivateMTL),
    "ngram": _ngram,
    "ensemble": _ensemble,
    "wide-deep": _wide_deep,
}


@pytest.fixture(scope="module", params=sorted(KINDS))
def trained(request):
    keras.utils.set_random_seed(0)
    model = KINDS[request.param]()
    if request.param != "ensemble":
        model.compile(learning_rate=0.05)
        model.fit(X, ROWS.label, batch_size=4, epochs=2, verbose=0)
    return request.param, model


def test_every_kind_is_a_task_with_the_preprocessors_tasks_and_classes(trained):
    _, model = trained
    assert isinstance(model, tf_aspmtl.Task)
    assert model.task_names == ["books", "dvd"] and model.class_names == [["neg", "pos"], ["neg", "pos"]]
    assert model.encode_labels(["dvd", "books"], ["pos", "neg"]).tolist() == [1, 0]
    probabilities = model.predict(PROBE, verbose=0)
    assert probabilities.shape == (3, 2) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_predict_is_traced_once_whatever_the_batch_sizes(trained):
    _, model = trained
    model.predict_function = None  # Keras makes a new one
    first = model.predict(X, batch_size=5, verbose=0)  # four batches of five and a last one of four
    np.testing.assert_allclose(model.predict(X, batch_size=24, verbose=0), first, rtol=1e-5, atol=1e-6)  # one batch
    model.predict(PROBE, verbose=0)
    assert model.predict_function.experimental_get_tracing_count() == 1


def test_a_dataframe_of_rows_is_read_as_its_text_and_task_columns(trained):
    _, model = trained
    frame = ROWS.iloc[::-1].reset_index(drop=True)  # reversed: rows are read in the frame's order
    got = model.predict(frame, verbose=0)
    expected = model.predict({"text": list(frame.text), "task": list(frame.task)}, verbose=0)
    np.testing.assert_array_equal(got, expected)
    assert model.evaluate(frame, frame.label, verbose=0, return_dict=True) == model.evaluate(
        {"text": list(frame.text), "task": list(frame.task)}, list(frame.label), verbose=0, return_dict=True)
    with pytest.raises(ValueError, match=r"needs the columns 'text' and 'task'; it has no 'task'.*'label'"):
        model.predict(frame.drop(columns="task"), verbose=0)


def test_raw_row_predict_equals_the_call_on_the_same_rows(trained):
    _, model = trained
    got = model.predict(PROBE, batch_size=2, verbose=0)
    ids = tf.constant(model.task_ids(PROBE["task"]))
    direct = model({"text": tf.constant(PROBE["text"]), "task_id": ids}, training=False)["probabilities"]
    np.testing.assert_allclose(got, direct.numpy(), rtol=1e-5, atol=1e-6)


def test_keras_file_round_trip_keeps_the_config_and_the_outputs(trained, tmp_path):
    kind, model = trained
    path = tmp_path / f"{kind}.keras"
    model.save(path)
    loaded = tf_aspmtl.Task.load(path)
    as_json = lambda m: json.loads(json.dumps(m.get_config()))  # noqa: E731  (tuples and lists alike)
    assert type(loaded) is type(model) and as_json(loaded) == as_json(model)
    np.testing.assert_allclose(loaded.predict(PROBE, verbose=0), model.predict(PROBE, verbose=0), atol=1e-6)


def test_the_served_function_of_a_task_gives_predicts_probabilities(trained):
    _, model = trained
    serve = tf.function(task_serving_fn(model, "dvd"), input_signature=[tf.TensorSpec([None], tf.string)])
    texts = ["a good film", "zzz unseen", ""]
    out = serve(tf.constant(texts))
    expected = model.predict({"text": texts, "task": ["dvd"] * 3}, verbose=0)
    np.testing.assert_allclose(out["probabilities"].numpy(), expected, atol=1e-5)
    assert [label.decode() for label in out["label"].numpy()] == [["neg", "pos"][i] for i in expected.argmax(1)]


def test_evaluate_reports_the_loss_keras_callbacks_monitor_by_default(trained):
    # The n-gram model reported its task loss only: EarlyStopping("val_loss"), ModelCheckpoint and
    # ReduceLROnPlateau (whose default monitor is val_loss) warned and never acted on it.
    kind, model = trained
    scores = model.evaluate(X, ROWS.label, verbose=0, return_dict=True)
    if kind == "ensemble":  # never trained by fit: no objective, no loss (its evaluate's docstring)
        assert "loss" not in scores
    else:
        assert "loss" in scores and np.isfinite(scores["loss"]), (kind, sorted(scores))


def test_validation_split_on_raw_rows_says_what_to_pass_instead():
    # Keras refused it naming a "_PrefetchDataset" the user never passed.
    model = _ngram()
    model.compile()
    with pytest.raises(ValueError, match=r"validation_split cuts arrays; with raw rows pass validation_data"):
        model.fit(X, ROWS.label, validation_split=0.2, verbose=0)
