"""The shared/private split in a linear model of word n-grams: a fast, strong multi-task baseline and ensemble member."""

from __future__ import annotations

import os
from typing import Any, Hashable, Mapping, Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tf_aspmtl.layers.sparse_linear_head import SparseLinearHead, sparse_matmul
from tf_aspmtl.metrics import PerTaskAccuracy
from tf_aspmtl.optimizers import compile_from_saved_config, resolve_optimizer
from tf_aspmtl.models.multitask_classifier import LOGITS, PROBABILITIES
from tf_aspmtl.preprocessing.multitask_preprocessor import TASK, TASK_ID, TEXT, task_ids_from_names
from tf_aspmtl.preprocessing.ngram_features import NgramFeatures


def _is_raw(x) -> bool:
    """Raw rows: python/pandas/numpy texts and tasks (not tensors, which go to Keras as they are)."""
    return isinstance(x, Mapping) and TEXT in x and TASK in x and not tf.is_tensor(x[TEXT])


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class SharedPrivateNgramClassifier(keras.Model):
    """Logistic regression on n-gram tf-idf with a shared and a private weight matrix per task.

    A row of task ``k`` gets the logits ``x W_shared + x W_private[k] + b[k]``,
    where ``x`` is :class:`~tf_aspmtl.preprocessing.NgramFeatures` of its text.
    Every task trains ``W_shared``; only task ``k`` trains ``W_private[k]``.
    Early stopping on dev (and an optional L2 penalty) decides how much
    each task leans on the shared weights: the split ASP-MTL makes with
    LSTMs, made here by "frustratingly easy" feature augmentation (Daumé III,
    2007). It trains in seconds per epoch on a CPU, is a strong baseline on
    review sentiment, and its errors differ from an LSTM's, which makes it a
    useful ensemble member (:class:`tf_aspmtl.MultiTaskEnsemble`).

    It exports like the other models (``tf_aspmtl.export.export_model``,
    ``python -m export``): a task's SavedModel holds the n-gram vocabulary
    and idf and one matrix, ``W_shared + W_private[task]`` (:meth:`task_head`).

    Inputs are raw rows: ``{"text": tf.string [batch], "task": task names}``
    or ``{"text", "task_id"}``. ``call`` returns ``{"probabilities":
    [batch, max_classes], "logits", "task_id"}`` (classes a task does not
    have get probability 0). Labels are class ids of the row's task
    (:meth:`encode_labels`); ``-1`` marks a row without a label (ignored).

    Args:
        features: an adapted :class:`NgramFeatures`.
        task_names: sequence of str. One per task, in task-id order.
        class_names: one sequence of class names (str) per task.
        l2: float >= 0. Weight of the L2 penalty (per row of the loss's mean);
            0 (the default) leaves the regularisation to early stopping on dev
            and keeps every update sparse (only the batch's n-grams change,
            with :class:`tf_aspmtl.optimizers.LazyAdam`), several times faster per step than
            dense updates (``python -m experiments.bench_ngram`` measures it).
        per_task_metrics: bool. Also log each task's accuracy.

    The short way, from a DataFrame of training rows to a served model::

        model = SharedPrivateNgramClassifier.from_frame(train)   # text, task, label columns
        model.compile()                                           # LazyAdam(1e-3)
        model.fit({"text": train.text, "task": train.task}, train.label, epochs=20,
                  validation_data=({"text": dev.text, "task": dev.task}, dev.label))
        model.export("serving")                                   # one SavedModel per task

    Example:
    >>> features = NgramFeatures(max_features=50)
    >>> features.adapt(["good book", "bad book", "good film", "bad film"])
    >>> model = SharedPrivateNgramClassifier(features, ["books", "dvd"], [["0", "1"], ["0", "1"]])
    >>> model({"text": tf.constant(["good book"]), "task": tf.constant(["books"])})["probabilities"].shape
    TensorShape([1, 2])
    """

    def __init__(self, features: NgramFeatures, task_names: Sequence[str], class_names: Sequence[Sequence[str]],
                 l2: float = 0.0, per_task_metrics: bool = True, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(features, NgramFeatures) or not features.adapted:
            raise ValueError("features must be an NgramFeatures adapted on training text (NgramFeatures.adapt)")
        self.task_names = [str(t) for t in task_names]
        if not self.task_names or len(set(self.task_names)) != len(self.task_names):
            raise ValueError(f"task_names must be distinct and non-empty; got {self.task_names}")
        self.class_names = [[str(c) for c in names] for names in class_names]
        if len(self.class_names) != len(self.task_names) or any(len(c) < 2 for c in self.class_names):
            raise ValueError(f"class_names needs one list of >= 2 classes per task ({len(self.task_names)} tasks); "
                             f"got {self.class_names}")
        if not np.isfinite(l2) or l2 < 0:
            raise ValueError(f"l2 must be a finite number >= 0; got {l2!r}")
        self.features = features
        self.l2 = float(l2)
        self.per_task_metrics = bool(per_task_metrics)
        self.num_classes = [len(c) for c in self.class_names]
        self.max_classes = max(self.num_classes)
        width, tasks, classes = features.vocabulary_size, len(self.task_names), self.max_classes
        self.shared_kernel = self.add_weight(shape=(width, classes), initializer="zeros", name="shared_kernel")
        self.private_kernel = self.add_weight(shape=(width, tasks * classes), initializer="zeros",
                                              name="private_kernel")
        self.bias = self.add_weight(shape=(tasks, classes), initializer="zeros", name="bias")
        self._class_mask = tf.constant(
            [[j < n for j in range(classes)] for n in self.num_classes], dtype=tf.bool)
        self.task_loss_tracker = keras.metrics.Mean(name="task_loss")
        self.l2_loss_tracker = keras.metrics.Mean(name="l2_loss")
        self.task_accuracy = PerTaskAccuracy(self.task_names, per_task=self.per_task_metrics)
        self.built = True

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, max_features: int = 200_000, ngrams: int = 2,
                   text_column: str = TEXT, task_column: str = TASK, label_column: str = "label",
                   classes: Mapping[str, Sequence[Hashable]] | None = None, **kwargs) -> SharedPrivateNgramClassifier:
        """A model whose tasks (first-seen order), classes (sorted per task) and n-gram features come from ``frame``.

        Pass the training rows only: n-grams, idf or a class learnt from dev
        or test rows leak them into the model.

        Args:
            frame: pandas.DataFrame with text, task and label columns.
            max_features: int. Most frequent n-grams kept.
            ngrams: int. Longest n-gram, in words.
            text_column, task_column, label_column: str. Column names.
            classes: optional mapping task -> label values, to fix the classes (and their ids).
            **kwargs: passed to the constructor (``l2``, ``name``, ...).
        """
        from tf_aspmtl.data.tabular import tasks_and_classes

        tasks, classes = tasks_and_classes(frame, text_column, task_column, label_column, classes)
        features = NgramFeatures(max_features=max_features, ngrams=ngrams)
        features.adapt([t if isinstance(t, (str, bytes)) else str(t) for t in frame[text_column].tolist()])
        return cls(features, tasks, [[str(c) for c in classes[t]] for t in tasks], **kwargs)

    def with_class_names(self, class_names: Sequence[Sequence[str]]) -> SharedPrivateNgramClassifier:
        """The same model (same features and weights) with its classes renamed, e.g. ``"0"``/``"1"`` to
        ``"negative"``/``"positive"`` for serving or to average it with models that name them so.

        Args:
            class_names: one sequence of names per task, as many as the task has classes, in class-id order.
        """
        class_names = [[str(c) for c in names] for names in class_names]
        if [len(c) for c in class_names] != self.num_classes:
            raise ValueError(f"class_names must keep each task's number of classes {self.num_classes}; got "
                             f"{[len(c) for c in class_names]}")
        copy = type(self)(self.features, self.task_names, class_names, l2=self.l2,
                          per_task_metrics=self.per_task_metrics, name=self.name)
        copy.set_weights(self.get_weights())
        return copy

    # ------------------------------------------------------------ layout
    @property
    def num_tasks(self) -> int:
        return len(self.task_names)

    def task_id(self, task: str | int) -> int:
        """The id of ``task``, given by name or id (ValueError naming the known tasks otherwise)."""
        if isinstance(task, (int, np.integer)) and 0 <= int(task) < self.num_tasks:
            return int(task)
        if str(task) in self.task_names:
            return self.task_names.index(str(task))
        raise ValueError(f"Unknown task {task!r}; expected one of {self.task_names}")

    def task_ids(self, tasks: Sequence[Any]) -> np.ndarray:
        return np.array([self.task_id(t) for t in tasks], np.int32)

    def encode_labels(self, tasks: Sequence[Any], labels: Sequence[Any]) -> np.ndarray:
        """Raw labels to class ids of each row's task; ValueError names the first row with an unknown label."""
        ids = []
        for row, (task, label) in enumerate(zip(tasks, labels)):
            names = self.class_names[self.task_id(task)]
            if str(label) not in names:
                raise ValueError(f"row {row}: label {label!r} is not a class of task {task!r} {names}")
            ids.append(names.index(str(label)))
        return np.array(ids, np.int32)

    @property
    def metrics(self):
        trackers = [self.task_loss_tracker, self.task_accuracy]
        return trackers + [self.l2_loss_tracker] if self.l2 > 0 else trackers

    # ----------------------------------------------------------- forward
    def _task_ids(self, inputs: Mapping[str, Any]) -> tf.Tensor:
        if TASK_ID in inputs:
            return tf.cast(tf.reshape(inputs[TASK_ID], [-1]), tf.int32)
        return task_ids_from_names(self.task_names, inputs[TASK])

    def call(self, inputs, training=None):
        if not isinstance(inputs, Mapping) or TEXT not in inputs or not (TASK in inputs or TASK_ID in inputs):
            got = sorted(inputs) if isinstance(inputs, Mapping) else type(inputs).__name__
            raise ValueError(f"{type(self).__name__} takes raw rows: a dict with {TEXT!r} and {TASK!r} "
                             f"(or {TASK_ID!r}); got {got}")
        task_ids = self._task_ids(inputs)
        x = self.features(inputs[TEXT])
        shared = sparse_matmul(x, self.shared_kernel)
        private = tf.reshape(sparse_matmul(x, self.private_kernel), [-1, self.num_tasks, self.max_classes])
        private = tf.gather(private, task_ids, axis=1, batch_dims=1)
        logits = shared + private + tf.gather(self.bias, task_ids)
        logits = tf.where(tf.gather(self._class_mask, task_ids), logits, tf.fill(tf.shape(logits), -1e9))
        return {PROBABILITIES: tf.nn.softmax(logits), LOGITS: logits, TASK_ID: task_ids}

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self(x, training=False)[PROBABILITIES]

    # ------------------------------------------------------- raw rows
    def rows_dataset(self, x: Mapping[str, Sequence], y: Sequence | None = None, batch_size: int = 64,
                     shuffle_seed: int | None = None, shuffle: bool = False, where: str = "x") -> tf.data.Dataset:
        """Raw ``{"text": [...], "task": [...]}`` rows (and raw labels) as batches of ``{"text", "task_id"}``
        (and class ids).

        Args:
            x: texts (str or bytes) and task names (or ids), one per row; tasks may mix.
            y: optional raw labels (values of the task's classes).
            batch_size: int. Rows per batch.
            shuffle_seed: optional int. An endless stream, reshuffled on every pass, the same for the same seed
                (for ``steps_per_epoch`` training).
            shuffle: bool. Without ``shuffle_seed``: one pass, reshuffled on every epoch.
            where: str. What the error messages call ``x``.
        """
        texts = [t if isinstance(t, bytes) else str(t) for t in list(x[TEXT])]
        tasks = list(x[TASK])
        if len(texts) != len(tasks):
            raise ValueError(f"{where}: {len(texts)} texts but {len(tasks)} tasks")
        inputs = {TEXT: tf.constant(texts, tf.string), TASK_ID: tf.constant(self.task_ids(tasks), tf.int32)}
        if y is None:
            data = tf.data.Dataset.from_tensor_slices(inputs)
        else:
            labels = list(y)
            if len(labels) != len(texts):
                raise ValueError(f"{where}: {len(texts)} texts but {len(labels)} labels")
            data = tf.data.Dataset.from_tensor_slices((inputs, tf.constant(self.encode_labels(tasks, labels), tf.int32)))
        if shuffle_seed is not None:
            data = data.shuffle(len(texts), seed=shuffle_seed, reshuffle_each_iteration=True).repeat()
        elif shuffle:
            data = data.shuffle(len(texts), reshuffle_each_iteration=True)
        return data.batch(batch_size).prefetch(2)

    def compile(self, optimizer=None, learning_rate: float = 1e-3, **kwargs):
        """Compiles with LazyAdam(``learning_rate``) (sparse updates: only a batch's n-grams change) unless
        ``optimizer`` is given: a name in :data:`tf_aspmtl.optimizers.OPTIMIZERS` or any Keras optimizer."""
        super().compile(optimizer=resolve_optimizer(optimizer, learning_rate), **kwargs)

    def compile_from_config(self, config):
        """Recompiles a loaded model with its saved optimizer (and its state, restored after)."""
        compile_from_saved_config(self, config)

    def fit(self, x=None, y=None, batch_size: int | None = None, epochs: int = 1, validation_data=None, **kwargs):
        """``keras.Model.fit`` that also takes raw ``{"text", "task"}`` rows and raw labels (one pass per epoch,
        reshuffled); ``validation_data`` may be raw ``(x, y)`` too. Anything else goes to ``keras.Model.fit``."""
        if _is_raw(x):
            x, y = self.rows_dataset(x, y, batch_size or 64, shuffle=True), None
            batch_size = None
        if isinstance(validation_data, tuple) and validation_data and _is_raw(validation_data[0]):
            validation_data = self.rows_dataset(*validation_data[:2], batch_size=64, where="validation_data")
        return super().fit(x, y, batch_size=batch_size, epochs=epochs, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, batch_size: int | None = None, **kwargs):
        """``keras.Model.evaluate`` that also takes raw ``{"text", "task"}`` rows and raw labels."""
        if _is_raw(x):
            x, y, batch_size = self.rows_dataset(x, y, batch_size or 64), None, None
        return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    def predict(self, x, batch_size: int | None = None, **kwargs) -> np.ndarray:
        """Probabilities [rows, max_classes] in row order; ``x`` may be raw ``{"text": [...], "task": [...]}`` lists
        (tasks may mix; texts may be str or bytes) or a dataset of such batches."""
        if _is_raw(x):
            x, batch_size = self.rows_dataset(x, batch_size=batch_size or 64), None
        return super().predict(x, batch_size=batch_size, **kwargs)

    def export(self, filepath: str | os.PathLike, format: str = "tf_serving", verbose: bool = True, **kwargs):
        """Writes TF Serving-ready SavedModels: ``<filepath>/<task>/<version>/`` per task and ``models.config``
        (:func:`tf_aspmtl.export.export_model` takes the keyword arguments; the same signature and outputs as
        the LSTM models'). Returns the list of :class:`tf_aspmtl.export.ExportedModel`."""
        if format != "tf_serving":
            raise ValueError(f"{type(self).__name__} exports format='tf_serving' only; got {format!r}")
        from tf_aspmtl.export.exporter import export_for_serving

        return export_for_serving(self, filepath, verbose, **kwargs)

    # ----------------------------------------------------------- serving
    def task_head(self, task: str | int) -> SparseLinearHead:
        """A :class:`SparseLinearHead` of one task's current weights: kernel ``W_shared + W_private[task]``
        (its classes only) and the task's bias; ``head(self.features(texts))`` are that task's logits."""
        k = self.task_id(task)
        classes = self.num_classes[k]
        start = k * self.max_classes
        kernel = self.shared_kernel[:, :classes] + self.private_kernel[:, start:start + classes]
        return SparseLinearHead(self.features.vocabulary_size, classes, kernel=kernel, bias=self.bias[k, :classes],
                                name=f"{self.name}_{self.task_names[k]}_head")

    def serving_layers(self, task_index: int | None) -> list:
        """The layers a served graph reads (the :mod:`tf_aspmtl.serving` hook): the n-gram features and one
        :meth:`task_head` per served task (``task_index``, or every task for None), built from the current weights."""
        indices = range(self.num_tasks) if task_index is None else [self.task_id(task_index)]
        heads = {k: self.task_head(k) for k in indices}
        self._served_heads().update(heads)
        if not self.features.built:  # a loaded model that was never called: one call builds it
            self.features(tf.constant([""]))
        return [self.features, *heads.values()]

    def _served_heads(self) -> dict[int, SparseLinearHead]:
        # Kept out of Keras' tracking: the heads are copies for export, not weights of the model.
        if "_serving_heads" not in self.__dict__:
            object.__setattr__(self, "_serving_heads", {})
        return self.__dict__["_serving_heads"]

    def serving_probabilities(self, texts: tf.Tensor, task_index: int, chunk_rows: int | None = None) -> tf.Tensor:
        """Probabilities [batch, num_classes(task)] of raw texts of one task (the :mod:`tf_aspmtl.serving` hook).

        Uses the head :meth:`serving_layers` built for the task (built now if it did not); ``chunk_rows`` is
        ignored: nothing here runs over a text's length.
        """
        heads = self._served_heads()
        k = self.task_id(task_index)
        if k not in heads:
            heads[k] = self.task_head(k)
        return tf.nn.softmax(heads[k](self.features(tf.reshape(texts, [-1]))))

    def serving_info(self, is_multitask: bool) -> dict[str, Any]:
        """What an export holds (written to its ``export.json``)."""
        return {"features": "word n-gram tf-idf", "ngrams": self.features.ngrams,
                "vocabulary_size": self.features.vocabulary_size, "tasks_in_model": self.num_tasks,
                "heads_in_graph": self.num_tasks if is_multitask else 1, "encoders_run_per_review": 0}

    # ----------------------------------------------------------- training
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Mean cross-entropy of the labelled rows plus ``l2 * (|W_shared|^2 + |W_private|^2)``."""
        labels = tf.cast(tf.reshape(y, [-1]), tf.int32)
        labelled = labels >= 0
        weight = tf.cast(labelled, tf.float32)
        if sample_weight is not None:
            weight *= tf.cast(tf.reshape(sample_weight, [-1]), tf.float32)
        per_row = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.maximum(labels, 0), y_pred[LOGITS])
        task_loss = tf.math.divide_no_nan(tf.reduce_sum(per_row * weight), tf.reduce_sum(weight))
        self.task_loss_tracker.update_state(task_loss, sample_weight=tf.reduce_sum(weight))
        total = task_loss
        if self.l2 > 0:  # its gradient is dense: every step then updates every weight
            l2_loss = tf.reduce_sum(tf.square(self.shared_kernel)) + tf.reduce_sum(tf.square(self.private_kernel))
            self.l2_loss_tracker.update_state(l2_loss)
            total += self.l2 * l2_loss
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return total * (1.0 / replicas) if replicas > 1 else total

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        self.task_accuracy.update_state(y, y_pred[LOGITS], y_pred[TASK_ID], sample_weight)
        return self.get_metrics_result()

    def get_config(self):
        config = super().get_config()
        config.update({"features": keras.saving.serialize_keras_object(self.features),
                       "task_names": list(self.task_names), "class_names": [list(c) for c in self.class_names],
                       "l2": self.l2, "per_task_metrics": self.per_task_metrics})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["features"] = keras.saving.deserialize_keras_object(config["features"])
        return cls(**config)
