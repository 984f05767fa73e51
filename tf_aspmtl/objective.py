"""The ASP-MTL objective as one object: which terms, their weights, and each term from a model's outputs.

``L = sum_k alpha_k L_task_k + lambda L_adv + gamma L_diff (+ beta L_perturbation)``
(Liu, Qiu and Huang, ACL 2017, equations 13 to 17; the perturbation term
is Miyato et al.'s AT or VAT). A model's ``compute_loss`` calls
:meth:`MultiTaskObjective.terms`; the weights live here, in the model's
config, so ``compile`` stays Keras' own and a reloaded model needs no code.
"""

from __future__ import annotations

from typing import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from tf_aspmtl.distribute import all_replica_rows
from tf_aspmtl.embedding_perturbation import (
    EMBEDDING_PERTURBATIONS,
    LossScaler,
    adversarial_perturbation,
    kl_divergence,
    virtual_adversarial_perturbation,
)
from tf_aspmtl.losses import (
    DIFFERENCE_NORMALIZATIONS,
    adversarial_loss,
    confusion_loss,
    difference_loss,
    memory_adversarial_loss,
    task_mean_matching_loss,
    task_loss,
)

ADVERSARIAL_OBJECTIVES = ("reversal", "confusion")
LOGITS = "logits"
TASK_ID = "task_id"
SHARED = "shared"
PRIVATE = "private"
DISCRIMINATOR_LOGITS = "discriminator_logits"
CONFUSION_LOGITS = "confusion_logits"
MEMORY_LOGITS = "memory_discriminator_logits"
MEMORY_TASK_ID = "memory_task_id"
MEMORY_FEATURES = "memory_features"


