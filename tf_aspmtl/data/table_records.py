"""How a CSV/TSV file's text splits into records, and the messages that name a bad record's row, line and field.

A .csv file follows the usual quoting; a .tsv/.tab file has none, one line being one row (:func:`quoting`).
:mod:`tf_aspmtl.data.table_reader` reads the files with pandas and calls on these to explain what went wrong.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from collections.abc import Iterator

TSV = "\t"
ENCODING = "utf-8"
BOM = "\ufeff"
# pandas skips a line made only of these (minus the separator), like a blank one.
_BLANK_CHARS = " \t"
_LINE_BREAK = re.compile(rb"\r\n|\r|\n")
_SNIPPET = 60  # characters of a bad cell quoted in a message
# A TSV cell that is a whole CSV-quoted field with a doubled quote inside ('"a ""b"" c"'): what
# `DataFrame.to_csv(sep="\t")` writes for a text holding '"', which a TSV read would keep verbatim.
_CSV_QUOTED_CELL = re.compile(r'"(?:[^"]|"")*""(?:[^"]|"")*"')


def quoting(sep: str) -> int:
    """The csv quoting of a separator's files: none for TSV (one line, one row), the usual for CSV."""
    return csv.QUOTE_NONE if sep == TSV else csv.QUOTE_MINIMAL


class _StrayQuote(Exception):
    """A quoted CSV field whose closing '"' is followed by other text (a strict csv scan failed)."""

    def __init__(self, start: int, line: int, records: int):
        super().__init__(start, line, records)
        self.start, self.line, self.records = start, line, records


@contextlib.contextmanager
def _unlimited_fields() -> Iterator[None]:
    """Lifts the csv module's 128 KiB field limit for a scan (pandas has none)."""
    old = csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def records(text: str, sep: str, strict: bool = False) -> Iterator[tuple[int, list[str]]]:
    """Yields (line, fields) for the header and each data row, as pandas reads them.

    `line` is the 1-based line of the file where the record starts. Quoted
    multi-line fields (CSV only) count all their lines; blank lines and lines
    of only spaces/tabs are skipped, as pandas skips them.

    Args:
        text: str. The decoded file.
        sep: str. Field separator; "\\t" reads without quoting (see :func:`quoting`).
        strict: bool. Raise `_StrayQuote` at a closing '"' followed by other
            text (pandas would silently drop the quotes and keep reading).
    """
    raw: list[str] = []

    def lines() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            raw.append(line)
            yield line

    blank = _BLANK_CHARS.replace(sep, "")
    with _unlimited_fields():
        reader = csv.reader(lines(), delimiter=sep, quoting=quoting(sep), strict=strict)
        start, count = 1, 0
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                if strict and "expected after" in str(error):
                    raise _StrayQuote(start, reader.line_num, count) from None
                raise
            chunk = "".join(raw)
            raw.clear()
            if fields and chunk.rstrip("\r\n").strip(blank):
                count += 1
                yield start, fields
            start = reader.line_num + 1


def _snippet(cell: str) -> str:
    """Quotes a cell for a message: undecodable bytes as \\xNN, long cells cut."""
    if _has_bad_bytes(cell):
        cell = cell.encode(ENCODING, "surrogateescape").decode(ENCODING, "backslashreplace")
        return f"'{cell[:_SNIPPET]}'" + ("..." if len(cell) > _SNIPPET else "")
    return repr(cell[:_SNIPPET]) + ("..." if len(cell) > _SNIPPET else "")


def _field_name(header: list[str], index: int) -> str:
    """Names field `index` (0-based) of a record by its header column."""
    if index < len(header):
        return f"field {header[index]!r}"
    return f"field {index + 1} (beyond the {len(header)} header columns)"




