"""Length-sorted chunks in the serving graph give each row the probabilities of the unchunked batch."""

import numpy as np
import pytest
import tensorflow as tf

from tf_aspmtl.models import AdversarialSharedPrivateMTL
from tf_aspmtl.preprocessing import TextVectorizer
from tf_aspmtl.serving import task_probabilities, task_serving_fn

TEXTS = [
    "a long review " * 9 + "that goes on",
    "",
    "short",
    "medium length review of a good book",
    "   ",
    "another fairly long review " * 4,
    "ok",
]


@pytest.fixture(scope="module")
def model():
    vectorizer = TextVectorizer(max_length=40, max_tokens=100)
    vectorizer.adapt(TEXTS)
    return AdversarialSharedPrivateMTL(["a", "b"], vocabulary_size=vectorizer.vocabulary_size, embedding_dim=6,
                                       hidden_dim=5, text_vectorizer=vectorizer)


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 16])
def test_chunks_equal_whole_batch(model, chunk_rows):
    texts = tf.constant(TEXTS)
    whole = task_probabilities(model, texts, "b", chunk_rows=None)
    chunked = tf.function(lambda t: task_probabilities(model, t, "b", chunk_rows=chunk_rows))(texts)
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-6)


def test_empty_batch_and_bad_chunk(model):
    serve = tf.function(task_serving_fn(model, "a"), input_signature=[tf.TensorSpec([None], tf.string)])
    out = serve(tf.constant([], tf.string))
    assert out["probabilities"].shape == (0, 2)
    with pytest.raises(ValueError, match="chunk_rows"):
        task_probabilities(model, tf.constant(["x"]), "a", chunk_rows=0)
