"""Vocabulary files of TextVectorizer: UTF-8 with or without a BOM, LF or CRLF, and every error naming path:line."""

import logging

import pytest
import tensorflow as tf

from tf_aspmtl.preprocessing import TextVectorizer


def _file(tmp_path, data: bytes):
    path = tmp_path / "vocab.txt"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "data",
    [b"\xef\xbb\xbfgood\nbook\n", b"good\r\nbook\r\n", b"\xef\xbb\xbfgood\r\nbook"],
    ids=["bom", "crlf", "bom-crlf-no-final-newline"],
)
def test_a_bom_and_crlf_line_ends_are_not_part_of_the_tokens(tmp_path, data):
    layer = TextVectorizer(vocabulary=str(_file(tmp_path, data)))
    assert layer.get_vocabulary() == ["", "[UNK]", "good", "book"]
    assert layer(tf.constant(["Good book"])).numpy().tolist() == [[2, 3]]  # the first token is found, not OOV


@pytest.mark.parametrize(
    "data, line, token",
    [
        (b"good\nGood\n", 2, "'Good'"),  # the tokenizer lower-cases
        (b"good\ndon't\n", 2, '"don\'t"'),  # it splits "do n't"
        (b"good\nbad\nbook.\n", 3, "'book.'"),  # and "book ."
        (b"\xef\xbb\xbfgood\n\xef\xbb\xbfbad\n", 2, "'\\ufeffbad'"),  # a BOM inside is deleted by the tokenizer
    ],
)
def test_a_token_the_tokenizer_never_gives_is_kept_and_named_with_its_line(tmp_path, data, line, token, caplog):
    path = _file(tmp_path, data)
    with caplog.at_level(logging.WARNING, logger="tf_aspmtl.preprocessing.vocabulary_file"):
        layer = TextVectorizer(vocabulary=str(path))
    assert len(layer.get_vocabulary()) == 2 + data.count(b"\n")  # kept: the file reads back as written
    for part in (f"{path}:{line}:", token, "not ones the tokenizer gives"):
        assert part in caplog.text, caplog.text


@pytest.mark.parametrize(
    "data, line, detail",
    [
        (b"good\n\nbook\n", 2, "an empty line"),
        (b"good\nbook\ngood\n", 3, "repeats line 1"),
        (b"good\ntwo words\n", 2, "whitespace"),
        (b"good\ncaf\xe9\n", 2, "not UTF-8"),
        (b"good\rbook\r", 1, "line break"),  # CR alone does not end a line
    ],
)
def test_a_malformed_file_names_its_line(tmp_path, data, line, detail):
    path = _file(tmp_path, data)
    with pytest.raises(ValueError) as info:
        TextVectorizer(vocabulary=path)
    assert f"{path}:{line}:" in str(info.value) and detail in str(info.value), str(info.value)


def test_a_written_out_adapted_vocabulary_reads_back(tmp_path):
    adapted = TextVectorizer()
    adapted.adapt(["A good book .", "Don't buy it ; 1,000 pages", "café naïve"])
    path = _file(tmp_path, "\n".join(adapted.get_vocabulary()).encode("utf-8") + b"\n")  # "" and "[UNK]" first
    assert TextVectorizer(vocabulary=str(path)).get_vocabulary() == adapted.get_vocabulary()
