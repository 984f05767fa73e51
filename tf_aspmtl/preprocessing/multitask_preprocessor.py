"""Raw text, task names and labels to the encoders' inputs: tokenizer + vocabulary + task and label maps."""

from __future__ import annotations

from typing import Hashable, Mapping, Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tf_aspmtl.data.pipeline import make_eval_dataset, make_training_dataset
from tf_aspmtl.data.tabular import tasks_and_classes
from tf_aspmtl.preprocessing.task_preprocessor import (
    TASK,
    TASK_ID,
    TEXT,
    TOKEN_IDS,
    TaskPreprocessor,
    task_ids_from_names,
    text_list,
)
from tf_aspmtl.preprocessing.text_vectorizer import TextVectorizer
from tf_aspmtl.serialization import deserialize_fields

__all__ = ["MultiTaskPreprocessor", "TASK", "TASK_ID", "TEXT", "TOKEN_IDS", "task_ids_from_names"]


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class MultiTaskPreprocessor(TaskPreprocessor):
    """Everything that turns a user's rows into model inputs, for every task.

    It holds a :class:`TextVectorizer` (tokenizer and vocabulary, in the
    graph), the task names (task id ``i`` is ``task_names[i]``) and each
    task's classes: the label values as they appear in the data (strings or
    ints), class id ``j`` being ``classes[task][j]``. Calling it maps
    ``{"text": tf.string [batch], "task": tf.string [batch]}`` to
    graph; ``"task"`` holds task values as in the data (names; see
    :meth:`TaskPreprocessor.task_ids`), or ``"task_id"`` replaces it with int
    task ids. Labels are mapped to class ids
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
    >>> frame = pd.DataFrame({"text": ["good book", "bad film", "dull book", "great film"],
    ...                       "task": ["books", "dvd", "books", "dvd"],
    ...                       "label": ["pos", "neg", "neg", "pos"]})  # every task needs 2 classes or more
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
        super().__init__(task_names, classes, **kwargs)
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
        preprocessor.adapt(text_list(frame[text_column], text_column))
        return preprocessor

    def adapt(self, texts: Sequence[str]) -> None:
        """Learns the vocabulary from ``texts`` (training texts only).

        Raises:
            ValueError: a missing text (None, NaN), its row named.
        """
        self.text_vectorizer.adapt(text_list(texts))

    def build(self, input_shape=None):
        self.text_vectorizer.build()
        self.built = True

    # ---------------------------------------------------------- properties
    @property
    def vocabulary_size(self) -> int:
        return self.text_vectorizer.vocabulary_size

    @property
    def max_length(self) -> int:
        return self.text_vectorizer.max_length

    # ------------------------------------------------------- text to ids
    def token_ids(self, texts) -> tf.Tensor:
        """Token ids int32 [batch, max_length] of raw texts tf.string [batch]: the one route from text to ids.

        ``call``, the training and evaluation datasets and the served graphs all tokenise through it.
        """
        return self.text_vectorizer(texts)

    def call(self, inputs):
        if not isinstance(inputs, dict) or TEXT not in inputs or not (TASK in inputs or TASK_ID in inputs):
            raise ValueError(
                f"MultiTaskPreprocessor takes a dict with {TEXT!r} and {TASK!r} (or {TASK_ID!r}); got "
                f"{sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__}"
            )
        return {TOKEN_IDS: self.token_ids(inputs[TEXT]), TASK_ID: self.input_task_ids(inputs)}

    # -------------------------------------------------------------- datasets
    def _frame(self, texts: Sequence, task_ids: np.ndarray, labels: np.ndarray | None = None) -> pd.DataFrame:
        frame = pd.DataFrame({"task": [self.task_names[i] for i in task_ids], "text": list(texts)})
        if labels is not None:
            frame["label"] = labels
        return frame

    def training_dataset(self, texts: Sequence, task_ids: np.ndarray, labels: np.ndarray, batch_size: int = 16,
                         seed: int = 0, sampling: str = "proportional", unlabeled: tuple | None = None,
                         unlabeled_fraction: float = 0.0, keep_text: bool = False) -> tuple[tf.data.Dataset, int]:
        """An endless shuffled stream of one-task, length-bucketed batches of token ids, and its steps per epoch.

        See :func:`tf_aspmtl.data.make_training_dataset`; ``unlabeled`` is ``(texts, task_ids)`` of rows
        without labels, mixed in for the adversarial and difference terms; ``keep_text`` also gives each row's text.
        """
        extra = None if unlabeled is None else self._frame(*unlabeled)
        return make_training_dataset(
            self._frame(texts, task_ids, labels), self.token_ids, self.task_names, batch_size=batch_size,
            sampling=sampling, unlabeled=extra, unlabeled_fraction=unlabeled_fraction,
            max_length=self.max_length, seed=seed, keep_text=keep_text,
        )

    def evaluation_dataset(self, texts: Sequence, task_ids: np.ndarray, labels: np.ndarray,
                           batch_size: int = 64, keep_text: bool = False) -> tf.data.Dataset:
        """One-task batches of token ids, tasks in id order (:func:`tf_aspmtl.data.make_eval_dataset`)."""
        return make_eval_dataset(self._frame(texts, task_ids, labels), self.token_ids, self.task_names,
                                 batch_size=batch_size, keep_text=keep_text)

    # --------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config["text_vectorizer"] = keras.layers.serialize(self.text_vectorizer)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_fields(config, "text_vectorizer"))

