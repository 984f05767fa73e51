"""Everything that defines a training run, checked when it is made, and the model it builds."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping, Sequence

import numpy as np

from tf_aspmtl.data.fdu_mtl import FDU_MTL_TASKS
from tf_aspmtl.data.pipeline import SAMPLING
from tf_aspmtl.layers.encoders import ENCODERS
from tf_aspmtl.losses import DIFFERENCE_NORMALIZATIONS
from tf_aspmtl.embedding_perturbation import EMBEDDING_PERTURBATIONS
from tf_aspmtl.initializers import WEIGHT_INITIALIZERS
from tf_aspmtl.models.families import MODEL_FAMILIES, get_model_family
from tf_aspmtl.models.multitask_classifier import MultiTaskClassifier
from tf_aspmtl.objective import ADVERSARIAL_OBJECTIVES
from tf_aspmtl.optimizers import OPTIMIZERS, get_optimizer
from tf_aspmtl.preprocessing.multitask_preprocessor import MultiTaskPreprocessor
from tf_aspmtl.preprocessing.ngram_features import WEIGHTINGS
from tf_aspmtl.preprocessing.text_vectorizer import TRUNCATIONS
from tf_aspmtl.training.apply_pretrained_encoders import ENCODER_INITS, directions_for_encoder
from tf_aspmtl.preprocessing.word_vectors import EMBEDDING_KINDS, GLOVE_DIM

EMBEDDINGS = ("random", *EMBEDDING_KINDS)
"""``TrainConfig.embedding`` choices: "random", or a kind of ``tf_aspmtl.preprocessing.embedding_matrix``
("glove": 50-d; "word2vec": ``embedding_dim``-d, trained on the run's train + unlabelled text;
"glove+word2vec": 50 GloVe dims + ``embedding_dim - 50`` word2vec dims)."""
FDU_MTL_CLASS_NAMES = ("negative", "positive")  # label 0 and 1 of every FDU-MTL task
CONFIG_FILE_METADATA = ("provenance", "command", "commit")
"""Keys of a config file that say where it came from; :meth:`TrainConfig.from_json_file` ignores them."""
QUICK = {"hidden_dim": 64, "max_length": 64, "epochs": 1, "patience": 3}
"""The smoke-test sizes of ``--quick`` (a minute or so; not the paper's numbers)."""
WIDE_DEEP = "wide-deep"
"""``TrainConfig.model`` of :class:`~tf_aspmtl.models.WideAndDeepMTL` (ASP-MTL with the n-gram linear path)."""
WIDE_SETTINGS = ("ngram_max_features", "ngrams", "wide_learning_rate_multiplier", "wide_feature_weighting")
"""The TrainConfig fields of the wide path of ``"wide-deep"`` (other models leave them at their defaults)."""
RECORDED_WHEN_SET = ("wide_feature_weighting", "gradient_reversal_scale", "reversal_warmup_epochs",
                     "discriminator_memory", "mean_matching_weight", "shared_mean_projection")
"""TrainConfig fields left out of :meth:`TrainConfig.to_dict` at their defaults: fields added after run folders
(``run_config.json``) and results files (``config``) recorded every field, so a run that leaves them at their
defaults records what it recorded before they existed; readers fill them in (:meth:`TrainConfig.from_dict`)."""
REVERSAL_SETTINGS = ("gradient_reversal_scale", "reversal_warmup_epochs")
"""The TrainConfig fields of the gradient reversal between the shared encoder and the discriminator (models with an
adversary whose objective is "reversal"; other runs leave them at their defaults)."""


def read_config_file(path: str | os.PathLike, what: str) -> dict[str, Any]:
    """A config file's JSON object of ``what``'s fields, without the keys that say where it came from
    (:data:`CONFIG_FILE_METADATA`).

    Args:
        path: the JSON file.
        what: the kind of config, for the messages ("TrainConfig", "NgramConfig").

    Raises:
        ValueError: naming ``path``: it cannot be read, is not JSON or holds no JSON object.
    """
    try:
        with open(path, encoding="utf-8") as f:
            loaded = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: cannot read a {what} ({err})") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: expected a JSON object of {what} fields")
    return {k: v for k, v in loaded.items() if k not in CONFIG_FILE_METADATA}


