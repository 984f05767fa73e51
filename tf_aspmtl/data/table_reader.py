"""Reading a user's table (CSV, TSV, parquet or a DataFrame) and checking it, with errors naming file, row, line
and field.

:func:`read_table` reads a source into a :class:`TableSource`, which names its rows for messages;
:func:`check_columns` and :func:`check_cells` check the columns a loader needs.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import pathlib
import re
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd

_SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_PARQUET = ".parquet"
_FRAME_NAME = "<DataFrame>"
_ENCODING = "utf-8"
_BOM = "\ufeff"
# pandas skips a line made only of these (minus the separator), like a blank one.
_BLANK_CHARS = " \t"
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_SNIPPET = 60  # characters of a bad cell quoted in a message


def is_missing(value: Any) -> bool:
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


class TableSource:
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


def read_table(source: str | os.PathLike | pd.DataFrame, columns: Sequence[str]) -> TableSource:
    """Reads `source` into a DataFrame.

    CSV/TSV files are decoded as UTF-8 here, before pandas parses them, so
    that invalid bytes can be reported with their line and field.

    Args:
        source: path to a .csv, .tsv/.tab or .parquet file, or a DataFrame.
        columns: sequence of str. Expected column names, for messages.

    Returns:
        TableSource.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: unsupported extension, empty or unparsable file, bytes
            that are not UTF-8, or a row with more fields than the header.
    """
    if isinstance(source, pd.DataFrame):
        return TableSource(source.reset_index(drop=True), _FRAME_NAME)
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
        return TableSource(pd.read_parquet(path), path.name)
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
    return TableSource(frame, path.name, path, sep, text)


def check_columns(source: TableSource, columns: dict[str, str]) -> None:
    """Raises ValueError if a needed column is absent or the table has no rows.

    Args:
        source: TableSource. The table.
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


def check_cells(source: TableSource, columns: dict[str, str]) -> None:
    """Raises ValueError naming the first missing or blank cell of a needed column.

    Args:
        source: TableSource. The table.
        columns: dict mapping field role to column name.
    """
    for role, column in columns.items():
        field = f"field {column!r}" + ("" if column == role else f" ({role})")
        values = source.frame[column].tolist()
        bad = next((i for i, v in enumerate(values) if is_missing(v)), None)
        if bad is not None:
            raise ValueError(f"{source.where(bad)}: {field}: missing or empty {role}")
        if role == "text":
            bad = next((i for i, v in enumerate(values) if not isinstance(v, str)), None)
            if bad is not None:
                kind = type(values[bad]).__name__
                raise ValueError(f"{source.where(bad)}: {field}: expected a string, got {kind}")
