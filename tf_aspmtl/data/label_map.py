"""Each task's classes and their ids: :class:`LabelMap`, and what a frame of training rows declares."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tf_aspmtl.data.table_reader import check_present, is_missing, is_null


def plain_scalar(value: Any) -> Any:
    """Turns a numpy scalar into the matching Python scalar (JSON-friendly)."""
    return value.item() if isinstance(value, np.generic) else value


def label_text(value: Any) -> str:
    """The text form by which a label is matched to a class, everywhere in the library.

    It is ``str`` of the value, numpy scalars read as the Python ones and
    bytes decoded as UTF-8: ``"1"``, ``1`` and ``np.int64(1)`` are the same
    label, while ``True`` (``"True"``) and ``1.0`` (``"1.0"``) are not the
    class ``1``. A class is thus named by its entry in ``class_names``.
    """
    value = plain_scalar(value)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


class LabelMap:
    """Maps each task's labels (strings or ints) to ids 0..C-1 and back.

    A label matches the class with the same text form (:func:`label_text`):
    ``"1"`` is the class ``1``, but ``True`` and ``1.0`` are not. So two
    classes of a task may not share a text form (``0`` and ``"0"``), and
    none may be missing (None, NaN) or blank.

    Args:
        classes: mapping from task name to the sequence of its labels; a
            label's id is its position. Task order is kept.

    Example:
        >>> label_map = LabelMap({"movies": ["neg", "pos"], "news": ["a", "b", "c"]})
        >>> label_map.encode("news", ["c", "a"]).tolist()
        [2, 0]
        >>> label_map.decode("movies", [1])
        ['pos']
    """

    def __init__(self, classes: Mapping[str, Sequence[Hashable]]):
        self._classes = {str(task): [plain_scalar(c) for c in labels] for task, labels in classes.items()}
        self._ids: dict[str, dict[str, int]] = {}
        for task, labels in self._classes.items():
            if not labels:
                raise ValueError(f"Task {task!r} has no classes")
            ids: dict[str, int] = {}
            for i, label in enumerate(labels):
                if is_missing(label):
                    raise ValueError(f"Task {task!r}: class {i} is missing ({label!r}); classes: {labels}")
                text = label_text(label)
                if text in ids:
                    raise ValueError(
                        f"Task {task!r} has repeated classes: {labels[ids[text]]!r} and {label!r} are both "
                        f"{text!r} as text, and labels are matched by their text form; classes: {labels}"
                    )
                ids[text] = i
            self._ids[task] = ids

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, task_column: str = "task", label_column: str = "label"
    ) -> LabelMap:
        """Builds a LabelMap from the labels present in a frame.

        Tasks keep their first-seen order; each task's labels are sorted, so
        the same data always gives the same ids.

        Args:
            frame: pandas.DataFrame. Data with task and label columns.
            task_column: str. Column holding task names.
            label_column: str. Column holding labels.

        Returns:
            LabelMap.

        Raises:
            ValueError: a missing task or label (its row named), or a task
                mixes label types that cannot be sorted.
        """
        tasks, labels = frame[task_column].tolist(), frame[label_column].tolist()
        check_present(tasks, task_column, "task", index=frame.index)
        check_present(labels, label_column, "label", index=frame.index)
        classes: dict[str, dict[str, Any]] = {}
        for task, label in zip(tasks, labels):  # one class per text form, the first value seen
            classes.setdefault(str(task), {}).setdefault(label_text(label), plain_scalar(label))
        try:
            return cls({task: sorted(found.values()) for task, found in classes.items()})
        except TypeError:
            types = {t: sorted({type(x).__name__ for x in found.values()}) for t, found in classes.items()}
            message = f"Labels of one task mix types that cannot be sorted: {types}"
            raise ValueError(message) from None

    @property
    def tasks(self) -> list[str]:
        """list of str: task names, in first-seen (or given) order."""
        return list(self._classes)

    def classes(self, task: str) -> list:
        """Returns the labels of `task`, label `i` having id `i`."""
        return list(self._classes[self._check_task(task)])

    def num_classes(self, task: str) -> int:
        """Returns the number of classes of `task`."""
        return len(self._classes[self._check_task(task)])

    def encode(self, task: str, labels: Iterable[Hashable]) -> np.ndarray:
        """Maps labels of `task` to ids.

        Args:
            task: str. Task name.
            labels: iterable of labels.

        Returns:
            np.ndarray of int64 ids, shape [len(labels)].

        Raises:
            ValueError: unknown task, or a label missing or not in the task's
                classes (the message names the task, the label and its
                0-based position in `labels`).
        """
        self._check_task(task)
        out = []
        for position, label in enumerate(labels):
            label = plain_scalar(label)
            found = self.find(task, label)
            if found is None:
                kind = "Missing" if is_null(label) else "Unknown"
                raise ValueError(
                    f"{kind} label {label!r} for task {task!r} (item {position} of the "
                    f"labels given){self.why_not(task, label)}; expected one of {self._classes[task]}"
                )
            out.append(found)
        return np.asarray(out, dtype=np.int64)

    def find(self, task: str, label: Any) -> int | None:
        """The id of the class of `task` that `label` names (by its :func:`label_text`), or None.

        None also for a missing label (None, NaN, pd.NA). `task` must be known.
        """
        if is_null(plain_scalar(label)):
            return None
        return self._ids[self._check_task(task)].get(label_text(label))

    def why_not(self, task: str, label: Any) -> str:
        """For a message: why `label`, equal to a class of `task` in Python (``True == 1``, ``1.0 == 1``), names
        no class; "" when it equals none."""
        label = plain_scalar(label)
        for known in self._classes[self._check_task(task)]:
            if type(known) is not type(label) and isinstance(known, (int, float)) and known == label:
                return (f" ({label!r} equals the class {known!r} in Python, but labels match classes by their text "
                        f"form, here {label_text(label)!r} against {label_text(known)!r})")
        return ""

    def decode(self, task: str, ids: Iterable[int]) -> list:
        """Maps ids of `task` back to labels.

        Args:
            task: str. Task name.
            ids: iterable of int ids.

        Returns:
            list of labels.

        Raises:
            ValueError: unknown task, or an id outside 0..C-1.
        """
        labels = self._classes[self._check_task(task)]
        out = []
        for i in ids:
            if not 0 <= int(i) < len(labels) or int(i) != i:
                raise ValueError(
                    f"Id {i!r} out of range for task {task!r} with {len(labels)} classes"
                )
            out.append(labels[int(i)])
        return out

    def get_config(self) -> dict:
        """Returns a JSON-serialisable config; `from_config` rebuilds the map."""
        return {"classes": {task: list(labels) for task, labels in self._classes.items()}}

    @classmethod
    def from_config(cls, config: Mapping) -> LabelMap:
        """Rebuilds a LabelMap from `get_config()`'s output."""
        return cls(**config)

    def _check_task(self, task: str) -> str:
        """Returns `task` if known, else raises ValueError naming the known tasks."""
        if task not in self._classes:
            raise ValueError(f"Unknown task {task!r}; expected one of {self.tasks}")
        return task

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelMap) and self._classes == other._classes

    def __repr__(self) -> str:
        return f"LabelMap({self._classes!r})"


