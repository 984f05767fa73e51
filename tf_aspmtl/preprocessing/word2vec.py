"""In-domain word2vec vectors: gensim training on the benchmark's own text, cached on disk.

`train_word2vec` trains gensim's `Word2Vec` on the benchmark's own text (the
train rows and the `.task.unlabel` rows; never dev or test), tokenised
exactly as `TextVectorizer` does (`tokenize_corpus`), so its words are the
vocabulary's tokens and cover the domain words (product names, misspellings)
GloVe lacks. Results are cached on disk under a key that hashes the texts,
every parameter, the tokenizer and the gensim version.

`word2vec_embedding_matrix` turns them into a `TextVectorizer`'s embedding
matrix with `pretrained_matrix.build_embedding_matrix`; `word_vectors.embedding_matrix`
is the entry point that also stacks them beside GloVe ("glove+word2vec").
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import time
import zipfile
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from tf_aspmtl.io_utils import remove_stale_partial_files, write_atomic
from tf_aspmtl.preprocessing.pretrained_matrix import build_embedding_matrix, check_int

logger = logging.getLogger(__name__)

_CACHE_FORMAT = 1  # Bump when the cache file layout changes.


def _stable_hash(text: str) -> int:
    """A hash that does not depend on PYTHONHASHSEED, for gensim's `hashfxn`."""
    return zlib.crc32(text.encode("utf-8"))


def _as_text_list(texts: Sequence[str]) -> list[str]:
    """Checks a corpus (a sequence of str or UTF-8 bytes) and returns it as a list of str."""
    if texts is None or isinstance(texts, (str, bytes)):
        raise ValueError(
            "`texts` must be a sequence of strings (one per text), not "
            f"{type(texts).__name__}"
        )
    result = []
    for i, text in enumerate(texts):
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        elif not isinstance(text, str):
            raise ValueError(f"`texts[{i}]` must be a string; got {text!r}")
        result.append(text)
    if not result:
        raise ValueError("`texts` is empty; word2vec needs a corpus.")
    return result


def tokenize_corpus(texts: Sequence[str], batch_size: int = 256) -> list[list[str]]:
    """Tokenises a corpus exactly as `TextVectorizer.adapt` does.

    The same traced `tokenize` function (NFKC, case folding, the rules of
    `TOKENIZATION_RULES`, whitespace split) runs on batches of
    `batch_size` texts; nothing is truncated. Equal tokens share one str.

    Args:
        texts: sequence of str. The corpus, one text per entry.
        batch_size: int. Texts tokenised per graph call.

    Returns:
        list of lists of str, one list of tokens per text.

    Example:

    >>> tokenize_corpus(["Don't stop.", "GOOD!"])
    [['do', "n't", 'stop', '.'], ['good', '!']]
    """
    from tf_aspmtl.preprocessing.text_vectorizer import _as_string_dataset
    from tf_aspmtl.preprocessing.text_vectorizer import _tokenize_batch

    texts = _as_text_list(texts)
    batch_size = check_int("batch_size", batch_size, 1)
    interned: dict[bytes, str] = {}
    sentences = []
    for batch in _as_string_dataset(texts, batch_size):
        tokens = _tokenize_batch(batch)
        flat = tokens.flat_values.numpy().tolist()
        splits = tokens.row_splits.numpy().tolist()
        words = [
            interned.get(t) or interned.setdefault(t, t.decode("utf-8"))
            for t in flat
        ]
        sentences.extend(words[a:b] for a, b in zip(splits[:-1], splits[1:]))
    return sentences