TRAIN_CONFIG_CHOICES = {"model": MODEL_FAMILIES, "encoder": ENCODERS, "embedding": EMBEDDINGS,
                        "optimizer": OPTIMIZERS, "difference_normalization": DIFFERENCE_NORMALIZATIONS,
                        "adversarial_objective": ADVERSARIAL_OBJECTIVES, "sampling": SAMPLING,
                        "embedding_perturbation": EMBEDDING_PERTURBATIONS, "truncation": TRUNCATIONS,
                        "initializer": WEIGHT_INITIALIZERS, "lm_init": ENCODER_INITS,
                        "wide_feature_weighting": WEIGHTINGS}
"""The allowed values of :class:`TrainConfig`'s fields that name a choice."""
TRAIN_CONFIG_HELP = {
    "model": "the model family (asp-mtl: the paper's; wide-deep: ASP-MTL plus an n-gram linear path)",
    "encoder": "the sentence encoder of every shared and private space",
    "embedding": "initial word vectors: glove (50-d), word2vec (trained on the tasks' train and unlabelled text, "
                 "never dev or test; cached), glove+word2vec (both, concatenated) or random",
    "embedding_dim": "word vector size: 50 for glove; the word2vec size for word2vec; > 50 for glove+word2vec "
                     "(50 GloVe dims + the rest word2vec, e.g. 150)",
    "freeze_embeddings": "keep the pretrained word vectors fixed during training",
    "hidden_dim": "hidden size of each encoder",
    "max_length": "tokens kept per text (the rest is cut)",
    "truncation": "which tokens a longer text keeps: head (the first max_length), tail (the last) or head+tail "
                  "(the first quarter and the last three quarters)",
    "max_tokens": "vocabulary size cap",
    "batch_size": "rows per step (each batch holds one task's rows)",
    "epochs": "most epochs",
    "patience": "epochs without dev improvement before stopping",
    "learning_rate": "the optimizer's learning rate",
    "optimizer": "lazy-adam: Adam that updates only the embedding rows a batch used; adam: Keras' Adam; "
                 "adagrad: Keras' Adagrad (the paper's lineage)",
    "initializer": "default: Keras' initialisers; uniform: every kernel and random word vector U(-0.1, 0.1), "
                   "as the paper states",
    "adversarial_weight": "lambda, the adversarial term's weight (asp-mtl)",
    "difference_weight": "gamma, the difference (orthogonality) term's weight (asp-mtl)",
    "difference_normalization": "the difference term over unit-norm features (normalized) or raw ones (sum)",
    "adversarial_objective": "reversal: the paper's gradient reversal; confusion: the encoder pushes the "
                             "discriminator toward uniform",
    "gradient_reversal_scale": "factor of the reversed gradient the shared encoder gets from the discriminator "
                               "(adversarial objective reversal): the discriminator learns at weight lambda, the "
                               "encoder at this times lambda",
    "reversal_warmup_epochs": "warm the reversal up as domain-adversarial training does (Ganin et al. 2016): in "
                              "epoch e (from 0) its factor is gradient_reversal_scale * (2 / (1 + exp(-10 p)) - 1), "
                              "p = min(1, e / this); 0: off",
    "discriminator_memory": "rows of recent shared features of every task the discriminator also learns from at "
                            "each step (batches hold one task each, so without them it sees one target a step); "
                            "0: none",
    "mean_matching_weight": "weight of the term that pulls each task's mean shared feature to the other tasks' "
                            "mean (their rows in the discriminator memory; needs discriminator_memory): what a "
                            "linear probe of the task reads first; 0: none",
    "shared_mean_projection": "remove from the shared feature the directions in which the tasks' (moving-average) "
                              "mean shared features differ, in training and serving: every task's mean shared "
                              "feature is then the same (multi-task models)",
    "dropout": "dropout on the features, in [0, 1)",
    "sampling": "which task a batch comes from: in proportion to its rows, or uniform",
    "unlabeled_fraction": "share of unlabelled rows per batch, in [0, 1) (they feed the adversary, the difference "
                          "term and virtual perturbations, never the task loss)",
    "seed": "initial weights and data order",
    "lm_pretrain_epochs": "first pretrain the LSTM encoders as a language model for this many epochs on the "
                          "tasks' train and unlabelled text (never dev or test; cached); 0: off",
    "lm_init": "encoders the pretrained language model initialises: all (shared and private) or shared",
    "self_training_threshold": "self-training: train a teacher, label the unlabelled rows it is this sure of "
                               "(in (0.5, 1]; as many of each class per task), then train the reported model on "
                               "train + those rows; 0: off",
    "self_training_max_per_task": "most pseudo-labelled rows per task, the most confident (0: no cap)",
    "embedding_perturbation": "perturbed word vectors (Miyato et al. 2017): adversarial (AT, the labelled rows' "
                              "task loss at the worst-case perturbation) or virtual (VAT, the KL between clean and "
                              "perturbed predictions on every row); each makes a step about 2-2.5 times slower",
    "perturbation_weight": "weight of the perturbation's loss term",
    "perturbation_norm": "epsilon: L2 norm of each text's perturbation over all its real tokens' word vectors",
    "ngram_max_features": "wide-deep: most n-grams of the wide path",
    "ngrams": "wide-deep: longest n-gram of the wide path, in words",
    "wide_learning_rate_multiplier": "wide-deep: the wide path's learning rate relative to learning_rate",
    "wide_feature_weighting": "wide-deep: the wide path's n-gram features: tfidf, or nb (tf-idf scaled by each "
                              "n-gram's naive-Bayes log-count ratio, learnt from the train split's labels, as "
                              "experiments.ngram's --feature-weighting nb)",
}
"""What each :class:`TrainConfig` field means, in a sentence (the command lines' help)."""


