"""tf.data pipelines for multi-task training and evaluation.

Every batch holds rows of ONE task (what the paper does, and what lets a
model run only that task's private encoder), and each element is::

    ({"token_ids": int32 [batch, length], "task_id": int32 [batch]}, label int32 [batch])

with label -1 on unlabelled rows (and, with ``keep_text=True``, each row's raw
``"text"`` tf.string [batch] too, for models that read more than the token ids). Texts are tokenised once, up front, by the
``tokenizer`` you pass (any callable from a tf.string vector to padded int
ids, for example a :class:`tf_aspmtl.preprocessing.TextVectorizer`), so the
pipeline knows nothing of models. Training batches are grouped by length
(``bucket_by_sequence_length``) to keep padding low.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import tensorflow as tf

SAMPLING = ("proportional", "uniform")
Tokenizer = Callable[[tf.Tensor], tf.Tensor]


def _check_frame(frame: pd.DataFrame, task_names: Sequence[str], need_label: bool = True) -> None:
    need = ["task", "text"] + (["label"] if need_label else [])
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise ValueError(f"DataFrame lacks column(s) {missing}; it has {list(frame.columns)}")
    unknown = sorted(set(frame["task"]) - set(task_names))
    if unknown:
        raise ValueError(f"DataFrame has task(s) {unknown} not in task_names {list(task_names)}")


def tokenize_texts(texts: Sequence[str], tokenizer: Tokenizer, chunk_size: int = 2048) -> tf.RaggedTensor:
    """Token ids of every text, one ragged row each, padding removed.

    Args:
        texts: sequence of str.
        tokenizer: callable, tf.string [n] -> int ids [n, length], 0 = padding.
        chunk_size: int. Texts tokenised per call.

    Returns:
        An int32 ``tf.RaggedTensor`` [len(texts), None].
    """
    rows = []
    texts = list(texts)
    for start in range(0, len(texts), chunk_size):
        ids = tf.cast(tokenizer(tf.constant(texts[start : start + chunk_size], tf.string)), tf.int32)
        lengths = tf.reduce_sum(tf.cast(ids != 0, tf.int32), axis=1)
        rows.append(tf.RaggedTensor.from_tensor(ids, lengths=lengths))
    if not rows:
        return tf.RaggedTensor.from_row_lengths(tf.zeros([0], tf.int32), tf.zeros([0], tf.int64))
    return tf.concat(rows, axis=0)


def _examples(ids: tf.RaggedTensor, labels: np.ndarray, task_id: int, texts: list | None = None) -> tf.data.Dataset:
    """(ids, label, task id[, text]) per row: the text only when ``texts`` is given."""
    columns = (ids, tf.constant(labels, tf.int32)) + (() if texts is None else (tf.constant(texts, tf.string),))
    return tf.data.Dataset.from_tensor_slices(columns).map(
        lambda x, y, *text: (x, y, tf.constant(task_id, tf.int32), *text)
    )


def _to_model_inputs(ids, labels, task_ids, *text):
    inputs = {"token_ids": ids, "task_id": task_ids}
    if text:
        inputs["text"] = text[0]
    return inputs, labels


def default_bucket_boundaries(max_length: int, width: int = 8) -> list[int]:
    """Length boundaries every ``width`` tokens up to 64, then 25 % wider each step."""
    bounds, b = [], width
    while b < max_length:
        bounds.append(b)
        b = b + width if b < 64 else int(math.ceil(b * 1.25))
    return bounds


def make_training_dataset(
    frame: pd.DataFrame,
    tokenizer: Tokenizer,
    task_names: Sequence[str],
    batch_size: int = 16,
    sampling: str = "proportional",
    unlabeled: pd.DataFrame | None = None,
    unlabeled_fraction: float = 0.0,
    bucket_boundaries: Sequence[int] | None = None,
    max_length: int = 200,
    seed: int = 0,
    keep_text: bool = False,
) -> tuple[tf.data.Dataset, int]:
    """An endless, shuffled stream of one-task batches, and the steps that make one epoch.

    Args:
        frame: DataFrame with ``task``, ``text``, ``label`` (int ids) columns.
        tokenizer: callable, tf.string [n] -> int ids [n, length].
        task_names: sequence of str. Task id i is ``task_names[i]``.
        batch_size: int. Rows per batch.
        sampling: str. ``"proportional"``: a batch's task is drawn with
            probability proportional to the task's training rows (every row
            is seen about once per epoch); ``"uniform"``: every task equally often.
        unlabeled: optional DataFrame with ``task`` and ``text``: unlabelled
            rows mixed in with label -1, which feed only the adversarial and
            difference losses.
        unlabeled_fraction: float in [0, 1). Expected share of unlabelled rows
            in a batch of a task that has unlabelled text.
        bucket_boundaries: optional sequence of int. Length buckets; by default
            :func:`default_bucket_boundaries` of ``max_length``.
        max_length: int. Only used for the default buckets (the tokenizer truncates).
        seed: int. Shuffling and task sampling seed.
        keep_text: bool. Also give each row's raw text (``"text"``); the batches are the same rows either way.

    Returns:
        ``(dataset, steps_per_epoch)``; one epoch sees about as many labelled
        rows as ``frame`` holds (a batch of a task without unlabelled rows
        holds ``batch_size`` of them, one of a task with some
        ``batch_size * (1 - unlabeled_fraction)`` on average).
    """
    if sampling not in SAMPLING:
        raise ValueError(f"Unknown sampling {sampling!r}; expected one of {list(SAMPLING)}")
    if not 0.0 <= unlabeled_fraction < 1.0:
        raise ValueError(f"unlabeled_fraction must be in [0, 1); got {unlabeled_fraction}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    _check_frame(frame, task_names)
    if unlabeled is not None:
        _check_frame(unlabeled, task_names, need_label=False)
    boundaries = list(bucket_boundaries or default_bucket_boundaries(max_length))

    streams, sizes, mixed = [], [], []
    for task_id, task, rows, ids, texts in _tokenized_tasks(frame, task_names, tokenizer, keep_text):
        stream = _examples(ids, rows["label"].to_numpy(), task_id, texts).cache()
        stream = stream.shuffle(len(rows), seed=seed + task_id, reshuffle_each_iteration=True).repeat()
        extra = unlabeled[unlabeled["task"] == task] if unlabeled is not None else None
        if extra is not None and len(extra) and unlabeled_fraction > 0:
            u_ids = tokenize_texts(extra["text"].tolist(), tokenizer)
            u_texts = extra["text"].tolist() if keep_text else None
            u_stream = _examples(u_ids, np.full(len(extra), -1), task_id, u_texts).cache()
            u_stream = u_stream.shuffle(len(extra), seed=seed + 7919 + task_id).repeat()
            stream = tf.data.Dataset.sample_from_datasets(
                [stream, u_stream], [1.0 - unlabeled_fraction, unlabeled_fraction], seed=seed + task_id
            )
        stream = stream.bucket_by_sequence_length(
            lambda x, *_: tf.shape(x)[0],
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            pad_to_bucket_boundary=False,
        )
        streams.append(stream)
        sizes.append(len(rows))
        mixed.append(extra is not None and len(extra) > 0 and unlabeled_fraction > 0)
    if not streams:
        raise ValueError("The training frame has no rows for any of the tasks.")
    total = float(sum(sizes))
    weights = [s / total for s in sizes] if sampling == "proportional" else [1.0 / len(sizes)] * len(sizes)
    dataset = tf.data.Dataset.sample_from_datasets(streams, weights, seed=seed)
    dataset = dataset.map(_to_model_inputs, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    # Labelled rows a batch holds on average: fewer in a batch of a task that mixes unlabelled rows in. (All
    # mixing or none is said exactly, so the float sum of the weights never moves a whole epoch by one step.)
    mixing_share = 1.0 if all(mixed) else sum(w for w, m in zip(weights, mixed) if m)
    labelled_per_batch = batch_size * (1.0 - unlabeled_fraction * mixing_share)
    steps = int(math.ceil(total / labelled_per_batch))
    return dataset, steps


def _tokenized_tasks(frame: pd.DataFrame, task_names: Sequence[str], tokenizer: Tokenizer, keep_text: bool):
    """For each task of ``task_names`` with rows in ``frame``: its id, name, rows, token ids and (``keep_text``)
    raw texts."""
    for task_id, task in enumerate(task_names):
        rows = frame[frame["task"] == task]
        if not rows.empty:
            texts = rows["text"].tolist()
            yield task_id, task, rows, tokenize_texts(texts, tokenizer), texts if keep_text else None


def make_eval_dataset(
    frame: pd.DataFrame,
    tokenizer: Tokenizer,
    task_names: Sequence[str],
    batch_size: int = 64,
    keep_text: bool = False,
) -> tf.data.Dataset:
    """A finite dataset of one-task batches, in the frame's row order within each task.

    Tasks come in ``task_names`` order, so ``predict`` outputs line up with
    ``frame`` sorted stably by task id (:func:`eval_order`).

    Args:
        frame: DataFrame with ``task``, ``text`` and ``label`` columns.
        tokenizer: callable, tf.string [n] -> int ids [n, length].
        task_names: sequence of str.
        batch_size: int.
        keep_text: bool. Also give each row's raw text (``"text"``).
    """
    _check_frame(frame, task_names)
    parts = []
    for task_id, _, rows, ids, texts in _tokenized_tasks(frame, task_names, tokenizer, keep_text):
        part = _examples(ids, rows["label"].to_numpy(), task_id, texts).padded_batch(batch_size)
        parts.append(part)
    if not parts:
        raise ValueError("The evaluation frame has no rows for any of the tasks.")
    dataset = parts[0]
    for part in parts[1:]:
        dataset = dataset.concatenate(part)
    return dataset.map(_to_model_inputs).prefetch(tf.data.AUTOTUNE)


def eval_order(frame: pd.DataFrame, task_names: Sequence[str]) -> pd.DataFrame:
    """``frame`` in the row order of :func:`make_eval_dataset`."""
    order = {t: i for i, t in enumerate(task_names)}
    return frame.assign(_tid=frame["task"].map(order)).sort_values("_tid", kind="stable").drop(columns="_tid")


def padding_ratio(dataset: tf.data.Dataset, batches: int) -> float:
    """Padded tokens per real token over the first ``batches`` batches of ``dataset``."""
    padded = real = 0
    for x, _ in dataset.take(batches):
        ids = x["token_ids"]
        padded += int(tf.size(ids))
        real += int(tf.reduce_sum(tf.cast(ids != 0, tf.int32)))
    return padded / max(real, 1)
