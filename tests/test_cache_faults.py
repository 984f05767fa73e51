"""The caches shared by runs (word2vec vectors, language-model pretrainings) on a full disk or damaged: one line naming
the file, a cache complete or absent (never half written and trusted later), the temporary files of dead writers
removed, and the rerun once space is freed gives what an uninterrupted one gives.

The full disk is a size-limited tmpfs where the tests may mount one (root), else an ENOSPC injected into the write."""

import errno
import fcntl
import importlib
import os

import numpy as np
import pytest

from tests.full_disk import fill, small_disk
from tf_aspmtl.io_utils import DiskWriteError, disk_write_error
from tf_aspmtl.preprocessing import TextVectorizer, train_word2vec
from tf_aspmtl.training import load_pretrained_language_model, pretrain_language_model_cached

w2v = importlib.import_module("tf_aspmtl.preprocessing.word2vec")
pretraining = importlib.import_module("tf_aspmtl.training.pretrain_language_model")

WORDS = [f"w{i}" for i in range(23)]
TINY_W2V = dict(dim=8, epochs=2, min_count=1)
TINY_LM = dict(units=4, embedding="random", batch_size=16, embedding_dim=4, num_sampled=8, holdout_fraction=0.1,
               verbose=0)


@pytest.fixture(scope="module")
def corpus():
    """Texts of a tiny language (each next word fixed by the last), and a vectorizer adapted to them."""
    rng = np.random.default_rng(0)
    texts = []
    for _ in range(96):
        i, words = int(rng.integers(len(WORDS))), []
        for _ in range(6):
            words.append(WORDS[i])
            i = (5 * i + 2) % len(WORDS)
        texts.append(" ".join(words))
    vectorizer = TextVectorizer(max_length=8, name="text_vectorizer")
    vectorizer.adapt(texts)
    return texts, vectorizer


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _one_line_naming(error, name):
    message = str(error)
    assert "\n" not in message and name in message and f"errno {errno.ENOSPC}" in message
    assert "run the same command again" in message


def test_word2vec_vectors_on_a_full_disk_leave_no_cache_and_are_cached_once_space_is_freed(corpus, tmp_path,
                                                                                            monkeypatch):
    texts, _ = corpus
    cache = tmp_path / "disk"
    with small_disk(cache, 256) as mounted:
        filler = fill(cache) if mounted else monkeypatch.setattr(np, "savez", _no_space)
        with pytest.raises(DiskWriteError) as failed:
            train_word2vec(texts, cache_dir=cache, **TINY_W2V)
        _one_line_naming(failed.value, str(cache / "word2vec-8d-"))
        assert [p.name for p in cache.iterdir() if not p.name.startswith("filler-")] == []  # no cache, no part file
        filler.unlink() if mounted else monkeypatch.undo()
        words, vectors = train_word2vec(texts, cache_dir=cache, **TINY_W2V)
        (cached,) = cache.glob("word2vec-8d-*.npz")
    fresh_words, fresh = train_word2vec(texts, **TINY_W2V)  # no cache at all
    assert words == fresh_words and np.array_equal(vectors, fresh)


def test_a_flipped_bit_in_a_word2vec_cache_is_caught_and_the_vectors_trained_again(corpus, tmp_path, caplog):
    texts, _ = corpus
    words, vectors = train_word2vec(texts, cache_dir=tmp_path, **TINY_W2V)
    (path,) = tmp_path.glob("word2vec-*.npz")
    data = bytearray(path.read_bytes())
    with np.load(path) as whole:
        start = bytes(data).index(whole["vectors"].tobytes()[:16])  # the vectors' own bytes in the file
    data[start + 5] ^= 0x04
    path.write_bytes(bytes(data))
    with caplog.at_level("WARNING", logger=w2v.__name__):
        again_words, again = train_word2vec(texts, cache_dir=tmp_path, **TINY_W2V)
    assert "unreadable" in caplog.text and "CRC" in caplog.text  # the zip's checksum caught it; never trusted
    assert again_words == words and np.array_equal(again, vectors)


def test_the_partial_cache_files_of_dead_writers_are_removed_and_a_live_ones_kept(corpus, tmp_path):
    texts, _ = corpus
    dead = tmp_path / ".word2vec-8d-0123.npz.ab12cd.part"
    live = tmp_path / ".word2vec-8d-4567.npz.ef34ab.part"
    dead.write_bytes(b"half a zip")
    live.write_bytes(b"being written")
    with open(live, "rb") as writer:  # another process mid-write holds its file's lock
        fcntl.flock(writer, fcntl.LOCK_EX)
        train_word2vec(texts, cache_dir=tmp_path, **TINY_W2V)
        assert not dead.exists() and live.exists()


