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
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tf_aspmtl import serving
from tf_aspmtl.models.multitask_classifier import PROBABILITIES, MultiTaskClassifier
from tf_aspmtl.preprocessing.multitask_preprocessor import TASK, TASK_ID, TEXT, TOKEN_IDS

if TYPE_CHECKING:
    from tf_aspmtl.training.ensemble_selection import EnsembleSelection

logger = logging.getLogger(__name__)


def _describe(member: Any, index: int) -> str:
    return f"member {index} ({getattr(member, 'name', type(member).__name__)!r})"


MEMBER_ATTRIBUTES = ("task_names", "class_names", "num_classes", "task_id", "task_ids", "encode_labels")
"""What a member that is not a :class:`MultiTaskClassifier` must have, besides ``serving_probabilities``."""


def member_problem(member: Any) -> str | None:
    """Why ``member`` cannot be an ensemble member, or None if it can.

    A member is a :class:`MultiTaskClassifier` with a preprocessor, or any
    Keras model that takes raw ``{"text", "task_id"}`` rows, returns
    ``{"probabilities": [batch, max_classes], "task_id"}`` and is servable
    on its own (``serving_probabilities``, see :mod:`tf_aspmtl.serving`),
    with :data:`MEMBER_ATTRIBUTES` (e.g. :class:`tf_aspmtl.SharedPrivateNgramClassifier`).
    """
    if isinstance(member, MultiTaskClassifier):
        return None if member.preprocessor is not None else "has no preprocessor, so it cannot read raw text"
    if not isinstance(member, keras.Model) or not callable(getattr(member, "serving_probabilities", None)):
        return (f"is a {type(member).__name__}; expected a MultiTaskClassifier or another raw-text model with "
                "serving_probabilities (e.g. SharedPrivateNgramClassifier)")
    missing = [a for a in MEMBER_ATTRIBUTES if not hasattr(member, a)]
    return f"has no {', '.join(map(repr, missing))}" if missing else None


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


