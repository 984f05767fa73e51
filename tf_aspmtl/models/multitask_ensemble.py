"""An ensemble of trained multi-task classifiers (e.g. one configuration, several seeds), used like one model.

The ensemble's class probabilities are the (weighted) mean of its members'.
:meth:`MultiTaskEnsemble.select` chooses the members and weights among
candidates on held-out rows. Each member
tokenises the raw text with its own preprocessor, so members may have
different vocabularies; they must agree on the tasks and on each task's
classes.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Mapping, Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tf_aspmtl.metrics import task_scores
from tf_aspmtl.models.ensemble_selection import EnsembleSelection, select_ensemble
from tf_aspmtl.models.task import PROBABILITIES, ServingFunction, Task
from tf_aspmtl.preprocessing.task_preprocessor import TASK, TASK_ID, TEXT, TOKEN_IDS, TaskPreprocessor, is_raw_rows

logger = logging.getLogger(__name__)


def _describe(member: Any, index: int) -> str:
    return f"member {index} ({getattr(member, 'name', type(member).__name__)!r})"


def member_problem(member: Any) -> str | None:
    """Why ``member`` cannot be an ensemble member, or None if it can: any trained :class:`Task` can."""
    if not isinstance(member, Task):
        return (f"is a {type(member).__name__}; expected a tf_aspmtl Task (a MultiTaskClassifier, a "
                "SharedPrivateNgramClassifier, ...)")
    return None


def check_members(members: Sequence[keras.Model]) -> None:
    """Raises ValueError unless ``members`` can be averaged: raw-text models with the same tasks and classes.

    The message names the first member that cannot be one (:func:`member_problem`), or that differs from
    member 0 and what differs.
    """
    if not members:
        raise ValueError("MultiTaskEnsemble needs at least one member.")
    for i, member in enumerate(members):
        problem = member_problem(member)
        if problem:
            raise ValueError(f"{_describe(member, i)} {problem}.")
        for j in range(i):
            if members[j] is member:
                raise ValueError(f"{_describe(member, i)} is the same model object as member {j}; pass each model once.")
    first = members[0]
    for i, member in enumerate(members[1:], start=1):
        where = f"{_describe(member, i)} differs from {_describe(first, 0)}"
        if list(member.task_names) != list(first.task_names):
            raise ValueError(f"{where}: its tasks are {list(member.task_names)}, expected {list(first.task_names)} "
                             "(same names in the same order)")
        for task, mine, theirs in zip(first.task_names, member.class_names, first.class_names):
            if list(mine) != list(theirs):
                raise ValueError(f"{where}: task {task!r} has classes {list(mine)}, expected {list(theirs)} "
                                 "(same classes in the same order)")


def _check_weights(weights: Sequence[float], num_members: int) -> list[float]:
    """``weights`` normalised to sum to 1; ValueError unless they are ``num_members`` finite positive numbers."""
    weights = [float(w) for w in weights]
    if len(weights) != num_members:
        raise ValueError(f"member_weights has {len(weights)} values for {num_members} members; give one per member")
    for i, w in enumerate(weights):
        if not (np.isfinite(w) and w > 0):
            raise ValueError(f"member_weights[{i}] is {w!r}; every weight must be a finite number > 0")
    total = sum(weights)
    return [w / total for w in weights]


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class MultiTaskEnsemble(Task):
    """The mean (or a weighted mean) of several trained classifiers' class probabilities, used like one model.

    Members are :class:`MultiTaskClassifier` s (any family), or other raw-text
    models such as :class:`~tf_aspmtl.SharedPrivateNgramClassifier`, with the
    same task names in the same order and the same classes per task; each
    reads the raw text its own way, so vocabularies, lengths and features may differ.
    The ensemble takes raw rows only: ``predict({"text": [...], "task": [...]})``
    returns probabilities [rows, max_classes] in row order, as a member's
    ``predict`` does (a task with fewer classes gets 0 on the others).
    ``call`` returns ``probabilities`` (the members' mean) and ``task_id``.
    It is not trained (``fit`` raises): train the members, then average them,
    or let :meth:`select` pick members and weights on dev rows.

    Saving: ``ensemble.save("e.keras")`` holds every member (config and
    weights; not their optimizers) and ``keras.models.load_model("e.keras")``
    reloads it (``safe_mode`` works); :meth:`load` builds one from members'
    own ``.keras`` files. :meth:`export` writes the same per-task TF Serving
    SavedModels, signature and outputs as a single model's
    (:func:`tf_aspmtl.export.export_model`), each graph running every
    member's preprocessing and averaging.

    Args:
        members: sequence of trained models: :class:`MultiTaskClassifier` s, or other raw-text models
            such as :class:`~tf_aspmtl.SharedPrivateNgramClassifier` (see :func:`member_problem`).
        member_weights: optional sequence of positive numbers, one per member. Each
            member's share of the average (normalised to sum to 1); equal
            shares by default.
        **kwargs: standard `keras.Model` arguments (name, ...).

    Example:
    >>> from tf_aspmtl import MultiTaskPreprocessor, SharedPrivateMTL
    >>> frame = pd.DataFrame({"text": ["good book", "bad film", "great read", "awful"],
    ...                       "task": ["books", "dvd", "books", "dvd"], "label": ["pos", "neg", "neg", "pos"]})
    >>> members = [SharedPrivateMTL(MultiTaskPreprocessor.from_frame(frame, max_length=8), hidden_dim=4,
    ...                             word_vectors="random", seed=s) for s in range(2)]
    >>> ensemble = MultiTaskEnsemble(members)
    >>> ensemble.predict({"text": ["good film", "a book"], "task": ["dvd", "books"]}, verbose=0).shape
    (2, 2)
    >>> sorted(ensemble.evaluate_frame(frame)["per_task"])
    ['books', 'dvd']
    """

    def __init__(self, members: Sequence[Task], member_weights: Sequence[float] | None = None, **kwargs):
        members = list(members)
        check_members(members)
        first = members[0]
        # The tasks and classes every member shares; each member reads the text its own way.
        preprocessor = TaskPreprocessor(first.task_names, {t: first.preprocessor.classes(t) for t in first.task_names},
                                        name="ensemble_tasks")
        super().__init__(preprocessor, **kwargs)
        self.members = members
        self.member_weights = None if member_weights is None else _check_weights(member_weights, len(members))
        self.build()

    @classmethod
    def load(cls, paths: Sequence[str | os.PathLike], **kwargs) -> MultiTaskEnsemble:
        """The ensemble of the models saved at ``paths`` (``.keras`` files written by ``model.save``; safe mode, not compiled).

        Args:
            paths: sequence of str or path. One ``.keras`` file per member.
            **kwargs: passed to the constructor (name, ...).

        Raises:
            FileNotFoundError: a path is not a file (named).
            ValueError: a file holds no model that can be a member (:func:`member_problem`), or the members differ
                (named).
        """
        return cls([cls.load_member(path) for path in paths], **kwargs)

    @staticmethod
    def load_member(path: str | os.PathLike) -> Task:
        """One member from its ``.keras`` file (:meth:`Task.load`: safe mode, not compiled); errors as in :meth:`load`."""
        return Task.load(path)

    @classmethod
    def select(cls, candidates: Sequence[keras.Model], frame: pd.DataFrame, max_steps: int = 20,
               batch_size: int | None = None, verbose: Any = 0,
               **kwargs) -> tuple[MultiTaskEnsemble, EnsembleSelection]:
        """The ensemble that greedy forward selection builds from ``candidates`` on the rows of ``frame``.

        Every candidate predicts ``frame`` once; :func:`tf_aspmtl.training.select_ensemble`
        adds, with replacement, the candidate that lowers the mean per-task log
        loss most until none does; a candidate picked ``n`` times weighs ``n``.
        Pass dev rows (never test): the choice is fitted to them.

        Args:
            candidates: sequence of members (same tasks and classes; see :func:`member_problem`).
            frame: pandas.DataFrame with ``text``, ``task``, ``label`` (raw labels).
            max_steps: int. Most picks.
            batch_size: int. Rows per prediction batch.
            verbose: passed to each candidate's ``predict``.
            **kwargs: passed to the constructor (name, ...).

        Returns:
            ``(ensemble, selection)``: the chosen members with their weights,
            and the :class:`tf_aspmtl.models.ensemble_selection.EnsembleSelection` (counts per
            candidate, the steps, each candidate's own scores).
        """
        pool = cls(candidates, name="candidates")
        task_ids, labels, x = pool._frame_rows(frame)
        selection = select_ensemble(pool.member_probabilities(x, batch_size=batch_size, verbose=verbose),
                                    task_ids, labels, max_steps=max_steps)
        ensemble = cls([pool.members[i] for i in selection.members], member_weights=selection.weights, **kwargs)
        return ensemble, selection

    # ------------------------------------------------------------ layout
    @property
    def num_members(self) -> int:
        return len(self.members)

    def build(self, input_shape=None):
        if self.built:
            return
        for member in self.members:
            if not member.built:
                member.build()
        super().build(input_shape)

    # ----------------------------------------------------------- forward
    def call(self, inputs, training=None):
        """``{"probabilities": mean of the members' [batch, max_classes], "task_id": [batch]}``.

        Args:
            inputs: dict with ``"text"`` (tf.string [batch]) and ``"task"``
                (task names) or ``"task_id"`` (int [batch]).
            training: bool. Passed to the members.
        """
        if not isinstance(inputs, Mapping) or TEXT not in inputs or not (TASK in inputs or TASK_ID in inputs):
            got = sorted(inputs) if isinstance(inputs, Mapping) else type(inputs).__name__
            hint = (" Token ids cannot be shared: each member has its own vocabulary."
                    if isinstance(inputs, Mapping) and TOKEN_IDS in inputs else "")
            raise ValueError(f"MultiTaskEnsemble takes raw rows: a dict with {TEXT!r} and {TASK!r} "
                             f"(or {TASK_ID!r}); got {got}.{hint}")
        outputs = [member(inputs, training=training) for member in self.members]
        probabilities = self._average([o[PROBABILITIES] for o in outputs])
        return {PROBABILITIES: probabilities, TASK_ID: outputs[0][TASK_ID]}

    @property
    def shares(self) -> list[float]:
        """Each member's share of the average, summing to 1 (``member_weights`` normalised, or equal shares)."""
        return list(self.member_weights or [1.0 / self.num_members] * self.num_members)

    def _average(self, parts: list[tf.Tensor]) -> tf.Tensor:
        """The members' probabilities combined: their mean, or their weighted mean."""
        if self.member_weights is None:
            return tf.add_n(parts) / float(len(parts))
        return tf.add_n([part * weight for part, weight in zip(parts, self.member_weights)])

    def member_probabilities(self, x: Mapping[str, Sequence], batch_size: int | None = None,
                             verbose: Any = 0) -> np.ndarray:
        """Each member's own ``predict`` of raw rows: float32 [members, rows, max_classes] (progress logged at INFO);
        a member's own temperatures are not applied: the ensemble averages what its members' ``call`` gives."""
        each = []
        for i, member in enumerate(self.members):
            started = time.monotonic()
            each.append(member.predict(x, batch_size=batch_size, verbose=verbose, calibrated=False))
            logger.info("%s: %d rows in %.1f s", _describe(member, i), len(each[-1]), time.monotonic() - started)
        return np.stack(each)

    # -------------------------------------------------------- evaluation
    def _class_ids(self, tasks: Sequence, labels: Sequence) -> tuple[np.ndarray, np.ndarray]:
        tasks = list(tasks)
        return self.task_ids(tasks), np.asarray(self.encode_labels(tasks, list(labels)))

    def evaluate(self, x=None, y=None, batch_size: int | None = None, verbose: Any = "auto",
                 **kwargs) -> dict[str, float]:
        """Accuracy of raw rows: ``{"accuracy", "mean_task_accuracy", "acc_<task>"...}`` (the tasks present).

        The names of a member's accuracy metrics; there is no loss (the
        ensemble has no training objective), and the result is always a dict.

        Args:
            x: raw ``{"text": [...], "task": [...]}`` rows.
            y: raw labels (class values as in the data, or class ids as the members learnt them).
            batch_size: int. Rows per batch (64 by default).
            verbose: passed to :meth:`predict`.
        """
        if not is_raw_rows(x) or y is None:
            raise ValueError("MultiTaskEnsemble.evaluate takes raw rows x={'text': [...], 'task': [...]} and labels y.")
        kwargs.pop("return_dict", None)
        task_ids, labels = self._class_ids(x[TASK], y)
        scores = task_scores(self.predict(x, batch_size=batch_size, verbose=verbose, **kwargs), task_ids, labels,
                             self.task_names)
        result = {"accuracy": scores["accuracy"], "mean_task_accuracy": scores["mean_task_accuracy"]}
        result.update({f"acc_{task}": s["accuracy"] for task, s in scores["per_task"].items()})
        return result

    def evaluate_frame(self, frame: pd.DataFrame, batch_size: int | None = None, members: bool = False,
                       verbose: Any = 0) -> dict[str, Any]:
        """Per-task accuracy and error (%) on a frame with ``text``, ``task`` and ``label`` columns.

        Each member predicts once; the ensemble's probabilities are their mean
        (what :meth:`predict` computes).

        Args:
            frame: pandas.DataFrame. Raw rows; labels as in the data.
            batch_size: int. Rows per batch (64 by default).
            members: bool. Also score each member on its own.
            verbose: passed to each member's ``predict``.

        Returns:
            The dict of :func:`task_scores`, plus ``"members"`` (one such dict per member) with ``members``.
        """
        task_ids, labels, x = self._frame_rows(frame)
        each = self.member_probabilities(x, batch_size=batch_size, verbose=verbose)
        result = task_scores(np.tensordot(np.asarray(self.shares, np.float32), each, axes=1), task_ids, labels,
                             self.task_names)
        if members:
            result["members"] = [task_scores(p, task_ids, labels, self.task_names) for p in each]
        return result

    def _frame_rows(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, dict[str, list]]:
        """Task ids, class ids and raw ``{"text", "task"}`` inputs of a frame with text, task and label columns."""
        missing = sorted({"text", "task", "label"} - set(frame.columns))
        if missing:
            raise ValueError(f"frame lacks columns {missing}; it needs 'text', 'task' and 'label'")
        if frame.empty:
            raise ValueError("frame has no rows")
        task_ids, labels = self._class_ids(frame["task"].tolist(), frame["label"].tolist())
        return task_ids, labels, {TEXT: frame["text"].tolist(), TASK: frame["task"].tolist()}

    def fit(self, *args, **kwargs):
        raise NotImplementedError("A MultiTaskEnsemble is not trained: fit its members, then build the ensemble.")

    # ----------------------------------------------------------- serving
    def serving_function(self, task_index: int, chunk_rows: int | None = None) -> ServingFunction:
        """The (weighted) mean of the members' served probabilities; the graph reads every member's layers."""
        parts = [member.serving_function(task_index, chunk_rows) for member in self.members]

        def probabilities(texts: tf.Tensor) -> tf.Tensor:
            return self._average([part.probabilities(texts) for part in parts])

        return ServingFunction(probabilities, tuple(layer for part in parts for layer in part.layers))

    def serving_info(self, is_multitask: bool) -> dict[str, Any]:
        """What an export holds: the members' own descriptions, written to its ``export.json``."""
        infos = [member.serving_info(is_multitask) for member in self.members]
        return {
            **super().serving_info(is_multitask),
            "num_members": self.num_members,
            "member_weights": self.shares,
            "encoders_run_per_review": sum(i["encoders_run_per_review"] for i in infos),
            "members": infos,
        }

    # ------------------------------------------------------------ config
    def get_config(self):
        config = super().get_config()
        config.pop("preprocessor")  # the members' tasks and classes, rebuilt from them
        members = []
        for member in self.members:
            serialized = keras.saving.serialize_keras_object(member)
            serialized.pop("compile_config", None)  # an ensemble is for inference: members load uncompiled
            members.append(serialized)
        config["members"] = members
        config["member_weights"] = None if self.member_weights is None else list(self.member_weights)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["members"] = [keras.saving.deserialize_keras_object(m) for m in config["members"]]
        return cls(**config)
