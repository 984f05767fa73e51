"""Per-task accuracy as one Keras metric, and per-task scores of predicted probabilities."""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class PerTaskAccuracy(keras.metrics.Metric):
    """Accuracy of each task, their mean, and the accuracy over all rows.

    ``result()`` is a dict, which Keras spreads into the logs:
    ``accuracy`` (all labelled rows), ``mean_task_accuracy`` (mean over the
    tasks seen since the last reset, the paper's average) and, when
    ``per_task`` is True, ``acc_<task>`` for each task. Rows with a negative
    label (unlabelled text) are ignored. A task with no row since the last
    reset reports 0.0 as its ``acc_<task>`` (Keras logs need a number; NaN
    would stop JSON records) and is left out of ``mean_task_accuracy``: on
    tiny data a training epoch need not visit every task.

    Args:
        task_names: sequence of str. One name per task id.
        per_task: bool. Also report each task's accuracy.

    Example:
    >>> m = PerTaskAccuracy(["a", "b"])
    >>> m.update_state([1, 0, 1], [[0.2, 0.8], [0.9, 0.1], [0.7, 0.3]], [0, 0, 1])
    >>> {k: float(v) for k, v in m.result().items()}
    {'accuracy': 0.666..., 'mean_task_accuracy': 0.5, 'acc_a': 1.0, 'acc_b': 0.0}
    """

    def __init__(self, task_names: Sequence[str], per_task: bool = True, name="task_accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.task_names = [str(t) for t in task_names]
        self.per_task = bool(per_task)
        k = len(self.task_names)
        self.correct = self.add_variable(shape=(k,), initializer="zeros", name="correct")
        self.count = self.add_variable(shape=(k,), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, task_ids, sample_weight=None):
        y_true = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
        task_ids = tf.cast(tf.reshape(task_ids, [-1]), tf.int32)
        weight = tf.cast(y_true >= 0, self.dtype)
        if sample_weight is not None:
            weight *= tf.cast(tf.reshape(sample_weight, [-1]), self.dtype)
        hit = tf.cast(tf.argmax(y_pred, axis=-1, output_type=tf.int32) == y_true, self.dtype)
        k = len(self.task_names)
        self.correct.assign_add(tf.math.unsorted_segment_sum(hit * weight, task_ids, k))
        self.count.assign_add(tf.math.unsorted_segment_sum(weight, task_ids, k))

    def result(self):
        per_task = tf.math.divide_no_nan(self.correct, self.count)
        seen = tf.cast(self.count > 0, self.dtype)
        results = {
            "accuracy": tf.math.divide_no_nan(tf.reduce_sum(self.correct), tf.reduce_sum(self.count)),
            "mean_task_accuracy": tf.math.divide_no_nan(tf.reduce_sum(per_task * seen), tf.reduce_sum(seen)),
        }
        if self.per_task:
            for i, task in enumerate(self.task_names):
                results[f"acc_{task}"] = per_task[i]
        return results

    def reset_state(self):
        self.correct.assign(tf.zeros_like(self.correct))
        self.count.assign(tf.zeros_like(self.count))

    def get_config(self):
        config = super().get_config()
        config.update({"task_names": self.task_names, "per_task": self.per_task})
        return config


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