def task_scores(probabilities: np.ndarray, task_ids: np.ndarray, labels: np.ndarray,
                task_names: Sequence[str]) -> dict[str, Any]:
    """Per-task accuracy and error (%) of probabilities [rows, classes] against class ids [rows].

    Returns:
        ``{"per_task": {task: {"accuracy", "error", "rows"}}, "accuracy",
        "mean_task_accuracy", "avg_error"}`` over the tasks that have rows, in
        ``task_names`` order; ``error`` is ``100 * (1 - accuracy)``.
    """
    hits = np.argmax(probabilities, axis=1) == np.asarray(labels)
    task_ids = np.asarray(task_ids)
    per_task = {}
    for k, task in enumerate(task_names):
        rows = task_ids == k
        if rows.any():
            accuracy = float(np.mean(hits[rows]))
            per_task[task] = {"accuracy": accuracy, "error": 100.0 * (1.0 - accuracy), "rows": int(rows.sum())}
    if not per_task:
        raise ValueError("No rows to score.")
    return {
        "per_task": per_task,
        "accuracy": float(np.mean(hits)),
        "mean_task_accuracy": float(np.mean([s["accuracy"] for s in per_task.values()])),
        "avg_error": float(np.mean([s["error"] for s in per_task.values()])),
    }


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class MultiTaskEnsemble(keras.Model):
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
    >>> from tf_aspmtl import MultiTaskPreprocessor
    >>> frame = pd.DataFrame({"text": ["good book", "bad film", "great read", "awful"],
    ...                       "task": ["books", "dvd", "books", "dvd"], "label": ["pos", "neg", "neg", "pos"]})
    >>> members = [MultiTaskClassifier(MultiTaskPreprocessor.from_frame(frame, max_length=8), hidden_dim=4,
    ...                                word_vectors="random", seed=s) for s in range(2)]
    >>> ensemble = MultiTaskEnsemble(members)
    >>> ensemble.predict({"text": ["good film", "a book"], "task": ["dvd", "books"]}, verbose=0).shape
    (2, 2)
    >>> sorted(ensemble.evaluate_frame(frame)["per_task"])
    ['books', 'dvd']
    """

    def __init__(self, members: Sequence[keras.Model], member_weights: Sequence[float] | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        members = list(members)
        check_members(members)
        self.members = members
        self.member_weights = None if member_weights is None else _check_weights(member_weights, len(members))
        first = members[0]
        self.task_names = list(first.task_names)
        self.num_classes = list(first.num_classes)
        self.class_names = [list(names) for names in first.class_names]
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
    def load_member(path: str | os.PathLike) -> keras.Model:
        """One member from its ``.keras`` file (safe mode, not compiled); errors as in :meth:`load`."""
        import tf_aspmtl.layers  # noqa: F401  (registers the serialisable classes)
        import tf_aspmtl.preprocessing  # noqa: F401

        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No saved model at {path!r} (expected a .keras file written by model.save)")
        model = keras.models.load_model(path, compile=False)
        problem = member_problem(model)
        if problem:
            raise ValueError(f"{path!r} holds a model that cannot be a member: it {problem}.")
        return model

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
            and the :class:`tf_aspmtl.training.EnsembleSelection` (counts per
            candidate, the steps, each candidate's own scores).
        """
        from tf_aspmtl.training.ensemble_selection import select_ensemble

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

    @property
    def num_tasks(self) -> int:
        return len(self.task_names)

    def task_id(self, task: str | int) -> int:
        """The id of ``task``, given by name or id."""
        return self.members[0].task_id(task)

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

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self(x, training=False)[PROBABILITIES]

    def _raw_dataset(self, x, batch_size: int | None) -> tf.data.Dataset:
        texts = [t if isinstance(t, bytes) else str(t) for t in list(x[TEXT])]
        tasks = list(x[TASK])
        if len(texts) != len(tasks):
            raise ValueError(f"x: {len(texts)} texts but {len(tasks)} tasks")
        task_ids = self._rows_encoder().task_ids(tasks)
        return tf.data.Dataset.from_tensor_slices(
            {TEXT: tf.constant(texts, tf.string), TASK_ID: tf.constant(task_ids, tf.int32)}
        ).batch(batch_size or 64)

    def predict(self, x, batch_size: int | None = None, **kwargs) -> np.ndarray:
        """Mean probabilities [rows, max_classes] in row order; ``x`` is raw ``{"text", "task"}`` rows (tasks may mix)."""
        if isinstance(x, Mapping) and TEXT in x and TASK in x:
            x, batch_size = self._raw_dataset(x, batch_size), None
        return super().predict(x, batch_size=batch_size, **kwargs)

    def member_probabilities(self, x: Mapping[str, Sequence], batch_size: int | None = None,
                             verbose: Any = 0) -> np.ndarray:
        """Each member's own ``predict`` of raw rows: float32 [members, rows, max_classes] (progress logged at INFO)."""
        each = []
        for i, member in enumerate(self.members):
            started = time.monotonic()
            each.append(member.predict(x, batch_size=batch_size, verbose=verbose))
            logger.info("%s: %d rows in %.1f s", _describe(member, i), len(each[-1]), time.monotonic() - started)
        return np.stack(each)

    # -------------------------------------------------------- evaluation
    def _rows_encoder(self):
        """What maps raw tasks and labels to ids: member 0's preprocessor, or member 0 itself if it has none."""
        first = self.members[0]
        return first.preprocessor if getattr(first, "preprocessor", None) is not None else first

    def _class_ids(self, tasks: Sequence, labels: Sequence) -> tuple[np.ndarray, np.ndarray]:
        encoder = self._rows_encoder()
        task_ids = encoder.task_ids(list(tasks))
        return task_ids, np.asarray(encoder.encode_labels(task_ids, list(labels)))

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
        if not (isinstance(x, Mapping) and TEXT in x and TASK in x) or y is None:
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
    def serving_probabilities(self, texts: tf.Tensor, task_index: int, chunk_rows: int | None) -> tf.Tensor:
        """Mean of the members' served probabilities [batch, num_classes(task)] (the :mod:`tf_aspmtl.serving` hook)."""
        task = self.task_names[task_index]
        return self._average([serving.task_probabilities(m, texts, task, chunk_rows) for m in self.members])

    def serving_layers(self, task_index: int | None) -> list:
        """Every member's layers that the serving graph of ``task_index`` (None: all tasks) reads."""
        from tf_aspmtl.export.archive import used_layers

        return [layer for member in self.members for layer in used_layers(member, task_index)]

    def serving_info(self, is_multitask: bool) -> dict[str, Any]:
        """What an export holds: the members' own descriptions, written to its ``export.json``."""
        from tf_aspmtl.export.exporter import model_info

        infos = [model_info(member, is_multitask) for member in self.members]
        return {
            "num_members": self.num_members,
            "member_weights": self.shares,
            "tasks_in_model": self.num_tasks,
            "encoders_run_per_review": sum(i["encoders_run_per_review"] for i in infos),
            "members": infos,
        }

    def export(self, filepath: str | os.PathLike, format: str = "tf_serving", verbose: bool = True, **kwargs):
        """Writes TF Serving-ready SavedModels: ``<filepath>/<task>/<version>/`` per task and ``models.config``.

        The same layout, signature (``text`` in; ``probabilities``,
        ``label_id``, ``label`` out) and options as
        :meth:`MultiTaskClassifier.export` (:func:`tf_aspmtl.export.export_model`
        takes the keyword arguments), so clients need no change.

        Returns:
            list of :class:`tf_aspmtl.export.ExportedModel`.
        """
        if format != "tf_serving":
            raise ValueError(f"MultiTaskEnsemble exports format='tf_serving' only; got {format!r}")
        from tf_aspmtl.export.exporter import export_for_serving

        return export_for_serving(self, filepath, verbose, **kwargs)

    # ------------------------------------------------------------ config
    def get_config(self):
        config = super().get_config()
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
