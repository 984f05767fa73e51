"""Self-training of the shared/private n-gram model: its teacher labels unlabelled reviews for the reported model."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tf_aspmtl.training.held_out_duplicates import held_out_duplicates
from tf_aspmtl.training.pseudo_label import margin_over_chance
from tf_aspmtl.training.teacher_pseudo_labels import PSEUDO_LABELS, teacher_pseudo_labels

if TYPE_CHECKING:
    from tf_aspmtl.models.shared_private_ngram_classifier import SharedPrivateNgramClassifier

logger = logging.getLogger("tf_aspmtl.training")
STUDENT_COLUMNS = ["task", "text", "label"]
"""The columns of the student's training rows (:func:`ngram_self_training`'s frame; and ``weight`` when its
pseudo-labelled rows weigh other than 1)."""


def pseudo_label_weights(pseudo: pd.DataFrame, num_classes: int, weight: float = 1.0,
                         weighting: str = "constant") -> np.ndarray:
    """Each pseudo-labelled row's weight in the student's loss (a labelled row weighing 1).

    Args:
        pseudo: the pseudo-labelled rows, with the teacher's ``confidence`` (its probability of the row's label).
        num_classes: the tasks' classes (``n``).
        weight: float in (0, 1]. Every row's weight (``"constant"``), or its most (``"confidence"``).
        weighting: ``"constant"``, or ``"confidence"``: ``weight`` times the teacher's margin over chance,
            ``(c - 1/n) / (1 - 1/n)``.
    """
    if weighting == "constant":
        return np.full(len(pseudo), weight, np.float64)
    if weighting != "confidence":
        raise ValueError(f"weighting must be 'constant' or 'confidence'; got {weighting!r}")
    return weight * margin_over_chance(pseudo["confidence"].to_numpy(np.float64), num_classes)


def class_balance_weights(pseudo: pd.DataFrame, classes: Sequence[int]) -> np.ndarray:
    """Each pseudo-labelled row's weight ``n_min / n_c``: its task's rows of its rarest class of ``classes`` over
    its task's rows of its own class ``c``, so every class of a task weighs as much in total (0 for every row of a
    task that lacks a class: as :func:`~tf_aspmtl.training.pseudo_label`'s balanced rows, it keeps none)."""
    counts = pseudo.groupby(["task", "label"]).size()
    rarest = {task: min(int(counts.get((task, c), 0)) for c in classes) for task in pseudo["task"].unique()}
    per_row = counts.reindex(pd.MultiIndex.from_arrays([pseudo["task"], pseudo["label"]])).to_numpy(np.float64)
    return pseudo["task"].map(rarest).to_numpy(np.float64) / per_row


