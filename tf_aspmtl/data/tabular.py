"""Users' own multi-task text data: CSV, TSV, parquet or a DataFrame."""

from __future__ import annotations

import csv
import logging
import math
import os
import pathlib
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

_SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_PARQUET = ".parquet"
_FRAME_NAME = "<DataFrame>"


def _plain(value: Any) -> Any:
    """Turns a numpy scalar into the matching Python scalar (JSON-friendly)."""
    return value.item() if isinstance(value, np.generic) else value


class LabelMap:
    """Maps each task's labels (strings or ints) to ids 0..C-1 and back.

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
        self._classes = {str(task): [_plain(c) for c in labels] for task, labels in classes.items()}
        self._ids = {}
        for task, labels in self._classes.items():
            if not labels:
                raise ValueError(f"Task {task!r} has no classes")
            ids = {label: i for i, label in enumerate(labels)}
            if len(ids) != len(labels):
                raise ValueError(f"Task {task!r} has repeated classes: {labels}")
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
            ValueError: a task mixes label types that cannot be sorted.
        """
        classes: dict[str, set] = {}
        for task, label in zip(frame[task_column].tolist(), frame[label_column].tolist()):
            classes.setdefault(str(task), set()).add(_plain(label))
        try:
            return cls({task: sorted(labels) for task, labels in classes.items()})
        except TypeError:
            types = {t: sorted({type(x).__name__ for x in labels}) for t, labels in classes.items()}
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
            ValueError: unknown task, or a label not in the task's classes.
        """
        ids = self._ids[self._check_task(task)]
        out = []
        for label in labels:
            label = _plain(label)
            if label not in ids:
                raise ValueError(
                    f"Unknown label {label!r} for task {task!r}; "
                    f"expected one of {self._classes[task]}"
                )
            out.append(ids[label])
        return np.asarray(out, dtype=np.int64)

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


def _is_missing(value: Any) -> bool:
    """Tells whether a cell is missing: None, NaN, pd.NA or blank text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


class _Source:
    """A table read from a file or a DataFrame, and how to name its rows."""

    def __init__(
        self,
        frame: pd.DataFrame,
        name: str,
        path: pathlib.Path | None = None,
        sep: str | None = None,
    ):
        self.frame, self.name, self.path, self.sep = frame, name, path, sep

    def where(self, row: int) -> str:
        """Names 0-based data row `row` for a message: file, row and, for CSV/TSV, line."""
        if self.sep is None:
            return f"{self.name}: row {row + 1}"
        return f"{self.name}: row {row + 1} (line {self._line_number(row)})"

    def _line_number(self, row: int) -> int:
        """Finds the 1-based file line where data row `row` starts (header = line 1).

        Rescans the file with the csv module (only when reporting an error),
        so quoted multi-line fields and blank lines are counted right.
        """
        with open(self.path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=self.sep)
            seen, start = -1, 1
            for record in reader:
                if record:
                    if seen == row:
                        return start
                    seen += 1
                start = reader.line_num + 1
        return start


def _read_source(source: str | os.PathLike | pd.DataFrame, columns: Sequence[str]) -> _Source:
    """Reads `source` into a DataFrame.

    Args:
        source: path to a .csv, .tsv/.tab or .parquet file, or a DataFrame.
        columns: sequence of str. Expected column names, for messages.

    Returns:
        _Source.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: unsupported extension, empty or unparsable file.
    """
    if isinstance(source, pd.DataFrame):
        return _Source(source.reset_index(drop=True), _FRAME_NAME)
    path = pathlib.Path(source)
    suffix = path.suffix.lower()
    if suffix not in _SEPARATORS and suffix != _PARQUET:
        supported = [*_SEPARATORS, _PARQUET]
        raise ValueError(
            f"{path.name}: unsupported file type {suffix!r}; expected one of {supported}"
        )
    if not path.is_file():
        raise FileNotFoundError(f"Table {str(path)!r} does not exist")
    if suffix == _PARQUET:
        return _Source(pd.read_parquet(path), path.name)
    sep = _SEPARATORS[suffix]
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{path.name}: line 1: empty file; expected a header line with columns {list(columns)}"
        ) from None
    except pd.errors.ParserError as error:
        raise ValueError(f"{path.name}: {error}") from None
    return _Source(frame, path.name, path, sep)


def _check_columns(source: _Source, columns: dict[str, str]) -> None:
    """Raises ValueError if a needed column is absent or the table has no rows.

    Args:
        source: _Source. The table.
        columns: dict mapping field role ("text", ...) to column name.
    """
    found = [str(c) for c in source.frame.columns]
    header = f"{source.name}: line 1 (header)" if source.sep else f"{source.name}: header"
    for role, column in columns.items():
        if column not in source.frame.columns:
            raise ValueError(f"{header}: missing {role} column {column!r}; columns found: {found}")
    if source.frame.empty:
        first = f"{source.name}: row 1" + (" (line 2)" if source.sep else "")
        raise ValueError(
            f"{first}: no data rows; expected at least one row with {list(columns.values())}"
        )