def _corpus_digest(texts: list[str]) -> str:
    """sha256 of the texts, length-prefixed so the text boundaries count."""
    digest = hashlib.sha256()
    for text in texts:
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _tokenizer_digest() -> str:
    """sha256 of the tokenizer's source: a tokenizer change changes the words."""
    from tf_aspmtl.preprocessing import tokenizer

    try:
        source = inspect.getsource(tokenizer)
    except OSError:  # pragma: no cover - source not shipped
        source = repr(tokenizer.TOKENIZATION_RULES)
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _read_cache(path: str, key: str):
    """`(words, vectors, info)` from a cache file, or None if absent or unreadable."""
    if not os.path.exists(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            info = json.loads(str(data["info"]))
            words = data["words"].tobytes().decode("utf-8").split("\n")
            vectors = data["vectors"].astype(np.float32, copy=False)
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as err:
        logger.warning("word2vec cache %s unreadable (%s); retraining", path, err)
        return None
    if info.get("key") != key or len(words) != vectors.shape[0]:
        logger.warning("word2vec cache %s does not match its key; retraining", path)
        return None
    return words, vectors, info


def _write_cache(path: str, words: list[str], vectors: np.ndarray, info: dict) -> None:
    """Writes the cache file atomically (:func:`~tf_aspmtl.io_utils.write_atomic`: a temporary file in the same
    folder, then a rename), after removing the temporary files of writers that died there.

    Raises:
        tf_aspmtl.io_utils.DiskWriteError: the disk is full (or the folder not writable); the message names the
            file, and no cache file is left (the vectors are trained again next time).
    """
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    for stale in remove_stale_partial_files(folder):
        logger.warning("removed %s, a cache file left half written by a process that died", stale)

    def write(handle) -> None:
        np.savez(
            handle,
            # One UTF-8 blob: tokens hold no whitespace, and a fixed-width
            # str array would pad every word to the longest one.
            words=np.frombuffer("\n".join(words).encode("utf-8"), dtype=np.uint8),
            vectors=vectors,
            info=np.array(json.dumps(info, sort_keys=True)),
        )
        handle.flush()
        os.fsync(handle.fileno())

    write_atomic(path, write)


_W2V_MINIMUM = {"dim": 1, "window": 1, "min_count": 1, "epochs": 1, "seed": 0, "workers": 1, "sg": 0}
"""Smallest value of each word2vec parameter."""


def _word2vec(texts: Sequence[str], cache_dir: str | os.PathLike | None = None,
              **settings: int) -> tuple[list[str], np.ndarray, dict[str, Any]]:
    """`train_word2vec` of ``settings`` (all of its parameters), plus a dict describing the corpus, parameters and
    cache use."""
    texts = _as_text_list(texts)
    params = {name: check_int(name, settings[name], minimum) for name, minimum in _W2V_MINIMUM.items()}
    if params["sg"] not in (0, 1):
        raise ValueError(f"`sg` must be 1 (skip-gram) or 0 (CBOW); got sg={params['sg']!r}")
    import gensim
    from gensim.models import Word2Vec

    path = None
    if cache_dir is not None:
        keyed = {
            **params,
            "format": _CACHE_FORMAT,
            "gensim": gensim.__version__,
            "tokenizer": _tokenizer_digest(),
            "corpus": _corpus_digest(texts),
        }
        key = hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()
        path = os.path.join(os.fspath(cache_dir), f"word2vec-{params['dim']}d-{key[:32]}.npz")
        cached = _read_cache(path, key)
        if cached is not None:
            words, vectors, info = cached
            logger.info(
                "word2vec: cache hit %s (%d words, %d-d; trained on %d texts, "
                "%d tokens); not retrained",
                path, len(words), vectors.shape[1], info["corpus_texts"],
                info["corpus_tokens"],
            )
            return words, vectors, {**info, "cache": "hit"}
        logger.info("word2vec: cache miss; training, then writing %s", path)

    started = time.time()
    sentences = tokenize_corpus(texts)
    num_tokens = sum(len(s) for s in sentences)
    tokenize_s = time.time() - started
    model = Word2Vec(
        vector_size=params["dim"],
        window=params["window"],
        min_count=params["min_count"],
        epochs=params["epochs"],
        seed=params["seed"],
        workers=params["workers"],
        sg=params["sg"],
        hashfxn=_stable_hash,  # gensim's default, `hash`, varies with PYTHONHASHSEED.
    )
    model.build_vocab(sentences)
    if len(model.wv) == 0:
        raise ValueError(
            f"No token occurs min_count={params['min_count']} times in the "
            f"{len(texts)} texts ({num_tokens} tokens); lower `min_count` or "
            "give more text."
        )
    model.train(sentences, total_examples=model.corpus_count, epochs=model.epochs)
    words = list(model.wv.index_to_key)
    vectors = np.array(model.wv.vectors, dtype=np.float32)
    info = {
        **params,
        "words": len(words),
        "corpus_texts": len(texts),
        "corpus_tokens": num_tokens,
        "tokenize_time_s": round(tokenize_s, 3),
        "train_time_s": round(time.time() - started - tokenize_s, 3),
        "gensim": gensim.__version__,
    }
    logger.info(
        "word2vec: %d-d vectors for %d words from %d texts (%d tokens): "
        "tokenised in %.1f s, trained in %.1f s",
        params["dim"], len(words), len(texts), num_tokens, tokenize_s,
        info["train_time_s"],
    )
    if path is None:
        return words, vectors, {**info, "cache": "off"}
    _write_cache(path, words, vectors, {**info, "key": key})
    logger.info("word2vec: cached in %s", path)
    return words, vectors, {**info, "key": key, "cache": "written"}


def train_word2vec(
    texts: Sequence[str],
    dim: int = 100,
    *,
    window: int = 5,
    min_count: int = 2,
    epochs: int = 5,
    seed: int = 0,
    workers: int = 1,
    sg: int = 1,
    cache_dir: str | os.PathLike | None = None,
) -> tuple[list[str], np.ndarray]:
    """Trains gensim `Word2Vec` vectors on a corpus tokenised as `TextVectorizer` does.

    Texts go through `tokenize_corpus` (the vectorizer's own tokenizer:
    lower-cased, "do n't", "good ."), so the words are vocabulary tokens.
    With `workers=1` the result depends only on the texts and the
    parameters (not on PYTHONHASHSEED). With `cache_dir`, the result is
    stored in `cache_dir/word2vec-<dim>d-<key>.npz`, the key hashing the
    texts, every parameter, the tokenizer source and the gensim version; a
    later call with the same key loads it instead of training. Files are
    written to a temp file and renamed, so a killed run leaves no half file.

    Args:
        texts: sequence of str. The corpus, one text per entry (never
            include dev or test text of an evaluation).
        dim: int. Vector size.
        window: int. Maximum distance between a word and its context.
        min_count: int. Words seen fewer times get no vector.
        epochs: int. Passes over the corpus.
        seed: int. Seed of the initial vectors and sampling.
        workers: int. Training threads; more than 1 is faster but not
            reproducible.
        sg: int. 1 for skip-gram, 0 for CBOW.
        cache_dir: str, os.PathLike or None. Cache folder; None disables
            the cache.

    Returns:
        `(words, vectors)`: a list of str, most frequent first, and a
        float32 np.ndarray [len(words), dim].

    Example:

    >>> texts = ["A good book.", "A bad book!"] * 50
    >>> words, vectors = train_word2vec(texts, dim=8)
    >>> sorted(words), vectors.shape
    (['!', '.', 'a', 'bad', 'book', 'good'], (6, 8))
    """
    words, vectors, _ = _word2vec(texts, cache_dir, dim=dim, window=window, min_count=min_count, epochs=epochs,
                                  seed=seed, workers=workers, sg=sg)
    return words, vectors


def word2vec_embedding_matrix(
    vectorizer,
    texts: Sequence[str],
    dim: int = 100,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    **w2v_kwargs: Any,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Word2vec embedding matrix for an adapted `TextVectorizer`.

    Vectors come from `train_word2vec(texts, dim, seed=seed, ...)`; rows
    of tokens word2vec lacks (seen fewer than `min_count` times) are random
    as in `build_embedding_matrix`, row 0 is zeros.

    Args:
        vectorizer: `TextVectorizer` with a vocabulary.
        texts: sequence of str. The word2vec corpus.
        dim: int. Vector size.
        seed: int. Seed of word2vec and of the random rows.
        cache_dir: str, os.PathLike or None. See `train_word2vec`.
        **w2v_kwargs: more `train_word2vec` arguments (`window`,
            `min_count`, `epochs`, `workers`, `sg`).

    Returns:
        `(matrix, stats)`: a float32 np.ndarray [vectorizer.vocabulary_size,
        dim] and the stats of `build_embedding_matrix` plus the word2vec
        parameters, `words`, `corpus_texts`, `corpus_tokens`,
        `train_time_s` and `cache` ("hit", "written" or "off").

    Example:

    >>> from tf_aspmtl.preprocessing import TextVectorizer
    >>> vectorizer = TextVectorizer()
    >>> vectorizer.adapt(["a good book", "a rare book"])
    >>> matrix, stats = word2vec_embedding_matrix(
    ...     vectorizer, ["a good book", "a bad book"] * 50, dim=8)
    >>> matrix.shape, stats["covered"]  # "rare" is not in the corpus.
    ((6, 8), 3)
    """
    matrix, stats, _ = word2vec_block(
        vectorizer.get_vocabulary(), texts, dim, seed, cache_dir, w2v_kwargs
    )
    return matrix, stats


_W2V_OPTIONS = ("epochs", "min_count", "sg", "window", "workers")


def word2vec_block(vocabulary, texts, dim, seed, cache_dir, w2v_kwargs, random_rows_seed=None):
    """`(matrix, stats, words)`: `word2vec_embedding_matrix` of a vocabulary, and the words word2vec has.

    Args:
        vocabulary: list of str. Token of each id (id 0 padding).
        texts: sequence of str. The word2vec corpus.
        dim: int. Vector size.
        seed: int. Seed of word2vec and, unless `random_rows_seed` is given, of the random rows.
        cache_dir: str, os.PathLike or None. See `train_word2vec`.
        w2v_kwargs: dict. More `train_word2vec` arguments (`window`, `min_count`, `epochs`, `workers`, `sg`).
        random_rows_seed: int, sequence of ints or None. Seed of the random rows of the tokens word2vec lacks
            (None: `seed`); a block stacked beside another seeded one passes its own stream here.
    """
    unknown = sorted(set(w2v_kwargs) - set(_W2V_OPTIONS))
    if unknown:
        raise ValueError(
            f"Unknown word2vec argument(s) {unknown}; expected some of "
            f"{list(_W2V_OPTIONS)}"
        )
    defaults = {"window": 5, "min_count": 2, "epochs": 5, "workers": 1, "sg": 1}  # train_word2vec's
    words, vectors, info = _word2vec(texts, cache_dir, dim=dim, seed=seed, **{**defaults, **w2v_kwargs})
    rows_seed = seed if random_rows_seed is None else random_rows_seed
    matrix, stats = build_embedding_matrix(vocabulary, words, vectors, seed=rows_seed)
    info.pop("key", None)
    return matrix, {**stats, **info}, words
