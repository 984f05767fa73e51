"""Users' own multi-task text data: CSV, TSV, parquet or a DataFrame."""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import math
import os
import pathlib
import re
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

_SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_PARQUET = ".parquet"
_FRAME_NAME = "<DataFrame>"
_ENCODING = "utf-8"
_BOM = "\ufeff"
# pandas skips a line made only of these (minus the separator), like a blank one.
_BLANK_CHARS = " \t"
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_SNIPPET = 60  # characters of a bad cell quoted in a message


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
            ValueError: unknown task, or a label not in the task's classes
                (the message names the task, the label and its 0-based
                position in `labels`).
        """
        ids = self._ids[self._check_task(task)]
        out = []
        for position, label in enumerate(labels):
            label = _plain(label)
            if label not in ids:
                raise ValueError(
                    f"Unknown label {label!r} for task {task!r} (item {position} of the "
                    f"labels given); expected one of {self._classes[task]}"
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


@contextlib.contextmanager
def _unlimited_fields() -> Iterator[None]:
    """Lifts the csv module's 128 KiB field limit for a scan (pandas has none)."""
    old = csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _records(text: str, sep: str) -> Iterator[tuple[int, list[str]]]:
    """Yields (line, fields) for the header and each data row, as pandas reads them.

    `line` is the 1-based line of the file where the record starts. Quoted
    multi-line fields count all their lines; blank lines and lines of only
    spaces/tabs are skipped, as pandas skips them.
    """
    raw: list[str] = []

    def lines() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            raw.append(line)
            yield line

    blank = _BLANK_CHARS.replace(sep, "")
    with _unlimited_fields():
        reader = csv.reader(lines(), delimiter=sep)
        start = 1
        for fields in reader:
            chunk = "".join(raw)
            raw.clear()
            if fields and chunk.rstrip("\r\n").strip(blank):
                yield start, fields
            start = reader.line_num + 1


def _snippet(cell: str) -> str:
    """Quotes a cell for a message: undecodable bytes as \\xNN, long cells cut."""
    if _has_bad_bytes(cell):
        cell = cell.encode(_ENCODING, "surrogateescape").decode(_ENCODING, "backslashreplace")
        return f"'{cell[:_SNIPPET]}'" + ("..." if len(cell) > _SNIPPET else "")
    return repr(cell[:_SNIPPET]) + ("..." if len(cell) > _SNIPPET else "")


def _field_name(header: list[str], index: int) -> str:
    """Names field `index` (0-based) of a record by its header column."""
    if index < len(header):
        return f"field {header[index]!r}"
    return f"field {index + 1} (beyond the {len(header)} header columns)"


class _Source:
    """A table read from a file or a DataFrame, and how to name its rows."""

    def __init__(
        self,
        frame: pd.DataFrame,
        name: str,
        path: pathlib.Path | None = None,
        sep: str | None = None,
        text: str | None = None,
    ):
        self.frame, self.name, self.path, self.sep, self.text = frame, name, path, sep, text

    def where(self, row: int) -> str:
        """Names 0-based data row `row` for a message: file, row and, for CSV/TSV, line."""
        if self.sep is None:
            return f"{self.name}: row {row + 1}"
        return f"{self.name}: row {row + 1} (line {self._line_number(row)})"

    def _line_number(self, row: int) -> int:
        """Finds the 1-based file line where data row `row` starts (header = line 1).

        Rescans the decoded text with the csv module (only when reporting an
        error), so quoted multi-line fields and blank lines are counted right.
        """
        start = 1
        for seen, (start, _) in enumerate(_records(self.text, self.sep)):
            if seen == row + 1:  # record 0 is the header
                return start
        return start + 1  # past the last record


