"""The shared projection's task means, computed exactly over a set of rows once a model is trained."""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from tf_aspmtl.models.multitask_classifier import MultiTaskClassifier
from tf_aspmtl.preprocessing.task_preprocessor import is_raw_rows


def refresh_shared_means(model: MultiTaskClassifier, x, batch_size: int | None = None) -> dict[str, Any]:
    """Sets the shared projection's per-task means to the exact means of the shared features over rows ``x``.

    A model built with ``shared_mean_projection=True`` removes from its shared features the directions in which
    the tasks' mean features differ, using moving averages kept during training. Those lag behind the encoder and
    carry the noise of their last batches, so some difference between the tasks' means stays, and a fresh linear
    probe reads the task from it. With the exact means of the rows the heads learnt from (the training rows), every
    task's mean shared feature over those rows is the same after the projection, and a linear probe fitted on them
    can do no better than a constant guess (Belrose et al., 2023, LEACE: equal class means are what linear
    guardedness takes). :func:`tf_aspmtl.training.run` does this after training, before the dev and test errors.

    Args:
        model: a trained :class:`~tf_aspmtl.MultiTaskClassifier` with a shared projection.
        x: raw rows (``{"text", "task"}`` or a DataFrame) or a dataset of prepared batches
            (``({"token_ids", "task_id"}, labels)`` or the inputs alone); every task needs rows.
        batch_size: rows a batch, for raw rows (default 64).

    Returns:
        ``{"rows": {task: rows}, "largest_change": the largest change of a mean's coordinate}``.

    Raises:
        ValueError: the model has no shared projection, or some task has no rows in ``x``.
    """
    projection = getattr(model.backbone, "shared_projection", None)
    if projection is None:
        raise ValueError(f"{type(model).__name__} {model.name!r} has no shared projection to refresh "
                         "(it was built with shared_mean_projection=False)")
    data = model.inference_dataset(x, batch_size) if is_raw_rows(x) else x
    encode = tf.function(model.backbone.unprojected_shared, reduce_retracing=True)
    sums = np.zeros((projection.num_tasks, projection.dim))
    counts = np.zeros(projection.num_tasks, np.int64)
    for batch in data:
        token_ids, task_ids = model._ids(batch[0] if isinstance(batch, tuple) else batch)
        task_ids = tf.cast(tf.reshape(task_ids, [-1]), tf.int32)
        shared = tf.cast(encode(token_ids), tf.float64)
        sums += tf.math.unsorted_segment_sum(shared, task_ids, projection.num_tasks).numpy()
        counts += np.bincount(task_ids.numpy(), minlength=projection.num_tasks)
    if (counts == 0).any():
        missing = [model.task_names[i] for i in np.flatnonzero(counts == 0)]
        raise ValueError(f"refresh_shared_means needs rows of every task; none of {missing}")
    stored = projection.means().numpy()
    means = sums / counts[:, None]
    projection.set_task_means(means)
    return {"rows": {t: int(n) for t, n in zip(model.task_names, counts)},
            "largest_change": float(np.max(np.abs(means - stored)))}
