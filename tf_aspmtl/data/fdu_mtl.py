"""Loader for the FDU-MTL 16-task sentiment benchmark.

The files are read as bytes and split on b"\\n" only: some texts hold other
Unicode line breaks (U+0085 in the IMDB files) that `str.splitlines()` and
`pandas.read_csv` would treat as row ends. Lines that are not valid UTF-8
(the MR files, one DVD line) are decoded as Windows-1252, then Latin-1.
"""

from __future__ import annotations

import logging
import os
import pathlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from tf_aspmtl.data.checksums import CHECKSUM_FILE, read_checksums, verify_checksum
from tf_aspmtl.data.paths import FDU_MTL_TASKS, DataNotFoundError, resolve_fdu_mtl_dir

logger = logging.getLogger(__name__)

FDU_MTL_SPLITS: tuple[str, ...] = ("train", "dev", "test", "unlabeled")
"""The splits `load_fdu_mtl` can return, in file order."""

_SUFFIXES = {"train": ".task.train", "test": ".task.test", "unlabeled": ".task.unlabel"}
_FALLBACK_ENCODINGS = ("cp1252", "latin-1")
_UTF8_BOM = b"\xef\xbb\xbf"


def _decode_line(line: bytes) -> tuple[str, bool]:
    """Decodes one line as UTF-8, falling back to Windows-1252 then Latin-1.

    Args:
        line: bytes. One line without its b"\\n".

    Returns:
        (text, is_utf8): the decoded text and whether UTF-8 worked.
    """
    try:
        return line.decode("utf-8"), True
    except UnicodeDecodeError:
        pass
    for encoding in _FALLBACK_ENCODINGS:
        try:
            return line.decode(encoding), False
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any byte string")  # pragma: no cover


def split_lines(data: bytes, file_name: str) -> list[tuple[int, str]]:
    """Splits file content on b"\\n" only and decodes each line.

    A UTF-8 byte-order mark at the start of the file, a trailing b"\\r" on a
    line and one trailing empty line are dropped; nothing else is changed.

    Args:
        data: bytes. Whole file content.
        file_name: str. File name, for logging.

    Returns:
        list of (1-based line number, text).
    """
    lines = data.removeprefix(_UTF8_BOM).split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    decoded, fallbacks = [], 0
    for number, line in enumerate(lines, start=1):
        text, is_utf8 = _decode_line(line.removesuffix(b"\r"))
        fallbacks += not is_utf8
        decoded.append((number, text))
    if fallbacks:
        logger.info("%s: %d line(s) not UTF-8, decoded as cp1252/latin-1", file_name, fallbacks)
    return decoded


def parse_labelled(lines: list[tuple[int, str]], file_name: str) -> tuple[list[str], list[int]]:
    """Parses `LABEL<TAB>TEXT` lines, splitting on the first TAB only.

    Args:
        lines: list of (1-based line number, text) from `split_lines`.
        file_name: str. File name for error messages.

    Returns:
        (texts, labels), labels being 0 or 1.

    Raises:
        ValueError: a line has no TAB or a label that is not 0 or 1; the
            message names the file, the line and the field. An empty text is
            kept and logged (sports_outdoors.task.train has one).
    """
    texts, labels = [], []
    for number, line in lines:
        label_str, sep, text = line.partition("\t")
        where = f"{file_name}: line {number}"
        if not sep:
            raise ValueError(
                f"{where}: field 'label': no TAB separating LABEL and TEXT in {line[:60]!r}"
            )
        try:
            label = int(label_str)
        except ValueError:
            message = f"{where}: field 'label': {label_str[:20]!r} is not an integer"
            raise ValueError(message) from None
        if label not in (0, 1):
            raise ValueError(f"{where}: field 'label': {label} is not 0 or 1")
        if not text.strip():
            logger.info("%s: empty text kept (it counts as a row in the paper's splits)", where)
        texts.append(text)
        labels.append(label)
    return texts, labels


def _read_file(
    folder: pathlib.Path, name: str, sums: dict[str, str] | None
) -> list[tuple[int, str]]:
    """Reads, verifies and splits one task file.

    Args:
        folder: pathlib.Path. Data folder.
        name: str. File name inside `folder`.
        sums: dict or None. Expected digests from SHA256SUMS.

    Returns:
        list of (1-based line number, text).

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: its checksum differs from SHA256SUMS.
    """
    path = folder / name
    if not path.is_file():
        raise DataNotFoundError(f"FDU-MTL file {str(path)!r} is missing")
    data = path.read_bytes()
    verify_checksum(name, data, sums)
    return split_lines(data, name)