def _decode(path: pathlib.Path, data: bytes, sep: str) -> str:
    """Decodes a CSV/TSV file's bytes as UTF-8 (a leading BOM is dropped).

    Raises:
        ValueError: invalid bytes; the message names the file, the data row
            and line, the field, the encoding tried and the bytes.
    """
    try:
        text = data.decode(_ENCODING)
    except UnicodeDecodeError as error:
        raise ValueError(_bad_bytes_message(path.name, data, sep, error)) from None
    return text.removeprefix(_BOM)


def _bad_bytes_message(name: str, data: bytes, sep: str, error: UnicodeDecodeError) -> str:
    """Describes the first undecodable bytes of a file: where, which field, which bytes."""
    bad = data[error.start : error.end]
    line = len(_LINE_BREAK.findall(data, 0, error.start)) + 1
    what = (
        f"invalid {_ENCODING} (the encoding tried): bytes {bad!r} at byte offset "
        f"{error.start} ({error.reason})"
    )
    advice = f"save the file as {_ENCODING.upper()}"
    text = data.decode(_ENCODING, "surrogateescape")
    header = None
    for row, (_, fields) in enumerate(_records(text.removeprefix(_BOM), sep)):
        if header is None:
            header = fields
        index = next((i for i, f in enumerate(fields) if _has_bad_bytes(f)), None)
        if index is None:
            continue
        cell = _snippet(fields[index])
        if row == 0:
            return f"{name}: line {line} (header): field {index + 1}: {what}, in {cell}; {advice}"
        field = _field_name([str(h) for h in header], index)
        return f"{name}: row {row} (line {line}): {field}: {what}, in {cell}; {advice}"
    return f"{name}: line {line}: {what}; {advice}"


def _has_bad_bytes(cell: str) -> bool:
    """Tells whether a surrogateescape-decoded cell holds an undecodable byte."""
    return any("\udc80" <= ch <= "\udcff" for ch in cell)


def _structure_message(name: str, text: str, sep: str, error: Exception | None) -> str | None:
    """Describes a row with more fields than the header, or a quote never closed.

    Args:
        name: str. File name, for the message.
        text: str. The decoded file.
        sep: str. Field separator.
        error: the pandas ParserError, or None when pandas read the file
            (it then took an extra first field for an index column).

    Returns:
        The message, or None if the scan finds neither problem.
    """
    records = list(_records(text, sep))
    if not records:
        return None
    header = records[0][1]
    for row, (line, fields) in enumerate(records[1:], start=1):
        if len(fields) > len(header):
            extra = _snippet(fields[len(header)])
            return (
                f"{name}: row {row} (line {line}): {_field_name(header, len(header))}: "
                f"the row has {len(fields)} fields but the header has {len(header)} "
                f"columns {header}; the first extra field is {extra} "
                f"(quote cells that hold {sep!r})"
            )
    if error is not None and "EOF inside string" in str(error):
        line, fields = records[-1]
        end = len(io.StringIO(text, newline="").readlines())
        row = len(records) - 1
        where = f"row {row} (line {line})" if row else f"line {line} (header)"
        field = _field_name(header, len(fields) - 1) if row else f"field {len(fields)}"
        return (
            f"{name}: {where}: {field}: a quoted field opened here is never closed "
            f"(its '\"' runs to the end of the file, line {end}); check for a stray '\"'"
        )
    return None


