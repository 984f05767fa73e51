"""Reading a vocabulary file (one token per line) for :class:`~tf_aspmtl.preprocessing.TextVectorizer`, checked
line by line; a token the tokenizer never gives (so the lookup can never reach it) is named in a warning."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import tensorflow as tf

from tf_aspmtl.preprocessing.tokenizer import tokenize

logger = logging.getLogger(__name__)
_ENCODING = "utf-8-sig"  # UTF-8, a leading byte-order mark dropped (else "\ufeffgood" would be the first token)
_ADVICE = 'write the tokens as the tokenizer gives them (lower case, "do n\'t", "book .")'


def read_vocabulary_file(path: str | os.PathLike, specials: Sequence[str] = ()) -> list[str]:
    """The tokens of a vocabulary file, in order.

    The file is UTF-8 (a leading BOM is dropped), one token per line, lines
    ending in "\\n" or "\\r\\n"; empty lines at the end are ignored. If its
    first lines are ``specials`` (the padding and OOV entries of
    ``get_vocabulary()``), they are skipped.

    Args:
        path: str or os.PathLike. The file (any path `tf.io.gfile` reads).
        specials: sequence of str. Leading entries to skip when the file starts with them.

    Returns:
        list of str. The tokens after ``specials``.

    A token the tokenizer never gives ("Good", "don't", "book.") is kept
    (it costs a row and is never looked up) and named, with its line, in a
    warning: an adapted vocabulary can hold a few (a piece of a longer token
    it split, such as "haven't" from "haven't's"), and reads back as written.

    Raises:
        ValueError: bytes that are not UTF-8, an empty line, a token holding
            whitespace or a line break, or a repeated token; the message names
            the file and the line (``path:line``).
    """
    name = os.fspath(path)
    with tf.io.gfile.GFile(name, "rb") as f:
        data = f.read()
    try:
        text = data.decode(_ENCODING)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(
            f"{name}:{line}: not UTF-8: bytes {data[error.start:error.end]!r} ({error.reason}); save the "
            "vocabulary as UTF-8"
        ) from None
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    first = 1
    if specials and lines[: len(specials)] == list(specials):
        first, lines = 1 + len(specials), lines[len(specials):]
    seen: dict[str, int] = {}
    for number, token in enumerate(lines, start=first):
        if not token:
            raise ValueError(f"{name}:{number}: an empty line; a vocabulary file holds one token per line")
        if token.split() != [token] or token.splitlines() != [token]:
            raise ValueError(f"{name}:{number}: token {token!r} holds whitespace or a line break; {_ADVICE}")
        if token in seen:
            raise ValueError(f"{name}:{number}: token {token!r} repeats line {seen[token]}")
        seen[token] = number
    _check_tokenized(name, lines, first)
    return lines


def _check_tokenized(name: str, tokens: list[str], first: int) -> None:
    """Logs a warning naming the lines (the first five) whose token the tokenizer does not give back as itself."""
    if not tokens:
        return
    pieces = tokenize(tf.constant(tokens, tf.string)).to_list()
    unreachable = [(number, token, [p.decode("utf-8", "replace") for p in parts])
                   for number, (token, parts) in enumerate(zip(tokens, pieces), start=first)
                   if parts != [token.encode("utf-8")]]
    if unreachable:
        shown = "; ".join(f"{name}:{number}: {token!r} (read as {parts})" for number, token, parts in unreachable[:5])
        logger.warning("%d token(s) of %s are not ones the tokenizer gives, so no text is ever looked up as them: "
                       "%s%s; %s", len(unreachable), name, shown, "; ..." if len(unreachable) > 5 else "", _ADVICE)
