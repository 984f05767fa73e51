"""Carrying a trained model's shared space to a new task (the paper's Table 3): the new task's backbone and preprocessor."""

from __future__ import annotations

from typing import Any, Sequence

from tf_aspmtl.models.shared_private_backbone import SharedPrivateBackbone
from tf_aspmtl.objective import MultiTaskObjective
from tf_aspmtl.preprocessing.multitask_preprocessor import MultiTaskPreprocessor
from tf_aspmtl.preprocessing.text_vectorizer import TextVectorizer

FREEZABLE = ("embedding", "shared_encoder")
"""The parts of a :class:`MultiTaskClassifier` its ``frozen`` argument may name."""

TRANSFER_MODES = ("sc", "bc")
"""``"sc"``: the shared encoder and a new output layer; ``"bc"``: plus a new private encoder for the task."""


def transfer_backbone(
    source: SharedPrivateBackbone, preprocessor: MultiTaskPreprocessor, task: str, classes: Sequence, mode: str = "sc"
) -> tuple[SharedPrivateBackbone, MultiTaskPreprocessor]:
    """A backbone and a preprocessor for one new task, shaped like ``source`` (weights not copied yet).

    The preprocessor keeps every text setting of the source (vocabulary,
    length, truncation...), so a word keeps its embedding row; the backbone
    has the source's embedding and shared encoder sizes and, in ``"bc"``
    mode, one private encoder. Build the new model, then copy the source's
    embedding and shared encoder weights into it (:meth:`MultiTaskClassifier.transfer` does both).

    Args:
        source: the trained model's backbone (it must have a shared encoder).
        preprocessor: the trained model's preprocessor.
        task: str. The new task's name.
        classes: sequence. Its label values.
        mode: ``"sc"`` or ``"bc"``.
    """
    if mode not in TRANSFER_MODES:
        raise ValueError(f"Unknown transfer mode {mode!r}; expected one of {list(TRANSFER_MODES)}")
    if source.shared_encoder is None:
        raise ValueError("transfer needs a model with a shared encoder.")
    if source.shared_projection is not None:
        raise ValueError("transfer of a model with shared_mean_projection is not supported: its projection "
                         "removes the differences between the source tasks' mean shared features, which a new "
                         "task's model would have to carry over unchanged")
    vectorizer = preprocessor.text_vectorizer
    new_vectorizer = TextVectorizer.from_config({**vectorizer.get_config(), "name": "text_vectorizer"})
    new_preprocessor = MultiTaskPreprocessor([task], {task: list(classes)}, text_vectorizer=new_vectorizer,
                                             name="preprocessor")
    backbone = SharedPrivateBackbone(
        1, source.vocabulary_size, source.embedding_dim, source.encoder, source.hidden_dim,
        use_shared=True, use_private=mode == "bc", initializer=source.initializer, name="backbone",
    )
    return backbone, new_preprocessor


def transfer_arguments(source, task: str, classes: Sequence, mode: str, train_shared: bool,
                       difference_weight: float, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The constructor arguments of :meth:`MultiTaskClassifier.transfer`'s new model (``source`` a trained one).

    The backbone and preprocessor of :func:`transfer_backbone`, an objective
    with the difference term alone (``difference_weight``, ``"bc"`` only) in
    the source's normalisation, the copied parts frozen unless
    ``train_shared``, and ``kwargs`` with the source's dropout and seed
    unless given.
    """
    if mode == "sc" and difference_weight:
        raise ValueError("difference_weight needs a private encoder: use mode='bc'.")
    if "frozen" in kwargs:  # what is frozen follows train_shared
        raise ValueError("transfer freezes the copied embedding and shared encoder unless train_shared=True")
    backbone, preprocessor = transfer_backbone(source.backbone, source.preprocessor, task, classes, mode)
    objective = MultiTaskObjective(difference_weight=difference_weight,
                                   difference_normalization=source.objective.difference_normalization)
    return {"backbone": backbone, "preprocessor": preprocessor, "objective": objective,
            "frozen": () if train_shared else FREEZABLE, "dropout": source.dropout, "name": f"{mode}_{task}",
            "seed": source.seed, **kwargs}
