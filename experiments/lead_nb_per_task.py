"""A lead for issue 24, dev only: per-task naive-Bayes ratios in the private block of feature augmentation.

    pip install -r experiments/requirements-bench.txt   # scikit-learn
    python -m experiments.lead_nb_per_task

The shared/private n-gram model scales every n-gram by one NB log-count ratio learnt over all tasks' train rows.
A word's polarity differs between tasks (e.g. "long" in reviews of batteries and of films), so this probe asks
whether the private weights learn better from features scaled by their own task's ratios. It uses the
scikit-learn anchor of ``experiments.bench_suite`` (tf-idf, feature augmentation ``[x, x * 1{task}]`` plus a
per-task bias, ``LogisticRegression(solver="liblinear")``), not the library's model, so it is a lead to screen
there, not a result: three settings of the private block, each at every C of ``--c-grid``, dev error only
(the last 200 train rows of each task; the test split is never read):

- ``global``: the private block scaled by the global ratios, as the n-gram model does today;
- ``task``: scaled by the row's task's own ratios (learnt from that task's train rows);
- ``halfway``: by the mean of the two.

Writes ``experiments/results/leads/nb_per_task.json`` (every fit's dev error, the command, commit and versions).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from experiments.provenance import REPO_ROOT, command_line, provenance, write_json

DEFAULT_OUTPUT = REPO_ROOT / "experiments" / "results" / "leads" / "nb_per_task.json"
SETTINGS = ("global", "task", "halfway")


def nb_ratios(present, labels: np.ndarray) -> np.ndarray:
    """NB log-count ratios (smoothing 1) of the columns of a 0/1 sparse matrix ``present`` with 0/1 ``labels``."""
    p = np.asarray(present[labels == 1].sum(axis=0)).ravel() + 1.0
    q = np.asarray(present[labels == 0].sum(axis=0)).ravel() + 1.0
    return np.log((p / p.sum()) / (q / q.sum()))


def augmented(x, tasks: np.ndarray, task_names: list[str], shared_ratio: np.ndarray,
              private_ratios: dict[str, np.ndarray]):
    """``[x * r, x * r_private(task) * 1{task} for each task, 1{task}]`` as one CSR matrix."""
    import scipy.sparse as sp

    blocks = [x.multiply(shared_ratio).tocsr()]
    for name in task_names:
        rows = sp.diags((tasks == name).astype(np.float64))
        blocks.append((rows @ x).multiply(private_ratios[name]).tocsr())
    blocks.append(sp.csr_matrix(np.stack([tasks == name for name in task_names], axis=1).astype(np.float64)))
    return sp.hstack(blocks).tocsr()


def probe(c_grid: list[float], tasks: list[str] | None = None, max_features: int = 400_000,
          ngrams: int = 3) -> dict[str, Any]:
    """Every setting at every C: ``{"fits": [{setting, C, dev_error, per_task, fit_s}], "best": {setting: fit}}``."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from tf_aspmtl.data import load_fdu_mtl

    frame = load_fdu_mtl(tasks=tasks, splits=("train", "dev"))
    train = frame[frame["split"] == "train"].reset_index(drop=True)
    dev = frame[frame["split"] == "dev"].reset_index(drop=True)
    names = list(dict.fromkeys(train["task"]))
    vectorizer = TfidfVectorizer(ngram_range=(1, ngrams), max_features=max_features, sublinear_tf=True)
    x_train, x_dev = vectorizer.fit_transform(train["text"]), vectorizer.transform(dev["text"])
    y_train, y_dev = train["label"].to_numpy(), dev["label"].to_numpy()
    train_tasks, dev_tasks = train["task"].to_numpy(), dev["task"].to_numpy()
    present = (x_train > 0).astype(np.float64).tocsr()
    shared = nb_ratios(present, y_train)
    own = {n: nb_ratios(present[train_tasks == n], y_train[train_tasks == n]) for n in names}
    private = {"global": {n: shared for n in names}, "task": own,
               "halfway": {n: (own[n] + shared) / 2 for n in names}}
    fits = []
    for setting in SETTINGS:
        a_train = augmented(x_train, train_tasks, names, shared, private[setting])
        a_dev = augmented(x_dev, dev_tasks, names, shared, private[setting])
        for c in c_grid:
            started = time.monotonic()
            predicted = LogisticRegression(solver="liblinear", C=c).fit(a_train, y_train).predict(a_dev)
            per_task = {n: float(100 * np.mean(predicted[dev_tasks == n] != y_dev[dev_tasks == n])) for n in names}
            fit = {"setting": setting, "C": c, "dev_error": float(np.mean(list(per_task.values()))),
                   "per_task": per_task, "fit_s": round(time.monotonic() - started, 1)}
            print(f"{setting:8s} C={c:<6g} dev error {fit['dev_error']:.2f} %  ({fit['fit_s']:.0f} s)", flush=True)
            fits.append(fit)
    best = {s: min((f for f in fits if f["setting"] == s), key=lambda f: f["dev_error"]) for s in SETTINGS}
    return {"tasks": names, "max_features": max_features, "ngrams": ngrams, "fits": fits,
            "best": {s: {"C": f["C"], "dev_error": f["dev_error"]} for s, f in best.items()}}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--c-grid", default="1,10,100", help="comma-separated C values (each > 0)")
    p.add_argument("--tasks", default=None, help="comma-separated FDU-MTL tasks (default: all 16)")
    p.add_argument("--max-features", type=int, default=400_000)
    p.add_argument("--ngrams", type=int, default=3)
    p.add_argument("--output", default=str(DEFAULT_OUTPUT))
    args = p.parse_args(argv)
    try:
        c_grid = [float(c) for c in args.c_grid.split(",")]
    except ValueError:
        p.error(f"--c-grid must be comma-separated numbers; got {args.c_grid!r}")
    if not all(c > 0 for c in c_grid) or args.max_features < 1 or args.ngrams < 1:
        p.error("every C must be > 0, and --max-features and --ngrams >= 1")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        p.error("scikit-learn is missing: pip install -r experiments/requirements-bench.txt")
    result = probe(c_grid, args.tasks.split(",") if args.tasks else None, args.max_features, args.ngrams)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.output, {**result, **provenance(command_line("experiments.lead_nb_per_task", argv))})
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main(sys.argv[1:])
