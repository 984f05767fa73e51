"""Removes from a feature the directions in which the tasks' mean features differ: a shared space whose task a
linear probe cannot read from the means."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tf_aspmtl.distribute import all_replica_rows


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class TaskMeanProjection(keras.layers.Layer):
    """Projects features onto the complement of the span of the tasks' mean-feature differences.

    The layer keeps a moving average ``m_t`` of each task's feature (updated in training, from the batch's rows of
    each task, as batch normalisation keeps its moving statistics; no gradient flows into it). Its output is
    ``x - Q Q^T x``, with ``Q`` an orthonormal basis of the ``T - 1`` differences ``m_t - mean(m)``: every task's
    mean feature is then the same, so what tells the tasks apart in their means, the first thing a linear probe
    reads, is gone, in training and in a served graph alike (``Q`` is recomputed from the stored averages in every
    call: a QR decomposition of a ``dim x (T - 1)`` matrix). Until every task has been seen the features pass
    unchanged. The averages are bias-corrected as Adam's moments are (``m_t / (1 - momentum^n_t)`` after ``n_t``
    updates), so the first batches count fully.

    It is the hard counterpart of an adversary: instead of a discriminator pushing the shared encoder towards
    task-invariant features, the task-readable directions of the means are cut out of them. Once a model is
    trained, :meth:`set_task_means` (through :func:`tf_aspmtl.training.refresh_shared_means`) replaces the moving
    averages by the exact means over the training rows, which leaves a linear probe nothing to read from them.

    Args:
        num_tasks: int >= 2.
        dim: int >= 1. Feature width.
        momentum: float in [0, 1). Weight of a task's average against its new batch.
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
    >>> layer = TaskMeanProjection(num_tasks=2, dim=2, momentum=0.0)
    >>> _ = layer(tf.constant([[1.0, 0.0]]), tf.constant([0]), training=True)  # task 1 unseen: unchanged
    >>> _ = layer(tf.constant([[3.0, 1.0]]), tf.constant([1]), training=True)
    >>> layer(tf.constant([[1.0, 0.0], [3.0, 1.0]]), tf.constant([0, 1])).numpy().round(3)  # both means
    array([[ 0.2, -0.4],
           [ 0.2, -0.4]], dtype=float32)
    """

    def __init__(self, num_tasks: int, dim: int, momentum: float = 0.98, **kwargs):
        super().__init__(**kwargs)
        for name, value, least in (("num_tasks", num_tasks, 2), ("dim", dim, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
                raise ValueError(f"TaskMeanProjection {name} must be an int >= {least}; got {value!r}")
        if isinstance(momentum, bool) or not np.isfinite(momentum) or not 0 <= momentum < 1:
            raise ValueError(f"TaskMeanProjection momentum must be a number in [0, 1); got {momentum!r}")
        self.num_tasks, self.dim, self.momentum = int(num_tasks), int(dim), float(momentum)
        # Written in the replica context of a distribution strategy: the first replica's averages are kept (every
        # replica computes the same ones: from the rows of every replica's slice of the batch).
        # float32 under mixed precision too (autocast off): the QR decomposition takes no bfloat16.
        self.task_means = self.add_weight(shape=(self.num_tasks, self.dim), initializer="zeros", trainable=False,
                                          aggregation="only_first_replica", autocast=False, name="task_means")
        self.task_updates = self.add_weight(shape=(self.num_tasks,), initializer="zeros", trainable=False,
                                            aggregation="only_first_replica", autocast=False, name="task_updates")
        self.built = True

    def _update(self, features: tf.Tensor, task_ids: tf.Tensor) -> None:
        # Under a strategy whose replicas each hold a slice of one batch: the whole batch's means (its rows gathered,
        # no gradient), on every replica, as in one process; else the rows as they are.
        features, task_ids = all_replica_rows([tf.cast(tf.stop_gradient(features), self.task_means.dtype), task_ids])
        batch_means = tf.math.unsorted_segment_mean(features, task_ids, self.num_tasks)
        present = tf.math.unsorted_segment_sum(tf.ones_like(task_ids, tf.float32), task_ids, self.num_tasks) > 0
        moved = self.momentum * self.task_means.value + (1.0 - self.momentum) * batch_means
        self.task_means.assign(tf.where(present[:, None], moved, self.task_means.value))
        self.task_updates.assign(self.task_updates.value + tf.cast(present, tf.float32))

    def set_task_means(self, means) -> None:
        """Makes ``means`` [num_tasks, dim] the tasks' averages, exactly (bias correction included).

        For the means over a whole set of rows once training is done
        (:func:`tf_aspmtl.training.refresh_shared_means`): the moving averages lag behind an encoder that is still
        learning and hold the noise of their last batches, and what they leave of the tasks' mean differences is
        what a linear probe then reads. Every task counts as seen afterwards.
        """
        means = tf.convert_to_tensor(means, self.task_means.dtype)
        if tuple(means.shape) != (self.num_tasks, self.dim):
            raise ValueError(f"TaskMeanProjection {self.name!r} holds means of shape {(self.num_tasks, self.dim)}; "
                             f"got {tuple(means.shape)}")
        if not bool(tf.reduce_all(tf.math.is_finite(means))):
            raise ValueError(f"TaskMeanProjection {self.name!r}: the means must be finite")
        updates = tf.maximum(self.task_updates.value, 1.0)
        self.task_updates.assign(updates)
        self.task_means.assign(means * (1.0 - tf.pow(self.momentum, updates))[:, None])  # undone by the correction

    def means(self) -> tf.Tensor:
        """The tasks' averages [num_tasks, dim], bias-corrected: what the projection removes the differences of."""
        updates = tf.maximum(self.task_updates.value, 1.0)
        return self.task_means.value / (1.0 - tf.pow(self.momentum, updates))[:, None]

    def basis(self) -> tf.Tensor:
        """``Q`` [dim, min(dim, num_tasks - 1)]: an orthonormal basis of the bias-corrected averages' differences
        from their mean (the directions removed), padded with zero columns when the differences are dependent."""
        means = self.means()
        centered = means - tf.reduce_mean(means, axis=0, keepdims=True)
        differences = tf.transpose(centered[:-1])  # the T - 1 first differences span all of them
        q, r = tf.linalg.qr(differences)
        # A QR decomposition completes dependent columns with arbitrary unit vectors: then take the span's basis
        # from an SVD instead (numpy's matrix_rank tolerance); independent differences keep the QR basis as it is.
        diagonal = tf.abs(tf.linalg.diag_part(r))
        tolerance = float(max(self.dim, self.num_tasks - 1) * np.finfo(np.float32).eps)

        def span():
            s, u, _ = tf.linalg.svd(differences)
            return u * tf.cast(s > tolerance * tf.reduce_max(s), u.dtype)

        independent = tf.reduce_min(diagonal) > tolerance * tf.reduce_max(diagonal)
        return tf.cond(independent, lambda: q, span)

    def call(self, features, task_ids, training=None):
        task_ids = tf.cast(tf.reshape(task_ids, [-1]), tf.int32)
        if training:
            self._update(features, task_ids)
        seen = tf.reduce_all(self.task_updates.value > 0)

        def projected():
            q = tf.cast(self.basis(), features.dtype)
            return features - tf.matmul(tf.matmul(features, q), q, transpose_b=True)

        return tf.cond(seen, projected, lambda: tf.identity(features))

    def compute_output_spec(self, features, task_ids, training=None):
        return keras.KerasTensor(features.shape, dtype=features.dtype)

    def get_config(self):
        config = super().get_config()
        config.update({"num_tasks": self.num_tasks, "dim": self.dim, "momentum": self.momentum})
        return config
