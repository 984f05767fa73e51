"""The base of the model families: a :class:`MultiTaskClassifier` built from a preprocessor and a few settings."""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from tf_aspmtl.models.multitask_classifier import MultiTaskClassifier
from tf_aspmtl.models.shared_private_backbone import SharedPrivateBackbone
from tf_aspmtl.objective import MultiTaskObjective
from tf_aspmtl.preprocessing.multitask_preprocessor import MultiTaskPreprocessor
from tf_aspmtl.preprocessing.text_vectorizer import TextVectorizer
from tf_aspmtl.runtime import caller_stacklevel

WORD_VECTORS = ("glove", "random")
OBJECTIVE_SETTINGS = ("adversarial_weight", "difference_weight", "task_weights", "difference_normalization",
                      "adversarial_objective", "gradient_reversal_scale", "reversal_warmup_epochs",
                      "discriminator_memory", "mean_matching_weight", "embedding_perturbation", "perturbation_weight", "perturbation_norm",
                      "vat_xi")
"""Constructor arguments of a family that go to its :class:`~tf_aspmtl.objective.MultiTaskObjective`."""


def preprocessor_for(preprocessor, task_names=None, num_classes=None, class_names=None,
                     text_vectorizer: TextVectorizer | None = None) -> MultiTaskPreprocessor:
    """The preprocessor of a family's first argument: a MultiTaskPreprocessor as it is, or task names (with an
    optional ``text_vectorizer``, class counts and names), for models fed prepared token ids."""
    if isinstance(preprocessor, MultiTaskPreprocessor):
        if task_names is not None and list(task_names) != preprocessor.task_names:
            raise ValueError(f"task_names {list(task_names)} differ from the preprocessor's {preprocessor.task_names}")
        if text_vectorizer is not None:
            raise ValueError("Pass a MultiTaskPreprocessor or a text_vectorizer, not both.")
        return preprocessor
    if isinstance(preprocessor, TextVectorizer):
        raise ValueError("Pass a TextVectorizer as text_vectorizer= (with the task names first), or a "
                         "MultiTaskPreprocessor as the first argument.")
    if isinstance(preprocessor, (str, bytes)):
        raise ValueError(f"The first argument must be a MultiTaskPreprocessor or a list of task names; got {preprocessor!r}")
    if preprocessor is not None and task_names is not None:
        raise ValueError("Pass the task names once: as the first argument or as task_names.")
    names = [str(t) for t in (task_names if task_names is not None else preprocessor or [])]
    if not names:
        raise ValueError("Give a MultiTaskPreprocessor (or, for prepared inputs, a list of task names).")
    if len(set(names)) != len(names):
        raise ValueError(f"task_names must be unique; got {names}")
    counts = 2 if num_classes is None else num_classes
    counts = [int(counts)] * len(names) if isinstance(counts, (int, np.integer)) else [int(c) for c in counts]
    if len(counts) != len(names):
        raise ValueError(f"num_classes has {len(counts)} entries for {len(names)} tasks")
    classes = class_names if class_names is not None else [[str(i) for i in range(c)] for c in counts]
    if [len(c) for c in classes] != counts:
        raise ValueError(f"class_names has {[len(c) for c in classes]} names per task; num_classes is {counts}")
    return MultiTaskPreprocessor(names, dict(zip(names, classes)), text_vectorizer=text_vectorizer,
                                 name="preprocessor")


