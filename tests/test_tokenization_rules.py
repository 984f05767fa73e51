"""The merged tokenization rules, and the ASCII route, give the same text as the rules one at a time, as written.

``TOKENIZATION_RULES`` merges rules that share a rewrite into one alternation and leaves U+0020 out of the
space rule (rewriting a space as a space); ``SEQUENTIAL`` below is the list as it was before (commit ce5b5f2),
one pass per rule. ``standardize`` also sends ASCII rows a shorter way (lower case and ``ASCII_RULES``). On the
62,262 lines of the FDU-MTL files the old and the new give byte-identical output; here hypothesis draws batches
rich in the characters the merged rules touch, with ASCII-only rows among them.
"""

import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from tf_aspmtl.preprocessing import tokenizer
from tf_aspmtl.preprocessing.tokenizer import TOKENIZATION_RULES, standardize

_HEAD = (
    ("[\ue000\ue001\ue002]", ""),
    ("\ufffd", "\ue001"),
    (r"[\p{Cc}\p{Z}]", " "),
    (r"[\x{200B}\x{2060}\x{FEFF}]", ""),
    (r"[\x{201C}\x{201E}\x{201F}]", " `` "),
    (r"[\x{201D}\x{2033}]", " '' "),
    (r"(\pL)`(\pL)", r"\1'\2"),
    (r"``", " `` "),
    (r"''", " '' "),
    (r"[\x{2010}\x{2011}]", "-"),
    (r"\x{2044}", "/"),
    (r"([\x{2012}-\x{2015}\x{2E3A}\x{2E3B}\x{FE58}\x{FE63}])", r" \1 "),
    (r"([!?]+)", r" \1 "),
    (r"([\"()\[\]{}<>|~^*#;%\\\p{Sc}\p{So}\p{Han}\p{Hiragana}\p{Katakana}])", r" \1 "),
)
SEQUENTIAL = _HEAD + TOKENIZATION_RULES[10:]
"""The rules one pass each, as written before the merge (the rules after the tenth did not change)."""

# Characters the merged rules match, their neighbours, and ordinary text.
ALPHABET = list("ab1 .,:'`\"!?()-/$*\t\n") + [
    "\u00a0", "\u1680", "\u2003", "\u2028", "\u2029", "\u202f", "\u3000", "\u0085", "\u200b", "\u2060", "\ufeff",
    "\u201c", "\u201d", "\u201e", "\u2033", "\u2010", "\u2011", "\u2012", "\u2014", "\u2044", "\u2e3a", "\ufe58",
    "\ue000", "\ue001", "\ue002", "\ufffd", "\u00b4", "\u2019", "€", "♥", "漢", "か", "カ",
]


@tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
def _sequential(texts):
    original = tokenizer.TOKENIZATION_RULES
    try:  # the library's Unicode route for every row, with the old rule list
        tokenizer.TOKENIZATION_RULES = SEQUENTIAL
        return tokenizer._standardize_unicode(texts)
    finally:
        tokenizer.TOKENIZATION_RULES = original


_merged = tf.function(standardize, input_signature=[tf.TensorSpec([None], tf.string)])


ASCII = [chr(c) for c in range(128)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(ALPHABET), max_size=40), min_size=1, max_size=20),
       st.lists(st.text(alphabet=st.sampled_from(ASCII + list("aaeiou  .,'")), max_size=40), max_size=10),
       st.booleans())
def test_merged_rules_and_the_ascii_route_equal_the_rules_one_at_a_time(texts, ascii_texts, with_bad_bytes):
    rows = [t.encode("utf-8") for t in texts + ascii_texts] + ([b"\xff\xfe bad \x80 bytes"] if with_bad_bytes else [])
    batch = tf.constant(rows)
    assert _merged(batch).numpy().tolist() == _sequential(batch).numpy().tolist()
    ascii_batch = tf.constant([t.encode() for t in ascii_texts] or [b""])  # every row ASCII: the ASCII route alone
    assert _merged(ascii_batch).numpy().tolist() == _sequential(ascii_batch).numpy().tolist()


def test_the_rules_the_ascii_route_skips_match_no_ascii_character():
    skipped = [pattern for pattern, _ in TOKENIZATION_RULES if (pattern, _) not in tokenizer.ASCII_RULES]
    assert len(skipped) == 7
    characters = tf.constant([chr(c).encode() for c in range(128)])
    for pattern in skipped:
        assert not tf.reduce_any(tf.strings.regex_full_match(characters, pattern)), pattern
        assert not tf.reduce_any(tf.strings.regex_full_match(tf.constant(["ab", "a b", "--"]), f".*{pattern}.*"))


def test_any_shape_and_an_empty_batch():
    assert standardize(tf.constant("It's A")).numpy() == b"it 's a"
    assert standardize(tf.constant([["A", "“B”"]])).shape == (1, 2)
    assert standardize(tf.constant([], tf.string)).shape == (0,)

