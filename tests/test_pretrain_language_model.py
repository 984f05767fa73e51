"""Language-model pretraining of the encoders (Dai & Le 2015 / ULMFiT), on a tiny synthetic language.

The language: 47 words w0..w46; each text starts at a random word and every
next word is ``NEXT[i] = (3 i + 1) mod 47``, so the next word is fully
determined by the current one (a forward model can learn it) and so is the
previous one (3 is invertible mod 47: a backward model can learn the inverse
map, which differs from the forward one).
"""

import importlib
import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tf_aspmtl.models import EncoderLanguageModel, FullySharedMTL, MultiTaskClassifier, SharedPrivateMTL
from tf_aspmtl.models.encoder_language_model import reading_order
from tf_aspmtl.preprocessing import MultiTaskPreprocessor, TextVectorizer
from tf_aspmtl.training import (
    TrainConfig,
    apply_pretrained_encoders,
    directions_for_encoder,
    load_pretrained_language_model,
    pretrain_language_model,
    pretrain_language_model_cached,
)

# The module, not the function of the same name that tf_aspmtl.training exports: the tests patch its globals.
cached_module = importlib.import_module("tf_aspmtl.training.pretrain_language_model_cached")

N = 47
NEXT = [(3 * i + 1) % N for i in range(N)]
UNITS = DIM = 8
FAST = dict(batch_size=32, embedding_dim=DIM, num_sampled=16, holdout_fraction=0.1, verbose=0)


def _texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    texts = []
    for _ in range(n):
        i, words = int(rng.integers(N)), []
        for _ in range(int(rng.integers(4, 11))):
            words.append(f"w{i}")
            i = NEXT[i]
        texts.append(" ".join(words))
    return texts


@pytest.fixture(scope="module")
def corpus():
    texts = _texts(400, seed=0)
    vectorizer = TextVectorizer(max_length=16, name="text_vectorizer")
    vectorizer.adapt(texts)
    return texts, vectorizer


@pytest.fixture(scope="module")
def bidirectional(corpus, tmp_path_factory):
    """A forward + backward language model trained by pretrain_language_model."""
    texts, vectorizer = corpus
    keras.utils.set_random_seed(0)
    path = pretrain_language_model(texts, vectorizer, None, UNITS, run_dir=tmp_path_factory.mktemp("bi"),
                                   directions=("forward", "backward"), epochs=30, learning_rate=0.03, **FAST)
    return path, load_pretrained_language_model(path)


def _language_model(saved) -> EncoderLanguageModel:
    """An EncoderLanguageModel holding the weights of a saved file."""
    meta = saved["metadata"]
    lm = EncoderLanguageModel(meta["vocabulary_size"], meta["embedding_dim"], meta["units"],
                              direction=meta["directions"], num_sampled=16)
    lm.embedding.embeddings.assign(saved["embedding"])
    for d, weights in saved["lstm"].items():
        for variable, value in zip((lm.lstm(d).kernel, lm.lstm(d).recurrent_kernel, lm.lstm(d).bias), weights):
            variable.assign(value)
    lm.softmax_kernel.assign(saved["softmax"][0])
    lm.softmax_bias.assign(saved["softmax"][1])
    return lm


def test_held_out_loss_falls_far_below_a_uniform_guess(bidirectional):
    _, saved = bidirectional
    history = saved["metadata"]["history"]
    uniform = np.log(saved["metadata"]["vocabulary_size"])  # cross entropy of a uniform guess, ~3.9 nats
    first, last = history[0]["val_perplexity"], history[-1]["val_perplexity"]
    assert len(history) == 30 and saved["metadata"]["heldout_perplexity"][-1] == last
    assert np.log(last) < 0.35 * uniform, f"held-out perplexity {last:.2f} (uniform {np.exp(uniform):.0f})"
    assert last < first / 4
    for d in ("forward", "backward"):
        assert np.log(history[-1][f"val_{d}_perplexity"]) < 0.35 * uniform