class _Family(MultiTaskClassifier):
    """A family fixes which encoders exist and builds its backbone and objective from settings.

    Args:
        preprocessor: a :class:`~tf_aspmtl.preprocessing.MultiTaskPreprocessor`
            (tasks, classes, vocabulary), or, for prepared inputs only, a
            sequence of task names (then ``num_classes``, ``class_names``,
            ``vocabulary_size`` or ``text_vectorizer`` describe the rest).
        backbone, objective: given when a saved model is rebuilt from its
            config; otherwise made from the settings below.
        vocabulary_size: int. Rows of the word embedding (the preprocessor's
            vocabulary size when it is adapted).
        embedding_dim: int. Word vector size.
        encoder: str. ``"lstm"``, ``"bilstm"`` or ``"cnn"``.
        hidden_dim: int. Encoder size (LSTM units per direction, CNN filters per width).
        word_vectors: ``"glove"`` (GloVe 6B 50-d for the preprocessor's
            vocabulary; the default with an adapted preprocessor and
            ``embedding_dim`` 50), ``"random"`` (the default, with a warning,
            for another size), or a matrix [vocabulary_size, embedding_dim].
        initializer: str. How the weights start: ``"default"`` (Keras' defaults) or
            ``"uniform"`` (every kernel, and random word vectors, U(-0.1, 0.1), as in the paper);
            see :mod:`tf_aspmtl.initializers`.
        shared_mean_projection: bool. Remove from the shared feature the directions in which the tasks' mean
            shared features differ (:class:`~tf_aspmtl.layers.TaskMeanProjection`; the backbone's option).
        **kwargs: the objective's settings (:data:`OBJECTIVE_SETTINGS`:
            ``adversarial_weight``, ``difference_weight``, ...) and
            :class:`MultiTaskClassifier`'s (``dropout``, ``frozen``, ``seed``, name...).
    """

    use_private_encoders = False

    def __init__(self, preprocessor=None, backbone: SharedPrivateBackbone | None = None,
                 objective: MultiTaskObjective | None = None, vocabulary_size: int | None = None,
                 embedding_dim: int = 50, encoder: str = "lstm", hidden_dim: int = 100,
                 word_vectors: str | np.ndarray | None = None, initializer: str = "default",
                 shared_mean_projection: bool = False, task_names: Sequence[str] | None = None,
                 num_classes: int | Sequence[int] | None = None, class_names: Sequence[Sequence[str]] | None = None,
                 text_vectorizer: TextVectorizer | None = None, **kwargs):
        for key in ("use_shared", "use_private"):
            if key in kwargs:
                raise ValueError(f"{type(self).__name__} fixes {key}; build a SharedPrivateBackbone and a "
                                 "MultiTaskClassifier to choose it.")
        if word_vectors is None and not isinstance(preprocessor, MultiTaskPreprocessor):
            word_vectors = "random"
        preprocessor = preprocessor_for(preprocessor, task_names, num_classes, class_names, text_vectorizer)
        settings = {k: kwargs.pop(k) for k in OBJECTIVE_SETTINGS if k in kwargs}
        if objective is None:
            objective = MultiTaskObjective(**settings)
        elif settings:
            raise ValueError(f"Pass the objective or its settings {sorted(settings)}, not both.")
        rebuilt = backbone is not None
        if backbone is None:
            adapted = preprocessor.vocabulary_size > 2
            if adapted and vocabulary_size is not None and int(vocabulary_size) != preprocessor.vocabulary_size:
                raise ValueError(f"vocabulary_size={vocabulary_size} but the preprocessor's vocabulary has "
                                 f"{preprocessor.vocabulary_size} entries")
            if adapted or vocabulary_size is None:
                vocabulary_size = preprocessor.vocabulary_size if adapted else 30000
            backbone = SharedPrivateBackbone(
                preprocessor.num_tasks, vocabulary_size, embedding_dim, encoder, hidden_dim,
                use_shared=True, use_private=self.use_private_encoders, initializer=initializer,
                shared_mean_projection=shared_mean_projection, name="backbone",
            )
        super().__init__(backbone, preprocessor, objective, **kwargs)
        if not rebuilt:
            self._init_word_vectors(word_vectors)

    def _init_word_vectors(self, word_vectors) -> None:
        if word_vectors is None:
            word_vectors = "glove" if self.backbone.embedding_dim == 50 else "random"
            if word_vectors == "random":
                warnings.warn(f"{type(self).__name__}: GloVe 6B vectors are 50-d, so embedding_dim="
                              f"{self.backbone.embedding_dim} starts from random word vectors; pass "
                              "word_vectors='random' (or a matrix) to say so, embedding_dim=50 for GloVe",
                              UserWarning, stacklevel=caller_stacklevel())
        if isinstance(word_vectors, str):
            if word_vectors not in WORD_VECTORS:
                raise ValueError(f"Unknown word_vectors {word_vectors!r}; expected one of {list(WORD_VECTORS)} or a matrix")
            if word_vectors == "random":
                return
            if self.backbone.embedding_dim != 50:
                raise ValueError("word_vectors='glove' needs embedding_dim=50 (GloVe 6B 50-d).")
            from tf_aspmtl.preprocessing.word_vectors import glove_embedding_matrix

            word_vectors, _ = glove_embedding_matrix(self.preprocessor.text_vectorizer, seed=self.seed or 0)
        self.set_word_vectors(word_vectors)
