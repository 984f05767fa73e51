"""Pretrain the encoders' LSTMs as a language model on raw text, resumably, into one ``.npz`` file.

The file (``language_model.npz``, written atomically) holds everything
:func:`tf_aspmtl.training.apply_pretrained_encoders` needs, and nothing of
TensorFlow: ``vocabulary`` (str, index = token id), ``embedding``
[vocabulary, embedding_dim], ``<direction>_kernel``,
``<direction>_recurrent_kernel`` and ``<direction>_bias`` for each trained
direction (the weights of a :class:`~tf_aspmtl.layers.encoders.FusedLSTM`),
and ``metadata``, a JSON string: sizes, directions, epochs, the settings,
the per-epoch history (``loss``, held-out ``val_perplexity``...) and the wall
time (every process's, from its start to its last finished epoch). The
softmax (``softmax_kernel`` [vocabulary, units], ``softmax_bias``) is kept
too, to inspect or go on training the language model. Read it with
:func:`load_pretrained_language_model`.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
import time
import zipfile
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from tf_aspmtl.data.pipeline import tokenize_texts
from tf_aspmtl.io_utils import folder_lock, write_bytes_atomic, write_text_atomic
from tf_aspmtl.models.encoder_language_model import EncoderLanguageModel, parse_directions
from tf_aspmtl.optimizers import LazyAdam, build_optimizer_before_tracing
from tf_aspmtl.preprocessing.text_vectorizer import TextVectorizer
from tf_aspmtl.training.checkpoint_io import file_damage, remove_partial_files, save_weights_atomic

logger = logging.getLogger("tf_aspmtl.training")
LANGUAGE_MODEL_FILE = "language_model.npz"
STATE_FILE = "state.json"
LSTM_WEIGHTS = ("kernel", "recurrent_kernel", "bias")
EVAL_LOGITS = 32_000_000
"""Most full-softmax logits (floats) one held-out batch may hold per direction; sets the held-out batch size."""


def _epoch_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """Row ids of one epoch's batches [steps, batch_size] (-1 fills the last), rows of a batch of similar length.

    Rows are shuffled, cut into pools of 32 batches, sorted by length inside
    a pool (little padding), batched, and the batches shuffled.
    """
    order = rng.permutation(len(lengths))
    pool = 32 * batch_size
    batches = []
    for start in range(0, len(order), pool):
        part = order[start:start + pool]
        part = part[np.argsort(-lengths[part], kind="stable")]
        batches += [part[i:i + batch_size] for i in range(0, len(part), batch_size)]
    matrix = np.full((len(batches), batch_size), -1, dtype=np.int64)
    for row, i in enumerate(rng.permutation(len(batches))):
        matrix[row, : len(batches[i])] = batches[i]
    return matrix


def _ragged_split(rows: np.ndarray, size: int) -> np.ndarray:
    """``rows`` in groups of ``size`` [groups, size], -1 filling the last."""
    matrix = np.full((math.ceil(len(rows) / size), size), -1, dtype=np.int64)
    matrix.flat[: len(rows)] = rows
    return matrix


def _dataset(ids: tf.RaggedTensor, batches: np.ndarray) -> tf.data.Dataset:
    """Padded int32 token ids [rows, longest] of each row of ``batches``."""

    def gather(rows):
        return tf.gather(ids, tf.boolean_mask(rows, rows >= 0)).to_tensor(0)

    return tf.data.Dataset.from_tensor_slices(batches).map(gather).prefetch(2)


def _fingerprint(*parts: Any) -> str:
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(str((part.dtype.str, part.shape)).encode())
            part = np.ascontiguousarray(part).tobytes()
        elif not isinstance(part, bytes):
            part = json.dumps(part, sort_keys=True).encode("utf-8")
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()


def load_pretrained_language_model(path: str | os.PathLike) -> dict[str, Any]:
    """The contents of a file written by :func:`pretrain_language_model`.

    Returns:
        dict: ``vocabulary`` (list of str), ``embedding`` (float32
        [vocabulary, embedding_dim]), ``lstm`` (``{direction: [kernel,
        recurrent_kernel, bias]}``), ``softmax`` ([kernel [vocabulary, units], bias]) and ``metadata`` (dict).

    Raises:
        ValueError: the file is missing or is not such a file.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            metadata = json.loads(str(data["metadata"]))
            lstm = {d: [data[f"{d}_{w}"] for w in LSTM_WEIGHTS] for d in metadata["directions"]}
            return {"vocabulary": [str(w) for w in data["vocabulary"]], "embedding": data["embedding"],
                    "lstm": lstm, "softmax": [data["softmax_kernel"], data["softmax_bias"]], "metadata": metadata}
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: not a pretrained language model file ({type(err).__name__}: {err})") from None