def test_each_direction_learns_its_own_next_word(bidirectional, corpus):
    _, saved = bidirectional
    _, vectorizer = corpus
    lm = _language_model(saved)
    ids = vectorizer(np.array([f"w{i} w{NEXT[i]}" for i in range(N)])).numpy()
    word = np.full(lm.vocabulary_size, -1)
    word[ids[:, 0]] = np.arange(N)  # token id -> word number
    states = lm(ids)
    predicted = {d: word[np.argmax(states[d][:, 0].numpy() @ saved["softmax"][0].T + saved["softmax"][1], -1)]
                 for d in ("forward", "backward")}
    # After "w_i", forward predicts w_NEXT[i]; backward, after reading w_NEXT[i] first, predicts w_i.
    assert np.mean(predicted["forward"] == np.array(NEXT)) > 0.9
    assert np.mean(predicted["backward"] == np.arange(N)) > 0.9


def test_backward_reading_order_reverses_real_tokens_only():
    ids = np.array([[5, 6, 7, 0], [8, 9, 0, 0]])
    np.testing.assert_array_equal(reading_order(ids, "backward").numpy(), [[7, 6, 5, 0], [9, 8, 0, 0]])
    np.testing.assert_array_equal(reading_order(ids, "forward").numpy(), ids)


def test_language_model_config_round_trip():
    lm = EncoderLanguageModel(50, embedding_dim=4, units=3, direction=("backward", "forward"), num_sampled=8)
    clone = EncoderLanguageModel.from_config(json.loads(json.dumps(lm.get_config())))
    assert clone.directions == ("forward", "backward") and clone.units == 3 and clone.num_sampled == 8
    with pytest.raises(ValueError, match="direction must be"):
        EncoderLanguageModel(50, direction="sideways")


def _classifier(vocabulary, encoder="lstm", hidden_dim=UNITS, **kwargs) -> MultiTaskClassifier:
    vectorizer = TextVectorizer(max_length=16, vocabulary=vocabulary, name="text_vectorizer")
    family = SharedPrivateMTL if kwargs.pop("use_private", True) else FullySharedMTL
    return family(["a", "b"], text_vectorizer=vectorizer, embedding_dim=DIM, encoder=encoder,
                               hidden_dim=hidden_dim, word_vectors="random", **kwargs)


def _other_vocabulary(vocabulary):
    """The LM's words in reverse order, one dropped, one the LM never saw."""
    return list(reversed(vocabulary[3:])) + ["never_seen"]


def test_apply_copies_lstm_weights_and_maps_embedding_rows_by_word(bidirectional):
    path, saved = bidirectional
    model = _classifier(_other_vocabulary(saved["vocabulary"]), encoder="bilstm")
    before = model.embedding.embeddings.numpy().copy()
    stats = apply_pretrained_encoders(model, path)
    assert stats["encoders_set"] == ["shared_encoder", "private_encoder_0", "private_encoder_1"]
    assert stats["directions"] == ["forward", "backward"] and stats["pretraining_epochs"] == 30
    for encoder in [model.shared_encoder, *model.private_encoders]:
        for d, lstm in (("forward", encoder.forward_lstm), ("backward", encoder.backward_lstm)):
            for variable, value in zip((lstm.kernel, lstm.recurrent_kernel, lstm.bias), saved["lstm"][d]):
                np.testing.assert_array_equal(variable.numpy(), value)
    table = model.embedding.embeddings.numpy()
    model_vocabulary = model.preprocessor.text_vectorizer.get_vocabulary()
    lm_row = {w: i for i, w in enumerate(saved["vocabulary"])}
    for i, word in enumerate(model_vocabulary):
        if word in lm_row:
            np.testing.assert_array_equal(table[i], saved["embedding"][lm_row[word]])
        else:
            assert word == "never_seen"
            np.testing.assert_array_equal(table[i], before[i])  # unknown to the LM: left as it was
    assert stats["embedding_rows_copied"] == len(model_vocabulary) - 1 == stats["embedding_rows"] - 1


