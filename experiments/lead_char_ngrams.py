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
from pathlib import Path
from typing import Any

from experiments.lead_anchor import checked_c_grid, fit_beside_words, labelled_rows, nb_block, word_block
from experiments.provenance import REPO_ROOT, command_line, provenance, write_json

DEFAULT_OUTPUT = REPO_ROOT / "experiments" / "results" / "leads" / "char_ngrams.json"


def probe(c_grid: list[float], tasks: list[str] | None = None, max_features: int = 1_000_000, ngrams: int = 3,
          char_range: tuple[int, int] = (2, 5), char_max_features: int = 500_000,
          block_weight: float = 1.0) -> dict[str, Any]:
    """Both settings at every C (:func:`experiments.lead_anchor.fit_beside_words`), with the probe's settings."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    train, dev = labelled_rows(tasks)
    y_train = train["label"].to_numpy()
    text_train, text_dev = train["text"].astype(str), dev["text"].astype(str)
    words = word_block(text_train, text_dev, y_train, max_features, ngrams)
    chars = nb_block(TfidfVectorizer(analyzer="char_wb", ngram_range=char_range, max_features=char_max_features,
                                     sublinear_tf=True, lowercase=False),
                     text_train, text_dev, y_train)
    result = fit_beside_words(train, dev, words, chars, "words+chars", block_weight, c_grid)
    return {**result, "max_features": max_features, "ngrams": ngrams, "char_range": list(char_range),
            "char_max_features": char_max_features}


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
    c_grid = checked_c_grid(p, args.c_grid, args.block_weight)
    if min(args.max_features, args.ngrams, args.char_max_features) < 1:
        p.error("--max-features, --ngrams and --char-max-features must be >= 1")
    if not 1 <= args.char_min <= args.char_max:
        p.error(f"need 1 <= --char-min <= --char-max; got {args.char_min} and {args.char_max}")
    result = probe(c_grid, args.tasks.split(",") if args.tasks else None, args.max_features, args.ngrams,
                   (args.char_min, args.char_max), args.char_max_features, args.block_weight)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.output, {**result, **provenance(command_line("experiments.lead_char_ngrams", argv))})
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main(sys.argv[1:])
