"""Tests for in-domain word2vec vectors: training, cache, embedding matrices, config and the main job."""

import logging
import os
import random
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from tf_aspmtl.preprocessing import EMBEDDING_KINDS
from tf_aspmtl.preprocessing import TextVectorizer
from tf_aspmtl.preprocessing import embedding_matrix
from tf_aspmtl.preprocessing import glove_embedding_matrix
from tf_aspmtl.preprocessing import tokenize_corpus
from tf_aspmtl.preprocessing import train_word2vec
from tf_aspmtl.preprocessing import word2vec_embedding_matrix
from tf_aspmtl.training import TrainConfig
from tf_aspmtl.training.train_config import EMBEDDINGS

FRUITS = ["apple", "banana", "cherry", "grape", "mango", "peach"]
PARTS = ["engine", "wheel", "brake", "piston", "clutch", "gearbox"]
FILLER = ["the", "a", "and", "with", "of", "some"]
W2V_EXTRA = ["qwzxv banana"] * 2
TINY = dict(dim=16, epochs=5, min_count=2)  # Small and fast; workers=1 and sg=1 by default.


def topic_corpus(n=400, seed=0, capitalise=False):
    """Short sentences about fruit or car parts (alternately), with filler words shared by both."""
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        group = FRUITS if i % 2 == 0 else PARTS
        words = [rng.choice(group) if rng.random() < 0.7 else rng.choice(FILLER) for _ in range(8)]
        if capitalise:  # Raw-review spelling: capitals and punctuation glued to words.
            words[0] = words[0].capitalize()
            words[3] = words[3].upper() + ","
            words[-1] += "!"  # Not ".": "a." stays whole, like an initial.
        texts.append(" ".join(words))
    return texts


@pytest.fixture(scope="module")
def corpus():
    return topic_corpus()


@pytest.fixture(scope="module")
def vectorizer(corpus):
    layer = TextVectorizer(max_length=16, max_tokens=100)
    # "zzqxw" (in no source), "lonely" (GloVe only) and "qwzxv" (word2vec of `W2V_EXTRA` only) are not in `corpus`.
    layer.adapt(corpus + ["a zzqxw engine", "a lonely apple", "qwzxv"])
    return layer


def test_same_seed_same_vectors_other_seed_differs(corpus):
    words, vectors = train_word2vec(corpus, seed=0, **TINY)
    words_again, vectors_again = train_word2vec(corpus, seed=0, **TINY)
    words_other, vectors_other = train_word2vec(corpus, seed=1, **TINY)
    assert vectors.shape == (len(words), 16) and vectors.dtype == np.float32
    assert words == words_again == words_other  # The vocabulary does not depend on the seed...
    np.testing.assert_array_equal(vectors, vectors_again)
    assert not np.allclose(vectors, vectors_other)  # ...the vectors do.


_HASHSEED_SCRIPT = textwrap.dedent(
    """
    import hashlib, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    from tf_aspmtl.preprocessing import train_word2vec
    texts = sys.stdin.read().split("\\n")
    words, vectors = train_word2vec(texts, dim=16, epochs=3, seed=5)
    print(hashlib.sha256(repr(words).encode() + vectors.tobytes()).hexdigest())
    """
)


@pytest.mark.slow  # two fresh interpreters; a guard against a future gensim hashing words by Python's hash
def test_vectors_do_not_depend_on_pythonhashseed(corpus):
    digests = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", _HASHSEED_SCRIPT], input="\n".join(corpus[:200]), env=env,
                              capture_output=True, text=True, timeout=300, check=True,
                              cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        digests.append(done.stdout.strip().splitlines()[-1])
    assert len(digests[0]) == 64 and digests[0] == digests[1]


def test_words_are_the_vectorizers_tokens():
    texts = topic_corpus(200, capitalise=True) + ["Don't buy it. It's BAD!"] * 3
    vectorizer = TextVectorizer(max_length=16)
    vectorizer.adapt(texts)
    vocabulary = vectorizer.get_vocabulary()
    words, _ = train_word2vec(texts, **TINY)
    assert set(words) <= set(vocabulary)
    for token in ("apple", "engine", "do", "n't", "'s", "bad", "!", ".", ","):
        assert token in words
    assert not [w for w in words if w != w.lower() or (len(w) > 1 and w[-1] in ".,!")]
    for text in texts[:5] + texts[-1:]:
        by_layer = [t.decode() for t in vectorizer.tokenize(tf.constant([text])).to_list()[0]]
        assert tokenize_corpus([text]) == [by_layer]
    # Every vocabulary token seen min_count (2) times gets its word2vec vector.
    matrix, stats = word2vec_embedding_matrix(vectorizer, texts, dim=16, epochs=5)
    assert stats["covered"] == len(vocabulary) - 2 and stats["coverage"] == 1.0