def test_apply_shared_only_leaves_private_encoders(bidirectional):
    path, saved = bidirectional
    model = _classifier(saved["vocabulary"][2:])
    private = model.private_encoders[0].lstm.kernel.numpy().copy()
    stats = apply_pretrained_encoders(model, path, encoders="shared")
    assert stats["encoders_set"] == ["shared_encoder"] and stats["directions"] == ["forward"]
    np.testing.assert_array_equal(model.shared_encoder.lstm.kernel.numpy(), saved["lstm"]["forward"][0])
    np.testing.assert_array_equal(model.private_encoders[0].lstm.kernel.numpy(), private)


@pytest.fixture(scope="module")
def resumed(corpus, tmp_path_factory):
    """One epoch, then the same call with epochs=2 in the same folder; and a straight 2-epoch run to compare."""
    texts, vectorizer = corpus
    run_dir, straight_dir = tmp_path_factory.mktemp("resume"), tmp_path_factory.mktemp("straight")
    args = (texts[:128], vectorizer, None, UNITS)  # a few batches an epoch are enough to compare the weights
    first = load_pretrained_language_model(pretrain_language_model(*args, run_dir=run_dir, epochs=1, **FAST))
    initial_epochs = []
    original_fit = EncoderLanguageModel.fit

    def recording_fit(self, *a, **kw):
        initial_epochs.append(kw["initial_epoch"])
        return original_fit(self, *a, **kw)

    EncoderLanguageModel.fit = recording_fit
    try:
        path = pretrain_language_model(*args, run_dir=run_dir, epochs=2, **FAST)
    finally:
        del EncoderLanguageModel.fit
    straight = pretrain_language_model(*args, run_dir=straight_dir, epochs=2, **FAST)
    return {"args": args, "run_dir": run_dir, "path": path, "first": first, "initial_epochs": initial_epochs,
            "second": load_pretrained_language_model(path), "straight": load_pretrained_language_model(straight)}


def test_a_rerun_with_more_epochs_continues_after_the_last_finished_one(resumed):
    assert resumed["initial_epochs"] == [1]
    first, second, straight = resumed["first"]["metadata"], resumed["second"]["metadata"], resumed["straight"]
    assert first["epochs"] == 1 and second["epochs"] == 2 and second["processes"] == 2
    assert second["history"][0] == first["history"][0]  # epoch 1 is kept, not rerun
    # Same batches and sampled negatives as a run never stopped: the same weights.
    for d in ("forward",):
        for got, want in zip(resumed["second"]["lstm"][d], straight["lstm"][d]):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(resumed["second"]["embedding"], straight["embedding"], rtol=1e-5, atol=1e-6)
    json.loads((resumed["run_dir"] / "state.json").read_text())  # the state is complete JSON
    assert sorted(p.name for p in resumed["run_dir"].glob("epoch-*.weights.h5")) == ["epoch-2.weights.h5"]


def test_a_finished_run_is_not_trained_again(resumed, monkeypatch):
    def no_fit(self, *args, **kwargs):
        raise AssertionError("a finished pretraining was trained again")

    monkeypatch.setattr(EncoderLanguageModel, "fit", no_fit)
    assert pretrain_language_model(*resumed["args"], run_dir=resumed["run_dir"], epochs=2, **FAST) == resumed["path"]
    with pytest.raises(ValueError, match="already holds 2 epochs"):
        pretrain_language_model(*resumed["args"], run_dir=resumed["run_dir"], epochs=1, **FAST)
    with pytest.raises(ValueError, match="other texts, vocabulary, word vectors or settings"):
        pretrain_language_model(*resumed["args"], run_dir=resumed["run_dir"], epochs=2, **{**FAST, "batch_size": 16})