@dataclass(frozen=True)
class TrainConfig:
    """One training run; the defaults are the paper's ASP-MTL on the 16 FDU-MTL tasks.

    Every field is checked when the config is made (:meth:`__post_init__`):
    a wrong type, a non-finite or non-positive learning rate, a negative or
    non-finite loss weight, zero epochs... fail at once with the field's name.
    """

    model: str = "asp-mtl"
    tasks: tuple[str, ...] = FDU_MTL_TASKS
    encoder: str = "lstm"
    embedding: str = "glove"  # or "random", "word2vec", "glove+word2vec" (see EMBEDDINGS)
    embedding_dim: int = 50
    freeze_embeddings: bool = False  # keep the pretrained word vectors fixed during training (not with "random")
    hidden_dim: int = 100
    max_length: int = 200
    truncation: str = "head"  # tokens a longer text keeps: "head", "tail" or "head+tail" (see TextVectorizer)
    max_tokens: int = 30000
    batch_size: int = 16
    epochs: int = 15
    patience: int = 3
    learning_rate: float = 1e-3
    optimizer: str = "lazy-adam"  # or "adam" (dense updates of the whole embedding every step), "adagrad"
    initializer: str = "default"  # or "uniform": kernels and random word vectors U(-0.1, 0.1), as in the paper
    adversarial_weight: float = 0.05
    difference_weight: float = 0.01
    difference_normalization: str = "normalized"
    adversarial_objective: str = "reversal"
    # The reversal (adversarial_objective "reversal"): the encoder's factor of the reversed gradient, and a warm-up
    # of it over epochs (0 = off). Recorded only when set (RECORDED_WHEN_SET).
    gradient_reversal_scale: float = 1.0
    reversal_warmup_epochs: int = 0
    discriminator_memory: int = 0  # recorded only when set (RECORDED_WHEN_SET), as the next one
    mean_matching_weight: float = 0.0
    shared_mean_projection: bool = False  # recorded only when set (RECORDED_WHEN_SET)
    dropout: float = 0.0
    sampling: str = "proportional"
    unlabeled_fraction: float = 0.0
    seed: int = 0
    paper_scale: bool = True
    lm_pretrain_epochs: int = 0  # > 0: pretrain the LSTM encoders as a language model first (0 = off)
    lm_init: str = "all"  # encoders the language model initialises: "all" (shared + private) or "shared"
    self_training_threshold: float = 0.0  # > 0: self-training, keeping pseudo labels this sure, in (0.5, 1]; 0 = off
    self_training_max_per_task: int = 0  # most pseudo-labelled rows per task (0 = no cap)
    # Perturbed word vectors (Miyato et al. 2017): "none", "adversarial" (AT, labelled rows) or "virtual" (VAT,
    # every row of a batch, so also the unlabelled rows that unlabeled_fraction > 0 mixes in).
    embedding_perturbation: str = "none"
    perturbation_weight: float = 1.0  # weight of its loss term
    perturbation_norm: float = 1.0  # epsilon: L2 norm of each text's perturbation (all its real tokens)
    # The wide path of model "wide-deep" (WideAndDeepMTL): n-gram tf-idf learnt from the train split, its
    # learning rate relative to learning_rate, and its weighting: "tfidf" or "nb" (tf-idf times naive-Bayes
    # log-count ratios learnt from the train split's labels). Other models leave these at their defaults.
    ngram_max_features: int = 200_000
    ngrams: int = 2
    wide_learning_rate_multiplier: float = 1.0
    wide_feature_weighting: str = "tfidf"  # recorded only when "nb" (RECORDED_WHEN_SET)

    def __post_init__(self):
        types = {f.name: f.type for f in fields(self)}
        for f in fields(self):
            value = getattr(self, f.name)
            kind = types[f.name]
            if kind in ("int", int):
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                    raise ValueError(f"TrainConfig.{f.name} must be an int; got {value!r}")
            elif kind in ("float", float):
                if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                    raise ValueError(f"TrainConfig.{f.name} must be a number; got {value!r}")
                if not math.isfinite(float(value)):
                    raise ValueError(f"TrainConfig.{f.name} must be finite; got {value!r}")
            elif kind in ("str", str) and not isinstance(value, str):
                raise ValueError(f"TrainConfig.{f.name} must be a string; got {value!r}")
            elif kind in ("bool", bool) and not isinstance(value, bool):
                raise ValueError(f"TrainConfig.{f.name} must be true or false; got {value!r}")
        if isinstance(self.tasks, str) or not all(isinstance(t, str) for t in self.tasks) or not self.tasks:
            raise ValueError(f"TrainConfig.tasks must be a non-empty list of task names; got {self.tasks!r}")
        object.__setattr__(self, "tasks", tuple(self.tasks))
        for name, allowed in TRAIN_CONFIG_CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"TrainConfig.{name} must be one of {sorted(allowed)}; got {getattr(self, name)!r}")
        positive = ("embedding_dim", "hidden_dim", "max_length", "batch_size", "epochs", "patience")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1; got {getattr(self, name)!r}")
        if self.max_tokens < 3:
            raise ValueError(f"TrainConfig.max_tokens must be >= 3; got {self.max_tokens!r}")
        if self.learning_rate <= 0:
            raise ValueError(f"TrainConfig.learning_rate must be > 0; got {self.learning_rate!r}")
        for name in ("adversarial_weight", "difference_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainConfig.{name} must be >= 0; got {getattr(self, name)!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"TrainConfig.dropout must be in [0, 1); got {self.dropout!r}")
        if not 0.0 <= self.unlabeled_fraction < 1.0:
            raise ValueError(f"TrainConfig.unlabeled_fraction must be in [0, 1); got {self.unlabeled_fraction!r}")
        if self.reversal_warmup_epochs < 0:
            raise ValueError(f"TrainConfig.reversal_warmup_epochs must be >= 0 (0 = no warm-up); got "
                             f"{self.reversal_warmup_epochs!r}")
        if self.discriminator_memory < 0:
            raise ValueError(f"TrainConfig.discriminator_memory must be >= 0 (0 = none); got "
                             f"{self.discriminator_memory!r}")
        if self.discriminator_memory and not (self.model in ("asp-mtl", WIDE_DEEP) and self.adversarial_weight > 0):
            raise ValueError(f"TrainConfig.discriminator_memory feeds the task discriminator of a model with an "
                             f"adversary: model 'asp-mtl' or {WIDE_DEEP!r} with adversarial_weight > 0; got model="
                             f"{self.model!r}, adversarial_weight={self.adversarial_weight!r}")
        if self.mean_matching_weight < 0:
            raise ValueError(f"TrainConfig.mean_matching_weight must be >= 0; got {self.mean_matching_weight!r}")
        if self.mean_matching_weight and not self.discriminator_memory:
            raise ValueError("TrainConfig.mean_matching_weight compares a batch with the discriminator memory's rows "
                             "of the other tasks: set discriminator_memory > 0")
        if self.shared_mean_projection and self.model == "single":
            raise ValueError("TrainConfig.shared_mean_projection removes the differences between the tasks' mean "
                             "shared features: it needs a multi-task model, not 'single'")
        reversal = [name for name in REVERSAL_SETTINGS if getattr(self, name) != _DEFAULTS[name]]
        if reversal and not (self.model in ("asp-mtl", WIDE_DEEP) and self.adversarial_weight > 0
                             and self.adversarial_objective == "reversal"):
            named = ", ".join(f"TrainConfig.{name}" for name in reversal)  # the command line adds each one's flag
            raise ValueError(f"{named} set{'s' if len(reversal) == 1 else ''} the gradient reversal of a model with an "
                             f"adversary: model 'asp-mtl' or {WIDE_DEEP!r} with adversarial_weight > 0 and "
                             f"adversarial_objective 'reversal'; got model={self.model!r}, adversarial_weight="
                             f"{self.adversarial_weight!r}, adversarial_objective={self.adversarial_objective!r}")
        if self.lm_pretrain_epochs < 0:
            raise ValueError(f"TrainConfig.lm_pretrain_epochs must be >= 0 (0 = no pretraining); got "
                             f"{self.lm_pretrain_epochs!r}")
        if self.lm_pretrain_epochs > 0:
            try:
                directions_for_encoder(self.encoder)
            except ValueError as err:
                raise ValueError(f"TrainConfig.lm_pretrain_epochs > 0 needs an LSTM encoder: {err}") from None
        if self.self_training_threshold != 0 and not 0.5 < self.self_training_threshold <= 1.0:
            raise ValueError(f"TrainConfig.self_training_threshold must be 0 (off) or in (0.5, 1]; got "
                             f"{self.self_training_threshold!r}")
        if self.self_training_max_per_task < 0:
            raise ValueError(f"TrainConfig.self_training_max_per_task must be >= 0 (0 = no cap); got "
                             f"{self.self_training_max_per_task!r}")
        if self.perturbation_weight < 0:
            raise ValueError(f"TrainConfig.perturbation_weight must be >= 0; got {self.perturbation_weight!r}")
        if self.perturbation_norm <= 0:
            raise ValueError(f"TrainConfig.perturbation_norm must be > 0; got {self.perturbation_norm!r}")
        if self.freeze_embeddings and self.embedding == "random" and self.lm_pretrain_epochs == 0:
            raise ValueError("TrainConfig.freeze_embeddings keeps pretrained word vectors fixed; with "
                             "embedding='random' and no language-model pretraining (lm_pretrain_epochs=0) the "
                             "words would keep their random vectors: choose embedding='glove', 'word2vec' or "
                             "'glove+word2vec'")
        if self.ngram_max_features < 2 or self.ngrams < 1 or self.wide_learning_rate_multiplier <= 0:
            raise ValueError(f"TrainConfig.ngram_max_features must be >= 2, ngrams >= 1 and "
                             f"wide_learning_rate_multiplier > 0; got {self.ngram_max_features!r}, {self.ngrams!r}, "
                             f"{self.wide_learning_rate_multiplier!r}")
        wide = [name for name in WIDE_SETTINGS if getattr(self, name) != _DEFAULTS[name]]
        if wide and self.model != WIDE_DEEP:
            named = ", ".join(f"TrainConfig.{name}" for name in wide)  # the command line adds each one's flag
            raise ValueError(f"{named} set{'s' if len(wide) == 1 else ''} the wide path of model={WIDE_DEEP!r}; "
                             f"model is {self.model!r}")
        if self.embedding == "glove" and self.embedding_dim != 50:
            raise ValueError(f"embedding='glove' ships 50-d vectors; got embedding_dim={self.embedding_dim}")
        if self.embedding == "glove+word2vec" and self.embedding_dim <= GLOVE_DIM:
            raise ValueError(f"TrainConfig.embedding_dim must be > {GLOVE_DIM} for embedding='glove+word2vec' "
                             f"({GLOVE_DIM} GloVe dims + embedding_dim - {GLOVE_DIM} word2vec dims); "
                             f"got embedding_dim={self.embedding_dim}")

    @classmethod
    def from_json_file(cls, path: str | os.PathLike, **overrides: Any) -> TrainConfig:
        """A config from a JSON file of field values, then ``overrides``.

        The keys that say where a config file came from, ``provenance``,
        ``command`` and ``commit``, are not fields and are ignored.
        """
        return cls.from_dict(read_config_file(path, "TrainConfig"), where=str(path), **overrides)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], where: str = "config", **overrides: Any) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {unknown}; expected some of {sorted(known)}")
        values = {**values, **overrides}
        if "tasks" in values and not isinstance(values["tasks"], str):
            values["tasks"] = tuple(values["tasks"])
        try:
            return replace(cls(), **values)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None

    def to_dict(self) -> dict[str, Any]:
        """Every field, but those of :data:`RECORDED_WHEN_SET` at their defaults (what run folders and results
        files record; :meth:`from_dict` of it gives this config back)."""
        return {k: v for k, v in asdict(self).items() if k not in RECORDED_WHEN_SET or v != _DEFAULTS[k]}


