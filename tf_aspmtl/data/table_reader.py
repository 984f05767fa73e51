"""Reading a user's table (CSV, TSV, parquet or a DataFrame) and checking it, with errors naming file, row, line
and field.

:func:`read_table` reads a source into a :class:`TableSource`, which names its rows for messages;
:func:`check_columns` and :func:`check_cells` check the columns a loader needs.

A .csv file follows the usual quoting: a cell starting with '"' runs to its closing '"' (which may be lines
later) and holds '""' for a quote. A .tsv/.tab file has no quoting: each line is one row and every cell is read as
it is, quotes included, so a TSV text cannot hold a tab or a line break (save such data as CSV).
"""

from __future__ import annotations

import io
import math
import os
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from tf_aspmtl.data.table_records import (
    BOM,
    ENCODING,
    TSV,
    bad_bytes_message,
    quoting,
    quoting_message,
    records,
    structure_message,
)

_SEPARATORS = {".csv": ",", ".tsv": TSV, ".tab": TSV}
_PARQUET = ".parquet"
_FRAME_NAME = "<DataFrame>"


def is_null(value: Any) -> bool:
    """Tells whether a value is a missing-value marker: None, NaN (Python or numpy), pd.NA or NaT."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)) and math.isnan(value):
        return True
    return isinstance(value, np.datetime64) and np.isnat(value)


def is_missing(value: Any) -> bool:
    """Tells whether a cell is missing: None, NaN, pd.NA, NaT or blank text."""
    return is_null(value) or (isinstance(value, str) and not value.strip())


def check_present(values: Sequence[Any], column: str, what: str, blank: bool = True,
                  index: Sequence[Any] | None = None) -> None:
    """Raises ValueError naming the first row whose value is missing, so it never becomes data ("nan", "None").

    Args:
        values: sequence. One value per row.
        column: str. The column (or input key) they come from, for the message.
        what: str. What a value is ("text", "task", "label"), for the message.
        blank: bool. Also refuse blank text (whitespace only); else only None, NaN, pd.NA and NaT.
        index: optional sequence. The rows' index labels (a DataFrame's index), named when not the position.
    """
    missing = is_missing if blank else is_null
    for row, value in enumerate(values):
        if missing(value):
            label = "" if index is None or index[row] == row else f" (index {index[row]!r})"
            shown = value.item() if isinstance(value, np.generic) else value
            raise ValueError(
                f"Row {row}{label}: column {column!r}: missing {what} ({shown!r}); every row needs one: drop "
                "the row or fill it in"
            )


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
        for seen, (start, _) in enumerate(records(self.text, self.sep)):
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
        text = data.decode(ENCODING)
    except UnicodeDecodeError as error:
        raise ValueError(bad_bytes_message(path.name, data, sep, error)) from None
    return text.removeprefix(BOM)


def read_table(source: str | os.PathLike | pd.DataFrame, columns: Sequence[str]) -> TableSource:
    """Reads `source` into a DataFrame.

    CSV/TSV files are decoded as UTF-8 here, before pandas parses them, so
    that invalid bytes can be reported with their line and field. A .tsv/.tab
    file is read without quoting, one line per row (see the module's
    docstring); a .csv file's quoted cells must end at their closing quote.

    Args:
        source: path to a .csv, .tsv/.tab or .parquet file, or a DataFrame.
        columns: sequence of str. Expected column names, for messages.

    Returns:
        TableSource.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: unsupported extension, empty or unparsable file, bytes
            that are not UTF-8, a row with more fields than the header, a
            CSV quote closed in the middle of a cell, or a TSV cell written
            with CSV quoting.
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
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, quoting=quoting(sep))
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{path.name}: line 1: empty file; expected a header line with columns {list(columns)}"
        ) from None
    except pd.errors.ParserError as error:
        message = structure_message(path.name, text, sep, error)
        raise ValueError(message or f"{path.name}: {error}") from None
    if not isinstance(frame.index, pd.RangeIndex):
        # Every data row had one field more than the header, and pandas took
        # the first for an index column, shifting all the others.
        message = structure_message(path.name, text, sep, None)
        raise ValueError(message or f"{path.name}: rows have more fields than the header")
    message = quoting_message(path.name, text, sep, len(frame))
    if message is not None:
        raise ValueError(message)
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