def ngram_self_training(model_dir: str | os.PathLike, new_model: Callable[[], SharedPrivateNgramClassifier],
                        train_ds: tf.data.Dataset, steps: int, dev_ds: tf.data.Dataset, train: pd.DataFrame,
                        held_out: pd.DataFrame, unlabeled: pd.DataFrame, *, threshold: float, epochs: int,
                        patience: int, verbose: int | str = 2, callbacks: Sequence[keras.callbacks.Callback] = (),
                        pseudo_label_weight: float = 1.0, pseudo_label_weighting: str = "constant",
                        pseudo_label_balance: str = "rows", strategy: tf.distribute.Strategy | None = None
                        ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Trains (or reuses) the teacher and its pseudo labels; returns the student's training rows and the record.

    The LSTM family's first stage (:func:`~tf_aspmtl.training.teacher_pseudo_labels`), for the n-gram model:
    the teacher is the model a run without self-training trains (same features, data order and dev
    selection), in ``model_dir/teacher``, resumable, marked finished by ``teacher/teacher_results.json``; its
    pseudo labels (:func:`~tf_aspmtl.training.pseudo_label`: top probability ``>= threshold``; with
    ``pseudo_label_balance="rows"``, as many rows of each class per task, most confident first) are saved once
    to ``model_dir/pseudo_labels.parquet`` and reused, so a resumed student trains on the same rows. Unlabelled rows that repeat a dev or test text
    (:func:`~tf_aspmtl.training.held_out_duplicates`) are never labelled, and saved rows are checked again
    against ``held_out`` (a test split loaded later).

    Args:
        model_dir: the student's folder (``run_dir/model``).
        new_model: callable returning a fresh compiled model (the teacher).
        train_ds: the labelled training stream (endless, seeded); ``steps`` batches an epoch.
        steps: int. Steps per epoch of ``train_ds``.
        dev_ds: the dev split's batches (the teacher's epoch selection and dev errors).
        train: the labelled train rows (``task``, ``text``, integer ``label``).
        held_out: the dev (and test, if loaded) rows; unlabelled repeats of their texts are dropped.
        unlabeled: the unlabelled rows (``task``, ``text``); never dev or test rows.
        threshold: float in (0.5, 1]. Least top probability of a kept pseudo label.
        epochs, patience: the teacher's most epochs and patience.
        verbose: Keras ``fit`` verbosity.
        callbacks: more callbacks of the teacher's ``fit``.
        pseudo_label_weight, pseudo_label_weighting: the pseudo-labelled rows' weights (:func:`pseudo_label_weights`).
        pseudo_label_balance: ``"rows"`` (as many rows of each class per task) or ``"weights"`` (every row above
            the threshold, times :func:`class_balance_weights`).
        strategy: optional ``tf.distribute`` strategy the teacher trains under (``new_model`` makes it in its
            scope; see :func:`~tf_aspmtl.training.teacher_pseudo_labels`).

    Returns:
        ``(rows, record)``: ``rows`` the train rows then the pseudo-labelled ones (:data:`STUDENT_COLUMNS`,
        labels the class ids 0/1; unless every weight is 1, a ``weight`` column: 1 for a train row),
        ``record`` the results' ``self_training``: ``threshold``, ``balanced``,
        ``unlabeled_rows`` and ``dropped_repeats_of_dev_or_test`` per task, ``teacher_dev_error`` per task and
        its mean ``avg_teacher_dev_error``, ``teacher_best_epoch``, ``teacher_epochs_run``,
        ``teacher_training_wall_time_s`` (all processes), ``teacher_processes``, ``pseudo_labels`` (task ->
        class id -> rows), ``pseudo_labelled_rows`` (task -> rows), ``student_train_rows``.

    Raises:
        ValueError: the saved pseudo labels hold a task the run does not train.
    """
    model_dir = Path(model_dir)
    tasks = list(dict.fromkeys(train["task"]))
    repeats = held_out_duplicates(unlabeled, held_out)
    to_label = unlabeled[~repeats]
    logger.info("self-training: %d unlabelled rows to label (%d dropped: they repeat a held-out text: of dev, and of "
                "test when the run reads it)",
                len(to_label), int(repeats.sum()))
    pseudo, teacher, _ = teacher_pseudo_labels(
        model_dir, new_model, train_ds, steps, dev_ds, to_label[["text", "task"]], epochs=epochs,
        patience=patience, threshold=threshold, max_per_task=None, balance=pseudo_label_balance == "rows",
        verbose=verbose, strategy=strategy, callbacks=callbacks,
        tensorboard=False,  # as the run without self-training, whose model the teacher is
    )
    pseudo = pseudo[~held_out_duplicates(pseudo, held_out)]  # rows saved before test was loaded
    unknown = sorted(set(pseudo["task"]) - set(tasks))
    if unknown:
        raise ValueError(f"{model_dir / PSEUDO_LABELS} holds rows of task(s) {unknown}, not of {tasks}")
    classes = sorted(int(v) for v in train["label"].unique())
    weights = pseudo_label_weights(pseudo, len(classes), pseudo_label_weight, pseudo_label_weighting)
    if pseudo_label_balance == "weights":
        balance = class_balance_weights(pseudo, classes)
        pseudo, weights = pseudo[balance > 0], (weights * balance)[balance > 0]  # a task lacking a class: none
    elif pseudo_label_balance != "rows":
        raise ValueError(f"pseudo_label_balance must be 'rows' or 'weights'; got {pseudo_label_balance!r}")
    rows = pd.concat([train[STUDENT_COLUMNS], pseudo[STUDENT_COLUMNS]], ignore_index=True)
    weighted = pseudo_label_weight != 1 or pseudo_label_weighting != "constant" or pseudo_label_balance != "rows"
    if weighted:
        rows["weight"] = np.concatenate([np.ones(len(train)), weights])
    record = {
        "threshold": float(threshold), "balanced": True,
        "unlabeled_rows": {t: int((to_label["task"] == t).sum()) for t in tasks},
        "dropped_repeats_of_dev_or_test": {t: int((unlabeled["task"] == t)[repeats].sum()) for t in tasks},
        "teacher_dev_error": teacher["dev_error"],
        "avg_teacher_dev_error": float(np.mean(list(teacher["dev_error"].values()))),
        "teacher_best_epoch": teacher["best_epoch"],
        "teacher_epochs_run": len(next(iter(teacher["history"].values()), [])),
        "teacher_training_wall_time_s": teacher["training_wall_time_s"],
        "teacher_processes": teacher["processes"],
        "pseudo_labels": {t: {str(c): int(((pseudo["task"] == t) & (pseudo["label"] == c)).sum())
                              for c in classes} for t in tasks},
        "pseudo_labelled_rows": {t: int((pseudo["task"] == t).sum()) for t in tasks},
        "student_train_rows": len(rows),
    }
    if weighted:
        record["pseudo_label_weights"] = {"weight": float(pseudo_label_weight), "weighting": pseudo_label_weighting,
                                          "balance": pseudo_label_balance,
                                          "mean": float(np.mean(weights)) if len(weights) else None,
                                          "total": {t: float(weights[(pseudo["task"] == t).to_numpy()].sum())
                                                    for t in tasks}}
    logger.info("self-training: the student trains on %d train + %d pseudo-labelled rows", len(train), len(pseudo))
    return rows, record
