"""Raw text to both paths of a wide-and-deep model: token ids for the encoders, n-gram tf-idf for the linear path."""

from __future__ import annotations

from typing import Hashable, Mapping, Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tf_aspmtl.preprocessing.multitask_preprocessor import MultiTaskPreprocessor
from tf_aspmtl.preprocessing.ngram_features import NgramFeatures
from tf_aspmtl.preprocessing.ngram_preprocessor import NGRAM_FEATURES, NgramPreprocessor
from tf_aspmtl.preprocessing.task_preprocessor import TASK, TEXT
from tf_aspmtl.preprocessing.text_vectorizer import TextVectorizer
from tf_aspmtl.serialization import deserialize_fields


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class WideAndDeepPreprocessor(MultiTaskPreprocessor):
    """A :class:`MultiTaskPreprocessor` that also gives each text's n-gram features: what a wide-and-deep model reads.

    It composes the library's two text routes rather than adding a third:
    the token ids are the :class:`MultiTaskPreprocessor`'s (its
    :class:`TextVectorizer`), the n-gram tf-idf the
    :class:`NgramPreprocessor`'s (an adapted :class:`NgramFeatures`, tf-idf
    or, made with ``weighting="nb"`` and adapted with the train rows' 0/1
    labels, tf-idf times naive-Bayes log-count ratios);
    :meth:`from_preprocessors` joins two such preprocessors of the same tasks.
    Calling it maps ``{"text": tf.string [batch], "task": names or ids}`` to
    ``{"token_ids": int32 [batch, length], "ngram_features": tf.SparseTensor
    float32 [batch, ngram_vocabulary_size], "task_id": int32 [batch]}``.

    Its training and evaluation datasets are the :class:`MultiTaskPreprocessor`'s
    (one-task, length-bucketed batches; unlabelled rows mixed in on request),
    each batch's n-gram features computed from its texts in the input
    pipeline, by the same layer the served graphs run.

    Args:
        task_names: sequence of str. The tasks, in id order.
        classes: mapping from task name to the sequence of its label values.
        text_vectorizer: optional :class:`TextVectorizer` (see :class:`MultiTaskPreprocessor`).
        ngram_features: an adapted :class:`NgramFeatures` (either weighting).
        **kwargs: :class:`MultiTaskPreprocessor`'s other arguments (``max_length``...) and standard
            `keras.layers.Layer` arguments.

    Example:
    >>> frame = pd.DataFrame({"text": ["good book", "bad book", "good film", "bad film"],
    ...                       "task": ["books", "books", "dvd", "dvd"], "label": [1, 0, 1, 0]})
    >>> pre = WideAndDeepPreprocessor.from_frame(frame, max_length=8, max_features=50)
    >>> sorted(pre({"text": tf.constant(["good book"]), "task": tf.constant(["books"])}))
    ['ngram_features', 'task_id', 'token_ids']
    """

    def __init__(self, task_names: Sequence[str], classes: Mapping[str, Sequence[Hashable]],
                 text_vectorizer: TextVectorizer | None = None, ngram_features: NgramFeatures | None = None,
                 **kwargs):
        super().__init__(task_names, classes, text_vectorizer=text_vectorizer, **kwargs)
        if not isinstance(ngram_features, NgramFeatures) or not ngram_features.adapted:
            raise ValueError("ngram_features must be an NgramFeatures adapted on training text (NgramFeatures.adapt); "
                             f"got {type(ngram_features).__name__}")
        self.ngram_features = ngram_features

    @classmethod
    def from_preprocessors(cls, tokens: MultiTaskPreprocessor, ngrams: NgramPreprocessor,
                           **kwargs) -> WideAndDeepPreprocessor:
        """The preprocessor that gives ``tokens``' token ids and ``ngrams``' n-gram features (their layers, shared).

        Raises:
            ValueError: the two preprocessors have other tasks or classes.
        """
        if not isinstance(tokens, MultiTaskPreprocessor) or not isinstance(ngrams, NgramPreprocessor):
            raise ValueError(f"from_preprocessors takes a MultiTaskPreprocessor and an NgramPreprocessor; got "
                             f"{type(tokens).__name__} and {type(ngrams).__name__}")
        if tokens.task_names != ngrams.task_names or tokens.class_names != ngrams.class_names:
            raise ValueError(f"The preprocessors must have the same tasks and classes; got {tokens.task_names} "
                             f"{tokens.class_names} and {ngrams.task_names} {ngrams.class_names}")
        kwargs.setdefault("name", "preprocessor")
        return cls(tokens.task_names, {t: tokens.classes(t) for t in tokens.task_names},
                   text_vectorizer=tokens.text_vectorizer, ngram_features=ngrams.features, **kwargs)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, max_length: int = 200, max_tokens: int | None = 30000,
                   truncation: str = "head", text_column: str = TEXT, task_column: str = TASK,
                   label_column: str = "label", classes: Mapping[str, Sequence[Hashable]] | None = None,
                   max_features: int = 200_000, ngrams: int = 2, **kwargs) -> WideAndDeepPreprocessor:
        """Tasks, classes, vocabulary and n-grams learnt from ``frame`` (training rows only): a
        :meth:`MultiTaskPreprocessor.from_frame` and an :meth:`NgramPreprocessor.from_frame` joined.

        Args:
            frame: pandas.DataFrame with text, task and label columns.
            max_length, max_tokens, truncation: the token ids' settings (:class:`TextVectorizer`).
            text_column, task_column, label_column: str. Column names.
            classes: optional mapping task -> label values, to fix the classes (and their ids).
            max_features, ngrams: the n-gram features' settings (:class:`NgramFeatures`).
            **kwargs: passed to the constructor.
        """
        columns = dict(text_column=text_column, task_column=task_column, label_column=label_column, classes=classes)
        tokens = MultiTaskPreprocessor.from_frame(frame, max_length, max_tokens, truncation, **columns)
        ngram = NgramPreprocessor.from_frame(frame, max_features, ngrams, **columns)
        return cls.from_preprocessors(tokens, ngram, **kwargs)

    @property
    def ngram_vocabulary_size(self) -> int:
        """Columns of the n-gram features (the unknown column included)."""
        return self.ngram_features.vocabulary_size

    def call(self, inputs):
        prepared = super().call(inputs)
        prepared[NGRAM_FEATURES] = self.ngram_features(inputs[TEXT])
        return prepared

    # -------------------------------------------------------------- datasets
    def with_ngram_features(self, inputs: dict, labels):
        """A batch whose raw ``"text"`` is replaced by its n-gram features (a ``tf.data`` map function)."""
        inputs = dict(inputs)
        inputs[NGRAM_FEATURES] = self.ngram_features(inputs.pop(TEXT))
        return inputs, labels

    def training_dataset(self, texts: Sequence, task_ids: np.ndarray, labels: np.ndarray, batch_size: int = 16,
                         seed: int = 0, **options) -> tuple[tf.data.Dataset, int]:
        """:meth:`MultiTaskPreprocessor.training_dataset`'s stream, with each batch's n-gram features."""
        dataset, steps = super().training_dataset(texts, task_ids, labels, batch_size, seed=seed, keep_text=True,
                                                  **options)
        return dataset.map(self.with_ngram_features, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2), steps

    def evaluation_dataset(self, texts: Sequence, task_ids: np.ndarray, labels: np.ndarray,
                           batch_size: int = 64) -> tf.data.Dataset:
        """:meth:`MultiTaskPreprocessor.evaluation_dataset`'s batches, with their n-gram features."""
        dataset = super().evaluation_dataset(texts, task_ids, labels, batch_size, keep_text=True)
        return dataset.map(self.with_ngram_features).prefetch(2)

    # --------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config["ngram_features"] = keras.saving.serialize_keras_object(self.ngram_features)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_fields(config, "text_vectorizer", "ngram_features"))