def _task_frames(
    folder: pathlib.Path,
    task: str,
    splits: tuple[str, ...],
    dev_size: int,
    sums: dict[str, str] | None,
) -> list[pd.DataFrame]:
    """Loads the requested splits of one task.

    Args:
        folder: pathlib.Path. Data folder.
        task: str. Task name.
        splits: sequence of str. Splits to return, in this order.
        dev_size: int. Rows held out from the end of the train file.
        sums: dict or None. Expected digests.

    Returns:
        list of DataFrames, one per split.

    Raises:
        ValueError: malformed file, checksum mismatch or too large `dev_size`.
    """
    columns: dict[str, tuple[list[str], list[int]]] = {}
    if "train" in splits or "dev" in splits:
        name = task + _SUFFIXES["train"]
        texts, labels = parse_labelled(_read_file(folder, name, sums), name)
        if dev_size >= len(texts):
            raise ValueError(
                f"dev_size={dev_size} leaves no training rows in {name} ({len(texts)} rows)"
            )
        cut = len(texts) - dev_size
        columns["train"] = (texts[:cut], labels[:cut])
        columns["dev"] = (texts[cut:], labels[cut:])
    if "test" in splits:
        name = task + _SUFFIXES["test"]
        columns["test"] = parse_labelled(_read_file(folder, name, sums), name)
    if "unlabeled" in splits:
        lines = _read_file(folder, task + _SUFFIXES["unlabeled"], sums)
        texts = [text for _, text in lines if text.strip()]
        columns["unlabeled"] = (texts, [-1] * len(texts))
    return [_frame(task, split, *columns[split]) for split in splits]


def _frame(task: str, split: str, texts: list[str], labels: list[int]) -> pd.DataFrame:
    """Builds the (task, split, text, label) frame of one split.

    Args:
        task: str. Task name.
        split: str. Split name.
        texts: list of str. Texts.
        labels: list of int. Labels (-1 for unlabelled rows).

    Returns:
        pandas.DataFrame with columns task, split, text, label.
    """
    return pd.DataFrame(
        {
            "task": pd.Series([task] * len(texts), dtype=str),
            "split": pd.Series([split] * len(texts), dtype=str),
            "text": pd.Series(texts, dtype=str),
            "label": np.asarray(labels, dtype=np.int64),
        }
    )


def _check_names(kind: str, given: Sequence[str], allowed: Sequence[str]) -> tuple[str, ...]:
    """Validates task or split names.

    Args:
        kind: str. "task" or "split", for the message.
        given: sequence of str. Names asked for.
        allowed: sequence of str. Known names.

    Returns:
        The names as a tuple.

    Raises:
        ValueError: a name is unknown or repeated, or none is given.
    """
    if isinstance(given, str):
        given = (given,)
    given = tuple(given)
    if not given:
        raise ValueError(f"No {kind} asked for; expected some of {list(allowed)}")
    for name in given:
        if name not in allowed:
            raise ValueError(f"Unknown {kind} {name!r}; expected one of {list(allowed)}")
    if len(set(given)) != len(given):
        raise ValueError(f"Repeated {kind} in {list(given)}")
    return given


def load_fdu_mtl(
    path: str | os.PathLike | None = None,
    tasks: Sequence[str] | None = None,
    splits: Sequence[str] = FDU_MTL_SPLITS,
    dev_size: int = 200,
    verify_checksums: bool = True,
) -> pd.DataFrame:
    """Loads FDU-MTL with the splits of Liu et al. (ACL 2017), Table 1.

    dev is the last `dev_size` rows of `<task>.task.train`, train the rest,
    test is `<task>.task.test` and unlabeled `<task>.task.unlabel` (label -1,
    empty lines skipped). Texts are kept as in the files (other Unicode line
    breaks and leading/trailing spaces included) except a trailing "\\r".

    Args:
        path: str, os.PathLike or None. Data folder; see `resolve_fdu_mtl_dir`.
        tasks: sequence of str or None. Tasks, in output order; None means
            all of `FDU_MTL_TASKS`.
        splits: sequence of str. Any of "train", "dev", "test", "unlabeled";
            rows come task by task, then split by split in this order, each
            in file order.
        dev_size: int. Rows held out from the end of each train file.
        verify_checksums: bool. Check each file read against the folder's
            SHA256SUMS, if it has one.

    Returns:
        pandas.DataFrame with columns task (str), split (str), text (str) and
        label (int64; 0/1, -1 for unlabeled) and a fresh RangeIndex.

    Raises:
        FileNotFoundError: the folder or a task file is missing.
        ValueError: bad argument, malformed line (names file, line, field) or
            checksum mismatch (names the file).

    Example (not run):
        frame = load_fdu_mtl(tasks=["books"], splits=["dev"])
        len(frame), frame.columns.tolist()   # (200, ['task', 'split', 'text', 'label'])
    """
    tasks = _check_names("task", FDU_MTL_TASKS if tasks is None else tasks, FDU_MTL_TASKS)
    splits = _check_names("split", splits, FDU_MTL_SPLITS)
    if isinstance(dev_size, bool) or not isinstance(dev_size, (int, np.integer)) or dev_size < 0:
        raise ValueError(f"dev_size must be an int >= 0, got {dev_size!r}")
    folder = resolve_fdu_mtl_dir(path)
    sums = read_checksums(folder) if verify_checksums else None
    if verify_checksums and sums is None:
        logger.info("%s has no %s; files not verified", folder, CHECKSUM_FILE)
    frames = [f for task in tasks for f in _task_frames(folder, task, splits, int(dev_size), sums)]
    frame = pd.concat(frames, ignore_index=True)
    logger.info(
        "Loaded %d FDU-MTL rows (%d tasks, splits %s) from %s", len(frame), len(tasks), splits, folder
    )
    return frame
