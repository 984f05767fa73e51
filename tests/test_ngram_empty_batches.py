"""N-gram features of a batch of no rows: [0, vocabulary_size], as a multi-task serving graph asks of every task
a request has no row of."""

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tf_aspmtl
from tf_aspmtl.preprocessing.integer_ngram_tables import IntegerNgramTables
from tf_aspmtl.preprocessing.ngram_features import NgramFeatures
from tf_aspmtl.serving import multitask_serving_fn

TEXTS = ["a good book", "a bad book", "not good at all", "bad bad bad", "good good"]
NO_ROWS = tf.TensorSpec([None], tf.string)


def test_the_tables_count_no_rows_and_the_same_rows_as_before():
    tables = IntegerNgramTables.from_vocabulary(["[UNK]", "good", "bad", "a good", "good book"], 2)
    empty = tables.count(tf.ragged.constant([], tf.string, ragged_rank=1))
    assert empty.dense_shape.numpy().tolist() == [0, 5] and empty.indices.shape[0] == 0
    counts = tables.count(tf.strings.split(tf.constant(["a good book", "", "bad good"])))
    assert counts.dense_shape.numpy().tolist() == [3, 5]
    assert counts.indices.numpy().tolist() == [[0, 0], [0, 1], [0, 3], [0, 4], [2, 0], [2, 1], [2, 2]]


@pytest.mark.parametrize("settings", [{"ngrams": 4, "weighting": "nb", "term_frequency": "binary"},
                                      {"ngrams": 3, "min_ngram": 2, "analyzer": "char_wb"}])
def test_features_of_no_rows_eagerly_and_traced(settings):
    features = NgramFeatures(max_features=50, **settings)
    features.adapt(TEXTS, labels=[1, 0, 0, 0, 1] if settings.get("weighting") == "nb" else None)
    traced = tf.function(features.call, input_signature=[NO_ROWS])
    for call in (features, traced):
        x = call(tf.constant([], tf.string))
        assert x.dense_shape.numpy().tolist() == [0, features.vocabulary_size] and x.values.shape[0] == 0
    both = features(tf.constant(["a good book", ""]))
    np.testing.assert_array_equal(traced(tf.constant(["a good book"])).values.numpy(),
                                  both.values.numpy())  # the row "" adds no entry


def test_features_of_no_rows_counted_as_strings(monkeypatch):
    monkeypatch.setattr(IntegerNgramTables, "from_vocabulary", lambda *a: None)
    features = NgramFeatures(max_features=50, ngrams=2)
    features.adapt(TEXTS)
    x = features(tf.constant([], tf.string))
    assert x.dense_shape.numpy().tolist() == [0, features.vocabulary_size]


def test_a_multitask_request_without_rows_of_some_task_is_served():
    rows = pd.DataFrame({"text": ["a good book", "a dull book", "great film", "bad film"],
                         "task": ["books", "books", "dvd", "dvd"], "label": ["pos", "neg", "pos", "neg"]})
    model = tf_aspmtl.SharedPrivateNgramClassifier.from_frame(rows, max_features=30)
    serve = multitask_serving_fn(model)
    traced = tf.function(serve, input_signature=[NO_ROWS, NO_ROWS])
    expected = model.predict({"text": ["a good book"], "task": ["books"]}, verbose=0)
    for fn in (serve, traced):
        out = fn(tf.constant(["a good book"]), tf.constant(["books"]))
        np.testing.assert_allclose(out["probabilities"].numpy(), expected, rtol=1e-6)
