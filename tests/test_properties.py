"""Property-based tests (hypothesis): hostile text and files never crash.

TextVectorizer: any Unicode, invalid UTF-8, empty and 1 MB strings give ids in
[0, vocabulary_size) and at most `max_length` of them per text.

load_multitask_table: any cells, invalid bytes, empty files, rows with missing
or extra fields either load (and round-trip) or raise ValueError naming the
file, the row's line and the field.
"""

import csv
import io
import pathlib
import re
import tempfile

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tf_aspmtl.data import LabelMap, load_multitask_table
from tf_aspmtl.preprocessing import TextVectorizer

MAX_LENGTH = 12
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Adapted once, on a few sentences.
VECTORIZER = TextVectorizer(max_length=MAX_LENGTH, max_tokens=40)
VECTORIZER.adapt(
    [
        "A good book, really !",
        "the plot is thin ... and the acting bad .",
        "don't buy it : 1,000 pages of nothing",
        "Ünïcödé café naïve 日本語 😀",
    ]
)
VOCABULARY_SIZE = VECTORIZER.vocabulary_size

# Byte sequences that are invalid UTF-8 whatever follows them.
INVALID_UTF8 = [
    b"\x80", b"\xbf", b"\xc0\xaf", b"\xc3", b"\xe9", b"\xed\xa0\x80", b"\xf5", b"\xf8", b"\xff", b"\xfe\xff",
]


def _check_ids(ids: np.ndarray, batch: int) -> None:
    assert ids.dtype == np.int32
    assert ids.shape[0] == batch and ids.ndim == 2
    assert ids.shape[1] <= MAX_LENGTH
    assert ((ids >= 0) & (ids < VOCABULARY_SIZE)).all(), ids


# --- TextVectorizer -------------------------------------------------------------


@PROPERTY
@given(st.lists(st.text(max_size=200), min_size=1, max_size=8))
def test_vectorizer_any_unicode_text(texts):
    _check_ids(VECTORIZER(tf.constant(texts)).numpy(), len(texts))
    scalar = VECTORIZER(tf.constant(texts[0])).numpy()
    assert scalar.ndim == 1 and scalar.shape[0] <= MAX_LENGTH
    assert ((scalar >= 0) & (scalar < VOCABULARY_SIZE)).all()


@PROPERTY
@given(
    st.lists(
        st.binary(max_size=200)
        | st.builds(bytes.__add__, st.binary(max_size=50), st.sampled_from(INVALID_UTF8)),
        min_size=1,
        max_size=8,
    )
)
def test_vectorizer_invalid_utf8_bytes(texts):
    _check_ids(VECTORIZER(tf.constant(texts, dtype=tf.string)).numpy(), len(texts))


def test_vectorizer_empty_strings():
    assert VECTORIZER(tf.constant(["", ""])).numpy().shape == (2, 0)
    ids = VECTORIZER(tf.constant(["", " \t\n", "good book"])).numpy()
    _check_ids(ids, 3)
    assert (ids[:2] == 0).all()
    assert VECTORIZER(tf.constant("")).numpy().shape == (0,)


@pytest.mark.parametrize(
    "text",
    [
        ("good book . " * 90_000)[:1_000_000].encode(),  # many tokens
        b"x" * 1_000_000,  # one huge token
        ("\u00e9\U0001F600 " * 200_000).encode()[:1_000_000],  # multi-byte, cut mid-character
        b"\xff" * 1_000_000,
    ],
    ids=["words", "one-token", "multibyte", "invalid"],
)
def test_vectorizer_one_megabyte_string(text):
    ids = VECTORIZER(tf.constant([text, b"a good book"])).numpy()
    _check_ids(ids, 2)


# --- load_multitask_table ---------------------------------------------------------

# Cells that are never blank and need no quoting.
_PLAIN = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc", "Zs", "Zl", "Zp"], blacklist_characters=',"'),
    min_size=1,
    max_size=12,
)


def _tmp_file(data: bytes, name: str) -> pathlib.Path:
    directory = pathlib.Path(tempfile.mkdtemp(prefix="props-"))
    path = directory / name
    path.write_bytes(data)
    return path


def _write_csv(rows, header=("task", "text", "label"), sep=","):
    """Writes rows with the csv module; returns the text and each row's start line.

    A TSV file has no quoting, so there a tab, \\r or \\n in a cell becomes a space.
    """
    out = io.StringIO(newline="")
    if sep == "\t":
        rows = [[re.sub(r"[\t\r\n]", " ", cell) for cell in row] for row in rows]
        writer = csv.writer(out, delimiter=sep, quoting=csv.QUOTE_NONE, quotechar=None)
    else:
        writer = csv.writer(out, delimiter=sep)  # "\r\n" ends rows; cells with \r or \n are quoted
    writer.writerow(header)
    starts = []
    for row in rows:
        starts.append(1 + len(io.StringIO(out.getvalue(), newline="").readlines()))
        writer.writerow(row)
    return out.getvalue(), starts


def _assert_names(message: str, path: pathlib.Path, line: int | None = None) -> None:
    assert path.name in message, message
    assert "line " in message, message
    if line is not None:
        assert f"(line {line})" in message, message


@PROPERTY
@given(st.lists(st.tuples(_PLAIN, st.text(max_size=80), _PLAIN), min_size=1, max_size=6))
def test_table_any_unicode_text_cells_load_or_name_the_line(rows):
    text, starts = _write_csv(rows)
    path = _tmp_file(text.encode("utf-8"), "cells.csv")
    blank = [i for i, (_, cell, _) in enumerate(rows) if not cell.strip()]
    try:
        frame, label_map = load_multitask_table(path)
    except ValueError as error:
        assert blank, str(error)  # only a blank text is a data error here
        _assert_names(str(error), path, starts[blank[0]])
        assert f"row {blank[0] + 1} (line" in str(error) and "field 'text'" in str(error)
        return
    assert not blank
    assert frame["text"].tolist() == [r[1] for r in rows]
    assert frame["task"].tolist() == [r[0] for r in rows]
    decoded = [label_map.decode(t, [i])[0] for t, i in zip(frame["task"], frame["label"])]
    assert decoded == [r[2] for r in rows]


