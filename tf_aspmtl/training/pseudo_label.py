"""Pseudo-labels for self-training: a teacher model's confident predictions on unlabelled rows."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from tf_aspmtl.preprocessing.task_preprocessor import plain_value
from tf_aspmtl.training.held_out_duplicates import held_out_duplicates

PSEUDO_LABEL_COLUMNS = ("text", "task", "label", "confidence")
"""Columns of :func:`pseudo_label`'s frame, in order."""


def _check_arguments(threshold: Any, max_per_task: Any, batch_size: Any) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)):
        raise ValueError(f"threshold must be a number in (0.5, 1]; got {threshold!r}")
    if not (math.isfinite(float(threshold)) and 0.5 < float(threshold) <= 1.0):
        raise ValueError(f"threshold must be in (0.5, 1] (above 0.5, so a kept row's class is unambiguous); "
                         f"got {threshold!r}")
    if max_per_task is not None and (
        isinstance(max_per_task, bool) or not isinstance(max_per_task, (int, np.integer)) or max_per_task < 1
    ):
        raise ValueError(f"max_per_task must be None (no cap) or an int >= 1; got {max_per_task!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1; got {batch_size!r}")


def _check_frame(frame: Any, task_names: list[str]) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame must be a pandas.DataFrame with text and task columns; got {type(frame).__name__}")
    missing = [c for c in ("text", "task") if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks column(s) {missing}; it has {list(frame.columns)}")
    unknown = sorted(set(frame["task"]) - set(task_names), key=str)
    if unknown:
        raise ValueError(f"frame has task(s) {unknown} the model does not know; expected some of {task_names}")


def _predict(model: Any, texts: list[str], tasks: list[str], task_names: list[str], batch_size: int) -> np.ndarray:
    """Probabilities [rows, classes] in row order; rows go to the model grouped by task (one-task batches)."""
    order = np.argsort(np.asarray([task_names.index(t) for t in tasks]), kind="stable")
    probabilities = np.asarray(
        model.predict({"text": [texts[i] for i in order], "task": [tasks[i] for i in order]},
                      batch_size=batch_size, verbose=0),
        dtype=np.float64,
    )
    if probabilities.ndim != 2 or probabilities.shape[0] != len(texts) or probabilities.shape[1] < 2:
        raise ValueError(f"model.predict must return probabilities [{len(texts)}, classes >= 2]; "
                         f"got shape {probabilities.shape}")
    if not np.all(np.isfinite(probabilities)):
        raise ValueError("model.predict returned non-finite probabilities (a diverged teacher?)")
    result = np.empty_like(probabilities)
    result[order] = probabilities
    return result


def _select(rows: pd.DataFrame, num_classes: int, max_per_task: int | None, balance: bool) -> pd.DataFrame:
    """One task's kept rows: most confident first, balanced over its classes and capped as asked."""
    rows = rows.sort_values(["confidence", "_row"], ascending=[False, True], kind="stable")
    if not balance:
        return rows if max_per_task is None else rows.head(max_per_task)
    per_class = min(int((rows["label"] == c).sum()) for c in range(num_classes))
    if max_per_task is not None:
        per_class = min(per_class, max_per_task // num_classes)
    return rows.groupby("label", sort=True).head(per_class)


def pseudo_label(
    model: Any,
    frame: pd.DataFrame,
    *,
    threshold: float = 0.9,
    max_per_task: int | None = None,
    balance: bool = True,
    batch_size: int = 128,
) -> pd.DataFrame:
    """The rows of ``frame`` a teacher model labels with confidence ``>= threshold``, with those labels.

    Self-training (Yarowsky 1995; Lee 2013's "pseudo-label"): a teacher
    trained on the labelled rows predicts every unlabelled row; the rows it
    is sure of, labelled with its predicted class, join the labelled rows of
    a fresh student. Pass unlabelled rows only, never dev or test rows (the
    student's epoch is selected on dev and its error is reported on test).

    Each row's label is the teacher's most probable class (the class id the
    training frames use: 0 or 1 for FDU-MTL) and its ``confidence`` that
    class's probability. With ``balance`` each task keeps the same number of
    rows of every one of its classes, the count of its rarest predicted
    class, most confident first, so the student is not pushed towards the
    teacher's majority class (a task with no confident row of some class
    keeps none). ``max_per_task`` then caps a task's rows, most confident
    first (with ``balance``, ``max_per_task // classes`` rows of each class).
    Deterministic: a confidence tie keeps the earlier row.

    Args:
        model: the teacher: a :class:`~tf_aspmtl.models.MultiTaskClassifier`
            built from a preprocessor, or any object with ``task_names``
            (list of str), optionally ``num_classes`` (classes per task), and
            ``predict({"text": [...], "task": [...]}, batch_size=..., verbose=0)``
            returning probabilities [rows, classes].
        frame: pandas.DataFrame with ``text`` and ``task`` columns (other
            columns, a ``label`` of -1 for example, are ignored).
        threshold: float in (0.5, 1]. Least probability of the predicted
            class for a row to be kept.
        max_per_task: int >= 1 or None. Most rows kept per task (None: no cap).
        balance: bool. Keep as many rows of each class, per task.
        batch_size: int. Rows per prediction batch.

    Returns:
        pandas.DataFrame with columns ``text`` (str), ``task`` (str),
        ``label`` (int64 class id) and ``confidence`` (float64), the kept rows
        in ``frame``'s order, with a fresh RangeIndex.

    Raises:
        ValueError: a threshold outside (0.5, 1], a bad ``max_per_task`` or
            ``batch_size``, a missing column, a task the model does not know,
            or probabilities of the wrong shape or not finite.

    Example:
    >>> class Teacher:  # the probability of class 1 is in the text
    ...     task_names, num_classes = ["books"], [2]
    ...     def predict(self, x, batch_size=None, verbose=0):
    ...         p = np.asarray([float(t) for t in x["text"]])
    ...         return np.stack([1 - p, p], axis=1)
    >>> rows = pd.DataFrame({"text": ["0.95", "0.6", "0.02", "0.97"], "task": ["books"] * 4})
    >>> pseudo_label(Teacher(), rows, threshold=0.9)[["text", "label"]].values.tolist()
    [['0.02', 0], ['0.97', 1]]
    """
    _check_arguments(threshold, max_per_task, batch_size)
    task_names = getattr(model, "task_names", None)
    if task_names is None:
        raise ValueError(f"model must expose task_names (a MultiTaskClassifier does); got {type(model).__name__}")
    task_names = [str(t) for t in task_names]
    _check_frame(frame, task_names)
    empty = pd.DataFrame({"text": pd.Series([], dtype=str), "task": pd.Series([], dtype=str),
                          "label": pd.Series([], dtype=np.int64), "confidence": pd.Series([], dtype=np.float64)})
    if frame.empty:
        return empty
    texts = [str(t) for t in frame["text"]]
    tasks = [str(t) for t in frame["task"]]
    probabilities = _predict(model, texts, tasks, task_names, int(batch_size))
    num_classes = [int(c) for c in getattr(model, "num_classes", [probabilities.shape[1]] * len(task_names))]
    # A task with fewer classes than the widest gets 0 on the others: only its own classes count.
    row_classes = np.asarray([num_classes[task_names.index(t)] for t in tasks])
    probabilities = np.where(np.arange(probabilities.shape[1])[None, :] < row_classes[:, None], probabilities, -1.0)
    rows = pd.DataFrame({
        "text": texts, "task": tasks, "label": probabilities.argmax(axis=1).astype(np.int64),
        "confidence": probabilities.max(axis=1), "_row": np.arange(len(texts)),
    })
    rows = rows[rows["confidence"] >= float(threshold)]
    kept = [
        _select(rows[rows["task"] == task], num_classes[task_names.index(task)], max_per_task, balance)
        for task in dict.fromkeys(tasks)
    ]
    kept = pd.concat(kept) if kept else rows
    if kept.empty:
        return empty
    return kept.sort_values("_row", kind="stable")[list(PSEUDO_LABEL_COLUMNS)].reset_index(drop=True)


def with_pseudo_labels(
    teacher: Any,
    train: pd.DataFrame,
    unlabeled: pd.DataFrame,
    *,
    threshold: float = 0.9,
    max_per_task: int | None = None,
    balance: bool = True,
    label_column: str = "label",
    held_out: pd.DataFrame | None = None,
    confidence_weights: bool = False,
) -> pd.DataFrame:
    """Self-training's rows for a student: ``train``'s rows, then the unlabelled rows the teacher is sure of.

    :func:`pseudo_label` picks the rows of ``unlabeled`` and their classes; here each class id becomes the
    teacher's label value for its task (``teacher.preprocessor.decode_labels``), the values ``train`` holds, so
    the rows go straight to the student's ``fit`` (e.g. a model on ``teacher.preprocessor``: the same features,
    learnt from the train rows alone). Pass unlabelled rows only, never dev or test rows; ``held_out`` drops the
    unlabelled rows that repeat a dev or test text (:func:`~tf_aspmtl.training.held_out_duplicates`: review sites
    repeat reviews, and FDU-MTL's unlabelled files hold some of its dev and test reviews).

    Args:
        teacher: a model trained on ``train`` (a :class:`~tf_aspmtl.models.Task` built ``from_frame`` on it).
        train: pandas.DataFrame of the labelled rows: ``text``, ``task`` and ``label_column``.
        unlabeled: pandas.DataFrame with ``text`` and ``task`` columns.
        threshold, max_per_task, balance: as :func:`pseudo_label`'s.
        label_column: str. The labels' column in ``train`` and in the result.
        held_out: pandas.DataFrame with a ``text`` column (the dev and test rows), or None. Unlabelled rows
            repeating one of its texts, whatever their case, spacing and punctuation, are never labelled.
        confidence_weights: bool. Add a ``weight`` column, each row's weight in the student's loss (its
            ``fit(sample_weight=rows.weight)``): 1 for a train row, the teacher's margin over chance
            (:func:`margin_over_chance`) for a pseudo-labelled one.

    Returns:
        pandas.DataFrame with columns ``text``, ``task`` and ``label_column`` (and ``weight``): ``train``'s rows
        in their order, then the pseudo-labelled rows in ``unlabeled``'s order, with a fresh RangeIndex.

    Raises:
        ValueError: ``train``, ``unlabeled`` or ``held_out`` lacks a column (named), a teacher without a
            preprocessor to name its classes, a label of ``train`` that is not one of the teacher's classes of its
            task (0/1 against names, say: named), or any error of :func:`pseudo_label`.

    Example:
    >>> import tf_aspmtl
    >>> train = pd.DataFrame({"text": ["good book", "bad book"] * 4, "task": ["books"] * 8,
    ...                       "label": ["pos", "neg"] * 4})
    >>> teacher = tf_aspmtl.SharedPrivateNgramClassifier.from_frame(train, max_features=20)
    >>> teacher.compile(learning_rate=0.1)
    >>> _ = teacher.fit({"text": train.text, "task": train.task}, train.label, epochs=20, verbose=0)
    >>> rows = with_pseudo_labels(teacher, train, pd.DataFrame({"text": ["a good read", "so bad"],
    ...                                                         "task": ["books"] * 2}), threshold=0.6)
    >>> rows.tail(2).values.tolist()
    [['a good read', 'books', 'pos'], ['so bad', 'books', 'neg']]
    """
    missing = [c for c in ("text", "task", label_column) if c not in getattr(train, "columns", ())]
    if missing:
        raise ValueError(f"train lacks column(s) {missing}; it has {list(getattr(train, 'columns', []))}")
    missing = [c for c in ("text", "task") if c not in getattr(unlabeled, "columns", ())]
    if missing:
        raise ValueError(f"unlabeled lacks column(s) {missing}; it has {list(getattr(unlabeled, 'columns', []))}")
    preprocessor = getattr(teacher, "preprocessor", None)
    decode = getattr(preprocessor, "decode_labels", None)
    if decode is None:
        raise ValueError("with_pseudo_labels names the classes through teacher.preprocessor.decode_labels (a model "
                         f"built from a preprocessor has it); got {type(teacher).__name__}. Use pseudo_label for "
                         "class ids.")
    for task, values in train.groupby(train["task"].astype(str), sort=False)[label_column]:
        classes = preprocessor.classes(task) if task in preprocessor.task_names else None
        odd = [] if classes is None else [plain_value(v) for v in pd.unique(values) if v not in classes]
        if odd:  # the rows would mix label kinds (0/1 and names, say), and the student would learn both
            raise ValueError(f"train's {label_column!r} values {sorted(odd, key=str)[:5]} of task {task!r} are not "
                             f"the teacher's classes {classes}: give a teacher built from_frame on train (or "
                             "renamed with with_class_names)")
    if held_out is not None:
        if "text" not in getattr(held_out, "columns", ()):
            raise ValueError(f"held_out needs a text column (the dev and test rows); it has "
                             f"{list(getattr(held_out, 'columns', []))}")
        unlabeled = unlabeled[~held_out_duplicates(unlabeled, held_out)]
    pseudo = pseudo_label(teacher, unlabeled, threshold=threshold, max_per_task=max_per_task, balance=balance)
    labels = pd.Series([None] * len(pseudo), dtype=object)
    for task, rows in pseudo.groupby("task", sort=False).groups.items():
        labels[rows] = decode(task, pseudo.loc[rows, "label"].tolist())
    added = pd.DataFrame({"text": pseudo["text"], "task": pseudo["task"], label_column: labels})
    columns = train[["text", "task", label_column]]
    added = added.astype(columns.dtypes.to_dict())  # the classes are train's values: its column types hold them
    rows = pd.concat([columns, added], ignore_index=True)
    if confidence_weights:
        classes = np.asarray([len(preprocessor.classes(t)) for t in pseudo["task"]], dtype=np.float64)
        rows["weight"] = np.concatenate([np.ones(len(columns)),
                                         margin_over_chance(pseudo["confidence"].to_numpy(), classes)])
    return rows


def margin_over_chance(confidence: np.ndarray, num_classes: np.ndarray | int) -> np.ndarray:
    """``(c - 1/n) / (1 - 1/n)``: a teacher's probability ``c`` of a row's label above chance among ``n`` classes,
    scaled to [0, 1] (``2c - 1`` for two classes): 1 for a row it is sure of, 0 for a guess."""
    chance = 1.0 / np.asarray(num_classes, dtype=np.float64)
    return (np.asarray(confidence, dtype=np.float64) - chance) / (1.0 - chance)