def test_errors_name_the_problem(bidirectional, resumed):
    forward_only = resumed["path"]
    vocabulary = resumed["second"]["vocabulary"][2:]
    with pytest.raises(ValueError, match="CNNEncoder.*no FusedLSTM.*not a CNN"):
        apply_pretrained_encoders(_classifier(vocabulary, encoder="cnn"), forward_only)
    both = r"directions=\('forward', 'backward'\)"
    with pytest.raises(ValueError, match=r"forward language model.*also reads backward.*" + both):
        apply_pretrained_encoders(_classifier(vocabulary, encoder="bilstm"), forward_only)
    with pytest.raises(ValueError, match="LSTM units 8, but encoder 'shared_encoder' has 6"):
        apply_pretrained_encoders(_classifier(vocabulary, hidden_dim=6), forward_only)
    with pytest.raises(ValueError, match="Unknown encoders 'some'"):
        apply_pretrained_encoders(_classifier(vocabulary), forward_only, encoders="some")
    with pytest.raises(ValueError, match="no FusedLSTM"):
        directions_for_encoder("cnn")
    assert directions_for_encoder("lstm") == ("forward",)
    assert directions_for_encoder("bilstm") == ("forward", "backward")
    with pytest.raises(ValueError, match="lm_pretrain_epochs must be >= 0"):
        TrainConfig(lm_pretrain_epochs=-1)
    with pytest.raises(ValueError, match="lm_init must be one of"):
        TrainConfig(lm_init="private")
    with pytest.raises(ValueError, match="needs an LSTM encoder"):
        TrainConfig(lm_pretrain_epochs=1, encoder="cnn")
    assert TrainConfig(lm_pretrain_epochs=2, encoder="bilstm").lm_init == "all"