def tasks_and_classes(
    frame: pd.DataFrame,
    text_column: str = "text",
    task_column: str = "task",
    label_column: str = "label",
    classes: Mapping[str, Sequence[Hashable]] | None = None,
) -> tuple[list[str], dict[str, list]]:
    """The tasks of a frame of training rows (first-seen order) and each task's classes (sorted, unless given).

    What a model or preprocessor built ``from_frame`` learns before its vocabulary.

    Raises:
        ValueError: a column is missing (named, with the frame's columns), the frame is empty, a row's text is
            missing (None, NaN) or its task or label missing or blank (the row and column named), or ``classes``
            lacks a task of the frame.
    """
    for column in (text_column, task_column, label_column):
        if column not in frame.columns:
            raise ValueError(f"The frame has no column {column!r}; its columns are {list(frame.columns)}")
    if frame.empty:
        raise ValueError("Cannot learn tasks and classes from an empty frame.")
    check_present(frame[text_column].tolist(), text_column, "text", blank=False, index=frame.index)
    for column, what in ((task_column, "task"), (label_column, "label")):
        check_present(frame[column].tolist(), column, what, index=frame.index)
    tasks = [str(t) for t in pd.unique(frame[task_column].astype(str))]
    if classes is None:
        learnt = LabelMap.from_frame(frame.assign(**{task_column: frame[task_column].astype(str)}), task_column,
                                     label_column)
        classes = {t: learnt.classes(t) for t in tasks}
    classes = {str(plain_scalar(t)): labels for t, labels in classes.items()}  # tasks are named by their text form
    missing = [t for t in tasks if t not in classes]
    if missing:
        raise ValueError(f"classes has no entry for task(s) {missing}")
    return tasks, {t: list(classes[t]) for t in tasks}
