"""Language-model pretraining shared by every run with the same corpus, vocabulary, word vectors and settings."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tf_aspmtl.preprocessing.text_vectorizer import TextVectorizer
from tf_aspmtl.training.pretrain_language_model import PRETRAIN_OPTIONS, pretrain_language_model

logger = logging.getLogger("tf_aspmtl.training")


def _cache_key(
    settings: dict[str, Any], texts: Sequence[str], vocabulary: Sequence[str], word_vectors: np.ndarray | None
) -> str:
    """The SHA-256 (hex) of the settings, the corpus, the vocabulary and the initial word vectors.

    Existing caches are found by this digest: keep its fields and update order.
    """
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    digest.update("\n".join(vocabulary).encode("utf-8"))
    digest.update(b"random" if word_vectors is None else np.ascontiguousarray(word_vectors, np.float32).tobytes())
    return digest.hexdigest()


def pretrain_language_model_cached(texts: Sequence[str], vectorizer: TextVectorizer, word_vectors: np.ndarray | None,
                                   units: int, *, cache_root: str | os.PathLike, embedding: str,
                                   verbose: int | str = "auto", **options: Any) -> Path:
    """:func:`~tf_aspmtl.training.pretrain_language_model` in ``<cache_root>/<key>``; returns its ``.npz``.

    The folder's key is the first 16 hex digits of a SHA-256 of the corpus
    (every text, in order), the vectorizer's vocabulary, the initial word
    vectors (as float32; "random" when None) and every setting (``units``,
    ``directions``, ``epochs``, ``seed``, the vectorizer's ``max_length`` (and
    its ``truncation`` unless "head"),
    ``embedding``, ``embedding_dim``, ``batch_size``, ``learning_rate``,
    ``num_sampled``, ``holdout_fraction``), so calls that share them (other
    model families, reruns, resumed runs) share one pretraining: a finished
    one returns at once, an interrupted one resumes. ``verbose`` is not part
    of the key. The corpus is the caller's choice: give only training text
    (never dev or test rows).

    Args:
        texts: sequence of str. The corpus.
        vectorizer: adapted TextVectorizer; its vocabulary is the language model's.
        word_vectors: optional [vocabulary_size, embedding_dim] initial embedding (e.g. GloVe); None: random.
        units: int. LSTM units (the classifier's ``hidden_dim``).
        cache_root: folder holding one sub-folder per key.
        embedding: str. Name of the initial word vectors (``TrainConfig.embedding``: "random", "glove",
            "word2vec", "glove+word2vec"); part of the key only.
        verbose: Keras ``fit`` verbosity (1: progress bar, 2: a line per epoch).
        **options: the settings of :func:`pretrain_language_model` (:data:`PRETRAIN_OPTIONS`: ``directions``,
            ``epochs``, ``batch_size``, ``learning_rate``, ``seed``, ``embedding_dim``, ``num_sampled``,
            ``holdout_fraction``), its defaults for those not given.

    Returns:
        Path of ``<cache_root>/<key>/language_model.npz``.

    Example (not run):
        path = pretrain_language_model_cached(
            texts, vectorizer, glove, 100, cache_root="runs/pretrain", embedding="glove", epochs=3)
        apply_pretrained_encoders(model, path)
    """
    unknown = sorted(set(options) - set(PRETRAIN_OPTIONS))
    if unknown:
        raise ValueError(f"Unknown pretraining option(s) {unknown}; expected some of {list(PRETRAIN_OPTIONS)}")
    o = {**PRETRAIN_OPTIONS, **options}
    lm_settings = {k: o[k] for k in ("batch_size", "learning_rate", "num_sampled", "holdout_fraction")}
    settings = {"epochs": o["epochs"], "units": units, "directions": list(o["directions"]), "seed": o["seed"],
                "max_length": vectorizer.max_length, "embedding": embedding, "embedding_dim": o["embedding_dim"],
                "output_bias": "unigram", **lm_settings}
    if getattr(vectorizer, "truncation", "head") != "head":  # keys of head-truncated runs stay as they were
        settings["truncation"] = vectorizer.truncation
    lm_dir = Path(cache_root) / _cache_key(settings, texts, vectorizer.get_vocabulary(), word_vectors)[:16]
    logger.info("language-model pretraining %s (%d texts): %s", lm_dir, len(texts), settings)
    return pretrain_language_model(
        texts, vectorizer, word_vectors, units, run_dir=lm_dir, directions=settings["directions"],
        epochs=o["epochs"], seed=o["seed"], embedding_dim=o["embedding_dim"], verbose=verbose, **lm_settings,
    )
