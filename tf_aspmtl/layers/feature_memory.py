"""A ring buffer of recent feature rows and their task ids: the task discriminator's mixed-task batch."""

from __future__ import annotations

import keras
import tensorflow as tf

from tf_aspmtl.distribute import all_replica_rows


@keras.saving.register_keras_serializable(package="tf_aspmtl")
class FeatureMemory(keras.layers.Layer):
    """The last ``rows`` feature rows seen in training, with their task ids (-1: an empty slot).

    Training batches hold one task each, so a discriminator that learns only from its batch sees one target at a
    time and learns mostly which task came last: near chance on a mix of tasks, while a probe fitted on all tasks
    at once still reads the task from the same features. The memory gives it every step a batch of recent rows of
    all tasks (features of earlier steps, held constant: no gradient reaches the encoder through them).

    ``call(features, task_ids, training)`` returns ``(stored_features, stored_task_ids)`` as they were before the
    call; in training it then writes the batch's rows over the oldest ones. The memory is part of the model's
    state (non-trainable weights: checkpoints and exact resume keep it).

    Args:
        rows: int >= 1. Rows kept.
        dim: int >= 1. Width of a feature row.

    Example:
    >>> memory = FeatureMemory(rows=3, dim=2)
    >>> _ = memory(tf.ones([2, 2]), tf.constant([0, 1]), training=True)
    >>> stored, ids = memory(tf.zeros([2, 2]), tf.constant([2, 2]), training=True)
    >>> ids.numpy().tolist(), memory.task_ids.numpy().tolist()
    ([0, 1, -1], [2, 1, 2])
    """

    def __init__(self, rows: int, dim: int, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("rows", rows), ("dim", dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"FeatureMemory {name} must be an int >= 1; got {value!r}")
        self.rows = rows
        self.dim = dim
        # Written in the replica context of a distribution strategy: the first replica's rows are kept (every
        # replica writes the same rows: those of every replica's slice of the batch).
        self.features = self.add_weight(shape=(rows, dim), initializer="zeros", trainable=False,
                                        aggregation="only_first_replica", name="features")
        self.task_ids = self.add_weight(shape=(rows,), initializer=keras.initializers.Constant(-1), dtype="int32",
                                        trainable=False, aggregation="only_first_replica", name="task_ids")
        self.cursor = self.add_weight(shape=(), initializer="zeros", dtype="int32", trainable=False,
                                      aggregation="only_first_replica", name="cursor")
        self.built = True

    def call(self, features, task_ids, training=None):
        stored = tf.identity(self.features.value)
        stored_ids = tf.identity(self.task_ids.value)
        if training:
            # Under a strategy whose replicas each hold a slice of one batch, every replica writes the whole batch's
            # rows (all of them gathered, no gradient), so the memory is the one-process memory; else unchanged.
            rows, ids = all_replica_rows([tf.cast(tf.stop_gradient(features), self.features.dtype),
                                          tf.cast(tf.reshape(task_ids, [-1]), tf.int32)])
            rows, ids = rows[-self.rows:], ids[-self.rows:]
            n = tf.shape(ids)[0]
            slots = tf.expand_dims((self.cursor.value + tf.range(n)) % self.rows, 1)
            with tf.control_dependencies([stored, stored_ids]):
                self.features.assign(tf.tensor_scatter_nd_update(self.features.value, slots, rows))
                self.task_ids.assign(tf.tensor_scatter_nd_update(self.task_ids.value, slots, ids))
                self.cursor.assign((self.cursor.value + n) % self.rows)
        return stored, stored_ids

    def compute_output_spec(self, features, task_ids, training=None):
        return (keras.KerasTensor((self.rows, self.dim), dtype=self.features.dtype),
                keras.KerasTensor((self.rows,), dtype="int32"))

    def get_config(self):
        config = super().get_config()
        config.update({"rows": self.rows, "dim": self.dim})
        return config
