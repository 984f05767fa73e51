"""The hypermodel of the searches, :class:`ASPMTLHyperModel`, and its search space and objective.

:class:`ASPMTLHyperModel` is a ``keras_tuner.HyperModel`` whose search space is

==================== ======================================= ===========
name                 range                                   default
==================== ======================================= ===========
adversarial_weight   1e-3 .. 1, log scale (ASP-MTL only)     0.05 (paper)
difference_weight    1e-3 .. 1, log scale (ASP-MTL only)     0.01 (paper)
learning_rate        1e-4 .. 1e-2, log scale (Adam)          1e-3
hidden_dim           25 .. 200, step 25                      100
dropout              0 .. 0.5, step 0.1                      0.0
==================== ======================================= ===========

so ``build(HyperParameters())`` is the paper's configuration: lambda 0.05 and
gamma 0.01 are the paper's choices; the paper states no optimiser, hidden
size or dropout, so those defaults are the ones of ``experiments.train``
(Adam 1e-3, no dropout) and of its ``--paper-scale`` (hidden 100). The names
are ``tf_aspmtl.training.TrainConfig`` field names, so a trial's values are
a training config as they stand.

The objective, :data:`OBJECTIVE`, is the mean over tasks of the accuracy on
the development data passed to ``fit`` as ``validation_data``
(``val_mean_task_accuracy``), to be **maximised**; keras-tuner scores a trial
by its best epoch. Pass the dev split (the last 200 rows of each FDU-MTL
``.task.train`` file), never the test split.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import keras
import keras_tuner
import numpy as np

from tf_aspmtl.layers.encoders import ENCODERS
from tf_aspmtl.models import MODEL_FAMILIES, MultiTaskClassifier, get_model_family
from tf_aspmtl.models.family import preprocessor_for
from tf_aspmtl.objective import MultiTaskObjective
from tf_aspmtl.optimizers import OPTIMIZERS
from tf_aspmtl.preprocessing.multitask_preprocessor import MultiTaskPreprocessor
from tf_aspmtl.training.train_config import WIDE_DEEP, TrainConfig, build_model

OBJECTIVE_NAME = "val_mean_task_accuracy"
OBJECTIVE = keras_tuner.Objective(OBJECTIVE_NAME, direction="max")
"""Mean dev accuracy over the tasks; higher is better."""

PAPER_LOSS_WEIGHTS = {"adversarial_weight": 0.05, "difference_weight": 0.01}
"""lambda and gamma as chosen in the paper (Liu et al., 2017)."""

LOSS_WEIGHTS = ("adversarial_weight", "difference_weight")
COMMON = ("learning_rate", "hidden_dim", "dropout")


def searched_hyperparameters(family: str) -> tuple[str, ...]:
    """Names of the hyperparameters :class:`ASPMTLHyperModel` searches for ``family``."""
    get_model_family(family)
    return (LOSS_WEIGHTS if family == "asp-mtl" else ()) + COMMON


class ASPMTLHyperModel(keras_tuner.HyperModel):
    """Builds a compiled model family from hyperparameters (see the module docstring for the space).

    Arguments that are not searched are given here and checked at once. It
    takes the objects ``fit`` takes: a preprocessor, then, in
    ``tuner.search``, raw rows and raw labels (or a dataset), with the dev
    split as ``validation_data``.

    Args:
        preprocessor: an adapted :class:`~tf_aspmtl.preprocessing.MultiTaskPreprocessor`
            (tasks, classes, vocabulary), or, for prepared token ids only, a
            sequence of task names (then give ``vocabulary_size``, and
            ``num_classes`` or ``class_names`` if not 2 classes each).
        family: str. ``"single"``, ``"fs-mtl"``, ``"sp-mtl"`` or ``"asp-mtl"``.
            Only ``"asp-mtl"`` searches lambda and gamma.
        word_vectors: optional array [vocabulary_size, embedding_dim] loaded
            into the embedding of every built model (e.g. GloVe); random otherwise.
        embedding_dim: int. Word vector size.
        encoder: str. ``"lstm"``, ``"bilstm"`` or ``"cnn"``.
        difference_normalization: str. See ``tf_aspmtl.losses.difference_loss``.
        adversarial_objective: str. ``"reversal"`` (the paper) or ``"confusion"``.
        optimizer: str. A key of ``tf_aspmtl.optimizers.OPTIMIZERS``: ``"lazy-adam"``, ``"adam"`` or ``"adagrad"``.
        seed: optional int. Reseeds Keras before each build, so that every
            trial starts from the same random state and differs only by its
            hyperparameters.
        vocabulary_size, num_classes, class_names: for a preprocessor given as task names.
        name: optional str. keras-tuner's name of the hypermodel.
        tunable: bool. Whether keras-tuner may tune the hyperparameters.
        base_config: optional :class:`~tf_aspmtl.training.TrainConfig` whose other settings (initializer, frozen
            embeddings, reversal warm-up, perturbations...) every build keeps; this hypermodel's arguments and the
            trial's values win over its fields. None: :class:`TrainConfig`'s defaults.

    Example:
    >>> import pandas as pd
    >>> train = pd.DataFrame({"text": ["good book", "dull book", "great film", "bad film"],
    ...                       "task": ["books", "books", "dvd", "dvd"], "label": ["pos", "neg", "pos", "neg"]})
    >>> preprocessor = MultiTaskPreprocessor.from_frame(train, max_length=8)
    >>> hypermodel = ASPMTLHyperModel(preprocessor)
    >>> model = hypermodel.build(keras_tuner.HyperParameters())   # the paper's lambda and gamma
    >>> model.objective.adversarial_weight, model.objective.difference_weight, model.backbone.hidden_dim
    (0.05, 0.01, 100)

    Example (not run):
        hypermodel = ASPMTLHyperModel(MultiTaskPreprocessor.from_frame(train))   # a search, scored on dev
        tuner = keras_tuner.RandomSearch(hypermodel, objective=OBJECTIVE, max_trials=8)
        tuner.search({"text": train.text, "task": train.task}, train.label, epochs=5,
                     validation_data=({"text": dev.text, "task": dev.task}, dev.label))
    """

    def __init__(
        self,
        preprocessor: MultiTaskPreprocessor | Sequence[str],
        family: str = "asp-mtl",
        word_vectors: np.ndarray | None = None,
        embedding_dim: int = 50,
        encoder: str = "lstm",
        difference_normalization: str = "normalized",
        adversarial_objective: str = "reversal",
        optimizer: str = "lazy-adam",
        seed: int | None = None,
        vocabulary_size: int | None = None,
        num_classes: int | Sequence[int] = 2,
        class_names: Sequence[Sequence[str]] | None = None,
        name: str | None = None,
        tunable: bool = True,
        base_config: TrainConfig | None = None,
    ):
        super().__init__(name=name, tunable=tunable)
        if isinstance(preprocessor, MultiTaskPreprocessor):
            if preprocessor.vocabulary_size <= 2:
                raise ValueError("The preprocessor has no vocabulary yet: adapt it on the training text first.")
            if vocabulary_size is not None and int(vocabulary_size) != preprocessor.vocabulary_size:
                raise ValueError(f"vocabulary_size={vocabulary_size} but the preprocessor's vocabulary has "
                                 f"{preprocessor.vocabulary_size} entries")
            vocabulary_size = preprocessor.vocabulary_size
        else:  # task names, for prepared inputs: checked by the families' own rules
            preprocessor = preprocessor_for(preprocessor, None, num_classes, class_names)
            if vocabulary_size is None:
                raise ValueError("A hypermodel of task names (prepared inputs) needs vocabulary_size.")
        self.task_names = list(preprocessor.task_names)
        if family not in MODEL_FAMILIES or family == WIDE_DEEP:
            raise ValueError(f"Unknown model family {family!r}; expected one of "
                             f"{sorted(set(MODEL_FAMILIES) - {WIDE_DEEP})} (the tuner builds the LSTM families)")
        if family == "single" and len(self.task_names) != 1:
            raise ValueError(f"family 'single' takes exactly one task; got {self.task_names}")
        if family == "asp-mtl" and len(self.task_names) < 2:
            raise ValueError(f"family 'asp-mtl' needs at least 2 tasks for its discriminator; got {self.task_names}")
        if int(vocabulary_size) < 2:
            raise ValueError(f"vocabulary_size must be >= 2; got {vocabulary_size}")
        if encoder not in ENCODERS:
            raise ValueError(f"Unknown encoder {encoder!r}; expected one of {sorted(ENCODERS)}")
        MultiTaskObjective(difference_normalization=difference_normalization, adversarial_objective=adversarial_objective)
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"Unknown optimizer {optimizer!r}; expected one of {sorted(OPTIMIZERS)}")
        if word_vectors is not None:
            word_vectors = np.asarray(word_vectors, dtype="float32")
            if word_vectors.shape != (int(vocabulary_size), int(embedding_dim)):
                raise ValueError(
                    f"word_vectors has shape {word_vectors.shape}; expected "
                    f"(vocabulary_size, embedding_dim) = ({int(vocabulary_size)}, {int(embedding_dim)})"
                )
        self.vocabulary_size = int(vocabulary_size)
        self.preprocessor = preprocessor
        self.family = family
        self.word_vectors = word_vectors
        self.embedding_dim = int(embedding_dim)
        self.encoder = encoder
        self.difference_normalization = difference_normalization
        self.adversarial_objective = adversarial_objective
        self.optimizer = optimizer
        self.seed = seed
        self.base_config = base_config

    def declare(self, hp: keras_tuner.HyperParameters) -> dict[str, Any]:
        """Registers the search space on ``hp`` and returns this trial's values by name."""
        values: dict[str, Any] = {}
        if self.family == "asp-mtl":
            values["adversarial_weight"] = hp.Float(
                "adversarial_weight", 1e-3, 1.0, sampling="log", default=PAPER_LOSS_WEIGHTS["adversarial_weight"]
            )
            values["difference_weight"] = hp.Float(
                "difference_weight", 1e-3, 1.0, sampling="log", default=PAPER_LOSS_WEIGHTS["difference_weight"]
            )
        values["learning_rate"] = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        values["hidden_dim"] = hp.Int("hidden_dim", 25, 200, step=25, default=100)
        values["dropout"] = hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.0)
        return values

    def build(self, hp: keras_tuner.HyperParameters) -> MultiTaskClassifier:
        """A compiled model of the family with ``hp``'s values (the defaults for any not set).

        Built by :func:`tf_aspmtl.training.build_model`, the factory of ``experiments.train`` too.
        """
        values = self.declare(hp)
        if self.seed is not None:
            keras.utils.set_random_seed(self.seed)
        fields = dict(
            model=self.family, tasks=tuple(self.task_names), encoder=self.encoder,
            embedding_dim=self.embedding_dim, difference_normalization=self.difference_normalization,
            adversarial_objective=self.adversarial_objective, optimizer=self.optimizer,
            seed=0 if self.seed is None else int(self.seed),
        )
        if self.base_config is None:
            embedding = "glove" if self.word_vectors is not None and self.embedding_dim == 50 else "random"
            config = TrainConfig(embedding=embedding, **fields)
        else:  # the search's fixed settings, the hypermodel's own arguments over them (no word vectors: random)
            embedding = self.base_config.embedding if self.word_vectors is not None else "random"
            config = dataclasses.replace(self.base_config, embedding=embedding, **fields)
        return build_model(config, self.preprocessor, self.word_vectors, hyperparameters=values,
                           vocabulary_size=self.vocabulary_size)

    def fit(self, hp: keras_tuner.HyperParameters, model: MultiTaskClassifier, x=None, *args, **kwargs):
        """``model.fit(x, ...)``: raw rows and raw labels, or a dataset; the objective needs ``validation_data``
        (the dev split, raw or a dataset).

        ``x`` may be a function returning ``(dataset, steps_per_epoch)``
        (for example a ``functools.partial`` of
        :func:`tf_aspmtl.data.make_training_dataset`): it is called afresh for
        every trial, so every trial reads the seeded stream from its start.
        One dataset object shared by the trials would not do: a shuffle with
        ``reshuffle_each_iteration`` gives each new iterator (each trial) a
        different order, so trial scores would depend on the trial's position
        in the search, and a resumed search would score a rerun trial on
        another order than the uninterrupted search did.
        """
        if kwargs.get("validation_data") is None:
            raise ValueError(
                f"The objective {OBJECTIVE_NAME!r} is computed on validation_data; pass the dev split "
                "(never the test split) as validation_data to search()/fit()."
            )
        if callable(x) and not hasattr(x, "element_spec"):
            x, steps = x()
            kwargs["steps_per_epoch"] = steps
        return model.fit(x, *args, **kwargs)


def default_values(hypermodel: ASPMTLHyperModel, hyperparameters: keras_tuner.HyperParameters | None = None):
    """The values ``hypermodel`` builds with when nothing is searched (``hyperparameters``' Fixed ones kept)."""
    hp = keras_tuner.HyperParameters()
    if hyperparameters is not None:
        hp.merge(hyperparameters)
    hypermodel.declare(hp)
    return {p.name: hp.values[p.name] for p in hp.space}
