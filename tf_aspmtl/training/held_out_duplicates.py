"""Which unlabelled rows repeat a held-out (dev or test) text, whatever their case, spacing and punctuation."""

from __future__ import annotations

import pandas as pd


def _text_key(text: str) -> str:
    """A text's letters and digits, lower-cased: the same review tokenised (labelled files) or raw (unlabelled)."""
    return "".join(ch for ch in str(text).lower() if ch.isalnum())


def held_out_duplicates(unlabeled: pd.DataFrame, held_out: pd.DataFrame) -> pd.Series:
    """Which unlabelled rows repeat a dev or test text (compared by :func:`_text_key`); self-training drops them.

    The unlabelled files are raw reviews and the labelled ones tokenised, so
    a review in both differs in spaces and case: the key keeps only letters
    and digits. A repeated review would put a dev or test text among the
    student's training rows.

    Args:
        unlabeled: pandas.DataFrame with a ``text`` column: the candidate rows.
        held_out: pandas.DataFrame with a ``text`` column: the dev and test rows.

    Returns:
        pandas.Series of bool, indexed like ``unlabeled``: True where the row's
        text repeats a held-out text.

    Example:
    >>> held_out = pd.DataFrame({"text": ["is n't good , really ."]})
    >>> held_out_duplicates(pd.DataFrame({"text": ["Isn't good, really!", "good"]}), held_out).tolist()
    [True, False]
    """
    seen = {_text_key(t) for t in held_out["text"]}
    return unlabeled["text"].map(lambda t: _text_key(t) in seen).astype(bool)