def test_a_classifier_fine_tunes_from_the_pretrained_encoders(bidirectional, corpus):
    path, saved = bidirectional
    texts, _ = corpus
    vectorizer = TextVectorizer(max_length=16, vocabulary=saved["vocabulary"], name="text_vectorizer")
    pre = MultiTaskPreprocessor(["a", "b"], {"a": ["neg", "pos"], "b": ["neg", "pos"]}, text_vectorizer=vectorizer,
                                name="preprocessor")
    model = SharedPrivateMTL(pre, embedding_dim=DIM, encoder="bilstm", hidden_dim=UNITS,
                                adversarial_weight=0.05, difference_weight=0.01, word_vectors="random")
    apply_pretrained_encoders(model, path)
    model.compile(learning_rate=1e-2)
    frame = pd.DataFrame({"text": texts[:64], "task": ["a", "b"] * 32,
                          "label": ["pos" if t.startswith(("w1", "w2")) else "neg" for t in texts[:64]]})
    history = model.fit({"text": frame.text, "task": frame.task}, frame.label, batch_size=16, epochs=1,
                        steps_per_epoch=3, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    assert not np.array_equal(model.shared_encoder.forward_lstm.kernel.numpy(), saved["lstm"]["forward"][0])


@pytest.mark.slow
def test_main_job_pretrains_on_train_and_unlabelled_text_only_and_shares_the_pretraining(tmp_path, monkeypatch):
    from tf_aspmtl.data import load_fdu_mtl
    from tf_aspmtl.training import TrainConfig, run

    corpora = []
    real_pretrain = cached_module.pretrain_language_model

    def spy(texts, *args, **kwargs):
        corpora.append(list(texts))
        return real_pretrain(texts, *args, **kwargs)

    monkeypatch.setattr(cached_module, "pretrain_language_model", spy)
    config = TrainConfig(tasks=("books", "MR"), epochs=1, hidden_dim=8, max_length=16, encoder="bilstm",
                         batch_size=32, embedding="random", lm_pretrain_epochs=1, paper_scale=False)

    def main_job(run_dir, **changes):
        return run(TrainConfig.from_dict({**config.to_dict(), **changes}), tmp_path / run_dir, dev_only=True,
                   verbose=0, cache_dir=tmp_path)

    results = main_job("run1")
    lm = results["lm_pretraining"]
    assert results["config"]["lm_pretrain_epochs"] == 1 and lm["epochs"] == 1 and len(lm["heldout_perplexity"]) == 1
    assert lm["directions"] == ["forward", "backward"] and lm["path"].startswith(str(tmp_path / "pretrain"))
    assert lm["applied"]["books+MR"]["encoders_set"][0] == "shared_encoder"
    assert results["wall_time_s"] >= lm["wall_time_s"] > 0

    data = load_fdu_mtl(tasks=["books", "MR"])
    allowed = data[data["split"].isin(("train", "unlabeled"))]
    assert len(corpora[0]) == len(allowed) and set(corpora[0]) <= set(allowed["text"])

    def no_fit(self, *args, **kwargs):
        raise AssertionError("the shared pretraining was trained again")

    monkeypatch.setattr(EncoderLanguageModel, "fit", no_fit)  # same seed and settings: the same pretraining
    assert main_job("run2", model="sp-mtl")["lm_pretraining"]["path"] == lm["path"]
    with pytest.raises(AssertionError, match="trained again"):  # another seed: its own pretraining
        main_job("run3", seed=1)


class _Vocabulary:
    """The two things the cache key reads of a TextVectorizer."""

    max_length = 16

    def get_vocabulary(self):
        return ["", "[UNK]", "the", "cat", "café", "☕", "sat"]


_KEY_TEXTS = ["the cat sat", "café ☕ \ud800!", "the cat"]  # a lone surrogate too ("surrogatepass")
_KEY_VECTORS = np.arange(7 * 4, dtype=np.float64).reshape(7, 4) / 10
PINNED_KEYS = {"bilstm-word2vec": "fb9061fa34eaf064", "lstm-random": "510f9255ef3ca335"}
"""Pretraining folders of the inputs above, computed by the main job's pretraining before its hashing moved to
the library (now tf_aspmtl.training.fdu_mtl_run.pretrain_for_run): caches are found by these keys, so they must
never change."""


@pytest.fixture()
def recorded_pretrainings(monkeypatch):
    calls = []

    def record(texts, vectorizer, word_vectors, units, *, run_dir, **kwargs):
        calls.append({"texts": list(texts), "units": units, "run_dir": Path(run_dir), **kwargs})
        return Path(run_dir) / "language_model.npz"

    monkeypatch.setattr(cached_module, "pretrain_language_model", record)
    return calls


def test_cache_key_is_pinned(recorded_pretrainings, tmp_path):
    path = pretrain_language_model_cached(
        _KEY_TEXTS, _Vocabulary(), _KEY_VECTORS, 8, cache_root=tmp_path, embedding="word2vec",
        directions=("forward", "backward"), epochs=2, seed=3, embedding_dim=4, verbose=0)
    assert path == tmp_path / PINNED_KEYS["bilstm-word2vec"] / "language_model.npz"
    assert recorded_pretrainings[-1] == {
        "texts": _KEY_TEXTS, "units": 8, "run_dir": tmp_path / PINNED_KEYS["bilstm-word2vec"],
        "directions": ["forward", "backward"], "epochs": 2, "seed": 3, "embedding_dim": 4, "verbose": 0,
        "batch_size": 64, "learning_rate": 1e-3, "num_sampled": 512, "holdout_fraction": 0.02}
    path = pretrain_language_model_cached(_KEY_TEXTS, _Vocabulary(), None, 8, cache_root=tmp_path,
                                          embedding="random", epochs=1, seed=0, embedding_dim=4)
    assert path.parent.name == PINNED_KEYS["lstm-random"]
    # Every input is part of the key (verbose is not).
    base = dict(cache_root=tmp_path, embedding="random", epochs=1, seed=0, embedding_dim=4)
    changed = [
        pretrain_language_model_cached(_KEY_TEXTS[:2], _Vocabulary(), None, 8, **base),
        pretrain_language_model_cached(_KEY_TEXTS, _Vocabulary(), _KEY_VECTORS[:, :2], 8, **base),
        pretrain_language_model_cached(_KEY_TEXTS, _Vocabulary(), None, 9, **base),
        pretrain_language_model_cached(_KEY_TEXTS, _Vocabulary(), None, 8, **{**base, "seed": 1}),
        pretrain_language_model_cached(_KEY_TEXTS, _Vocabulary(), None, 8, **{**base, "embedding": "glove"}),
        pretrain_language_model_cached(_KEY_TEXTS, _Vocabulary(), None, 8, **base, num_sampled=64),
    ]
    tail = _Vocabulary()
    tail.truncation = "tail"  # other tokens of long texts: another pretraining
    changed.append(pretrain_language_model_cached(_KEY_TEXTS, tail, None, 8, **base))
    assert len({p.parent.name for p in changed} | {PINNED_KEYS["lstm-random"]}) == len(changed) + 1
    head = _Vocabulary()
    head.truncation = "head"  # the default: keys stay those of vectorizers without the option
    assert pretrain_language_model_cached(_KEY_TEXTS, head, None, 8, **base) == path
    assert pretrain_language_model_cached(_KEY_TEXTS, _Vocabulary(), None, 8, **base, verbose=2) == path


def test_main_job_pretraining_keeps_its_cache_keys(recorded_pretrainings, tmp_path, monkeypatch):
    """The main job's corpus (train + unlabelled rows, in order) and settings give the pinned folders."""
    from tf_aspmtl.training import fdu_mtl_run

    data = pd.DataFrame({"split": ["train", "dev", "unlabeled", "test", "train"],
                         "text": pd.Series([_KEY_TEXTS[0], "dev text", _KEY_TEXTS[1], "test text", _KEY_TEXTS[2]],
                                           dtype=object)})
    config = TrainConfig(encoder="bilstm", hidden_dim=8, max_length=16, embedding="word2vec", embedding_dim=4,
                         lm_pretrain_epochs=2, seed=3)
    path = fdu_mtl_run.pretrain_for_run(config, data, _Vocabulary(), _KEY_VECTORS, tmp_path, verbose=0)
    assert path == tmp_path / "pretrain" / PINNED_KEYS["bilstm-word2vec"] / "language_model.npz"
    assert recorded_pretrainings[-1]["texts"] == _KEY_TEXTS
    config = TrainConfig(encoder="lstm", hidden_dim=8, max_length=16, embedding="random", embedding_dim=4,
                         lm_pretrain_epochs=1, seed=0)
    path = fdu_mtl_run.pretrain_for_run(config, data, _Vocabulary(), None, tmp_path, verbose=0)
    assert path.parent.name == PINNED_KEYS["lstm-random"]


def test_a_cached_pretraining_is_shared(corpus, tmp_path, monkeypatch):
    texts, vectorizer = corpus
    args = (texts[:64], vectorizer, None, UNITS)
    settings = dict(cache_root=tmp_path, embedding="random", epochs=1, **FAST)
    path = pretrain_language_model_cached(*args, **settings)
    assert path.parent.parent == tmp_path and load_pretrained_language_model(path)["metadata"]["epochs"] == 1

    def no_fit(self, *a, **k):
        raise AssertionError("the cached pretraining was trained again")

    monkeypatch.setattr(EncoderLanguageModel, "fit", no_fit)
    assert pretrain_language_model_cached(*args, **settings) == path


def test_unigram_bias_makes_the_untrained_model_a_unigram_model():
    counts = np.array([0, 0, 600, 300, 90, 9, 1] + [0] * 43)
    lm = EncoderLanguageModel(50, embedding_dim=4, units=3, num_sampled=8)
    lm.set_unigram_bias(counts)
    targets = np.array([2, 3, 6, 10])
    losses = lm.full_softmax_losses(tf.zeros((4, 3)), tf.constant(targets)).numpy()
    # A zero hidden state leaves the bias as the logits: the cross entropy of the smoothed unigram model.
    np.testing.assert_allclose(losses, -np.log((counts[targets] + 1) / (counts.sum() + 50)), rtol=1e-5)
    with pytest.raises(ValueError, match=r"counts has shape \(3,\); expected \(50,\)"):
        lm.set_unigram_bias(np.ones(3))