def _weights_on_a_full_disk(model, path):
    raise disk_write_error(path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))


def _full_at_epoch_2(monkeypatch, folder, mounted):
    """The disk of ``folder`` fills once the pretraining's epoch 1 is checkpointed (or, without a tmpfs, the
    weights writes get ENOSPC from then on); returns the filler files."""
    real_end = pretraining._EpochCheckpoint.on_epoch_end
    fillers = []

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1 and not fillers:
            if mounted:
                fillers.append(fill(folder))
            else:
                monkeypatch.setattr(pretraining, "save_weights_atomic", _weights_on_a_full_disk)
                fillers.append(None)
        return real_end(self, epoch, logs)

    monkeypatch.setattr(pretraining._EpochCheckpoint, "on_epoch_end", on_epoch_end)
    return fillers


# a full disk at a training checkpoint is the default suite's (tests/test_disk_full.py); this is the pretraining's
@pytest.mark.slow
def test_a_pretraining_on_a_full_disk_fails_in_one_line_and_resumes_to_the_same_model(corpus, tmp_path, monkeypatch,
                                                                                        caplog):
    texts, vectorizer = corpus
    cache = tmp_path / "disk"
    with small_disk(cache, 1024) as mounted:
        fillers = _full_at_epoch_2(monkeypatch, cache, mounted)
        with pytest.raises(DiskWriteError) as failed:
            pretrain_language_model_cached(texts, vectorizer, None, cache_root=cache, epochs=2, **TINY_LM)
        (folder,) = [p for p in cache.iterdir() if p.is_dir()]
        _one_line_naming(failed.value, str(folder / "epoch-2.weights.h5"))
        assert not (folder / pretraining.LANGUAGE_MODEL_FILE).exists()  # absent, not half written
        assert [p.name for p in folder.glob(".*") if p.name != ".lock"] == []
        state = (folder / "state.json").read_text()
        assert '"epochs_done": 1' in state and "epoch-1.weights.h5" in state
        if fillers[0] is not None:
            fillers[0].unlink()
        monkeypatch.undo()
        with caplog.at_level("INFO", logger="tf_aspmtl.training"):
            path = pretrain_language_model_cached(texts, vectorizer, None, cache_root=cache, epochs=2, **TINY_LM)
        resumed = load_pretrained_language_model(path)
    assert f"resuming the language model of {folder} after epoch 1" in caplog.text
    straight = load_pretrained_language_model(pretrain_language_model_cached(
        texts, vectorizer, None, cache_root=tmp_path / "straight", epochs=2, **TINY_LM))
    for got, want in zip(resumed["lstm"]["forward"] + [resumed["embedding"]],
                         straight["lstm"]["forward"] + [straight["embedding"]]):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


# a damaged training checkpoint is the default suite's (tests/test_damaged_files.py); this is the pretraining's
@pytest.mark.slow
def test_a_damaged_pretraining_is_said_and_never_trusted(corpus, tmp_path, caplog):
    texts, vectorizer = corpus
    path = pretrain_language_model_cached(texts, vectorizer, None, cache_root=tmp_path, epochs=1, **TINY_LM)
    whole = load_pretrained_language_model(path)
    backup = path.parent / "epoch-1.weights.h5"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the result cut short: written again from the last backup
    with caplog.at_level("WARNING", logger="tf_aspmtl.training"):
        again = load_pretrained_language_model(
            pretrain_language_model_cached(texts, vectorizer, None, cache_root=tmp_path, epochs=1, **TINY_LM))
    assert f"{path} is damaged" in caplog.text and "writing it again from the backup of epoch 1" in caplog.text
    np.testing.assert_array_equal(again["embedding"], whole["embedding"])
    caplog.clear()
    flipped = bytearray(backup.read_bytes())
    flipped[len(flipped) // 2] ^= 0x01
    backup.write_bytes(bytes(flipped))
    path.unlink()
    with caplog.at_level("WARNING", logger="tf_aspmtl.training"):
        retrained = load_pretrained_language_model(
            pretrain_language_model_cached(texts, vectorizer, None, cache_root=tmp_path, epochs=1, **TINY_LM))
    assert f"{backup} (the pretraining's backup of epoch 1) is damaged: its SHA-256" in caplog.text
    assert "pretraining again from the start" in caplog.text
    np.testing.assert_allclose(retrained["embedding"], whole["embedding"], rtol=1e-5, atol=1e-6)