def _read_source(source: str | os.PathLike | pd.DataFrame, columns: Sequence[str]) -> _Source:
    """Reads `source` into a DataFrame.

    CSV/TSV files are decoded as UTF-8 here, before pandas parses them, so
    that invalid bytes can be reported with their line and field.

    Args:
        source: path to a .csv, .tsv/.tab or .parquet file, or a DataFrame.
        columns: sequence of str. Expected column names, for messages.

    Returns:
        _Source.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: unsupported extension, empty or unparsable file, bytes
            that are not UTF-8, or a row with more fields than the header.
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
    text = _decode(path, path.read_bytes(), sep)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{path.name}: line 1: empty file; expected a header line with columns {list(columns)}"
        ) from None
    except pd.errors.ParserError as error:
        message = _structure_message(path.name, text, sep, error)
        raise ValueError(message or f"{path.name}: {error}") from None
    if not isinstance(frame.index, pd.RangeIndex):
        # Every data row had one field more than the header, and pandas took
        # the first for an index column, shifting all the others.
        message = _structure_message(path.name, text, sep, None)
        raise ValueError(message or f"{path.name}: rows have more fields than the header")
    return _Source(frame, path.name, path, sep, text)


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
    splits: list[str] | None = None,
    train_split: str | None = None,
) -> np.ndarray:
    """Encodes every row's label with `label_map`, naming the first bad row.

    Args:
        source: _Source. The table, for messages.
        tasks: list of str. Task of each row.
        labels: list. Label of each row.
        label_map: LabelMap. The mapping.
        label_column: str. Label column name, for messages.
        task_column: str. Task column name, for messages.
        splits: list of str or None. Split of each row, given when
            `label_map` was learnt from the rows of split `train_split` only;
            a task or label unknown to it on another split's row is then
            reported as seen only outside the training rows.
        train_split: str or None. Name of the training split.

    Returns:
        np.ndarray of int64 ids.

    Raises:
        ValueError: a row's task or label is unknown to `label_map`.
    """
    ids = np.empty(len(labels), dtype=np.int64)
    known = {t: {c: i for i, c in enumerate(label_map.classes(t))} for t in label_map.tasks}
    advice = "pass classes= (or label_map=) to declare every task's labels"
    for row, (task, label) in enumerate(zip(tasks, labels)):
        outside = splits is not None and splits[row] != train_split
        if task not in known:
            if outside:
                raise ValueError(
                    f"{source.where(row)}: field {task_column!r}: task {task!r} has no "
                    f"training rows (this row's split is {splits[row]!r}, not "
                    f"{train_split!r}); the training rows have tasks {label_map.tasks}; "
                    f"{advice}"
                )
            raise ValueError(
                f"{source.where(row)}: field {task_column!r}: unknown task {task!r}; "
                f"expected one of {label_map.tasks}"
            )
        label = _plain(label)
        if label not in known[task]:
            if outside:
                raise ValueError(
                    f"{source.where(row)}: field {label_column!r}: label {label!r} of task "
                    f"{task!r} appears only outside the training rows (this row's split is "
                    f"{splits[row]!r}, not {train_split!r}); the training rows of {task!r} "
                    f"have labels {label_map.classes(task)}; {advice}"
                )
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
    classes: Mapping[str, Sequence[Hashable]] | None = None,
    train_split: str = "train",
) -> tuple[pd.DataFrame, LabelMap]:
    """Loads a multi-task text-classification table and encodes its labels.

    CSV/TSV files must be UTF-8 (a leading BOM is allowed). Their cells are
    read as strings with no NA guessing, so labels such as "NA" or "0" stay
    strings; an empty cell is an error. Task names become strings. Any
    number of tasks and of classes per task is accepted.

    Unless `label_map` or `classes` is given, the classes are learnt from
    the data: from every row if there is no `split_column`, else from the
    rows of split `train_split` only, and a task or label that appears only
    on other splits' rows (dev, test, ...) is an error rather than a class
    the model never trains on.

    Args:
        source: path to a .csv, .tsv/.tab or .parquet file, or a DataFrame.
        text_column: str. Column holding the texts.
        label_column: str. Column holding the labels (strings or ints).
        task_column: str. Column holding the task names.
        split_column: str or None. Optional column holding split names.
        label_map: LabelMap or None. Mapping to use; None builds one from
            `classes` or else from the data with `LabelMap.from_frame`
            (sorted labels).
        classes: mapping from task name to the sequence of its labels, or
            None. The full label set, as for `LabelMap(classes)` (a label's
            id is its position); allows labels absent from the training
            rows. Not together with `label_map`.
        train_split: str. With `split_column`, the split whose rows the
            classes are learnt from.

    Returns:
        (frame, label_map): frame has columns task (str), text (str), label
        (int64 ids) and, if `split_column` is given, split (str).

    Raises:
        FileNotFoundError: `source` names a missing file.
        ValueError: unsupported file, bytes that are not UTF-8, a row with
            more fields than the header, missing column, no rows, a missing
            or blank text/label/task/split, a task or label unknown to
            `label_map`/`classes` or seen only outside the `train_split`
            rows, or no `train_split` row to learn classes from; the
            message names the file (or "<DataFrame>"), the 1-based data row
            (and file line for CSV/TSV) and the field.

    Example:
        >>> table = pd.DataFrame({"task": ["a", "a", "b"], "text": ["x", "y", "z"],
        ...                       "label": ["pos", "neg", "NA"]})
        >>> frame, label_map = load_multitask_table(table)
        >>> frame["label"].tolist(), label_map.classes("a")
        ([1, 0, 0], ['neg', 'pos'])
    """
    if label_map is not None and classes is not None:
        raise ValueError("Pass either label_map or classes, not both")
    if classes is not None:
        label_map = LabelMap(classes)
    columns = {"task": task_column, "text": text_column, "label": label_column}
    if split_column is not None:
        columns["split"] = split_column
    source = _read_source(source, list(columns.values()))
    _check_columns(source, columns)
    _check_cells(source, columns)
    frame = source.frame
    tasks = [str(_plain(t)) for t in frame[task_column].tolist()]
    labels = frame[label_column].tolist()
    splits = None
    if split_column is not None:
        splits = [str(_plain(s)) for s in frame[split_column].tolist()]
    learnt_from_train = label_map is None and splits is not None
    if label_map is None:
        rows = range(len(tasks))
        if learnt_from_train:
            rows = [i for i, split in enumerate(splits) if split == train_split]
            if not rows:
                found = sorted(set(splits))
                raise ValueError(
                    f"{source.name}: field {split_column!r}: none of the {len(splits)} rows "
                    f"has split {train_split!r} (splits found: {found}), so there are no training "
                    f"rows to learn the classes from; pass train_split= naming the "
                    f"training split, or classes= (or label_map=)"
                )
        learnt = pd.DataFrame(
            {"task": [tasks[i] for i in rows], "label": [labels[i] for i in rows]}
        )
        try:
            label_map = LabelMap.from_frame(learnt)
        except ValueError as error:
            raise ValueError(f"{source.name}: field {label_column!r}: {error}") from None
    out = pd.DataFrame(
        {
            "task": pd.Series(tasks, dtype=str),
            "text": pd.Series(frame[text_column].tolist(), dtype=str),
            "label": _encode_labels(
                source,
                tasks,
                labels,
                label_map,
                label_column,
                task_column,
                splits if learnt_from_train else None,
                train_split,
            ),
        }
    )
    if splits is not None:
        out["split"] = pd.Series(splits, dtype=str)
    logger.info("Loaded %d rows, %d tasks from %s", len(out), len(label_map.tasks), source.name)
    return out, label_map


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
        ValueError: a column is missing (named, with the frame's columns), the frame is empty, or ``classes``
            lacks a task of the frame.
    """
    for column in (text_column, task_column, label_column):
        if column not in frame.columns:
            raise ValueError(f"The frame has no column {column!r}; its columns are {list(frame.columns)}")
    if frame.empty:
        raise ValueError("Cannot learn tasks and classes from an empty frame.")
    tasks = [str(t) for t in pd.unique(frame[task_column].astype(str))]
    if classes is None:
        learnt = LabelMap.from_frame(frame.assign(**{task_column: frame[task_column].astype(str)}), task_column,
                                     label_column)
        classes = {t: learnt.classes(t) for t in tasks}
    missing = [t for t in tasks if t not in classes]
    if missing:
        raise ValueError(f"classes has no entry for task(s) {missing}")
    return tasks, {t: list(classes[t]) for t in tasks}