_DEFAULTS = {f.name: f.default for f in fields(TrainConfig)}


def build_model(
    config: TrainConfig,
    preprocessor: MultiTaskPreprocessor | Sequence[str],
    word_vectors: np.ndarray | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    **model_kwargs: Any,
) -> MultiTaskClassifier:
    """The family named by ``config.model``, compiled; the one factory of experiments and tuning.

    Args:
        config: TrainConfig.
        preprocessor: MultiTaskPreprocessor of the model's tasks (or their
            names, for a model of prepared inputs); a WideAndDeepPreprocessor for ``"wide-deep"``.
        word_vectors: optional [vocabulary_size, embedding_dim] matrix
            (``config.embedding`` other than "random", from
            ``tf_aspmtl.preprocessing.embedding_matrix``); random vectors otherwise.
        hyperparameters: optional values that replace config fields
            (``adversarial_weight``, ``learning_rate``, ...; a tuner's trial).
        **model_kwargs: more constructor arguments (``num_classes``,
            ``class_names`` of a model without a preprocessor).
    """
    if hyperparameters:
        config = TrainConfig.from_dict({**config.to_dict(), **dict(hyperparameters)}, where="hyperparameters")
    kwargs: dict[str, Any] = dict(
        embedding_dim=config.embedding_dim,
        encoder=config.encoder,
        hidden_dim=config.hidden_dim,
        dropout=config.dropout,
        per_task_metrics=True,
        word_vectors="random" if word_vectors is None else word_vectors,
        initializer=config.initializer,
        shared_mean_projection=config.shared_mean_projection,
        frozen=("embedding",) if config.freeze_embeddings else (),
        seed=config.seed,
        embedding_perturbation=config.embedding_perturbation,
        perturbation_weight=config.perturbation_weight,
        perturbation_norm=config.perturbation_norm,
    )
    if isinstance(preprocessor, MultiTaskPreprocessor) and preprocessor.vocabulary_size > 2:
        model_kwargs = {}  # tasks, classes and vocabulary come from the (adapted) preprocessor
    kwargs.update({k: v for k, v in model_kwargs.items() if v is not None})
    if config.model == WIDE_DEEP:
        kwargs["wide_learning_rate_multiplier"] = config.wide_learning_rate_multiplier
    if config.model in ("asp-mtl", WIDE_DEEP):
        kwargs.update(
            adversarial_weight=config.adversarial_weight,
            difference_weight=config.difference_weight,
            difference_normalization=config.difference_normalization,
            adversarial_objective=config.adversarial_objective,
            gradient_reversal_scale=config.gradient_reversal_scale,
            reversal_warmup_epochs=config.reversal_warmup_epochs,
            discriminator_memory=config.discriminator_memory,
            mean_matching_weight=config.mean_matching_weight,
        )
    model = get_model_family(config.model)(preprocessor, name=config.model.replace("-", "_"), **kwargs)
    model.compile(optimizer=get_optimizer(config.optimizer, config.learning_rate))
    return model