def test_cooccurring_words_are_closer_than_unrelated_ones(corpus):
    words, vectors = train_word2vec(corpus, dim=16, epochs=20, seed=0)
    index = {w: i for i, w in enumerate(words)}
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def cosine(a, b):
        return float(unit[index[a]] @ unit[index[b]])

    for group, other in ((FRUITS, PARTS), (PARTS, FRUITS)):
        for word in group:
            same = np.mean([cosine(word, w) for w in group if w != word])
            cross = np.mean([cosine(word, w) for w in other])
            assert same > cross + 0.2, (word, same, cross)
            nearest = max((w for w in FRUITS + PARTS if w != word), key=lambda w: cosine(word, w))
            assert nearest in group, (word, nearest)


def test_cache_hit_returns_the_same_arrays_without_training(corpus, tmp_path, monkeypatch, caplog):
    import gensim.models

    words, vectors = train_word2vec(corpus, cache_dir=tmp_path, **TINY)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 1 and files[0].startswith("word2vec-16d-") and files[0].endswith(".npz")

    class NoTraining:
        def __init__(self, *args, **kwargs):
            raise AssertionError("Word2Vec trained again")

    monkeypatch.setattr(gensim.models, "Word2Vec", NoTraining)
    with caplog.at_level(logging.INFO, logger="tf_aspmtl.preprocessing.word2vec"):
        cached_words, cached_vectors = train_word2vec(corpus, cache_dir=tmp_path, **TINY)
    assert "cache hit" in caplog.text
    assert cached_words == words
    np.testing.assert_array_equal(cached_vectors, vectors)
    assert cached_vectors.dtype == np.float32
    # Any parameter or text change is a miss, hence a training.
    for changed in ({"epochs": 6}, {"min_count": 1}, {"seed": 1}, {"window": 4}, {"sg": 0}, {"dim": 8}):
        with pytest.raises(AssertionError, match="trained again"):
            train_word2vec(corpus, cache_dir=tmp_path, **{**TINY, **changed})
    with pytest.raises(AssertionError, match="trained again"):
        train_word2vec(corpus[:-1] + [corpus[-1] + " apple"], cache_dir=tmp_path, **TINY)
    with pytest.raises(AssertionError, match="trained again"):  # Same words, other text boundaries.
        train_word2vec(corpus[2:] + [corpus[0] + corpus[1]], cache_dir=tmp_path, **TINY)


def test_interrupted_cache_write_leaves_no_file(corpus, tmp_path, monkeypatch):
    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", killed)
    with pytest.raises(KeyboardInterrupt):
        train_word2vec(corpus, cache_dir=tmp_path, **TINY)
    assert list(tmp_path.iterdir()) == []


