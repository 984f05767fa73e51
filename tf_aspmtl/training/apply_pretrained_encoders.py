"""Initialise a classifier's word embedding and LSTM encoders from a pretrained language model file."""

from __future__ import annotations

import os
from typing import Any, Sequence

import keras
import numpy as np

from tf_aspmtl.layers.encoders import FusedLSTM, get_encoder
from tf_aspmtl.training.pretrain_language_model import LSTM_WEIGHTS, load_pretrained_language_model

ENCODER_INITS = ("all", "shared")


def encoder_lstms(encoder: keras.layers.Layer) -> dict[str, FusedLSTM]:
    """``{direction: FusedLSTM}`` of an LSTM sentence encoder.

    ``LSTMEncoder.lstm`` reads forward; ``BiLSTMEncoder.forward_lstm`` and
    ``backward_lstm`` read forward and backward.

    Raises:
        ValueError: the encoder has no FusedLSTM (a CNN encoder): it cannot be pretrained as a language model.
    """
    forward, backward = getattr(encoder, "forward_lstm", None), getattr(encoder, "backward_lstm", None)
    if isinstance(forward, FusedLSTM) and isinstance(backward, FusedLSTM):
        return {"forward": forward, "backward": backward}
    if isinstance(getattr(encoder, "lstm", None), FusedLSTM):
        return {"forward": encoder.lstm}
    raise ValueError(
        f"Encoder {encoder.name!r} ({type(encoder).__name__}) has no FusedLSTM to pretrain as a language model; "
        "language-model pretraining needs an LSTM encoder (for example 'lstm' or 'bilstm'), not a CNN"
    )


def directions_for_encoder(kind: str) -> tuple[str, ...]:
    """Directions a language model must be pretrained in for encoder ``kind`` of :data:`ENCODERS`.

    ``("forward",)`` for a one-way LSTM encoder, ``("forward", "backward")``
    for a bidirectional one; read from the encoder's sub-layers, so every
    registered LSTM kind works.

    Raises:
        ValueError: an unknown kind, or one without LSTMs (``"cnn"``).
    """
    return tuple(encoder_lstms(get_encoder(kind, 1, name=f"{kind}_encoder")))


def apply_pretrained_encoders(
    model: keras.Model,
    path: str | os.PathLike,
    *,
    encoders: str = "all",
    vocabulary: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Copies a pretrained language model (:func:`pretrain_language_model`) into a classifier before fine-tuning.

    The forward LSTM goes to ``LSTMEncoder.lstm`` and
    ``BiLSTMEncoder.forward_lstm``, the backward one to
    ``BiLSTMEncoder.backward_lstm``, in the shared encoder and, with
    ``encoders="all"``, every private encoder (they all start equal; the
    private ones then specialise). Embedding rows are copied by word: row
    ``i`` of the model gets the file's row of the token the model's
    vocabulary has at ``i``, so the vocabularies may differ in order and
    content; model words the file lacks keep their current vectors (GloVe
    or random). Nothing is changed unless every check passes.

    Args:
        model: a :class:`~tf_aspmtl.models.MultiTaskClassifier` (anything with a ``backbone`` of
            :class:`~tf_aspmtl.models.SharedPrivateBackbone`).
        path: the ``.npz`` file.
        encoders: ``"all"`` (shared and private encoders) or ``"shared"`` (the shared one only).
        vocabulary: the model's vocabulary (index = token id); default: its preprocessor's.

    Returns:
        dict: ``embedding_rows_copied``, ``embedding_rows`` (the model's
        vocabulary size), ``encoders_set`` (encoder names), ``directions``
        and ``pretraining_epochs``.

    Raises:
        ValueError: unknown ``encoders``; a CNN encoder; a bidirectional
            encoder and a file with one direction; different units or
            embedding sizes; no vocabulary to map words with; a bad file.
    """
    if encoders not in ENCODER_INITS:
        raise ValueError(f"Unknown encoders {encoders!r}; expected one of {list(ENCODER_INITS)}")
    backbone = getattr(model, "backbone", None)
    if backbone is None or not hasattr(backbone, "private_encoders"):
        raise ValueError(f"{type(model).__name__} has no SharedPrivateBackbone (model.backbone) to initialise")
    saved = load_pretrained_language_model(path)
    meta = saved["metadata"]
    targets = [] if backbone.shared_encoder is None else [backbone.shared_encoder]
    if encoders == "all":
        targets += list(backbone.private_encoders)
    if not targets:
        raise ValueError(f"encoders={encoders!r} but the model has no shared encoder")
    if backbone.embedding_dim != meta["embedding_dim"]:
        raise ValueError(f"{path}: embedding size {meta['embedding_dim']}, but the model's is {backbone.embedding_dim}")
    if vocabulary is None:
        preprocessor = getattr(model, "preprocessor", None)
        if preprocessor is None:
            raise ValueError("The model has no preprocessor: pass its vocabulary= to map embedding rows by word")
        vocabulary = preprocessor.text_vectorizer.get_vocabulary()
    vocabulary = [str(w) for w in vocabulary]
    if len(vocabulary) != backbone.vocabulary_size:
        raise ValueError(f"vocabulary has {len(vocabulary)} entries; the model's embedding has "
                         f"{backbone.vocabulary_size} rows")

    assignments = []
    for encoder in targets:
        for direction, lstm in encoder_lstms(encoder).items():
            if direction not in saved["lstm"]:
                raise ValueError(
                    f"{path} holds a {'+'.join(meta['directions'])} language model, but encoder {encoder.name!r} "
                    f"({type(encoder).__name__}) also reads {direction}: pretrain with "
                    "directions=('forward', 'backward') for a bidirectional encoder"
                )
            if lstm.units != meta["units"]:
                raise ValueError(f"{path}: LSTM units {meta['units']}, but encoder {encoder.name!r} has {lstm.units} "
                                 "(pretrain with units = the model's hidden_dim)")
            for name, value in zip(LSTM_WEIGHTS, saved["lstm"][direction]):
                variable = getattr(lstm, name)
                if tuple(variable.shape) != value.shape:
                    raise ValueError(f"{path}: {direction} {name} has shape {value.shape}; encoder "
                                     f"{encoder.name!r} expects {tuple(variable.shape)}")
                assignments.append((variable, value))

    index = {word: i for i, word in enumerate(saved["vocabulary"])}
    table = backbone.embedding.embeddings
    matrix = np.array(table.numpy())
    copied = 0
    for i, word in enumerate(vocabulary):
        j = index.get(word)
        if j is not None:
            matrix[i] = saved["embedding"][j]
            copied += 1
    for variable, value in assignments:
        variable.assign(np.asarray(value, dtype=variable.dtype))
    table.assign(matrix.astype(table.dtype))
    return {
        "embedding_rows_copied": copied,
        "embedding_rows": len(vocabulary),
        "encoders_set": [e.name for e in targets],
        "directions": sorted({d for e in targets for d in encoder_lstms(e)}, key=["forward", "backward"].index),
        "pretraining_epochs": meta["epochs"],
    }
