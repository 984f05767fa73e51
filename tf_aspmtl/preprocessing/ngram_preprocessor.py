"""Raw text, task names and labels to the n-gram linear model's inputs: n-gram tf-idf + task and label maps."""

from __future__ import annotations

import math
from typing import Hashable, Mapping, Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tf_aspmtl.data.tabular import tasks_and_classes
from tf_aspmtl.preprocessing.ngram_feature_union import NgramFeatureUnion
from tf_aspmtl.preprocessing.ngram_features import NgramFeatures
from tf_aspmtl.preprocessing.task_preprocessor import TASK, TASK_ID, TEXT, TaskPreprocessor, text_list
from tf_aspmtl.serialization import deserialize_fields

NGRAM_FEATURES = "ngram_features"


def _checked_weights(sample_weight: Sequence[float], rows: int) -> np.ndarray:
    """``sample_weight`` as float32 [rows], or a ValueError naming what is wrong (the first bad row)."""
    try:
        weights = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"sample_weight must be numbers, one per row; got {type(sample_weight).__name__}") from None
    if weights.shape != (rows,):
        raise ValueError(f"sample_weight must hold one number per row ({rows}); got shape {weights.shape}")
    bad = np.flatnonzero(~np.isfinite(weights) | (weights < 0))
    if bad.size:
        raise ValueError(f"sample_weight must be finite and >= 0; row {int(bad[0])} is {float(weights[bad[0]])!r}")
    if rows and not weights.any():
        raise ValueError("sample_weight is zero on every row: nothing would be learnt")
    return weights.astype(np.float32)


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class NgramPreprocessor(TaskPreprocessor):
    """The tasks, their classes and an adapted :class:`NgramFeatures`: what the n-gram linear model reads.

    Calling it maps ``{"text": tf.string [batch], "task": task names}`` (task
    values as in the data, see :meth:`TaskPreprocessor.task_ids`; or
    ``"task_id"``: int task ids) to ``{"ngram_features": tf.SparseTensor float32
    [batch, vocabulary_size], "task_id": int32 [batch]}`` in the graph.
    Its training and evaluation datasets hold the features, computed once
    (:meth:`featurize`), not raw text: an epoch then costs the model's steps
    alone, not a pass of tokenisation. The same layer computes them as the
    model's graph does for raw text, so a served model, which takes raw text,
    sees the same features as training did.

    Args:
        task_names: sequence of str. The tasks, in id order.
        classes: mapping from task name to the sequence of its label values.
        features: an adapted :class:`NgramFeatures`, or :class:`NgramFeatureUnion` (words and characters).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> frame = pd.DataFrame({"text": ["good book", "bad book", "good film", "bad film"],
    ...                       "task": ["books", "books", "dvd", "dvd"], "label": [1, 0, 1, 0]})
    >>> pre = NgramPreprocessor.from_frame(frame, max_features=50)
    >>> out = pre({"text": tf.constant(["good book"]), "task": tf.constant(["books"])})
    >>> out["ngram_features"].dense_shape.numpy().tolist() == [1, pre.vocabulary_size], out["task_id"].numpy()
    (True, array([0], dtype=int32))
    """

    def __init__(self, task_names: Sequence[str], classes: Mapping[str, Sequence[Hashable]],
                 features: NgramFeatures, **kwargs):
        super().__init__(task_names, classes, **kwargs)
        if not isinstance(features, (NgramFeatures, NgramFeatureUnion)) or not features.adapted:
            raise ValueError("features must be an NgramFeatures (or NgramFeatureUnion) adapted on training text "
                             "(its adapt)")
        self.features = features

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, max_features: int | None = None, ngrams: int | None = None,
                   text_column: str = TEXT, task_column: str = TASK, label_column: str = "label",
                   classes: Mapping[str, Sequence[Hashable]] | None = None,
                   features: NgramFeatures | NgramFeatureUnion | None = None, **kwargs) -> NgramPreprocessor:
        """Tasks (first-seen order), classes (sorted per task) and n-gram features learnt from ``frame``.

        Pass the training rows only: n-grams, idf, NB ratios or a class learnt from dev or test rows leak them.

        Args:
            frame: pandas.DataFrame with text, task and label columns.
            max_features: int. Most frequent n-grams kept (default 200,000), when ``features`` is None.
            ngrams: int. Longest n-gram, in words (default 2), when ``features`` is None.
            text_column, task_column, label_column: str. Column names.
            classes: optional mapping task -> label values, to fix the classes (and their ids).
            features: None (``NgramFeatures(max_features, ngrams)``), or an :class:`NgramFeatures` or
                :class:`NgramFeatureUnion` not adapted yet, learnt here from ``frame``'s text; with
                ``weighting="nb"`` also from its labels: every task must have two classes, and class id 1 (the
                second of each task's sorted classes, e.g. ``"positive"`` of ``"negative"``/``"positive"``) is
                counted as the positive one, its ratios pooled over the tasks, so give the tasks the same two
                class names (or the same order in ``classes``).
            **kwargs: passed to the constructor.

        Raises:
            ValueError: a missing column or an empty frame; ``features`` adapted already, or given with
                ``max_features`` or ``ngrams``; NB weighting with a task of other than two classes (named).
        """
        tasks, classes = tasks_and_classes(frame, text_column, task_column, label_column, classes)
        if features is None:
            features = NgramFeatures(max_features=200_000 if max_features is None else max_features,
                                     ngrams=2 if ngrams is None else ngrams)
        elif max_features is not None or ngrams is not None:
            raise ValueError("max_features and ngrams build the default features: with features given, set them "
                             f"there; got max_features={max_features!r}, ngrams={ngrams!r}")
        elif not isinstance(features, (NgramFeatures, NgramFeatureUnion)) or features.adapted:
            raise ValueError("features must be an NgramFeatures (or NgramFeatureUnion) not adapted yet: from_frame "
                             f"learns it from the frame's rows; got {features!r}")
        labels = None
        if features.weighting == "nb":
            not_two = {t: list(classes[t]) for t in tasks if len(classes[t]) != 2}
            if not_two:
                raise ValueError("weighting 'nb' learns each n-gram's log-count ratio between two classes; these "
                                 f"tasks have other than two: {not_two}")
            labels = TaskPreprocessor(tasks, classes).encode_labels(frame[task_column].astype(str).tolist(),
                                                                    frame[label_column].tolist())
        features.adapt(text_list(frame[text_column], text_column), labels=labels)
        return cls(tasks, classes, features, **kwargs)

    @property
    def vocabulary_size(self) -> int:
        """Columns of the features (n-grams kept, the unknown column included)."""
        return self.features.vocabulary_size

    def build(self, input_shape=None):
        self.built = True

    def call(self, inputs):
        if not isinstance(inputs, Mapping) or TEXT not in inputs or not (TASK in inputs or TASK_ID in inputs):
            got = sorted(inputs) if isinstance(inputs, Mapping) else type(inputs).__name__
            raise ValueError(f"NgramPreprocessor takes a dict with {TEXT!r} and {TASK!r} (or {TASK_ID!r}); got {got}")
        return {NGRAM_FEATURES: self.features(inputs[TEXT]), TASK_ID: self.input_task_ids(inputs)}

    # -------------------------------------------------------------- datasets
    def featurize(self, texts: Sequence, chunk_rows: int = 4096) -> tf.SparseTensor:
        """The n-gram features of ``texts`` [rows, vocabulary_size], computed ``chunk_rows`` texts at a time.

        Each row's features depend on its text alone, so they are the ones
        the model's graph computes for the same text in any batch.
        """
        texts = list(texts)
        if not texts:
            return tf.SparseTensor(tf.zeros([0, 2], tf.int64), tf.zeros([0], tf.float32), [0, self.vocabulary_size])
        featurize = tf.function(self.features.call, input_signature=[tf.TensorSpec([None], tf.string)])  # one trace
        chunks = [featurize(tf.constant(texts[i:i + chunk_rows], tf.string)) for i in range(0, len(texts), chunk_rows)]
        return tf.sparse.concat(0, chunks)

    def _rows(self, texts: Sequence, task_ids: np.ndarray, labels: np.ndarray | None,
              sample_weight: np.ndarray | None = None) -> tf.data.Dataset:
        inputs = {NGRAM_FEATURES: self.featurize(texts), TASK_ID: tf.constant(task_ids, tf.int32)}
        if labels is None:
            return tf.data.Dataset.from_tensor_slices(inputs)
        labels = tf.constant(np.asarray(labels), tf.int32)
        if sample_weight is None:
            return tf.data.Dataset.from_tensor_slices((inputs, labels))
        return tf.data.Dataset.from_tensor_slices((inputs, labels, tf.constant(sample_weight, tf.float32)))

    def training_dataset(self, texts: Sequence, task_ids: np.ndarray, labels: np.ndarray, batch_size: int = 64,
                         seed: int = 0, sample_weight: Sequence[float] | None = None) -> tuple[tf.data.Dataset, int]:
        """An endless stream of batches of features (tasks mixed), reshuffled each pass, the same for the same
        seed; and the steps that make one pass.

        ``sample_weight``: optional, one number >= 0 per row: each row's weight in the loss (the model's
        ``compute_loss`` averages the rows' cross-entropy with these weights), e.g. less for pseudo-labelled rows
        than for labelled ones. The stream's batches are then ``(features, labels, weights)``.

        Raises:
            ValueError: ``sample_weight`` not one finite number >= 0 per row, or all zero (the row is named).
        """
        if sample_weight is not None:
            sample_weight = _checked_weights(sample_weight, len(texts))
        data = self._rows(texts, task_ids, labels, sample_weight)
        data = data.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True).repeat()
        return data.batch(batch_size).prefetch(2), math.ceil(len(texts) / batch_size)

    def evaluation_dataset(self, texts: Sequence, task_ids: np.ndarray, labels: np.ndarray,
                           batch_size: int = 64) -> tf.data.Dataset:
        """Batches of the features of labelled rows, in their order (tasks mixed)."""
        return self._rows(texts, task_ids, labels).batch(batch_size).prefetch(2)

    def get_config(self):
        config = super().get_config()
        config["features"] = keras.saving.serialize_keras_object(self.features)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**deserialize_fields(config, "features"))