def test_unreadable_cache_file_is_retrained(corpus, tmp_path):
    words, vectors = train_word2vec(corpus, cache_dir=tmp_path, **TINY)
    (path,) = tmp_path.iterdir()
    good = path.read_bytes()
    for damaged in (b"not a zip file", good[: len(good) // 2]):
        path.write_bytes(damaged)
        again_words, again = train_word2vec(corpus, cache_dir=tmp_path, **TINY)
        assert again_words == words
        np.testing.assert_array_equal(again, vectors)
        with np.load(path) as rewritten:  # Rewritten (times in its info differ).
            np.testing.assert_array_equal(rewritten["vectors"], vectors)


def test_word2vec_matrix_rows(corpus, vectorizer):
    words, vectors = train_word2vec(corpus, seed=3, **TINY)
    matrix, stats = word2vec_embedding_matrix(vectorizer, corpus, seed=3, **TINY)
    vocabulary = vectorizer.get_vocabulary()
    assert matrix.shape == (len(vocabulary), 16) and matrix.dtype == np.float32
    assert not matrix[0].any()
    np.testing.assert_array_equal(matrix[vocabulary.index("apple")], vectors[words.index("apple")])
    for token in ("[UNK]", "zzqxw", "lonely", "qwzxv"):  # Random rows.
        row = matrix[vocabulary.index(token)]
        assert row.any() and np.all(np.abs(row) <= 0.1)
    assert stats["covered"] == len(vocabulary) - 5  # Not "", "[UNK]", "zzqxw", "lonely", "qwzxv".
    assert stats["words"] == len(words) and stats["corpus_texts"] == len(corpus) and stats["cache"] == "off"
    assert stats["corpus_tokens"] == 8 * len(corpus) and stats["dim"] == 16 and stats["seed"] == 3


def test_glove_plus_word2vec_blocks(corpus, vectorizer):
    texts = corpus + W2V_EXTRA
    matrix, stats = embedding_matrix("glove+word2vec", vectorizer, texts, dim=66, seed=2, epochs=5)
    glove, glove_stats = glove_embedding_matrix(vectorizer, seed=2)
    w2v, w2v_stats = word2vec_embedding_matrix(vectorizer, texts, dim=16, seed=2, epochs=5)
    assert matrix.shape == (vectorizer.vocabulary_size, 66) and matrix.dtype == np.float32
    np.testing.assert_array_equal(matrix[:, :50], glove)
    words = set(train_word2vec(texts, dim=16, seed=2, epochs=5)[0])
    has = np.array([t in words for t in vectorizer.get_vocabulary()])
    np.testing.assert_array_equal(matrix[has, 50:], w2v[has])  # word2vec's own vectors, as alone
    assert not matrix[0].any()
    assert stats["kind"] == "glove+word2vec" and stats["dim"] == 66
    untimed = lambda d: {k: v for k, v in d.items() if not k.endswith("_time_s")}  # noqa: E731
    assert stats["glove"] == glove_stats and untimed(stats["word2vec"]) == untimed(w2v_stats)
    # GloVe lacks "zzqxw" and "qwzxv", word2vec "zzqxw" and "lonely": a token is covered if either has it.
    size = vectorizer.vocabulary_size
    assert (glove_stats["covered"], w2v_stats["covered"], stats["covered"]) == (size - 4, size - 4, size - 3)


def test_the_word2vec_blocks_random_rows_beside_glove_are_a_stream_of_their_own(corpus):
    # Both blocks drew from `seed`: the word2vec block's random rows re-read the GloVe block's uniform stream in
    # wider rows (its row i was GloVe's rows 2i and 2i + 1), so tokens neither source has got repeated halves.
    unknown = TextVectorizer()
    unknown.adapt([" ".join(f"zzq{chr(97 + i)}x" for i in range(12))])  # in neither GloVe nor the corpus
    matrix, stats = embedding_matrix("glove+word2vec", unknown, corpus + W2V_EXTRA, dim=150, seed=2, epochs=5)
    assert stats["covered"] == 0
    glove_values = set(matrix[1:, :50].ravel().tolist())
    assert not glove_values.intersection(matrix[1:, 50:].ravel().tolist())


def test_embedding_matrix_single_kinds(corpus, vectorizer):
    glove, stats = embedding_matrix("glove", vectorizer, seed=1)
    np.testing.assert_array_equal(glove, glove_embedding_matrix(vectorizer, seed=1)[0])
    assert stats["kind"] == "glove" and stats["dim"] == 50 and "word2vec" not in stats
    w2v, stats = embedding_matrix("word2vec", vectorizer, corpus, dim=16, seed=1, epochs=5)
    np.testing.assert_array_equal(w2v, word2vec_embedding_matrix(vectorizer, corpus, 16, seed=1, epochs=5)[0])
    assert stats["kind"] == "word2vec" and stats["covered"] == stats["word2vec"]["covered"] and "glove" not in stats


def test_errors_are_clear(corpus, vectorizer):
    assert EMBEDDING_KINDS == ("glove", "word2vec", "glove+word2vec")
    with pytest.raises(ValueError, match=r"Unknown embedding kind 'fasttext'; expected one of"):
        embedding_matrix("fasttext", vectorizer, corpus)
    for kind in ("word2vec", "glove+word2vec"):
        with pytest.raises(ValueError, match=re.escape(f"kind='{kind}' trains word2vec: pass its corpus as `texts`")):
            embedding_matrix(kind, vectorizer)
    with pytest.raises(ValueError, match="kind='glove' has 50-d vectors; got dim=100"):
        embedding_matrix("glove", vectorizer, dim=100)
    with pytest.raises(ValueError, match="needs dim > 50.*got dim=50"):
        embedding_matrix("glove+word2vec", vectorizer, corpus, dim=50)
    with pytest.raises(ValueError, match=r"Unknown word2vec argument\(s\) \['size'\]"):
        embedding_matrix("word2vec", vectorizer, corpus, size=8)
    with pytest.raises(ValueError, match="`texts` must be a sequence of strings"):
        train_word2vec("one long string")
    with pytest.raises(ValueError, match=r"`texts\[1\]` must be a string; got 3"):
        train_word2vec(["a", 3])
    with pytest.raises(ValueError, match="`texts` is empty"):
        train_word2vec([])
    with pytest.raises(ValueError, match="`min_count` must be >= 1; got min_count=0"):
        train_word2vec(corpus, min_count=0)
    with pytest.raises(ValueError, match="`sg` must be 1 \\(skip-gram\\) or 0 \\(CBOW\\); got sg=2"):
        train_word2vec(corpus, sg=2)
    with pytest.raises(ValueError, match="No token occurs min_count=1000 times"):
        train_word2vec(corpus, min_count=1000)


def test_train_config_embeddings():
    assert set(EMBEDDINGS) == {"random", *EMBEDDING_KINDS}
    assert TrainConfig(embedding="word2vec", embedding_dim=100).embedding_dim == 100
    assert TrainConfig(embedding="glove+word2vec", embedding_dim=150).embedding == "glove+word2vec"
    with pytest.raises(ValueError, match=r"TrainConfig.embedding must be one of .*'word2vec'.*got 'fasttext'"):
        TrainConfig(embedding="fasttext")
    with pytest.raises(ValueError, match="TrainConfig.embedding_dim must be > 50 for embedding='glove\\+word2vec'"):
        TrainConfig(embedding="glove+word2vec", embedding_dim=50)
    with pytest.raises(ValueError, match="embedding='glove' ships 50-d vectors; got embedding_dim=100"):
        TrainConfig(embedding="glove", embedding_dim=100)
    with pytest.raises(ValueError, match="TrainConfig.embedding_dim must be >= 1"):
        TrainConfig(embedding="word2vec", embedding_dim=0)


def test_the_config_takes_every_kind_of_word_vectors_and_checks_their_size():
    config = TrainConfig.from_dict({"embedding": "glove+word2vec", "embedding_dim": 150})
    assert (config.embedding, config.embedding_dim) == ("glove+word2vec", 150)
    for kind in EMBEDDINGS:
        assert TrainConfig(embedding=kind, embedding_dim=150 if kind == "glove+word2vec" else 50).embedding == kind
    with pytest.raises(ValueError, match="TrainConfig.embedding must be one of"):
        TrainConfig(embedding="fasttext")
    with pytest.raises(ValueError, match="embedding_dim must be > 50"):
        TrainConfig(embedding="glove+word2vec")


@pytest.mark.slow  # 40 s: a main job with word2vec vectors end to end; run with -m slow
def test_main_job_with_word2vec_uses_train_and_unlabelled_text_only(tmp_path, monkeypatch):
    from tf_aspmtl.data import load_fdu_mtl
    from tf_aspmtl.training import fdu_mtl_run, run

    calls = []
    real = fdu_mtl_run.embedding_matrix

    def spy(kind, vectorizer, texts=None, **kwargs):
        calls.append((kind, list(texts), kwargs))
        return real(kind, vectorizer, texts, **kwargs)

    monkeypatch.setattr(fdu_mtl_run, "embedding_matrix", spy)
    out = tmp_path / "run"
    config = TrainConfig(tasks=("books", "MR"), epochs=1, hidden_dim=4, max_length=8, encoder="cnn",
                         embedding="word2vec", embedding_dim=16, paper_scale=False)
    results = run(config, out, dev_only=True, verbose=0, cache_dir=tmp_path)
    data = load_fdu_mtl(tasks=["books", "MR"], splits=("train", "dev", "unlabeled"))
    expected = data[data["split"].isin(("train", "unlabeled"))]["text"].tolist()
    (kind, texts, kwargs), = calls
    assert kind == "word2vec" and kwargs["dim"] == 16 and kwargs["seed"] == 0
    assert texts == expected  # train rows (dev excluded) then unlabelled rows, task by task
    dev_only_texts = set(data[data["split"] == "dev"]["text"]) - set(expected)
    assert dev_only_texts and not dev_only_texts & set(texts)
    info = results["word_vectors"]
    assert info["kind"] == "word2vec" and info["dim"] == 16 and results["glove_coverage"] is None
    assert info["corpus_rows"] == {"train": int((data["split"] == "train").sum()),
                                   "unlabeled": int((data["split"] == "unlabeled").sum())}
    assert info["word2vec"]["corpus_texts"] == len(expected) and info["word2vec"]["cache"] == "written"
    assert 0.5 < info["coverage"] <= 1.0
    assert len(list((tmp_path / "word_vectors").glob("word2vec-16d-*.npz"))) == 1
