"""Everything that defines a training run of the shared/private n-gram model, checked when it is made."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping

from tf_aspmtl.data.fdu_mtl import FDU_MTL_TASKS
from tf_aspmtl.preprocessing.ngram_features import TERM_FREQUENCIES
from tf_aspmtl.training.train_config import CONFIG_FILE_METADATA, read_config_file

NGRAM_MODEL = "sp-ngram"
"""The ``model`` field of the n-gram model's config and results files (the LSTM families have their own names)."""
NGRAM_SETTINGS = ("max_features", "ngrams", "l2", "learning_rate", "batch_size", "epochs", "patience")
"""The model's and training's settings recorded in every run's results and run folder."""
NGRAM_LEVERS = ("feature_weighting", "self_training_threshold", "student_features", "feature_dropout",
                "task_nb_ratios", "label_smoothing", "self_training_rounds", "private_learning_rate_multiplier",
                "term_frequency", "nb_smoothing", "character_ngrams", "character_max_features", "character_weight",
                "pseudo_label_weight", "pseudo_label_weighting", "pseudo_label_balance")
"""Settings off by default and recorded only when on (:meth:`NgramConfig.settings`), so a run without them has the
results settings and run-folder record it had before they existed. An :class:`NgramConfig` is the tasks, the seed,
:data:`NGRAM_SETTINGS` and these."""
FEATURE_WEIGHTINGS = ("tfidf", "nb")
"""``NgramConfig.feature_weighting``'s values (:class:`~tf_aspmtl.NgramFeatures`' ``weighting``)."""
STUDENT_FEATURES = ("train", "train+pseudo")
"""``NgramConfig.student_features``' values: the rows the self-trained student's features are learnt from."""
PSEUDO_LABEL_WEIGHTINGS = ("constant", "confidence")
"""``NgramConfig.pseudo_label_weighting``'s values (:func:`~tf_aspmtl.training.ngram_self_training`)."""
PSEUDO_LABEL_BALANCES = ("rows", "weights")
"""``NgramConfig.pseudo_label_balance``'s values (:func:`~tf_aspmtl.training.ngram_self_training`)."""
SELF_TRAINING_FIELDS = ("self_training_threshold", "student_features", "self_training_rounds", "pseudo_label_weight",
                        "pseudo_label_weighting", "pseudo_label_balance")
"""The fields of self-training: the threshold that turns it on and the settings that need it on."""