def _check_number(name: str, value, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number; got {value!r}")
    if not np.isfinite(float(value)) or value < 0 or (strict and value == 0):
        raise ValueError(f"{name} must be a finite number {'>' if strict else '>='} 0; got {value!r}")
    return float(value)


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class MultiTaskObjective:
    """The terms of the multi-task objective and their weights.

    Args:
        adversarial_weight: float >= 0. lambda; > 0 means the model has a task discriminator.
        difference_weight: float >= 0. gamma, the weight of the orthogonality term.
        task_weights: optional sequence of float. alpha_k (1 each by default).
        difference_normalization: str. See :func:`tf_aspmtl.losses.difference_loss`.
        adversarial_objective: str. ``"reversal"`` (the paper: the encoder
            maximises the discriminator's cross entropy through gradient
            reversal) or ``"confusion"`` (the encoder pushes the
            discriminator's output toward uniform).
        gradient_reversal_scale: float. Factor of the reversed gradient the
            shared encoder gets from the discriminator (1: the paper's
            min-max; -1: no reversal, the encoder helps the discriminator).
            The discriminator learns at weight lambda, the encoder at
            ``gradient_reversal_scale * lambda``.
        reversal_warmup_epochs: int >= 0. Warm the reversal up over this
            many epochs, as domain-adversarial training does (Ganin et al.
            2016): the factor at epoch e is ``gradient_reversal_scale *
            (2 / (1 + exp(-10 p)) - 1)``, ``p = min(1, e / reversal_warmup_epochs)``
            (:func:`~tf_aspmtl.layers.gradient_reversal.reversal_warmup_factor`);
            0 (default): none. Needs ``adversarial_objective="reversal"``.
        discriminator_memory: int >= 0. Rows of recent shared features (of
            every task, held constant) the discriminator also learns from at
            each step (:class:`~tf_aspmtl.layers.FeatureMemory`), at weight
            lambda: a training batch holds one task, so without them the
            discriminator sees one target a step. 0 (default): none.
        mean_matching_weight: float >= 0. Weight of the term that pulls each
            task's mean shared feature to the other tasks' mean (their rows
            in the memory): what a linear probe of the task reads first
            (:func:`~tf_aspmtl.losses.task_mean_matching_loss`). Needs
            ``discriminator_memory``. 0 (default): none.
            Recorded in the config only when > 0.
        embedding_perturbation: str. ``"none"``, ``"adversarial"`` (AT) or
            ``"virtual"`` (VAT); see :mod:`tf_aspmtl.embedding_perturbation`.
        perturbation_weight: float >= 0. beta.
        perturbation_norm: float > 0. epsilon, per row over its real tokens.
        vat_xi: float > 0. xi, the norm of VAT's finite-difference step.

    Example:
    >>> objective = MultiTaskObjective(adversarial_weight=0.05, difference_weight=0.01)
    >>> objective.has_adversary, objective.term_names
    (True, ['task_loss', 'adv_loss', 'diff_loss'])
    """

    def __init__(
        self,
        adversarial_weight: float = 0.0,
        difference_weight: float = 0.0,
        task_weights: Sequence[float] | None = None,
        difference_normalization: str = "normalized",
        adversarial_objective: str = "reversal",
        gradient_reversal_scale: float = 1.0,
        reversal_warmup_epochs: int = 0,
        discriminator_memory: int = 0,
        mean_matching_weight: float = 0.0,
        embedding_perturbation: str = "none",
        perturbation_weight: float = 1.0,
        perturbation_norm: float = 1.0,
        vat_xi: float = 0.1,
    ):
        self.adversarial_weight = _check_number("adversarial_weight", adversarial_weight)
        self.difference_weight = _check_number("difference_weight", difference_weight)
        if not np.isfinite(float(gradient_reversal_scale)):
            raise ValueError(f"gradient_reversal_scale must be a finite number; got {gradient_reversal_scale!r}")
        self.gradient_reversal_scale = float(gradient_reversal_scale)
        if difference_normalization not in DIFFERENCE_NORMALIZATIONS:
            raise ValueError(f"Unknown difference_normalization {difference_normalization!r}; "
                             f"expected one of {list(DIFFERENCE_NORMALIZATIONS)}")
        if adversarial_objective not in ADVERSARIAL_OBJECTIVES:
            raise ValueError(f"Unknown adversarial_objective {adversarial_objective!r}; "
                             f"expected one of {list(ADVERSARIAL_OBJECTIVES)}")
        if embedding_perturbation not in EMBEDDING_PERTURBATIONS:
            raise ValueError(f"Unknown embedding_perturbation {embedding_perturbation!r}; "
                             f"expected one of {list(EMBEDDING_PERTURBATIONS)}")
        if (isinstance(reversal_warmup_epochs, bool) or not isinstance(reversal_warmup_epochs, (int, np.integer))
                or reversal_warmup_epochs < 0):
            raise ValueError(f"reversal_warmup_epochs must be an int >= 0 (0: no warm-up); "
                             f"got {reversal_warmup_epochs!r}")
        if reversal_warmup_epochs and adversarial_objective != "reversal":
            raise ValueError(f"reversal_warmup_epochs={reversal_warmup_epochs} warms up the gradient reversal; "
                             f"adversarial_objective is {adversarial_objective!r}, which has none: use 'reversal'")
        self.reversal_warmup_epochs = int(reversal_warmup_epochs)
        if (isinstance(discriminator_memory, bool) or not isinstance(discriminator_memory, (int, np.integer))
                or discriminator_memory < 0):
            raise ValueError(f"discriminator_memory must be an int >= 0 (0: none); got {discriminator_memory!r}")
        if discriminator_memory and not self.adversarial_weight > 0:
            raise ValueError(f"discriminator_memory={discriminator_memory} feeds the task discriminator, which needs "
                             f"adversarial_weight > 0; got {adversarial_weight!r}")
        self.discriminator_memory = int(discriminator_memory)
        self.mean_matching_weight = _check_number("mean_matching_weight", mean_matching_weight)
        if self.mean_matching_weight and not self.discriminator_memory:
            raise ValueError(f"mean_matching_weight={mean_matching_weight} compares a batch with the memory's rows of "
                             "the other tasks: set discriminator_memory > 0")
        if task_weights is not None and (isinstance(task_weights, (str, bytes)) or not np.iterable(task_weights)):
            raise ValueError(f"task_weights must be a sequence of numbers, one per task; got {task_weights!r}")
        self.task_weights = None if task_weights is None else [
            _check_number(f"task_weights[{k}]", w) for k, w in enumerate(task_weights)]
        self.difference_normalization = difference_normalization
        self.adversarial_objective = adversarial_objective
        self.embedding_perturbation = embedding_perturbation
        self.perturbation_weight = _check_number("perturbation_weight", perturbation_weight)
        self.perturbation_norm = _check_number("perturbation_norm", perturbation_norm, strict=True)
        self.vat_xi = _check_number("vat_xi", vat_xi, strict=True)

    # ------------------------------------------------------------ layout
    @property
    def has_adversary(self) -> bool:
        """Whether the model needs a task discriminator."""
        return self.adversarial_weight > 0

    @property
    def has_difference(self) -> bool:
        return self.difference_weight > 0

    @property
    def has_perturbation(self) -> bool:
        return self.embedding_perturbation != "none"

    @property
    def term_names(self) -> list[str]:
        """The terms :meth:`terms` returns (``loss`` aside), in order."""
        names = ["task_loss"]
        if self.has_adversary:
            names.append("adv_loss")
            if self.adversarial_objective == "confusion":
                names.append("confusion_loss")
            if self.discriminator_memory:
                names.append("memory_adv_loss")
            if self.mean_matching_weight:
                names.append("mean_match_loss")
        if self.has_difference:
            names.append("diff_loss")
        if self.has_perturbation:
            names.append("perturbation_loss")
        return names

    def check_model(self, num_tasks: int, has_shared: bool, has_private: bool) -> None:
        """Raises ValueError if a model of this shape cannot have these terms."""
        if self.has_adversary and not has_shared:
            raise ValueError("adversarial_weight > 0 needs the shared encoder (use_shared=True).")
        if self.has_adversary and num_tasks < 2:
            raise ValueError("adversarial_weight > 0 needs at least 2 tasks to discriminate.")
        if self.has_difference and not (has_shared and has_private):
            raise ValueError("difference_weight > 0 needs both shared and private encoders.")
        if self.task_weights is not None and len(self.task_weights) != num_tasks:
            raise ValueError(f"task_weights has {len(self.task_weights)} entries for {num_tasks} tasks")

    # --------------------------------------------------------------- terms
    def task_loss(self, y, logits, task_ids, sample_weight=None) -> tf.Tensor:
        """The weighted cross entropy of the labelled rows (``-1`` labels are unlabelled)."""
        return task_loss(y, tf.cast(logits, tf.float32), task_ids, self.task_weights, sample_weight)

    def terms(self, y, y_pred, sample_weight=None,
              perturbation: Callable[[], tf.Tensor] | None = None,
              gather_replicas: bool = False) -> dict[str, tf.Tensor]:
        """Each term (unweighted) and ``loss``, their weighted sum.

        Args:
            y: int [batch]. Class ids, -1 for unlabelled rows.
            y_pred: the model's outputs (``logits``, ``task_id`` and, as the
                terms need them, ``shared``, ``private``, ``discriminator_logits``,
                ``confusion_logits``).
            sample_weight: optional float [batch].
            perturbation: optional callable giving the perturbation term
                (:meth:`perturbation_loss` bound to the batch); it is called
                only when the objective has one.
            gather_replicas: bool. True when every replica of a strategy
                holds a slice of one global batch (training): every term is
                then computed on the rows of every replica
                (:meth:`global_batch`), so each term's value is the global
                batch's on every replica and, with the model's
                ``1 / replicas`` scaling, so is the gradient, whatever the
                split and however many of each replica's rows are labelled.
                No effect in one process or on one replica.
        """
        if gather_replicas:
            y, y_pred, sample_weight = self.global_batch(y, y_pred, sample_weight)
        task_ids = y_pred[TASK_ID]
        terms = {"task_loss": self.task_loss(y, y_pred[LOGITS], task_ids, sample_weight)}
        total = terms["task_loss"]
        if self.has_adversary:
            terms["adv_loss"] = adversarial_loss(task_ids, tf.cast(y_pred[DISCRIMINATOR_LOGITS], tf.float32))
            total += self.adversarial_weight * terms["adv_loss"]
            if CONFUSION_LOGITS in y_pred:
                terms["confusion_loss"] = confusion_loss(tf.cast(y_pred[CONFUSION_LOGITS], tf.float32))
                total += self.adversarial_weight * terms["confusion_loss"]
            if MEMORY_LOGITS in y_pred:
                terms["memory_adv_loss"] = memory_adversarial_loss(
                    y_pred[MEMORY_TASK_ID], tf.cast(y_pred[MEMORY_LOGITS], tf.float32))
                total += self.adversarial_weight * terms["memory_adv_loss"]
            if self.mean_matching_weight:
                terms["mean_match_loss"] = task_mean_matching_loss(
                    tf.cast(y_pred[SHARED], tf.float32), task_ids, tf.cast(y_pred[MEMORY_FEATURES], tf.float32),
                    y_pred[MEMORY_TASK_ID], tf.shape(y_pred[MEMORY_LOGITS])[-1])
                total += self.mean_matching_weight * terms["mean_match_loss"]
        if self.has_difference:
            terms["diff_loss"] = difference_loss(tf.cast(y_pred[SHARED], tf.float32),
                                                 tf.cast(y_pred[PRIVATE], tf.float32), task_ids,
                                                 self.difference_normalization)
            total += self.difference_weight * terms["diff_loss"]
        if self.has_perturbation and perturbation is not None:
            terms["perturbation_loss"] = perturbation()
            total += self.perturbation_weight * terms["perturbation_loss"]
        terms["loss"] = total
        return terms

    def global_batch(self, y, y_pred, sample_weight=None):
        """``(y, y_pred, sample_weight)`` with the rows of every replica, in replica order, when each replica of a
        strategy holds a slice of one global batch; unchanged (the same objects) anywhere else.

        Gathered (:func:`~tf_aspmtl.distribute.all_replica_rows`): the labels, the sample weights and the per-row
        outputs the terms read (logits, task ids, the discriminator's logits, the shared and private features as
        the terms need them); the discriminator memory's outputs are the same on every replica and stay as they are.
        Each term is then the one-process term of the global batch: its value on every replica, its gradient
        (each replica keeps its own rows' part) once the replicas' gradients, scaled by ``1 / replicas``, are summed.
        Every replica must call it (collectives).
        """
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return y, y_pred, sample_weight
        keys = [LOGITS, TASK_ID, DISCRIMINATOR_LOGITS, CONFUSION_LOGITS]
        if self.has_difference or (self.has_adversary and self.mean_matching_weight):
            keys.append(SHARED)
        if self.has_difference:
            keys.append(PRIVATE)
        keys = [k for k in keys if k in y_pred]
        rows = [y] + [y_pred[k] for k in keys] + ([] if sample_weight is None else [sample_weight])
        rows = all_replica_rows(rows)
        y_pred = {**y_pred, **dict(zip(keys, rows[1:1 + len(keys)]))}
        return rows[0], y_pred, (None if sample_weight is None else rows[-1])

    def perturbation_loss(self, y, clean_logits, task_ids, embedded, mask,
                          logits_at: Callable[[tf.Tensor], tf.Tensor], scale_loss: LossScaler | None = None,
                          sample_weight=None, seed: keras.random.SeedGenerator | None = None,
                          gather_replicas: bool = False) -> tf.Tensor:
        """AT's task loss at ``x + r_adv`` or VAT's ``KL(p(x) || p(x + r_vadv))``.

        Args:
            y: int [batch]. Class ids, -1 for unlabelled rows (AT uses the labelled ones; VAT every row).
            clean_logits: the clean pass's logits, ``p(x)`` of VAT.
            task_ids: int [batch].
            embedded: float [batch, length, dim]. The word vectors of the batch.
            mask: bool [batch, length]. True on real tokens.
            logits_at: word vectors -> logits, through the model's own encoders, dropout and heads.
            scale_loss: the optimizer's loss scaling (mixed precision), or None.
            sample_weight: optional float [batch] (AT only).
            seed: optional seed generator of VAT's random direction (see
                :func:`~tf_aspmtl.embedding_perturbation.virtual_adversarial_perturbation`).
            gather_replicas: bool. As in :meth:`terms`: the term is the mean
                over every replica's rows. Each row's perturbation depends on
                that row alone (up to rounding), so each replica finds its own
                rows' directions; only the final mean is taken over all rows.
        """
        if self.embedding_perturbation == "adversarial":
            def loss_at(vectors):
                return self.task_loss(y, logits_at(vectors), task_ids, sample_weight)

            r_adv = adversarial_perturbation(loss_at, embedded, mask, self.perturbation_norm, scale_loss)
            if not gather_replicas:
                return loss_at(embedded + r_adv)
            rows = [y, logits_at(embedded + r_adv), task_ids] + ([] if sample_weight is None else [sample_weight])
            rows = all_replica_rows(rows)
            return self.task_loss(*rows[:3], None if sample_weight is None else rows[3])
        r_vadv = virtual_adversarial_perturbation(
            logits_at, clean_logits, embedded, mask, self.perturbation_norm, self.vat_xi, scale_loss, seed
        )
        logits = [clean_logits, logits_at(embedded + r_vadv)]
        if gather_replicas:
            logits = all_replica_rows(logits)
        return kl_divergence(*logits)

    # --------------------------------------------------------------- config
    def get_config(self) -> dict:
        """Every setting; ``reversal_warmup_epochs``, ``discriminator_memory`` and ``mean_matching_weight`` only when
        > 0, so an objective without them has the config (and a model of it the fingerprint) it had before the options existed."""
        config = {
            "adversarial_weight": self.adversarial_weight,
            "difference_weight": self.difference_weight,
            "task_weights": self.task_weights,
            "difference_normalization": self.difference_normalization,
            "adversarial_objective": self.adversarial_objective,
            "gradient_reversal_scale": self.gradient_reversal_scale,
            "embedding_perturbation": self.embedding_perturbation,
            "perturbation_weight": self.perturbation_weight,
            "perturbation_norm": self.perturbation_norm,
            "vat_xi": self.vat_xi,
        }
        if self.reversal_warmup_epochs:
            config["reversal_warmup_epochs"] = self.reversal_warmup_epochs
        if self.discriminator_memory:
            config["discriminator_memory"] = self.discriminator_memory
        if self.mean_matching_weight:
            config["mean_matching_weight"] = self.mean_matching_weight
        return config

    @classmethod
    def from_config(cls, config: dict) -> MultiTaskObjective:
        return cls(**config)

    def __repr__(self) -> str:
        default = MultiTaskObjective().get_config()
        changed = {k: v for k, v in self.get_config().items() if k not in default or v != default[k]}
        return f"MultiTaskObjective({', '.join(f'{k}={v!r}' for k, v in changed.items())})"