def _save_language_model(path: Path, model: EncoderLanguageModel, vocabulary: list[str],
                         metadata: dict[str, Any]) -> None:
    arrays = {"vocabulary": np.asarray(vocabulary, dtype=str),
              "embedding": model.embedding.embeddings.numpy().astype(np.float32),
              "softmax_kernel": model.softmax_kernel.numpy().astype(np.float32),
              "softmax_bias": model.softmax_bias.numpy().astype(np.float32),
              "metadata": np.asarray(json.dumps(metadata))}
    for d in model.directions:
        layer = model.lstm(d)
        for name in LSTM_WEIGHTS:
            arrays[f"{d}_{name}"] = getattr(layer, name).numpy().astype(np.float32)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes_atomic(path, buffer.getvalue())


class _EpochCheckpoint(keras.callbacks.Callback):
    """At each epoch end: model and optimizer weights to ``epoch-N.weights.h5`` (its SHA-256 recorded), then
    ``state.json``, each atomically."""

    def __init__(self, run_dir: Path, state: dict[str, Any], epochs: int, started: float):
        super().__init__()
        self.run_dir, self.state, self.epochs = run_dir, state, epochs
        self._started = started
        self._previous_s = float(state["wall_time_s"])

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        backup = f"epoch-{epoch + 1}.weights.h5"
        sha256 = save_weights_atomic(self.model, self.run_dir / backup)  # never HDF5 onto a disk that may fill
        del self.state["history"][epoch:]
        self.state["history"].append({"epoch": epoch + 1, **logs})
        self.state.update(epochs_done=epoch + 1, backup=backup, backup_sha256=sha256,
                          wall_time_s=self._previous_s + time.time() - self._started)
        write_text_atomic(self.run_dir / STATE_FILE, json.dumps(self.state, indent=1) + "\n")
        for old in self.run_dir.glob("epoch-*.weights.h5"):
            if old.name != backup:
                old.unlink(missing_ok=True)
        logger.info("language model epoch %d/%d: loss %.4f, held-out perplexity %.2f (%.0f s so far)", epoch + 1,
                    self.epochs, logs.get("loss", math.nan), logs.get("val_perplexity", math.nan),
                    self.state["wall_time_s"])


