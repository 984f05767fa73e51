"""Which unlabelled rows repeat a held-out (dev or test) text, whatever their case, spacing and punctuation."""

from __future__ import annotations

import pandas as pd

SHARED_END_CHARS = 100
"""Letters and digits a row must share with a held-out text, at its start or its end, to count as a repeat."""


def _text_key(text: str) -> str:
    """A text's letters and digits, lower-cased: the same review tokenised (labelled files) or raw (unlabelled)."""
    return "".join(ch for ch in str(text).lower() if ch.isalnum())


def held_out_duplicates(unlabeled: pd.DataFrame, held_out: pd.DataFrame, *,
                        shared_end_chars: int = SHARED_END_CHARS) -> pd.Series:
    """Which unlabelled rows repeat a dev or test text; self-training (and the unlabelled rows of a run) drop them.

    Texts are compared by their letters and digits, lower-cased (:func:`_text_key`): the unlabelled files are
    raw reviews and the labelled ones tokenised, so a review in both differs in spaces and case. A row repeats
    a held-out text when the two keys are equal, or when both keys are at least ``shared_end_chars`` long and
    share their first or their last ``shared_end_chars`` letters and digits: FDU-MTL's unlabelled files hold
    edited copies of some dev and test reviews (a typo fixed, a sentence added before or after), which an exact
    comparison lets through. A repeated review would put a dev or test text among the rows a model learns from.

    Args:
        unlabeled: pandas.DataFrame with a ``text`` column: the candidate rows.
        held_out: pandas.DataFrame with a ``text`` column: the dev and test rows.
        shared_end_chars: int > 0. How many leading or trailing letters and digits two long texts must share.

    Returns:
        pandas.Series of bool, indexed like ``unlabeled``: True where the row's
        text repeats a held-out text.

    Raises:
        ValueError: ``shared_end_chars`` is not a positive int.

    Example:
    >>> held_out = pd.DataFrame({"text": ["is n't good , really ."]})
    >>> held_out_duplicates(pd.DataFrame({"text": ["Isn't good, really!", "good"]}), held_out).tolist()
    [True, False]
    """
    if isinstance(shared_end_chars, bool) or not isinstance(shared_end_chars, int) or shared_end_chars < 1:
        raise ValueError(f"shared_end_chars must be a positive int, got {shared_end_chars!r}")
    n = shared_end_chars
    keys = [_text_key(t) for t in held_out["text"]]
    seen = set(keys)
    heads = {k[:n] for k in keys if len(k) >= n}
    tails = {k[-n:] for k in keys if len(k) >= n}

    def repeats(text: str) -> bool:
        key = _text_key(text)
        return key in seen or (len(key) >= n and (key[:n] in heads or key[-n:] in tails))

    return unlabeled["text"].map(repeats).astype(bool)