@dataclass(frozen=True)
class NgramConfig:
    """One run of :class:`~tf_aspmtl.SharedPrivateNgramClassifier` on FDU-MTL (:func:`run_ngram`).

    Every field is checked when the config is made; a bad value fails at once with the field's name.

    Attributes:
        tasks: the FDU-MTL tasks (all 16 by default).
        seed: data order (the weights start at zero).
        max_features: most n-grams kept (:class:`~tf_aspmtl.NgramFeatures`).
        ngrams: longest n-gram, in words.
        l2: L2 weight (0: early stopping alone, and sparse updates).
        learning_rate: LazyAdam's learning rate.
        batch_size: rows per training step.
        epochs: most epochs.
        patience: epochs without a better dev accuracy before stopping.
        feature_weighting: ``"tfidf"`` (the default), or ``"nb"``: each n-gram's tf-idf scaled by its naive-Bayes
            log-count ratio, learnt from the train split's labels (:class:`~tf_aspmtl.NgramFeatures`).
        self_training_threshold: 0 (off), or in (0.5, 1]: train a teacher as a run without it does, label the
            unlabelled reviews it is this sure of (as many of each class per task), then train the reported model
            on train + those rows (:func:`~tf_aspmtl.training.ngram_self_training`).
        student_features: with self-training only: the rows the student's n-gram vocabulary, idf (and NB ratios)
            are learnt from: ``"train"`` (the default: the teacher's features, from the train split) or
            ``"train+pseudo"`` (the train rows and the pseudo-labelled unlabelled ones, with their pseudo labels
            for the NB ratios: n-grams that only unlabelled reviews hold get a column). Never dev or test text.
        feature_dropout: in [0, 1): the share of a training row's n-grams each step leaves out (the rest scaled
            up; :class:`~tf_aspmtl.SharedPrivateNgramClassifier`'s ``feature_dropout``, seeded by ``seed``); 0: off.
        task_nb_ratios: with ``feature_weighting="nb"`` only: the private weights read features scaled by their
            task's own NB ratios (:class:`~tf_aspmtl.SharedPrivateNgramClassifier`'s ``task_nb_ratios``), learnt
            from the rows the features were learnt from.
        self_training_rounds: with self-training only: how many times a teacher labels the unlabelled reviews. 1
            (the default): once, by the model trained on train; ``r > 1``: each later round's teacher is the
            previous round's student (trained afresh, on train + the previous round's pseudo-labelled rows) and
            labels them all again, the reported model learning from the last round's rows.
        label_smoothing: in [0, 1): every model the run trains (the teacher and the student too) learns from
            targets ``1 - e`` on the label plus ``e / 2`` on each class (:class:`~tf_aspmtl.SharedPrivateNgramClassifier`'s
            ``label_smoothing``); 0: off.
        private_learning_rate_multiplier: > 0. The private weights' learning rate relative to the shared ones'
            (:class:`~tf_aspmtl.SharedPrivateNgramClassifier`'s ``private_learning_rate_multiplier``): below 1 the
            tasks lean on the shared weights, above 1 on their own; 1: off.
        term_frequency: ``"sublinear"`` (the default: ``1 + log(count)``) or ``"binary"`` (each n-gram a text holds
            weighs its idf, however often; :class:`~tf_aspmtl.NgramFeatures`' ``term_frequency``).
        nb_smoothing: > 0, with ``feature_weighting="nb"``: the count added to each n-gram's positive and negative
            row counts in its NB ratio (1, the default, is NBSVM's).
        character_ngrams: 0 (off), or >= 2: beside the word n-grams, character n-grams of 2 to this many characters
            inside word boundaries (:class:`~tf_aspmtl.preprocessing.NgramFeatureUnion`), weighted and normalised
            as the words' are (the same weighting, term frequency and NB smoothing).
        character_max_features: with ``character_ngrams``: most character n-grams kept.
        character_weight: > 0, with ``character_ngrams``: the character block's scale against the words'.
        pseudo_label_weight: in (0, 1], with self-training: a pseudo-labelled row's weight in the student's loss,
            a labelled row's being 1 (1, the default: the same).
        pseudo_label_weighting: with self-training: ``"constant"`` (the default: every pseudo-labelled row weighs
            ``pseudo_label_weight``) or ``"confidence"``: ``pseudo_label_weight`` times the teacher's margin over
            chance, ``(c - 1/n) / (1 - 1/n)`` for a row it gives probability ``c`` of ``n`` classes (``2c - 1``
            for two: a row it is sure of weighs the full weight, one at a 0.75 threshold half of it).
        pseudo_label_balance: with self-training: how the pseudo-labelled rows' classes are balanced per task:
            ``"rows"`` (the default: as many rows of each class, the most confident, so a task's rarest predicted
            class caps its rows) or ``"weights"`` (every row above the threshold; a row of class ``c`` weighs
            ``n_min / n_c``, its task's rarest class's rows over its class's, so each class weighs as much in
            total): unlabelled reviews are mostly positive, and ``"rows"`` then leaves most of them out.
    """

    tasks: tuple[str, ...] = FDU_MTL_TASKS
    seed: int = 0
    max_features: int = 200_000
    ngrams: int = 2
    l2: float = 0.0
    learning_rate: float = 1e-3
    batch_size: int = 64
    epochs: int = 20
    patience: int = 3
    feature_weighting: str = "tfidf"
    self_training_threshold: float = 0.0
    student_features: str = "train"
    feature_dropout: float = 0.0
    task_nb_ratios: bool = False
    label_smoothing: float = 0.0
    self_training_rounds: int = 1
    private_learning_rate_multiplier: float = 1.0
    term_frequency: str = "sublinear"
    nb_smoothing: float = 1.0
    character_ngrams: int = 0
    character_max_features: int = 500_000
    character_weight: float = 0.15
    pseudo_label_weight: float = 1.0
    pseudo_label_weighting: str = "constant"
    pseudo_label_balance: str = "rows"

    def __post_init__(self) -> None:
        if isinstance(self.tasks, str) or not self.tasks or not all(isinstance(t, str) and t for t in self.tasks):
            raise ValueError(f"NgramConfig.tasks must be a non-empty list of task names; got {self.tasks!r}")
        object.__setattr__(self, "tasks", tuple(self.tasks))
        for name in ("seed", "max_features", "ngrams", "batch_size", "epochs", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"NgramConfig.{name} must be an int; got {value!r}")
            if name != "seed" and value < 1:
                raise ValueError(f"NgramConfig.{name} must be >= 1; got {value!r}")
        for name, strict in (("learning_rate", True), ("l2", False), ("private_learning_rate_multiplier", True),
                             ("nb_smoothing", True)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value < 0 or (strict and value == 0):
                raise ValueError(f"NgramConfig.{name} must be a finite number {'>' if strict else '>='} 0; "
                                 f"got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.feature_weighting not in FEATURE_WEIGHTINGS:
            raise ValueError(f"NgramConfig.feature_weighting must be one of {list(FEATURE_WEIGHTINGS)}; got "
                             f"{self.feature_weighting!r}")
        threshold = self.self_training_threshold
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold) \
                or not (threshold == 0 or 0.5 < threshold <= 1):
            raise ValueError(f"NgramConfig.self_training_threshold must be 0 (off) or a number in (0.5, 1] (above "
                             f"0.5, so a kept row's class is unambiguous); got {threshold!r}")
        object.__setattr__(self, "self_training_threshold", float(threshold))
        dropout = self.feature_dropout
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not math.isfinite(dropout) \
                or not 0 <= dropout < 1:
            raise ValueError(f"NgramConfig.feature_dropout must be a number in [0, 1); got {dropout!r}")
        object.__setattr__(self, "feature_dropout", float(dropout))
        smoothing = self.label_smoothing
        if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)) or not math.isfinite(smoothing) \
                or not 0 <= smoothing < 1:
            raise ValueError(f"NgramConfig.label_smoothing must be a number in [0, 1); got {smoothing!r}")
        object.__setattr__(self, "label_smoothing", float(smoothing))
        if self.term_frequency not in TERM_FREQUENCIES:
            raise ValueError(f"NgramConfig.term_frequency must be one of {list(TERM_FREQUENCIES)}; got "
                             f"{self.term_frequency!r}")
        if self.nb_smoothing != 1 and self.feature_weighting != "nb":
            raise ValueError(f"NgramConfig.nb_smoothing smooths the NB ratios: it needs feature_weighting 'nb'; got "
                             f"{self.feature_weighting!r}")
        for name in ("character_ngrams", "character_max_features"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"NgramConfig.{name} must be an int; got {value!r}")
        if self.character_ngrams != 0 and self.character_ngrams < 2:
            raise ValueError(f"NgramConfig.character_ngrams must be 0 (off) or >= 2; got {self.character_ngrams!r}")
        if self.character_max_features < 2:
            raise ValueError(f"NgramConfig.character_max_features must be >= 2; got {self.character_max_features!r}")
        weight = self.character_weight
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
            raise ValueError(f"NgramConfig.character_weight must be a finite number > 0; got {weight!r}")
        object.__setattr__(self, "character_weight", float(weight))
        default = NgramConfig.__dataclass_fields__
        if not self.character_ngrams and any(getattr(self, name) != default[name].default
                                             for name in ("character_max_features", "character_weight")):
            raise ValueError("NgramConfig.character_max_features and character_weight set the character n-grams: "
                             "they need character_ngrams >= 2")
        if self.character_ngrams and self.task_nb_ratios:
            raise ValueError("NgramConfig.task_nb_ratios reads the word features' counts: it does not take "
                             "character_ngrams")
        if not isinstance(self.task_nb_ratios, bool):
            raise ValueError(f"NgramConfig.task_nb_ratios must be true or false; got {self.task_nb_ratios!r}")
        if self.task_nb_ratios and self.feature_weighting != "nb":
            raise ValueError("NgramConfig.task_nb_ratios scales NB-weighted features: it needs feature_weighting "
                             f"'nb'; got {self.feature_weighting!r}")
        if self.student_features not in STUDENT_FEATURES:
            raise ValueError(f"NgramConfig.student_features must be one of {list(STUDENT_FEATURES)}; got "
                             f"{self.student_features!r}")
        if self.student_features != "train" and not self.self_training:
            raise ValueError(f"NgramConfig.student_features {self.student_features!r} needs self-training "
                             "(self_training_threshold > 0): without it there are no pseudo-labelled rows")
        weight = self.pseudo_label_weight
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) \
                or not 0 < weight <= 1:
            raise ValueError(f"NgramConfig.pseudo_label_weight must be a number in (0, 1]; got {weight!r}")
        object.__setattr__(self, "pseudo_label_weight", float(weight))
        if self.pseudo_label_weighting not in PSEUDO_LABEL_WEIGHTINGS:
            raise ValueError(f"NgramConfig.pseudo_label_weighting must be one of {list(PSEUDO_LABEL_WEIGHTINGS)}; "
                             f"got {self.pseudo_label_weighting!r}")
        if self.pseudo_label_balance not in PSEUDO_LABEL_BALANCES:
            raise ValueError(f"NgramConfig.pseudo_label_balance must be one of {list(PSEUDO_LABEL_BALANCES)}; "
                             f"got {self.pseudo_label_balance!r}")
        if (self.pseudo_label_weight != 1 or self.pseudo_label_weighting != "constant"
                or self.pseudo_label_balance != "rows") and not self.self_training:
            raise ValueError("NgramConfig.pseudo_label_weight, pseudo_label_weighting and pseudo_label_balance "
                             "weigh pseudo-labelled rows: they need self-training (self_training_threshold > 0)")
        rounds = self.self_training_rounds
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise ValueError(f"NgramConfig.self_training_rounds must be an int >= 1; got {rounds!r}")
        if rounds > 1 and (not self.self_training or self.student_features != "train"):
            raise ValueError(f"NgramConfig.self_training_rounds {rounds} needs self-training "
                             "(self_training_threshold > 0) with student_features 'train' (each round's teacher "
                             "reads the features learnt from train)")

    @property
    def self_training(self) -> bool:
        """Whether the run self-trains (``self_training_threshold > 0``)."""
        return self.self_training_threshold > 0

    def settings(self) -> dict[str, Any]:
        """The :data:`NGRAM_SETTINGS` fields, in that order, then the :data:`NGRAM_LEVERS` that are not at their
        defaults (a results file's ``settings``, a run folder's record)."""
        default = NgramConfig.__dataclass_fields__
        return {**{name: getattr(self, name) for name in NGRAM_SETTINGS},
                **{name: getattr(self, name) for name in NGRAM_LEVERS if getattr(self, name) != default[name].default}}

    def to_dict(self) -> dict[str, Any]:
        """Every field, ``tasks`` as a list: what :meth:`from_dict` reads back."""
        return {**asdict(self), "tasks": list(self.tasks)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], where: str = "config", **overrides: Any) -> NgramConfig:
        """A config from field values, then ``overrides``.

        Args:
            values: field values; ``"model"`` may be given and must then be :data:`NGRAM_MODEL`; the keys that
                say where a config file came from (``provenance``, ``command``, ``commit``) are ignored.
            where: what ``values`` is, for the messages (a file's path, say).
            **overrides: field values that win over ``values``.

        Raises:
            ValueError: naming ``where`` and the field: another model, an unknown field or a bad value.
        """
        values = {k: v for k, v in values.items() if k not in CONFIG_FILE_METADATA}
        model = values.pop("model", NGRAM_MODEL)
        if model != NGRAM_MODEL:
            raise ValueError(f"{where}: 'model' is {model!r}; an NgramConfig is the {NGRAM_MODEL!r} model's")
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {unknown}; known: {known}")
        try:
            return replace(cls(), **{**values, **overrides})
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: {err}") from None

    @classmethod
    def from_json_file(cls, path: str | os.PathLike, **overrides: Any) -> NgramConfig:
        """A config from a JSON file (``"model": "sp-ngram"`` and any fields), then ``overrides``."""
        return cls.from_dict(read_config_file(path, "NgramConfig"), where=str(path), **overrides)

    @classmethod
    def from_results(cls, results: Mapping[str, Any]) -> NgramConfig:
        """The config of a :func:`run_ngram` results record (its ``tasks``, ``seed`` and ``settings``)."""
        return cls.from_dict({"tasks": results["tasks"], "seed": results.get("seed", 0), **results["settings"]},
                             where="results")
