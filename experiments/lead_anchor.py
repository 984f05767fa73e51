"""The scikit-learn anchor the feature-set leads of issue 24 share: word n-grams beside one added block, dev only.

Each block is NB-scaled tf-idf (its own ratios), L2-normalised per row; the added block is then scaled by a weight.
Both settings (the words alone, the words with the block) go through feature augmentation (``[x, x * 1{task}]``
plus a per-task bias, :func:`experiments.lead_nb_per_task.augmented`) and ``LogisticRegression(solver="liblinear")``
at every C of a grid; dev error only (the last 200 train rows of each task; the test split is never read).
Used by ``experiments.lead_char_ngrams`` and ``experiments.lead_word_clusters``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from experiments.lead_nb_per_task import augmented, nb_ratios


def labelled_rows(tasks: list[str] | None, unlabeled: bool = False):
    """FDU-MTL's train and dev rows of ``tasks`` (and, with ``unlabeled``, the unlabelled ones), in that order."""
    from tf_aspmtl.data import load_fdu_mtl

    frame = load_fdu_mtl(tasks=tasks, splits=("train", "dev") + (("unlabeled",) if unlabeled else ()))
    parts = [frame[frame["split"] == split].reset_index(drop=True) for split in ("train", "dev")]
    return (*parts, frame[frame["split"] == "unlabeled"]) if unlabeled else tuple(parts)


def nb_block(vectorizer, train_text, dev_text, y_train: np.ndarray):
    """One block of columns, NB-scaled by its own ratios and L2-normalised per row: (train, dev)."""
    from sklearn.preprocessing import normalize

    x_train, x_dev = vectorizer.fit_transform(train_text), vectorizer.transform(dev_text)
    ratio = nb_ratios((x_train > 0).astype(np.float64).tocsr(), y_train)
    return (normalize(x_train.multiply(ratio).tocsr()), normalize(x_dev.multiply(ratio).tocsr()))


def word_block(train_text, dev_text, y_train: np.ndarray, max_features: int, ngrams: int):
    """Word 1..``ngrams``-grams (words split on whitespace, as the library does), as :func:`nb_block`."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return nb_block(TfidfVectorizer(ngram_range=(1, ngrams), max_features=max_features, sublinear_tf=True,
                                    token_pattern=r"\S+", lowercase=False), train_text, dev_text, y_train)


def fit_beside_words(train, dev, words, added, name: str, block_weight: float,
                     c_grid: list[float]) -> dict[str, Any]:
    """Fits ``"words"`` and ``name`` (the words beside ``block_weight`` x ``added``) at every C.

    Args:
        train, dev: the train and dev rows (``task`` and ``label`` columns), in the blocks' row order.
        words, added: (train, dev) column blocks from :func:`nb_block`.

    Returns:
        ``{"tasks", "block_weight", "fits": [{setting, C, dev_error, per_task, fit_s, columns}], "best"}``.
    """
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    names = list(dict.fromkeys(train["task"]))
    y_train, y_dev = train["label"].to_numpy(), dev["label"].to_numpy()
    train_tasks, dev_tasks = train["task"].to_numpy(), dev["task"].to_numpy()
    blocks = {"words": words, name: (sp.hstack([words[0], block_weight * added[0]]).tocsr(),
                                     sp.hstack([words[1], block_weight * added[1]]).tocsr())}
    fits = []
    for setting, (x_train, x_dev) in blocks.items():
        ones = np.ones(x_train.shape[1])
        a_train = augmented(x_train, train_tasks, names, ones, {n: ones for n in names})
        a_dev = augmented(x_dev, dev_tasks, names, ones, {n: ones for n in names})
        for c in c_grid:
            started = time.monotonic()
            predicted = LogisticRegression(solver="liblinear", C=c).fit(a_train, y_train).predict(a_dev)
            per_task = {n: float(100 * np.mean(predicted[dev_tasks == n] != y_dev[dev_tasks == n])) for n in names}
            fit = {"setting": setting, "C": c, "dev_error": float(np.mean(list(per_task.values()))),
                   "per_task": per_task, "fit_s": round(time.monotonic() - started, 1),
                   "columns": int(x_train.shape[1])}
            print(f"{setting:15s} C={c:<6g} dev error {fit['dev_error']:.2f} %  ({fit['fit_s']:.0f} s)", flush=True)
            fits.append(fit)
    best = {s: min((f for f in fits if f["setting"] == s), key=lambda f: f["dev_error"]) for s in blocks}
    return {"tasks": names, "block_weight": block_weight, "fits": fits,
            "best": {s: {"C": f["C"], "dev_error": f["dev_error"]} for s, f in best.items()}}


def checked_c_grid(parser: argparse.ArgumentParser, text: str, block_weight: float) -> list[float]:
    """``--c-grid`` as numbers, each > 0, with ``--block-weight`` > 0 and scikit-learn importable (else a usage
    error naming the option)."""
    try:
        c_grid = [float(c) for c in text.split(",")]
    except ValueError:
        parser.error(f"--c-grid must be comma-separated numbers; got {text!r}")
    if not all(c > 0 for c in c_grid):
        parser.error("every C must be > 0")
    if not block_weight > 0:
        parser.error(f"--block-weight must be > 0; got {block_weight}")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        parser.error("scikit-learn is missing: pip install -r experiments/requirements-bench.txt")
    return c_grid