def _read_state(run_dir: Path, fingerprint: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The pretraining state of ``run_dir``; a fresh one if there is none, or if it (or the backup it names) is
    damaged: a cache is used whole or not at all, so a damaged one is said and trained again.

    Raises:
        ValueError: the folder holds a pretraining of other texts, vocabulary, word vectors or settings.
    """
    fresh = {"fingerprint": fingerprint, "settings": settings, "epochs_done": 0, "backup": None,
             "history": [], "wall_time_s": 0.0, "processes": 0}
    if not (run_dir / STATE_FILE).exists():
        return fresh
    try:
        state = json.loads((run_dir / STATE_FILE).read_text(encoding="utf-8"))
        done, backup = int(state["epochs_done"]), state.get("backup")
        if not isinstance(state["history"], list) or len(state["history"]) != done or (done and not backup):
            raise ValueError("its history is not its epochs")
    except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError) as err:  # JSONDecodeError is a ValueError
        logger.warning("%s (the pretraining state) is damaged (%s); pretraining again from the start",
                       run_dir / STATE_FILE, err)
        return fresh
    if state.get("fingerprint") != fingerprint:
        raise ValueError(f"{run_dir} holds a pretraining of other texts, vocabulary, word vectors or "
                         f"settings ({state.get('settings')}); use another run_dir (asked: {settings})")
    problem = done and file_damage(run_dir / backup, state.get("backup_sha256"))
    if problem:
        logger.warning("%s (the pretraining's backup of epoch %d) is damaged: %s; pretraining again from the start",
                       run_dir / backup, done, problem)
        return fresh
    return state


PRETRAIN_OPTIONS = {"directions": ("forward",), "epochs": 1, "batch_size": 64, "learning_rate": 1e-3, "seed": 0,
                    "embedding_dim": 50, "num_sampled": 512, "holdout_fraction": 0.02}
"""The settings of :func:`pretrain_language_model` besides the corpus, vocabulary and units, with their defaults."""


def pretrain_language_model(
    texts: Sequence[str],
    vectorizer: TextVectorizer,
    word_vectors: np.ndarray | None,
    units: int,
    *,
    run_dir: str | os.PathLike,
    directions: Sequence[str] = ("forward",),
    epochs: int = 1,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
    embedding_dim: int = 50,
    num_sampled: int = 512,
    holdout_fraction: float = 0.02,
    predict_unknown: bool = False,
    verbose: int | str = "auto",
) -> Path:
    """Trains an :class:`EncoderLanguageModel` on ``texts`` and returns the path of its ``.npz`` file.

    The texts are tokenised by ``vectorizer`` (cut at its ``max_length``);
    rows with fewer than 2 tokens predict nothing and are dropped. A
    ``holdout_fraction`` of them (at least one row, chosen by ``seed``) is
    held out: its full-softmax perplexity is logged after every epoch. Give
    only training text (never dev or test rows). Training uses LazyAdam (the
    embedding and the softmax get row-sparse gradients), batches of rows of
    similar length, and ``keras.utils.set_random_seed(seed)``, which resets
    the global seeds.

    Resumable: every finished epoch is checkpointed in ``run_dir`` (weights
    and optimizer, then ``state.json``, each written atomically), and a rerun
    with the same arguments continues after the last finished epoch, with the
    batches and sampled negatives an uninterrupted run would have used; a
    larger ``epochs`` continues a finished run. A run that already has
    ``epochs`` epochs returns its file at once. Other arguments than
    ``epochs``/``verbose`` in the same ``run_dir`` are an error.

    Args:
        texts: sequence of str. The corpus.
        vectorizer: adapted TextVectorizer; its vocabulary is the language model's.
        word_vectors: optional [vocabulary_size, embedding_dim] initial embedding (e.g. GloVe); None: random.
        units: int. LSTM units (the classifier's ``hidden_dim``).
        run_dir: folder of this pretraining (checkpoints, state, the result).
        directions: ``("forward",)``, ``("backward",)`` or both (a BiLSTM encoder needs both).
        epochs: int. Passes over the corpus.
        batch_size: int. Rows per training batch.
        learning_rate: float. LazyAdam's learning rate.
        seed: int. Seed of the initial weights, held-out rows, batch order and sampled negatives.
        embedding_dim: int. Used when ``word_vectors`` is None.
        num_sampled: int. Negative ids of the sampled softmax per step.
        holdout_fraction: float in (0, 1). Share of rows held out for the perplexity.
        predict_unknown: bool. Also predict "[UNK]" targets (see :class:`EncoderLanguageModel`).
        verbose: Keras ``fit`` verbosity (1: progress bar, 2: a line per epoch).

    Returns:
        Path of ``<run_dir>/language_model.npz``.

    Example (tiny sizes; a real run passes GloVe vectors and 100 units):
    >>> import tempfile
    >>> import pandas as pd
    >>> import tf_aspmtl
    >>> from tf_aspmtl.training import apply_pretrained_encoders
    >>> train = pd.DataFrame({"text": ["a good book", "a dull book", "a great film", "a bad film"],
    ...                       "task": ["books", "books", "dvd", "dvd"], "label": ["pos", "neg", "pos", "neg"]})
    >>> pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(train, max_length=8)
    >>> run_dir = tempfile.TemporaryDirectory()
    >>> path = pretrain_language_model(train.text, pre.text_vectorizer, None, 4, run_dir=run_dir.name, epochs=2,
    ...                                embedding_dim=4, num_sampled=4, verbose=0)
    >>> path.name
    'language_model.npz'
    >>> model = tf_aspmtl.AdversarialSharedPrivateMTL(pre, embedding_dim=4, hidden_dim=4, word_vectors="random")
    >>> apply_pretrained_encoders(model, path)["encoders_set"]
    ['shared_encoder', 'private_encoder_0', 'private_encoder_1']
    >>> run_dir.cleanup()
    """
    started = time.time()
    directions = parse_directions(directions)
    for name, value in (("units", units), ("epochs", epochs), ("batch_size", batch_size),
                        ("num_sampled", num_sampled), ("embedding_dim", embedding_dim)):
        if isinstance(value, bool) or int(value) != value or int(value) < 1:
            raise ValueError(f"{name} must be an int >= 1; got {value!r}")
    if not (math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a finite number > 0; got {learning_rate!r}")
    if not 0.0 < holdout_fraction < 1.0:
        raise ValueError(f"holdout_fraction must be in (0, 1); got {holdout_fraction!r}")
    vocabulary = vectorizer.get_vocabulary()
    if len(vocabulary) <= 2:
        raise ValueError("The vectorizer has no vocabulary; adapt it first.")
    if word_vectors is not None:
        word_vectors = np.asarray(word_vectors, dtype=np.float32)
        if word_vectors.ndim != 2 or word_vectors.shape[0] != len(vocabulary):
            raise ValueError(f"word_vectors has shape {word_vectors.shape}; expected [{len(vocabulary)}, dim] "
                             "(one row per vocabulary entry)")
        embedding_dim = word_vectors.shape[1]

    ids = tokenize_texts(list(texts), vectorizer)
    lengths = ids.row_lengths().numpy()
    kept = np.flatnonzero(lengths >= 2)
    if len(kept) < 2:
        raise ValueError(f"Need at least 2 texts of 2 or more tokens to pretrain on; got {len(kept)} of {len(lengths)}")
    ids, lengths = tf.gather(ids, kept), lengths[kept]
    order = np.random.default_rng(seed).permutation(len(lengths))
    held = max(1, int(round(holdout_fraction * len(lengths))))
    heldout_rows, train_rows = np.sort(order[:held]), np.sort(order[held:])
    settings = {"units": int(units), "embedding_dim": int(embedding_dim), "directions": list(directions),
                "batch_size": int(batch_size), "learning_rate": float(learning_rate), "seed": int(seed),
                "num_sampled": int(num_sampled), "holdout_fraction": float(holdout_fraction),
                "predict_unknown": bool(predict_unknown), "max_length": vectorizer.max_length,
                "output_bias": "unigram"}
    fingerprint = _fingerprint(settings, vocabulary, ids.flat_values.numpy(), lengths,
                               word_vectors if word_vectors is not None else b"random")

    run_dir = Path(run_dir)
    # Runs that share a pretraining wait for the one training it, then find it finished.
    with folder_lock(run_dir, ".lock", wait=True, what="language-model pretraining"):
        for stale in remove_partial_files(run_dir):
            logger.warning("removed %s, a file left half written by an interrupted pretraining", stale)
        path = run_dir / LANGUAGE_MODEL_FILE
        state = _read_state(run_dir, fingerprint, settings)
        done = int(state["epochs_done"])
        if done > epochs:
            raise ValueError(f"{run_dir} already holds {done} epochs of pretraining; asked for {epochs}")
        if done == epochs and path.exists():
            try:
                if load_pretrained_language_model(path)["metadata"]["epochs"] == epochs:
                    logger.info("%s: language model already pretrained for %d epoch(s)", path, epochs)
                    return path
            except ValueError as err:  # written whole, damaged since: written again from the last backup
                logger.warning("%s is damaged (%s); writing it again from the backup of epoch %d", path, err, done)

        keras.utils.set_random_seed(seed)
        model = EncoderLanguageModel(len(vocabulary), embedding_dim, units, direction=directions,
                                     num_sampled=num_sampled, predict_unknown=predict_unknown,
                                     word_vectors=word_vectors, seed=seed, name="encoder_language_model")
        model.compile(optimizer=LazyAdam(learning_rate))
        train_tokens = tf.gather(ids, train_rows).flat_values.numpy()
        model.set_unigram_bias(np.bincount(train_tokens, minlength=len(vocabulary))[: len(vocabulary)])
        build_optimizer_before_tracing(model)  # before load_weights, which restores its slots too
        if done:
            model.load_weights(str(run_dir / state["backup"]))  # checked whole by _read_state
            logger.info("resuming the language model of %s after epoch %d (%.0f s so far)", run_dir, done,
                        state["wall_time_s"])
        if done < epochs:
            previous_s = float(state["wall_time_s"])
            train_ids, train_lengths = tf.gather(ids, train_rows), lengths[train_rows]
            plans = [_epoch_batches(train_lengths, batch_size, np.random.default_rng([seed, e])) for e in range(epochs)]
            eval_rows = max(1, min(batch_size, EVAL_LOGITS // (len(vocabulary) * vectorizer.max_length)))
            heldout_ids = tf.gather(ids, heldout_rows)
            by_length = np.argsort(-lengths[heldout_rows], kind="stable")
            logger.info("pretraining a %s language model (%d units) on %d texts (%d held out), %d epoch(s) of %d steps",
                        "+".join(directions), units, len(train_rows), held, epochs, len(plans[0]))
            model.fit(
                _dataset(train_ids, np.concatenate(plans[done:])), epochs=epochs, initial_epoch=done,
                steps_per_epoch=len(plans[0]), verbose=verbose, shuffle=False,  # the batches are shuffled already
                validation_data=_dataset(heldout_ids, _ragged_split(by_length, eval_rows)),
                callbacks=[_EpochCheckpoint(run_dir, state, epochs, started)],
            )
            state["processes"] = int(state.get("processes", 0)) + 1
            state["wall_time_s"] = previous_s + time.time() - started  # this process's whole time, fit's teardown too
            write_text_atomic(run_dir / STATE_FILE, json.dumps(state, indent=1) + "\n")
        history = state["history"]
        metadata = {"epochs": epochs, "units": int(units), "embedding_dim": int(embedding_dim),
                    "directions": list(directions), "vocabulary_size": len(vocabulary), "settings": settings,
                    "fingerprint": fingerprint, "texts": int(len(train_rows)), "heldout_texts": int(held),
                    "history": history, "heldout_perplexity": [row.get("val_perplexity") for row in history],
                    "wall_time_s": state["wall_time_s"], "processes": state["processes"]}
        _save_language_model(path, model, vocabulary, metadata)
        logger.info("wrote %s (held-out perplexity %s)", path, metadata["heldout_perplexity"][-1:])
        return path
