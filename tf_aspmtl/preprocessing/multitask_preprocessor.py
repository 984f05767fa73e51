"""Raw text, task names and labels to model inputs: tokenizer + vocabulary + task and label maps."""

from __future__ import annotations

from typing import Any, Hashable, Mapping, Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tf_aspmtl.data.tabular import LabelMap, tasks_and_classes
from tf_aspmtl.preprocessing.text_vectorizer import TextVectorizer

TEXT = "text"
TASK = "task"
TOKEN_IDS = "token_ids"
TASK_ID = "task_id"


def _plain(value: Any) -> Any:
    """A label as a plain Python value (numpy ints and strings become int and str)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return value


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class MultiTaskPreprocessor(keras.layers.Layer):
    """Everything that turns a user's rows into model inputs, for every task.

    It holds a :class:`TextVectorizer` (tokenizer and vocabulary, in the
    graph), the task names (task id ``i`` is ``task_names[i]``) and each
    task's classes: the label values as they appear in the data (strings or
    ints), class id ``j`` being ``classes[task][j]``. Calling it maps
    ``{"text": tf.string [batch], "task": tf.string [batch]}`` to
    ``{"token_ids": int32 [batch, length], "task_id": int32 [batch]}`` in the
    graph; ``"task"`` may also be int task ids. Labels are mapped to class ids
    in Python (:meth:`encode_labels`), where a label the task does not know is
    an error naming its row.

    Args:
        task_names: sequence of str. The tasks, in id order.
        classes: mapping from task name to the sequence of its label values.
        text_vectorizer: optional :class:`TextVectorizer`; a new one with
            ``max_length`` and ``max_tokens`` otherwise (then call ``adapt``).
        max_length: int. Tokens kept per text (when no vectorizer is given).
        max_tokens: int. Vocabulary size, padding and OOV included (ditto).
        truncation: str. Which tokens a longer text keeps (ditto): "head",
            "tail" or "head+tail" (see :class:`TextVectorizer`).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> frame = pd.DataFrame({"text": ["good book", "bad film", "great", "awful"],
    ...                       "task": ["books", "dvd", "books", "dvd"],
    ...                       "label": ["pos", "neg", "pos", "neg"]})
    >>> pre = MultiTaskPreprocessor.from_frame(frame, max_length=8)
    >>> pre.task_names, pre.classes("dvd")
    (['books', 'dvd'], ['neg', 'pos'])
    >>> pre({"text": tf.constant(["good film"]), "task": tf.constant(["dvd"])})["task_id"].numpy()
    array([1], dtype=int32)
    """

    def __init__(
        self,
        task_names: Sequence[str],
        classes: Mapping[str, Sequence[Hashable]],
        text_vectorizer: TextVectorizer | None = None,
        max_length: int = 200,
        max_tokens: int | None = 30000,
        truncation: str = "head",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.task_names = [str(t) for t in task_names]
        if not self.task_names or len(set(self.task_names)) != len(self.task_names):
            raise ValueError(f"task_names must be non-empty and unique; got {list(task_names)}")
        classes = {str(t): [_plain(c) for c in labels] for t, labels in dict(classes).items()}
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
        if text_vectorizer is None:
            text_vectorizer = TextVectorizer(
                max_length=max_length, max_tokens=max_tokens, truncation=truncation, name="text_vectorizer"
            )
        self.text_vectorizer = text_vectorizer

    # ------------------------------------------------------------ building
    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        max_length: int = 200,
        max_tokens: int | None = 30000,
        truncation: str = "head",
        text_column: str = TEXT,
        task_column: str = TASK,
        label_column: str = "label",
        classes: Mapping[str, Sequence[Hashable]] | None = None,
        **kwargs,
    ) -> MultiTaskPreprocessor:
        """Learns the tasks (first-seen order), each task's classes (sorted) and the vocabulary from ``frame``.

        Pass the training rows only: a vocabulary or a class learnt from dev
        or test rows leaks them into the model.

        Args:
            frame: pandas.DataFrame with text, task and label columns.
            max_length: int. Tokens kept per text.
            max_tokens: int. Vocabulary size, padding and OOV included.
            truncation: str. Which tokens a longer text keeps: "head",
                "tail" or "head+tail" (see `TextVectorizer`).
            text_column, task_column, label_column: str. Column names.
            classes: optional mapping task -> label values, to fix the
                classes (and their ids) instead of learning them.
            **kwargs: passed to the constructor.
        """
        tasks, classes = tasks_and_classes(frame, text_column, task_column, label_column, classes)
        preprocessor = cls(tasks, classes, max_length=max_length, max_tokens=max_tokens, truncation=truncation,
                           **kwargs)
        preprocessor.adapt(frame[text_column].tolist())
        return preprocessor

    def adapt(self, texts: Sequence[str]) -> None:
        """Learns the vocabulary from ``texts`` (training texts only)."""
        self.text_vectorizer.adapt(list(texts))

    def build(self, input_shape=None):
        self.text_vectorizer.build()
        self.built = True

    # ---------------------------------------------------------- properties
    @property
    def num_tasks(self) -> int:
        return len(self.task_names)

    @property
    def vocabulary_size(self) -> int:
        return self.text_vectorizer.vocabulary_size

    @property
    def max_length(self) -> int:
        return self.text_vectorizer.max_length

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
        if str(task) not in self.task_names:
            raise ValueError(f"Unknown task {task!r}; expected one of {self.task_names}")
        return self.task_names.index(str(task))

    # -------------------------------------------------------------- mapping
    def task_ids(self, tasks: Sequence[Any]) -> np.ndarray:
        """Task names (or ids) to int32 ids in Python; an unknown task names its row."""
        ids = np.empty(len(tasks), dtype=np.int32)
        index = {t: i for i, t in enumerate(self.task_names)}
        for row, task in enumerate(tasks):
            task = _plain(task)
            if isinstance(task, (int, np.integer)) and not isinstance(task, bool) and 0 <= task < self.num_tasks:
                ids[row] = task
            elif str(task) in index:
                ids[row] = index[str(task)]
            else:
                raise ValueError(f"Row {row}: unknown task {task!r}; expected one of {self.task_names}")
        return ids

    def encode_labels(self, tasks: Sequence[Any], labels: Sequence[Any]) -> np.ndarray:
        """Label values to class ids (int64), row by row; an unknown label names its row, task and value.

        Args:
            tasks: sequence of task names or ids, one per row.
            labels: sequence of label values, one per row.
        """
        if len(tasks) != len(labels):
            raise ValueError(f"{len(tasks)} tasks but {len(labels)} labels")
        task_ids = self.task_ids(tasks)
        lookup = [
            {c: j for j, c in enumerate(self.label_map.classes(t))} for t in self.task_names
        ]
        out = np.empty(len(labels), dtype=np.int64)
        for row, (k, label) in enumerate(zip(task_ids, labels)):
            value = _plain(label)
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

    def call(self, inputs):
        if not isinstance(inputs, dict) or TEXT not in inputs or TASK not in inputs:
            raise ValueError(
                f"MultiTaskPreprocessor takes a dict with {TEXT!r} and {TASK!r}; got "
                f"{sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__}"
            )
        token_ids = self.text_vectorizer(inputs[TEXT])
        task = tf.convert_to_tensor(inputs[TASK])
        if task.dtype == tf.string:
            task_id = task_ids_from_names(self.task_names, task)
        else:
            task_id = tf.cast(tf.reshape(task, [-1]), tf.int32)
        return {TOKEN_IDS: token_ids, TASK_ID: task_id}

    # --------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "task_names": self.task_names,
                "classes": {t: self.label_map.classes(t) for t in self.task_names},
                "text_vectorizer": keras.layers.serialize(self.text_vectorizer),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["text_vectorizer"] = keras.layers.deserialize(config["text_vectorizer"])
        return cls(**config)


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
