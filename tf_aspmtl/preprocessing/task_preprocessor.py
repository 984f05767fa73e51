"""The base of every preprocessor: task names, each task's classes, and raw rows checked and mapped to ids."""

from __future__ import annotations

from typing import Any, Hashable, Mapping, Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tf_aspmtl.data.tabular import LabelMap

TEXT = "text"
TASK = "task"
TOKEN_IDS = "token_ids"
TASK_ID = "task_id"


def plain_value(value: Any) -> Any:
    """A label or task as a plain Python value (numpy scalars become int/str, bytes become str)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


def text_list(texts: Sequence[Any]) -> list:
    """Texts as str or bytes, one per row (other values, e.g. numbers read from a table, become str)."""
    return [t if isinstance(t, (str, bytes)) else str(t) for t in list(texts)]


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

    Args:
        task_names: sequence of str. The tasks, in id order.
        classes: mapping from task name to the sequence of its label values
            (strings or ints, as in the data); class id ``j`` is entry ``j``.
        **kwargs: standard `keras.layers.Layer` arguments.
    """

    def __init__(self, task_names: Sequence[str], classes: Mapping[str, Sequence[Hashable]], **kwargs):
        super().__init__(**kwargs)
        self.task_names = [str(t) for t in task_names]
        if not self.task_names or len(set(self.task_names)) != len(self.task_names):
            raise ValueError(f"task_names must be non-empty and unique; got {list(task_names)}")
        classes = {str(t): [plain_value(c) for c in labels] for t, labels in dict(classes).items()}
        missing = [t for t in self.task_names if t not in classes]
        extra = sorted(set(classes) - set(self.task_names))
        if missing or extra:
            raise ValueError(
                f"classes must name exactly the tasks {self.task_names}; missing {missing}, unknown {extra}"
            )
        single = {t: classes[t] for t in self.task_names if len(set(map(str, classes[t]))) < 2}
        if single:
            raise ValueError(f"Every task needs at least 2 classes; these have fewer: {single}")
        self.label_map = LabelMap({t: classes[t] for t in self.task_names})

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
        """The id of ``task``, given by name or id."""
        if isinstance(task, (int, np.integer)) and not isinstance(task, bool):
            if not 0 <= int(task) < self.num_tasks:
                raise ValueError(f"Task id {task} out of range; there are {self.num_tasks} tasks")
            return int(task)
        if str(plain_value(task)) not in self.task_names:
            raise ValueError(f"Unknown task {task!r}; expected one of {self.task_names}")
        return self.task_names.index(str(plain_value(task)))

    # -------------------------------------------------------------- mapping
    def task_ids(self, tasks: Sequence[Any]) -> np.ndarray:
        """Task names (or ids) to int32 ids in Python; an unknown task names its row."""
        ids = np.empty(len(tasks), dtype=np.int32)
        index = {t: i for i, t in enumerate(self.task_names)}
        for row, task in enumerate(tasks):
            task = plain_value(task)
            if isinstance(task, (int, np.integer)) and not isinstance(task, bool) and 0 <= task < self.num_tasks:
                ids[row] = task
            elif str(task) in index:
                ids[row] = index[str(task)]
            else:
                raise ValueError(f"Row {row}: unknown task {task!r}; expected one of {self.task_names}")
        return ids

    def encode_labels(self, tasks: Sequence[Any], labels: Sequence[Any]) -> np.ndarray:
        """Label values to class ids (int64), row by row; an unknown label names its row, task and value.

        A value matches the class equal to it, else the one class whose string form it has (``1`` for ``"1"``).

        Args:
            tasks: sequence of task names or ids, one per row.
            labels: sequence of label values, one per row.
        """
        if len(tasks) != len(labels):
            raise ValueError(f"{len(tasks)} tasks but {len(labels)} labels")
        task_ids = self.task_ids(tasks)
        lookup = [{c: j for j, c in enumerate(self.label_map.classes(t))} for t in self.task_names]
        as_text = [{str(c): j for c, j in table.items()} for table in lookup]
        out = np.empty(len(labels), dtype=np.int64)
        for row, (k, label) in enumerate(zip(task_ids, labels)):
            value = plain_value(label)
            if value not in lookup[k] and len(as_text[k]) == len(lookup[k]) and str(value) in as_text[k]:
                out[row] = as_text[k][str(value)]
                continue
            if value not in lookup[k]:
                raise ValueError(
                    f"Row {row}: label {value!r} is not a class of task {self.task_names[k]!r}; its classes are "
                    f"{self.label_map.classes(self.task_names[k])} (learnt from the training rows, or pass "
                    "classes= to fix them)"
                )
            out[row] = lookup[k][value]
        return out

    def decode_labels(self, task: str | int, ids: Sequence[int]) -> list:
        """Class ids of ``task`` back to label values."""
        return self.label_map.decode(self.task_names[self.task_id(task)], ids)

    def rows(self, x: Mapping[str, Sequence], y: Sequence | None = None,
             where: str = "x") -> tuple[list, np.ndarray, np.ndarray | None]:
        """Raw rows checked and mapped: (texts, task ids int32, class ids or None).

        Args:
            x: ``{"text": [...], "task": [...]}`` (or a DataFrame with those columns): texts and task names (or
                ids), one per row; tasks may mix.
            y: optional label values, one per row.
            where: str. What error messages call ``x``.
        """
        texts = text_list(x[TEXT])
        tasks = list(x[TASK])
        if len(texts) != len(tasks):
            raise ValueError(f"{where}: {len(texts)} texts but {len(tasks)} tasks")
        task_ids = self.task_ids(tasks)
        if y is None:
            return texts, task_ids, None
        labels = list(y)
        if len(labels) != len(texts):
            raise ValueError(f"{where}: {len(texts)} texts but {len(labels)} labels")
        return texts, task_ids, self.encode_labels(task_ids, labels)

    def graph_task_ids(self, task: Any) -> tf.Tensor:
        """Task names (tf.string) or ids of a batch to int32 ids [batch], in the graph."""
        task = tf.convert_to_tensor(task)
        if task.dtype == tf.string:
            return task_ids_from_names(self.task_names, task)
        return tf.cast(tf.reshape(task, [-1]), tf.int32)

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


def task_ids_from_names(task_names: list[str], names: tf.Tensor) -> tf.Tensor:
    """Task names [batch] to int32 ids in the graph; an unknown name fails with the list of known ones.

    Core ops only (no lookup-table resource, so served graphs need nothing more): the number of tasks is small.
    """
    names = tf.reshape(names, [-1])
    matches = tf.equal(names[:, None], tf.constant(task_names, tf.string)[None, :])
    known = tf.reduce_any(matches, axis=1)
    check = tf.debugging.Assert(
        tf.reduce_all(known),
        [f"Unknown task name; expected one of {task_names}; got", tf.boolean_mask(names, ~known)],
        summarize=8,
    )
    with tf.control_dependencies([check]):
        return tf.argmax(tf.cast(matches, tf.int32), axis=1, output_type=tf.int32)