def _check_cells(source: _Source, columns: dict[str, str]) -> None:
    """Raises ValueError naming the first missing or blank cell of a needed column.

    Args:
        source: _Source. The table.
        columns: dict mapping field role to column name.
    """
    for role, column in columns.items():
        field = f"field {column!r}" + ("" if column == role else f" ({role})")
        values = source.frame[column].tolist()
        bad = next((i for i, v in enumerate(values) if _is_missing(v)), None)
        if bad is not None:
            raise ValueError(f"{source.where(bad)}: {field}: missing or empty {role}")
        if role == "text":
            bad = next((i for i, v in enumerate(values) if not isinstance(v, str)), None)
            if bad is not None:
                kind = type(values[bad]).__name__
                raise ValueError(f"{source.where(bad)}: {field}: expected a string, got {kind}")


def _encode_labels(
    source: _Source,
    tasks: list[str],
    labels: list,
    label_map: LabelMap,
    label_column: str,
    task_column: str,
) -> np.ndarray:
    """Encodes every row's label with `label_map`, naming the first bad row.

    Args:
        source: _Source. The table, for messages.
        tasks: list of str. Task of each row.
        labels: list. Label of each row.
        label_map: LabelMap. The mapping.
        label_column: str. Label column name, for messages.
        task_column: str. Task column name, for messages.

    Returns:
        np.ndarray of int64 ids.

    Raises:
        ValueError: a row's task or label is unknown to `label_map`.
    """
    ids = np.empty(len(labels), dtype=np.int64)
    known = {t: {c: i for i, c in enumerate(label_map.classes(t))} for t in label_map.tasks}
    for row, (task, label) in enumerate(zip(tasks, labels)):
        if task not in known:
            raise ValueError(
                f"{source.where(row)}: field {task_column!r}: unknown task {task!r}; "
                f"expected one of {label_map.tasks}"
            )
        label = _plain(label)
        if label not in known[task]:
            raise ValueError(
                f"{source.where(row)}: field {label_column!r}: unknown label {label!r} "
                f"for task {task!r}; expected one of {label_map.classes(task)}"
            )
        ids[row] = known[task][label]
    return ids


def load_multitask_table(
    source: str | os.PathLike | pd.DataFrame,
    text_column: str = "text",
    label_column: str = "label",
    task_column: str = "task",
    split_column: str | None = None,
    label_map: LabelMap | None = None,
) -> tuple[pd.DataFrame, LabelMap]:
    """Loads a multi-task text-classification table and encodes its labels.

    CSV/TSV cells are read as strings with no NA guessing, so labels such as
    "NA" or "0" stay strings; an empty cell is an error. Task names become
    strings. Any number of tasks and of classes per task is accepted.

    Args:
        source: path to a .csv, .tsv/.tab or .parquet file, or a DataFrame.
        text_column: str. Column holding the texts.
        label_column: str. Column holding the labels (strings or ints).
        task_column: str. Column holding the task names.
        split_column: str or None. Optional column holding split names.
        label_map: LabelMap or None. Mapping to use; None builds one from
            the data with `LabelMap.from_frame` (sorted labels).

    Returns:
        (frame, label_map): frame has columns task (str), text (str), label
        (int64 ids) and, if `split_column` is given, split (str).

    Raises:
        FileNotFoundError: `source` names a missing file.
        ValueError: unsupported file, missing column, no rows, a missing or
            blank text/label/task/split, or a task or label unknown to
            `label_map`; the message names the file (or "<DataFrame>"), the
            1-based data row (and file line for CSV/TSV) and the field.

    Example:
        >>> table = pd.DataFrame({"task": ["a", "a", "b"], "text": ["x", "y", "z"],
        ...                       "label": ["pos", "neg", "NA"]})
        >>> frame, label_map = load_multitask_table(table)
        >>> frame["label"].tolist(), label_map.classes("a")
        ([1, 0, 0], ['neg', 'pos'])
    """
    columns = {"task": task_column, "text": text_column, "label": label_column}
    if split_column is not None:
        columns["split"] = split_column
    source = _read_source(source, list(columns.values()))
    _check_columns(source, columns)
    _check_cells(source, columns)
    frame = source.frame
    tasks = [str(_plain(t)) for t in frame[task_column].tolist()]
    labels = frame[label_column].tolist()
    if label_map is None:
        label_map = LabelMap.from_frame(pd.DataFrame({"task": tasks, "label": labels}))
    out = pd.DataFrame(
        {
            "task": pd.Series(tasks, dtype=str),
            "text": pd.Series(frame[text_column].tolist(), dtype=str),
            "label": _encode_labels(source, tasks, labels, label_map, label_column, task_column),
        }
    )
    if split_column is not None:
        out["split"] = pd.Series([str(_plain(s)) for s in frame[split_column].tolist()], dtype=str)
    logger.info("Loaded %d rows, %d tasks from %s", len(out), len(label_map.tasks), source.name)
    return out, label_map
