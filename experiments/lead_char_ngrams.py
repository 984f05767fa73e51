"""A lead for issue 24, dev only: do character n-grams add to the word n-grams of the shared/private n-gram model?

    pip install -r experiments/requirements-bench.txt   # scikit-learn
    python -m experiments.lead_char_ngrams

Character n-grams inside word boundaries (``char_wb``) see misspellings, word stems and negation suffixes that word
n-grams split apart; beside word n-grams they often help linear sentiment classifiers. Building them into the
library's model is a day's work (a second counter in ``NgramFeatures``, its serving graph), so this probe asks
first, with the scikit-learn anchor of ``experiments.bench_suite`` and the features of
``experiments.lead_nb_per_task`` (NB-scaled tf-idf, feature augmentation ``[x, x * 1{task}]`` plus a per-task
bias, ``LogisticRegression(solver="liblinear")``; words split on whitespace, as the library does), whether
adding them lowers the dev error at the best C of ``--c-grid``:

- ``words``: word 1..``--ngrams``-grams, at most ``--max-features`` of them;
- ``words+chars``: the same columns beside character ``--char-min``..``--char-max``-grams (``char_wb``, at most
  ``--char-max-features``), each block NB-scaled with its own ratios and L2-normalised per row, the characters'
  then scaled by ``--block-weight`` (1: both blocks weigh the same).

Dev error only (the last 200 train rows of each task; the test split is never read). A lead to screen in the
library's model, not a result: the model there adds self-training, label smoothing and other levers.
Writes ``experiments/results/leads/char_ngrams.json`` (every fit's dev error, the command, commit, versions).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from experiments.lead_nb_per_task import augmented, nb_ratios
from experiments.provenance import REPO_ROOT, command_line, provenance, write_json

DEFAULT_OUTPUT = REPO_ROOT / "experiments" / "results" / "leads" / "char_ngrams.json"
SETTINGS = ("words", "words+chars")


def nb_block(vectorizer, train_text, dev_text, y_train: np.ndarray):
    """One block of columns, NB-scaled by its own ratios and L2-normalised per row: (train, dev)."""
    from sklearn.preprocessing import normalize

    x_train, x_dev = vectorizer.fit_transform(train_text), vectorizer.transform(dev_text)
    ratio = nb_ratios((x_train > 0).astype(np.float64).tocsr(), y_train)
    return (normalize(x_train.multiply(ratio).tocsr()), normalize(x_dev.multiply(ratio).tocsr()))


def probe(c_grid: list[float], tasks: list[str] | None = None, max_features: int = 1_000_000, ngrams: int = 3,
          char_range: tuple[int, int] = (2, 5), char_max_features: int = 500_000,
          block_weight: float = 1.0) -> dict[str, Any]:
    """Both settings at every C: ``{"fits": [{setting, C, dev_error, per_task, fit_s}], "best": {setting: fit}}``."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    from tf_aspmtl.data import load_fdu_mtl
    from sklearn.linear_model import LogisticRegression

    frame = load_fdu_mtl(tasks=tasks, splits=("train", "dev"))
    train = frame[frame["split"] == "train"].reset_index(drop=True)
    dev = frame[frame["split"] == "dev"].reset_index(drop=True)
    names = list(dict.fromkeys(train["task"]))
    y_train, y_dev = train["label"].to_numpy(), dev["label"].to_numpy()
    train_tasks, dev_tasks = train["task"].to_numpy(), dev["task"].to_numpy()
    text_train, text_dev = train["text"].astype(str), dev["text"].astype(str)
    words = nb_block(TfidfVectorizer(ngram_range=(1, ngrams), max_features=max_features, sublinear_tf=True,
                                      token_pattern=r"\S+", lowercase=False),
                      text_train, text_dev, y_train)
    chars = nb_block(TfidfVectorizer(analyzer="char_wb", ngram_range=char_range, max_features=char_max_features,
                                      sublinear_tf=True, lowercase=False),
                      text_train, text_dev, y_train)
    blocks = {"words": words,
              "words+chars": (sp.hstack([words[0], block_weight * chars[0]]).tocsr(),
                              sp.hstack([words[1], block_weight * chars[1]]).tocsr())}
    fits = []
    for setting in SETTINGS:
        x_train, x_dev = blocks[setting]
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
            print(f"{setting:12s} C={c:<6g} dev error {fit['dev_error']:.2f} %  ({fit['fit_s']:.0f} s)", flush=True)
            fits.append(fit)
    best = {s: min((f for f in fits if f["setting"] == s), key=lambda f: f["dev_error"]) for s in SETTINGS}
    return {"tasks": names, "max_features": max_features, "ngrams": ngrams, "char_range": list(char_range),
            "char_max_features": char_max_features, "block_weight": block_weight, "fits": fits,
            "best": {s: {"C": f["C"], "dev_error": f["dev_error"]} for s, f in best.items()}}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--c-grid", default="1,10,100", help="comma-separated C values (each > 0)")
    p.add_argument("--tasks", default=None, help="comma-separated FDU-MTL tasks (default: all 16)")
    p.add_argument("--max-features", type=int, default=1_000_000)
    p.add_argument("--ngrams", type=int, default=3)
    p.add_argument("--char-min", type=int, default=2)
    p.add_argument("--char-max", type=int, default=5)
    p.add_argument("--char-max-features", type=int, default=500_000)
    p.add_argument("--block-weight", type=float, default=1.0,
                   help="scale of the added block's columns against the words' (each L2-normalised per row first)")
    p.add_argument("--output", default=str(DEFAULT_OUTPUT))
    args = p.parse_args(argv)
    try:
        c_grid = [float(c) for c in args.c_grid.split(",")]
    except ValueError:
        p.error(f"--c-grid must be comma-separated numbers; got {args.c_grid!r}")
    if not all(c > 0 for c in c_grid) or min(args.max_features, args.ngrams, args.char_max_features) < 1:
        p.error("every C must be > 0, and --max-features, --ngrams and --char-max-features >= 1")
    if not 1 <= args.char_min <= args.char_max:
        p.error(f"need 1 <= --char-min <= --char-max; got {args.char_min} and {args.char_max}")
    if not args.block_weight > 0:
        p.error(f"--block-weight must be > 0; got {args.block_weight}")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        p.error("scikit-learn is missing: pip install -r experiments/requirements-bench.txt")
    result = probe(c_grid, args.tasks.split(",") if args.tasks else None, args.max_features, args.ngrams,
                   (args.char_min, args.char_max), args.char_max_features, args.block_weight)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.output, {**result, **provenance(command_line("experiments.lead_char_ngrams", argv))})
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main(sys.argv[1:])