def bad_bytes_message(name: str, data: bytes, sep: str, error: UnicodeDecodeError) -> str:
    """Describes the first undecodable bytes of a file: where, which field, which bytes."""
    bad = data[error.start : error.end]
    line = len(_LINE_BREAK.findall(data, 0, error.start)) + 1
    what = (
        f"invalid {ENCODING} (the encoding tried): bytes {bad!r} at byte offset "
        f"{error.start} ({error.reason})"
    )
    advice = f"save the file as {ENCODING.upper()}"
    text = data.decode(ENCODING, "surrogateescape")
    header = None
    for row, (_, fields) in enumerate(records(text.removeprefix(BOM), sep)):
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


def structure_message(name: str, text: str, sep: str, error: Exception | None) -> str | None:
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
    found = list(records(text, sep))
    if not found:
        return None
    header = found[0][1]
    for row, (line, fields) in enumerate(found[1:], start=1):
        if len(fields) > len(header):
            extra = _snippet(fields[len(header)])
            advice = "a .tsv/.tab cell cannot hold a tab; save such data as .csv" if sep == TSV else (
                f"quote cells that hold {sep!r}")
            return (
                f"{name}: row {row} (line {line}): {_field_name(header, len(header))}: "
                f"the row has {len(fields)} fields but the header has {len(header)} "
                f"columns {header}; the first extra field is {extra} ({advice})"
            )
    if error is not None and "EOF inside string" in str(error):
        line, fields = found[-1]
        end = len(io.StringIO(text, newline="").readlines())
        row = len(found) - 1
        where = f"row {row} (line {line})" if row else f"line {line} (header)"
        field = _field_name(header, len(fields) - 1) if row else f"field {len(fields)}"
        return (
            f"{name}: {where}: {field}: a quoted field opened here is never closed "
            f"(its '\"' runs to the end of the file, line {end}); check for a stray '\"'"
        )
    return None


def quoting_message(name: str, text: str, sep: str, rows: int) -> str | None:
    """Checks that the records of a parsed CSV/TSV file are its rows, quotes and all.

    CSV: a quoted field must end at its closing '"' (``"wow" he said`` would
    lose its quotes, and a stray '"' opening a cell usually meets such a
    closing quote lines later, gluing the rows between into one cell).
    TSV: a cell is taken as it is, so one written with CSV quoting (what
    ``DataFrame.to_csv(sep="\\t")`` gives a text holding '"') would keep its
    doubled quotes. Either way, the records must be as many as the rows
    pandas read.

    Args:
        name: str. File name, for the message.
        text: str. The decoded file.
        sep: str. Field separator.
        rows: int. Data rows pandas read.

    Returns:
        The message naming the row, line and field, or None if all is well.
    """
    header: list[str] = []
    starts = []
    try:
        for line, fields in records(text, sep, strict=sep != TSV):
            if not header:
                header = fields
                continue
            starts.append(line)
            if sep != TSV:
                continue
            bad = next((i for i, cell in enumerate(fields) if _CSV_QUOTED_CELL.fullmatch(cell)), None)
            if bad is not None:
                return (
                    f"{name}: row {len(starts)} (line {line}): {_field_name(header, bad)}: the cell "
                    f"{_snippet(fields[bad])} is written with CSV quoting (in '\"', with '\"\"' for a quote), "
                    "but .tsv/.tab cells are read as they are, one line per row, so it would keep those "
                    "quotes; write the file without quoting (csv.QUOTE_NONE) or save it as .csv"
                )
    except _StrayQuote as stray:
        where = f"row {stray.records} (line {stray.start})" if stray.records else f"line {stray.start} (header)"
        on = f"on line {stray.line}, " if stray.line != stray.start else ""
        return (
            f"{name}: {where}: {on}a quoted field's closing '\"' is followed by "
            f"other text, not by {sep!r} or the end of the line; a cell that starts with '\"' is quoted up "
            "to its next '\"', so check for a stray '\"' (in a quoted cell, write a quote as '\"\"')"
        )
    if len(starts) != rows:
        line = starts[rows] if rows < len(starts) else (starts[-1] if starts else 1)
        return (
            f"{name}: line {line}: the file holds {len(starts)} data records but {rows} rows were read; "
            f"check the quotes around line {line}"
        )
    return None