@PROPERTY
@given(
    rows=st.lists(st.tuples(_PLAIN, st.text(max_size=40).filter(str.strip), _PLAIN), min_size=1, max_size=6),
    where=st.tuples(st.integers(0, 5), st.integers(0, 2), st.integers(0, 40)),
    bad=st.sampled_from(INVALID_UTF8),
    tsv=st.booleans(),
)
def test_table_invalid_bytes_name_file_line_field_and_bytes(rows, where, bad, tsv):
    row, field, offset = where
    row %= len(rows)
    # The bad row holds no line break, so its bad bytes are on its start line.
    cells = [" ".join(cell.splitlines()).strip() or "x" for cell in rows[row]]
    offset %= len(cells[field]) + 1
    # Undecodable bytes ride through the csv writer as lone surrogates.
    cells[field] = cells[field][:offset] + bad.decode("utf-8", "surrogateescape") + cells[field][offset:]
    rows[row] = tuple(cells)
    text, starts = _write_csv(rows, sep="\t" if tsv else ",")
    path = _tmp_file(text.encode("utf-8", "surrogateescape"), "bytes.tsv" if tsv else "bytes.csv")
    with pytest.raises(ValueError) as info:
        load_multitask_table(path)
    message = str(info.value)
    _assert_names(message, path, starts[row])
    assert f"row {row + 1} (line {starts[row]})" in message, message
    assert f"field {('task', 'text', 'label')[field]!r}" in message, message
    assert "utf-8" in message and repr(bad[:1])[2:-1] in message, message


@PROPERTY
@given(
    st.sampled_from(
        [b"", b"\n", b"\r\n\r\n", b"   \n\t\n", b"\xef\xbb\xbf"]
        + [b"task,text,label\n", b"task,text,label\n\n  \n", b"\xef\xbb\xbftask\ttext\tlabel\r\n"]
    )
)
def test_table_empty_files_name_file_and_line(data):
    path = _tmp_file(data, "empty.csv")
    with pytest.raises(ValueError) as info:
        load_multitask_table(path)
    _assert_names(str(info.value), path)


@PROPERTY
@given(
    rows=st.lists(st.lists(_PLAIN, min_size=0, max_size=5), min_size=1, max_size=6),
    tsv=st.booleans(),
)
def test_table_rows_with_missing_or_extra_fields(rows, tsv):
    sep = "\t" if tsv else ","
    text = "task,text,label\n".replace(",", sep) + "".join(sep.join(r) + "\n" for r in rows)
    path = _tmp_file(text.encode("utf-8"), "ragged.tsv" if tsv else "ragged.csv")
    # Data rows start on lines 2, 3, ... except that pandas skips empty lines.
    lines = {}
    for number, cells in enumerate(rows, start=2):
        if cells:
            lines[len(lines)] = number
    kept = [r for r in rows if r]
    try:
        frame, _ = load_multitask_table(path)
    except ValueError as error:
        message = str(error)
        _assert_names(message, path)
        assert any(len(r) != 3 for r in kept) or not kept, message
        if kept:
            bad = [i for i, r in enumerate(kept) if len(r) != 3]
            assert any(f"row {i + 1} (line {lines[i]})" in message for i in bad), message
            assert "field " in message, message
        return
    assert all(len(r) == 3 for r in kept) and kept
    assert frame["text"].tolist() == [r[1] for r in kept]


@PROPERTY
@given(st.binary(max_size=300))
def test_table_arbitrary_bytes_load_or_name_file_and_line(data):
    path = _tmp_file(b"task,text,label\n" + data, "fuzz.csv")
    try:
        load_multitask_table(path)
    except ValueError as error:
        _assert_names(str(error), path)


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.sampled_from("ab"),
            st.sampled_from(["pos", "neg", "mid"]),
            st.sampled_from(["train", "dev", "test"]),
        ),
        min_size=1,
        max_size=10,
    )
)
def test_table_classes_come_from_train_rows_only(rows):
    written = [(t, f"text {i}", y, s) for i, (t, y, s) in enumerate(rows)]
    text, _ = _write_csv(written, ("task", "text", "label", "split"))
    path = _tmp_file(text.encode("utf-8"), "splits.csv")
    train = {(t, y) for t, y, s in rows if s == "train"}
    outside = [i for i, (t, y, s) in enumerate(rows) if s != "train" and (t, y) not in train]
    try:
        frame, label_map = load_multitask_table(path, split_column="split")
    except ValueError as error:
        message = str(error)
        if not train:
            assert "no training rows" in message and "field 'split'" in message, message
            return
        assert outside, message
        first = outside[0]
        assert f"row {first + 1} (line {first + 2})" in message, message
        assert "field 'task'" in message or "field 'label'" in message, message
        return
    assert train and not outside
    learnt = pd.DataFrame([(t, y) for t, y, s in rows if s == "train"], columns=["task", "label"])
    assert label_map == LabelMap.from_frame(learnt)
    # With the classes given, the same file always loads.
    classes = {"a": ["mid", "neg", "pos"], "b": ["mid", "neg", "pos"]}
    frame, _ = load_multitask_table(path, split_column="split", classes=classes)
    assert frame["label"].tolist() == [classes[t].index(y) for t, y, _ in rows]
