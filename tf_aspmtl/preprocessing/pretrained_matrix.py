"""A vocabulary's embedding matrix from pre-trained vectors, shared by `word_vectors` and `word2vec`.

`build_embedding_matrix` copies pre-trained vectors (GloVe's, word2vec's) into
the rows of a vocabulary (random rows for the words they lack); `check_int`
is the argument check both modules use.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from tf_aspmtl.preprocessing.text_vectorizer import OOV_TOKEN  # never a pre-trained word

logger = logging.getLogger(__name__)


def build_embedding_matrix(vocabulary, words, vectors, seed=0, scale=0.1):
    """Builds an embedding matrix for `vocabulary` from pre-trained vectors.

    Row i is the vector of `vocabulary[i]` when `words` contains it, else
    uniform in [-scale, scale] (seeded); row 0 (padding) is all zeros.

    Args:
        vocabulary: list of str. Token of each id; id 0 is padding (and, for
            a `TextVectorizer`, id 1 is OOV, which gets a random row).
        words: list of str. Words of the pre-trained vectors.
        vectors: np.ndarray [len(words), dim]. Pre-trained vectors.
        seed: int or sequence of ints. Seed of the random rows (`np.random.default_rng`'s).
        scale: float. Half-width of the uniform range of the random rows.

    Returns:
        `(matrix, stats)`: a float32 np.ndarray [len(vocabulary), dim] and
        `{"vocabulary_size": int, "covered": int, "coverage": float}`, where
        `covered` counts the rows copied from `vectors` and `coverage` is
        `covered` over the number of real tokens: entries after row 0 other
        than the OOV token "[UNK]".

    Example:

    >>> words = ["good", "bad"]
    >>> vectors = np.array([[1.0, 1.0], [-1.0, -1.0]])
    >>> matrix, stats = build_embedding_matrix(["", "[UNK]", "good"],
    ...                                        words, vectors)
    >>> matrix[[0, 2]], stats["covered"]
    (array([[0., 0.],
           [1., 1.]], dtype=float32), 1)
    """
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or vectors.shape[0] != len(words):
        raise ValueError(
            f"`vectors` must have shape [len(words)={len(words)}, dim]; got "
            f"{vectors.shape}"
        )
    if not vocabulary:
        raise ValueError("`vocabulary` is empty.")
    index = {}
    for i, word in enumerate(words):
        index.setdefault(word, i)  # First occurrence wins on duplicates.
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(
        -scale, scale, size=(len(vocabulary), vectors.shape[1])
    ).astype(np.float32)
    matrix[0] = 0.0
    covered = 0
    num_tokens = 0
    for i, token in enumerate(vocabulary[1:], start=1):
        if token == OOV_TOKEN:
            continue
        num_tokens += 1
        row = index.get(token)
        if row is not None:
            matrix[i] = vectors[row]
            covered += 1
    stats = {
        "vocabulary_size": len(vocabulary),
        "covered": covered,
        "coverage": covered / num_tokens if num_tokens else 0.0,
    }
    logger.info(
        "Pre-trained vectors cover %d of %d vocabulary tokens (%.2f%%).",
        covered,
        num_tokens,
        100.0 * stats["coverage"],
    )
    return matrix, stats


def check_int(name: str, value: Any, minimum: int) -> int:
    """Returns `value` as an int, or raises a ValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"`{name}` must be an int; got {name}={value!r}")
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}; got {name}={value!r}")
    return int(value)
