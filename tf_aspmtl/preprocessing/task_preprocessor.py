"""The base of every preprocessor: task names, each task's classes, and raw rows checked and mapped to ids."""

from __future__ import annotations

import re
from typing import Any, Hashable, Mapping, Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tf_aspmtl.data.label_map import LabelMap
from tf_aspmtl.data.table_reader import check_present, is_missing

TEXT = "text"
TASK = "task"
TOKEN_IDS = "token_ids"
TASK_ID = "task_id"
_INTEGER = re.compile(r"[+-]?[0-9]+")  # a task name that an int task value could mean


def plain_value(value: Any) -> Any:
    """A label or task as a plain Python value (numpy scalars become int/str, bytes become str)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def text_list(texts: Sequence[Any], column: str = TEXT) -> list:
    """Texts as str or bytes, one per row (other values, e.g. numbers read from a table, become str).

    Args:
        texts: sequence. One text per row.
        column: str. Where the texts come from, for the message.

    Raises:
        ValueError: a missing text (None, NaN, pd.NA), which would become the word "nan" or "None"; the message
            names its row and ``column``. An empty string is a text (of no tokens).
    """
    texts = list(texts)
    check_present(texts, column, "text", blank=False)
    return [t if isinstance(t, (str, bytes)) else str(t) for t in texts]


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def raw_inputs(inputs: Mapping[str, Any]) -> dict:
    """The ``"text"`` and the task of a batch of raw inputs, for a preprocessor's call: ``"task"`` (task values
    as in the data) if given, else ``"task_id"`` (ids), kept under its own key so ids are never read as names."""
    task = TASK if TASK in inputs else TASK_ID
    return {TEXT: inputs[TEXT], task: inputs[task]}


def is_raw_rows(x: Any) -> bool:
    """True for raw rows ``{"text": [...], "task": [...]}`` given as Python, numpy or pandas values, or as a
    ``pandas.DataFrame`` with ``text`` and ``task`` columns (other columns are ignored).

    Tensors and datasets are not raw rows: they go to Keras as they are.

    Raises:
        ValueError: ``x`` is a DataFrame without a ``text`` or a ``task`` column (Keras cannot read one either).
    """
    if isinstance(x, pd.DataFrame):
        missing = [column for column in (TEXT, TASK) if column not in x.columns]
        if missing:
            raise ValueError(f"A DataFrame of raw rows needs the columns {TEXT!r} and {TASK!r}; it has no "
                             f"{' and no '.join(repr(c) for c in missing)} (its columns: {list(x.columns)})")
        return True
    return isinstance(x, Mapping) and TEXT in x and TASK in x and not tf.is_tensor(x[TEXT])


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class TaskPreprocessor(keras.layers.Layer):
    """Task names and classes, and the one place raw rows become task ids and class ids.

    Every preprocessor of the library derives from it and adds the route
    from text to what its model reads (token ids for the encoders, n-gram
    features for the linear model) in :meth:`call`, and the datasets its
    model trains and predicts on (:meth:`training_dataset`,
    :meth:`evaluation_dataset`, :meth:`inference_dataset`).

    Tasks in the data are names: a row's task value is looked up by its text
    (``str(value)``), so int tasks read from a table (``7``) are the tasks
    named ``"7"``. An int that names no task is read as a task id, unless
    some task names are integers (then it is refused as ambiguous). Where a
    batch gives ids, it gives them under ``"task_id"``. Labels match the
    class with their text form (:func:`tf_aspmtl.data.label_map.label_text`):
    ``"1"`` is the class ``1``; ``True`` and ``1.0`` are not. A missing text,
    task or label (None, NaN) is an error naming its row.

    Args:
        task_names: sequence of str. The tasks, in id order.
        classes: mapping from task name to the sequence of its label values
            (strings or ints, as in the data); class id ``j`` is entry ``j``.
        **kwargs: standard `keras.layers.Layer` arguments.
    """

    def __init__(self, task_names: Sequence[str], classes: Mapping[str, Sequence[Hashable]], **kwargs):
        super().__init__(**kwargs)
        missing = [t for t in task_names if is_missing(plain_value(t))]
        self.task_names = [str(t) for t in task_names]
        if missing or not self.task_names or len(set(self.task_names)) != len(self.task_names):
            raise ValueError(f"task_names must be non-empty and unique, none missing; got {list(task_names)}")
        self._integer_names = tuple(t for t in self.task_names if _INTEGER.fullmatch(t))
        classes = {str(t): [plain_value(c) for c in labels] for t, labels in dict(classes).items()}
        missing = [t for t in self.task_names if t not in classes]
        extra = sorted(set(classes) - set(self.task_names))
        if missing or extra:
            raise ValueError(
                f"classes must name exactly the tasks {self.task_names}; missing {missing}, unknown {extra}"
            )
        self.label_map = LabelMap({t: classes[t] for t in self.task_names})  # refuses classes alike as text
        single = {t: classes[t] for t in self.task_names if len(classes[t]) < 2}
        if single:
            raise ValueError(f"Every task needs at least 2 classes; these have fewer: {single}")

    # ---------------------------------------------------------- properties
    @property
    def num_tasks(self) -> int:
        return len(self.task_names)

    def classes(self, task: str | int) -> list:
        """The label values of ``task`` (name or id), class id ``j`` being entry ``j``."""
        return self.label_map.classes(self.task_names[self.task_id(task)])

    @property
    def num_classes(self) -> list[int]:
        """Classes per task, in task id order."""
        return [self.label_map.num_classes(t) for t in self.task_names]

    @property
    def class_names(self) -> list[list[str]]:
        """Each task's class names as strings (what a served model answers)."""
        return [[str(c) for c in self.label_map.classes(t)] for t in self.task_names]

    def task_id(self, task: str | int) -> int:
        """The id of ``task``, given by name (str) or id (int): the one task a method such as
        ``serving_function(task)`` serves. A task named ``"1"`` is given as the str ``"1"``.

        (Task values of data rows are names whatever their type: :meth:`task_ids`.)
        """
        if isinstance(task, (int, np.integer)) and not isinstance(task, bool):
            if not 0 <= int(task) < self.num_tasks:
                raise ValueError(f"Task id {task} out of range; there are {self.num_tasks} tasks")
            return int(task)
        if str(plain_value(task)) not in self.task_names:
            raise ValueError(f"Unknown task {task!r}; expected one of {self.task_names}")
        return self.task_names.index(str(plain_value(task)))

    # -------------------------------------------------------------- mapping
    def task_ids(self, tasks: Sequence[Any], column: str = TASK) -> np.ndarray:
        """The tasks of data rows to int32 ids in Python.

        Each value is looked up by its name (``str(value)``), as the tasks
        were learnt; an int that names no task is a task id, unless some task
        names are integers (then it is ambiguous, and refused).

        Args:
            tasks: sequence. One task per row.
            column: str. Where the tasks come from, for messages.

        Raises:
            ValueError: a missing, unknown or ambiguous task; the message names its row.
        """
        tasks = list(tasks)
        check_present(tasks, column, "task")
        ids = np.empty(len(tasks), dtype=np.int32)
        index = {t: i for i, t in enumerate(self.task_names)}
        for row, task in enumerate(tasks):
            task = plain_value(task)
            if str(task) in index:
                ids[row] = index[str(task)]
            elif _is_int(task) and not self._integer_names and 0 <= task < self.num_tasks:
                ids[row] = task
            elif _is_int(task) and self._integer_names:
                raise ValueError(
                    f"Row {row}: column {column!r}: task {task!r} names no task, and it cannot be read as a task id "
                    f"because the task names {self.task_names} include integers {list(self._integer_names)}; give task "
                    f"names, or ids under {TASK_ID!r}"
                )
            else:
                raise ValueError(f"Row {row}: unknown task {task!r}; expected one of {self.task_names}")
        return ids

    def encode_labels(self, tasks: Sequence[Any], labels: Sequence[Any]) -> np.ndarray:
        """Label values to class ids (int64), row by row; an unknown label names its row, task and value.

        A value matches the class with its text form (``"1"`` is the class ``1``; ``True`` and ``1.0`` are not),
        as :class:`~tf_aspmtl.data.LabelMap` and ``load_multitask_table`` match them.

        Args:
            tasks: sequence of the rows' tasks, as in the data (see :meth:`task_ids`).
            labels: sequence of label values, one per row.

        Raises:
            ValueError: a missing or unknown task or label, its row named.
        """
        tasks, labels = list(tasks), list(labels)
        if len(tasks) != len(labels):
            raise ValueError(f"{len(tasks)} tasks but {len(labels)} labels")
        return self._class_ids(self.task_ids(tasks), labels)

    def _class_ids(self, task_ids: np.ndarray, labels: list, column: str = "labels") -> np.ndarray:
        """Label values of rows of known task ids to class ids (int64); a missing or unknown label names its row."""
        check_present(labels, column, "label")
        out = np.empty(len(labels), dtype=np.int64)
        for row, (k, label) in enumerate(zip(task_ids, labels)):
            value = plain_value(label)
            found = self.label_map.find(self.task_names[k], value)
            if found is None:
                raise ValueError(
                    f"Row {row}: label {value!r} is not a class of task {self.task_names[k]!r}"
                    f"{self.label_map.why_not(self.task_names[k], value)}; its classes are "
                    f"{self.label_map.classes(self.task_names[k])} (learnt from the training rows, or pass "
                    "classes= to fix them)"
                )
            out[row] = found
        return out

    def decode_labels(self, task: str | int, ids: Sequence[int]) -> list:
        """Class ids of ``task`` back to label values."""
        return self.label_map.decode(self.task_names[self.task_id(task)], ids)

    def rows(self, x: Mapping[str, Sequence], y: Sequence | None = None,
             where: str = "x") -> tuple[list, np.ndarray, np.ndarray | None]:
        """Raw rows checked and mapped: (texts, task ids int32, class ids or None).

        Args:
            x: ``{"text": [...], "task": [...]}`` (or a DataFrame with those columns): texts and tasks, one per
                row, tasks as in the data (see :meth:`task_ids`); tasks may mix.
            y: optional label values, one per row.
            where: str. What error messages call ``x``.

        Raises:
            ValueError: lengths differ, or a text, task or label is missing (None, NaN) or unknown; the message
                names the row and the column.
        """
        texts = text_list(x[TEXT], TEXT)
        tasks = list(x[TASK])
        if len(texts) != len(tasks):
            raise ValueError(f"{where}: {len(texts)} texts but {len(tasks)} tasks")
        task_ids = self.task_ids(tasks)
        if y is None:
            return texts, task_ids, None
        labels = list(y)
        if len(labels) != len(texts):
            raise ValueError(f"{where}: {len(texts)} texts but {len(labels)} labels")
        return texts, task_ids, self._class_ids(task_ids, labels, "y")

    def graph_task_ids(self, task: Any, ids: bool = False) -> tf.Tensor:
        """The tasks of a batch to int32 ids [batch], in the graph.

        Args:
            task: tf.string task names, or ints: with ``ids`` task ids; else task values as in the data, read
                as :meth:`task_ids` reads them (names first: when some task names are integers, ints are names).
            ids: bool. ``task`` holds task ids (the ``"task_id"`` input).
        """
        task = tf.convert_to_tensor(task)
        if task.dtype == tf.string:
            return task_ids_from_names(self.task_names, task)
        if task.dtype.is_integer and self._integer_names and not ids:
            hint = f"the task names include integers {list(self._integer_names)}, so an int {TASK!r} is a name"
            return task_ids_from_names(self.task_names, tf.strings.as_string(task), hint)
        task_ids = tf.cast(tf.reshape(task, [-1]), tf.int32)
        in_range = tf.reduce_all((task_ids >= 0) & (task_ids < self.num_tasks))
        check = tf.debugging.Assert(in_range, [f"a task id is outside [0, {self.num_tasks}) (tasks "
                                               f"{self.task_names}); the ids:", task_ids], summarize=20)
        with tf.control_dependencies([check]):  # else a gather reads another row, or zeros on a GPU
            return tf.identity(task_ids)

    def input_task_ids(self, inputs: Mapping[str, Any]) -> tf.Tensor:
        """The task ids [batch] of a batch of raw inputs: ``"task"`` (as in the data) or else ``"task_id"`` (ids)."""
        if TASK in inputs:
            return self.graph_task_ids(inputs[TASK])
        return self.graph_task_ids(inputs[TASK_ID], ids=True)

    # -------------------------------------------------------------- datasets
    def inference_dataset(self, texts: Sequence, task_ids: np.ndarray, batch_size: int = 64) -> tf.data.Dataset:
        """Rows in their order, as batches of ``{"text", "task_id"}`` (tasks may mix): what ``predict`` reads."""
        return tf.data.Dataset.from_tensor_slices(
            {TEXT: tf.constant(list(texts), tf.string), TASK_ID: tf.constant(task_ids, tf.int32)}
        ).batch(batch_size)

    def training_dataset(self, texts: Sequence, task_ids: np.ndarray, labels: np.ndarray, batch_size: int,
                         seed: int = 0, **options: Any) -> tuple[tf.data.Dataset, int | None]:
        """The training stream of labelled rows and its steps per epoch (None: one pass is an epoch)."""
        raise NotImplementedError(f"{type(self).__name__} does not build training datasets")

    def evaluation_dataset(self, texts: Sequence, task_ids: np.ndarray, labels: np.ndarray,
                           batch_size: int = 64) -> tf.data.Dataset:
        """Labelled rows for ``evaluate``, one finite pass."""
        raise NotImplementedError(f"{type(self).__name__} does not build evaluation datasets")

    # --------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(
            {"task_names": self.task_names, "classes": {t: self.label_map.classes(t) for t in self.task_names}}
        )
        return config


def task_ids_from_names(task_names: list[str], names: tf.Tensor, hint: str | None = None) -> tf.Tensor:
    """Task names [batch] to int32 ids in the graph; an unknown name fails with the list of known ones.

    Core ops only (no lookup-table resource, so served graphs need nothing more): the number of tasks is small.

    Args:
        task_names: list of str. Task id ``i`` is ``task_names[i]``.
        names: tf.string tensor of task names.
        hint: optional str, added to the failure's message.
    """
    names = tf.reshape(names, [-1])
    matches = tf.equal(names[:, None], tf.constant(task_names, tf.string)[None, :])
    known = tf.reduce_any(matches, axis=1)
    message = f"Unknown task name; expected one of {task_names}" + (f" ({hint})" if hint else "") + "; got"
    check = tf.debugging.Assert(tf.reduce_all(known), [message, tf.boolean_mask(names, ~known)], summarize=8)
    with tf.control_dependencies([check]):
        return tf.argmax(tf.cast(matches, tf.int32), axis=1, output_type=tf.int32)
