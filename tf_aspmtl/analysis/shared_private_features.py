"""Each row's shared and private feature of a trained shared/private model, through its own task's encoders."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
import tensorflow as tf

from tf_aspmtl.models.multitask_classifier import MultiTaskClassifier

logger = logging.getLogger("tf_aspmtl.analysis")


def shared_private_features(model: MultiTaskClassifier, frame: pd.DataFrame, batch_size: int = 128,
                            name: str = "model") -> dict[str, np.ndarray]:
    """The shared and private features [rows, dim] of ``frame``'s rows, and the model's class of each row.

    Each row goes through the shared encoder and its own task's private encoder
    (``model.backbone.task_features``), batch by batch, task by task; the class
    is the argmax of the task's head on those features (what ``predict`` gives).

    Args:
        model: a trained :class:`~tf_aspmtl.MultiTaskClassifier` (``"private"`` only if its family has private
            encoders: not FS-MTL).
        frame: rows with ``text`` and ``task`` (a task of the model's), in any order.
        batch_size: rows per forward pass.
        name: the model's name in the progress lines logged per task.

    Returns:
        ``{"shared": [rows, d], "private": [rows, d] (if any), "prediction": [rows]}``, in ``frame``'s row order.

    Raises:
        ValueError: a row's task is not one of the model's.
    """
    unknown = sorted(set(frame["task"]) - set(model.task_names))
    if unknown:
        raise ValueError(f"frame has rows of task(s) {unknown}, not of the model's {model.task_names}")
    vectorizer = model.preprocessor.text_vectorizer
    out: dict[str, list[np.ndarray]] = {"shared": [], "private": [], "prediction": []}
    order = []  # positions, not index labels: labels may repeat (a pd.concat without ignore_index)
    tasks, all_texts = frame["task"].to_numpy(), frame["text"].to_numpy()
    started = time.monotonic()
    for k, task in enumerate(model.task_names):
        rows = np.flatnonzero(tasks == task)
        order += rows.tolist()
        texts = all_texts[rows].tolist()
        for start in range(0, len(texts), batch_size):
            ids = vectorizer(tf.constant(texts[start:start + batch_size]))
            f = model.backbone.task_features(ids, k)
            for key in ("shared", "private"):
                if key in f:
                    out[key].append(f[key].numpy())
            logits = model.heads(f["features"], tf.fill([tf.shape(ids)[0]], k))
            out["prediction"].append(np.argmax(logits.numpy(), axis=1))
        logger.info("%s: task %d/%d (%s, %d rows) done, %.0f s", name, k + 1, len(model.task_names), task,
                    len(texts), time.monotonic() - started)
    back = np.argsort(np.asarray(order, dtype=np.int64), kind="stable")  # out's rows back in frame's order
    return {k: np.concatenate(v)[back] for k, v in out.items() if v}
