"""Self-training's first stage, resumable: train (or reuse) a teacher, then pseudo-label unlabelled rows with it."""

from __future__ import annotations

import io
import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import keras
import pandas as pd
import tensorflow as tf

from tf_aspmtl.io_utils import write_bytes_atomic, write_text_atomic
from tf_aspmtl.training.fit_with_dev_selection import fit_with_dev_selection
from tf_aspmtl.training.pseudo_label import pseudo_label
from tf_aspmtl.training.task_errors import task_errors

if TYPE_CHECKING:
    from tf_aspmtl.models import MultiTaskClassifier

logger = logging.getLogger("tf_aspmtl.training")
TEACHER_DIR = "teacher"
"""The teacher's folder inside its group's model folder."""
TEACHER_DONE = "teacher_results.json"
"""The marker of a finished teacher, in its folder: its dev errors, best epoch, history and training time."""
PSEUDO_LABELS = "pseudo_labels.parquet"
"""The teacher's pseudo-labelled rows (text, task, label, confidence), in the group's model folder."""


def _write_parquet_atomic(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` as parquet at ``path``, complete or absent: made in memory (pyarrow's C++ writer never writes to a
    disk, which may be full), then written beside it and renamed into place (:func:`write_bytes_atomic`).

    Raises:
        tf_aspmtl.io_utils.DiskWriteError: the disk is full or the file cannot be written; ``path`` is named and a
            file it replaces is kept.
    """
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    write_bytes_atomic(path, buffer.getvalue())


def _write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """``payload`` as indented JSON (a NaN or infinity is an error), through a temporary file and a rename."""
    write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=False, allow_nan=False) + "\n")


RECORD_KEYS = ("dev_error", "best_epoch", "history", "training_wall_time_s", "processes")
"""What a teacher's record (:data:`TEACHER_DONE`) holds."""


def _read_record(path: Path) -> dict[str, Any]:
    record = json.loads(path.read_text(encoding="utf-8"))
    missing = [k for k in RECORD_KEYS if k not in record] if isinstance(record, dict) else list(RECORD_KEYS)
    if missing:
        raise ValueError(f"it lacks {missing}")
    return record


def _read_saved(path: Path, what: str, read: Callable[[Path], Any]) -> Any:
    """``read(path)``, or None if the file is missing or damaged (said, naming it: it is made again from the
    finished teacher, whose fit loads its best weights, to the same contents)."""
    if not path.exists():
        return None
    try:
        return read(path)
    except (OSError, ValueError) as err:  # not UTF-8, not JSON, not a parquet file (pyarrow's ArrowInvalid)...
        logger.warning("%s (the %s) is damaged (%s: %s); making it again from the finished teacher", path, what,
                       type(err).__name__, str(err).splitlines()[0] if str(err) else "")
        return None


def teacher_pseudo_labels(
    group_dir: str | os.PathLike,
    new_model: Callable[[], MultiTaskClassifier],
    train_ds: tf.data.Dataset,
    steps: int,
    dev_ds: tf.data.Dataset,
    unlabeled: pd.DataFrame,
    *,
    epochs: int,
    patience: int,
    threshold: float,
    max_per_task: int | None = None,
    balance: bool = True,
    verbose: int | str = 2,
    strategy: tf.distribute.Strategy | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    tensorboard: bool = True,
) -> tuple[pd.DataFrame, dict[str, Any], float]:
    """Self-training's first stage for one model: trains the teacher, then pseudo-labels ``unlabeled`` with it.

    The teacher is the model a run without self-training trains (same data,
    seed and dev selection, :func:`tf_aspmtl.training.fit_with_dev_selection`),
    in ``group_dir/teacher`` and resumable; once trained and evaluated on dev,
    ``teacher/teacher_results.json`` marks it finished, and a rerun reuses it
    without training. Its pseudo labels (:func:`tf_aspmtl.training.pseudo_label`
    with ``threshold``, ``max_per_task`` and ``balance``: by default, classes balanced per task) are
    saved to ``group_dir/pseudo_labels.parquet`` atomically and reused too, so
    a resumed student trains on the same rows. A damaged record or pseudo-label file (cut, not JSON or parquet) is
    said, naming it, and made again from the finished teacher, to the same contents. Pass unlabelled rows only,
    never dev or test rows (:func:`tf_aspmtl.training.held_out_duplicates`
    finds unlabelled rows that repeat one).

    Args:
        group_dir: the model's folder (the student's); the teacher trains in its ``teacher`` sub-folder.
        new_model: callable returning a fresh compiled model (a MultiTaskClassifier) of the group.
        train_ds: tf.data.Dataset. The training stream (repeating; ``steps`` batches an epoch).
        steps: int. Training steps per epoch.
        dev_ds: tf.data.Dataset. The dev split: selection and the teacher's dev errors.
        unlabeled: pandas.DataFrame with ``text`` and ``task`` columns: the rows to label.
        epochs: int. Most epochs of the teacher.
        patience: int. Epochs without dev improvement before the teacher stops.
        threshold: float in (0.5, 1]. Least confidence of a kept pseudo label.
        max_per_task: int >= 1 or None. Most pseudo-labelled rows per task (None: no cap).
        balance: bool. Keep as many rows of each class per task (:func:`~tf_aspmtl.training.pseudo_label`'s
            ``balance``); False: every row above the threshold.
        verbose: Keras ``fit`` verbosity.
        strategy: optional ``tf.distribute`` strategy (as for ``fit_with_dev_selection``).
        callbacks: more Keras callbacks of the teacher's ``fit`` (for example an :class:`EpochSummary`).
        tensorboard: bool. Write the teacher's TensorBoard logs (as ``fit_with_dev_selection``; the n-gram
            runs write none).

    Returns:
        ``(pseudo-labelled rows, teacher record, seconds this process spent training the teacher)``;
        the rows are :func:`~tf_aspmtl.training.pseudo_label`'s frame (``text``, ``task``, ``label``,
        ``confidence``); the record holds ``dev_error`` per task (%), ``best_epoch``, ``history``,
        ``training_wall_time_s`` (all processes) and ``processes``.

    Example (not run):
        pseudo, teacher, _ = teacher_pseudo_labels(
            "runs/st/model", lambda: build_model(config, preprocessor), train_ds, steps, dev_ds, unlabeled,
            epochs=30, patience=5, threshold=0.9)
        student_rows = pd.concat([train[["task", "text", "label"]], pseudo[["task", "text", "label"]]])
    """
    group_dir = Path(group_dir)
    teacher_dir, labels_path = group_dir / TEACHER_DIR, group_dir / PSEUDO_LABELS
    marker = teacher_dir / TEACHER_DONE
    teacher, this_process_s = None, 0.0

    def fit_teacher():
        model = new_model()
        return model, fit_with_dev_selection(
            model, train_ds, steps, dev_ds, teacher_dir, epochs=epochs, patience=patience,
            verbose=verbose, strategy=strategy, callbacks=callbacks, tensorboard=tensorboard,
        )

    record = _read_saved(marker, "teacher's record", _read_record)
    if record is not None:
        logger.info("teacher already trained and evaluated; reusing %s", marker)
    else:
        logger.info("self-training: training the teacher in %s", teacher_dir)
        fit_started = time.time()
        teacher, selection = fit_teacher()
        this_process_s = time.time() - fit_started
        eval_ds = dev_ds
        if strategy is not None:
            from tf_aspmtl.distribute import distribute_eval_dataset

            eval_ds = distribute_eval_dataset(strategy, dev_ds)
        record = {"dev_error": task_errors(teacher, eval_ds), "best_epoch": selection.best_epoch,
                  "history": selection.history, "training_wall_time_s": selection.wall_time_s,
                  "processes": selection.processes}
        _write_json_atomic(marker, record)
    pseudo = _read_saved(labels_path, "pseudo labels", pd.read_parquet)
    if pseudo is not None:
        logger.info("pseudo labels already made; reusing %s", labels_path)
    else:
        if teacher is None:  # finished by an earlier process that stopped before saving its pseudo labels
            teacher, _ = fit_teacher()  # a finished fit trains nothing: it loads the best weights
        pseudo = pseudo_label(teacher, unlabeled[["text", "task"]], threshold=threshold, max_per_task=max_per_task,
                              balance=balance)
        _write_parquet_atomic(pseudo, labels_path)
    return pseudo, record, this_process_s
