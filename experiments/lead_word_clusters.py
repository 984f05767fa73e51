"""A lead for issue 24, dev only: do n-grams of word clusters, learnt from the unlabelled reviews, add to word n-grams?

    pip install -r experiments/requirements-bench.txt   # scikit-learn
    python -m experiments.lead_word_clusters

A word n-gram seen in no train row gets no weight. Clusters of word vectors learnt from FDU-MTL's own text
(word2vec on the train rows, dev rows left out, and the unlabelled reviews; k-means over the vectors) map rare
words to classes of common ones, so n-grams of cluster ids carry what the train rows taught about similar words
(the semi-supervised features of Koo et al. 2008 and Turian et al. 2010). This probe asks, with the
scikit-learn anchor of ``experiments.lead_char_ngrams`` (NB-scaled tf-idf blocks, each L2-normalised per row,
feature augmentation, ``LogisticRegression(solver="liblinear")``, the best C of ``--c-grid``), whether adding
them lowers the dev error:

- ``words``: word 1..``--ngrams``-grams, at most ``--max-features``;
- ``words+clusters``: beside them, n-grams of 1..``--cluster-ngrams`` cluster ids (``--clusters`` k-means
  clusters of ``--dim``-d skip-gram vectors; a word without a vector is the id ``unk``), scaled by
  ``--block-weight`` after the L2 normalisation (1: both blocks weigh the same).

Dev error only (the last 200 train rows of each task; the test split is never read). A lead to screen in the
library's model, not a result. Writes ``experiments/results/leads/word_clusters.json`` (every fit's dev error,
the clusters' sizes, the command, commit, versions).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from experiments.lead_char_ngrams import nb_block
from experiments.lead_nb_per_task import augmented
from experiments.provenance import REPO_ROOT, command_line, provenance, write_json

DEFAULT_OUTPUT = REPO_ROOT / "experiments" / "results" / "leads" / "word_clusters.json"
CACHE = REPO_ROOT / "runs" / "cache" / "word_vectors"
SETTINGS = ("words", "words+clusters")


def cluster_texts(texts, cluster_of: dict[str, int]) -> list[str]:
    """Each text's whitespace tokens as cluster ids (``c<k>``; ``unk`` for a word without a cluster)."""
    return [" ".join(f"c{cluster_of[w]}" if w in cluster_of else "unk" for w in text.split()) for text in texts]


def word_clusters(texts: list[str], dim: int, clusters: int,
                  seed: int = 0) -> tuple[dict[str, int], dict[str, Any]]:
    """k-means clusters of word2vec vectors trained on ``texts``: ``(word -> cluster, facts)``."""
    from sklearn.cluster import MiniBatchKMeans

    from tf_aspmtl.preprocessing.word2vec import train_word2vec

    started = time.monotonic()
    words, vectors = train_word2vec(texts, dim=dim, seed=seed, cache_dir=CACHE)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    labels = MiniBatchKMeans(n_clusters=clusters, random_state=seed, n_init=3, batch_size=4096).fit_predict(vectors)
    sizes = np.bincount(labels, minlength=clusters)
    facts = {"words": len(words), "clusters": clusters, "largest_cluster": int(sizes.max()),
             "empty_clusters": int((sizes == 0).sum()), "seconds": round(time.monotonic() - started, 1)}
    return dict(zip(words, labels.tolist())), facts


def probe(c_grid: list[float], tasks: list[str] | None = None, max_features: int = 1_000_000, ngrams: int = 3,
          dim: int = 200, clusters: int = 1000, cluster_ngrams: int = 3,
          block_weight: float = 1.0) -> dict[str, Any]:
    """Both settings at every C: ``{"fits": [{setting, C, dev_error, per_task, fit_s}], "best": {setting: fit}}``."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from tf_aspmtl.data import load_fdu_mtl

    frame = load_fdu_mtl(tasks=tasks, splits=("train", "dev", "unlabeled"))
    train = frame[frame["split"] == "train"].reset_index(drop=True)
    dev = frame[frame["split"] == "dev"].reset_index(drop=True)
    unlabeled = frame[frame["split"] == "unlabeled"]
    names = list(dict.fromkeys(train["task"]))
    y_train, y_dev = train["label"].to_numpy(), dev["label"].to_numpy()
    train_tasks, dev_tasks = train["task"].to_numpy(), dev["task"].to_numpy()
    text_train, text_dev = train["text"].astype(str).tolist(), dev["text"].astype(str).tolist()
    cluster_of, facts = word_clusters(text_train + unlabeled["text"].astype(str).tolist(), dim, clusters)
    print(f"{facts['words']} words in {clusters} clusters ({facts['seconds']:.0f} s)", flush=True)
    words = nb_block(TfidfVectorizer(ngram_range=(1, ngrams), max_features=max_features, sublinear_tf=True,
                                     token_pattern=r"\S+", lowercase=False),
                     text_train, text_dev, y_train)
    grouped = nb_block(TfidfVectorizer(ngram_range=(1, cluster_ngrams), sublinear_tf=True, token_pattern=r"\S+",
                                       lowercase=False),
                       cluster_texts(text_train, cluster_of), cluster_texts(text_dev, cluster_of), y_train)
    blocks = {"words": words,
              "words+clusters": (sp.hstack([words[0], block_weight * grouped[0]]).tocsr(),
                              sp.hstack([words[1], block_weight * grouped[1]]).tocsr())}
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
            print(f"{setting:15s} C={c:<6g} dev error {fit['dev_error']:.2f} %  ({fit['fit_s']:.0f} s)", flush=True)
            fits.append(fit)
    best = {s: min((f for f in fits if f["setting"] == s), key=lambda f: f["dev_error"]) for s in SETTINGS}
    return {"tasks": names, "max_features": max_features, "ngrams": ngrams, "dim": dim,
            "cluster_ngrams": cluster_ngrams, "word_clusters": facts, "block_weight": block_weight, "fits": fits,
            "best": {s: {"C": f["C"], "dev_error": f["dev_error"]} for s, f in best.items()}}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--c-grid", default="10,100", help="comma-separated C values (each > 0)")
    p.add_argument("--tasks", default=None, help="comma-separated FDU-MTL tasks (default: all 16)")
    p.add_argument("--max-features", type=int, default=1_000_000)
    p.add_argument("--ngrams", type=int, default=3)
    p.add_argument("--dim", type=int, default=200, help="word2vec vector size")
    p.add_argument("--clusters", type=int, default=1000)
    p.add_argument("--cluster-ngrams", type=int, default=3)
    p.add_argument("--block-weight", type=float, default=1.0,
                   help="scale of the added block's columns against the words' (each L2-normalised per row first)")
    p.add_argument("--output", default=str(DEFAULT_OUTPUT))
    args = p.parse_args(argv)
    try:
        c_grid = [float(c) for c in args.c_grid.split(",")]
    except ValueError:
        p.error(f"--c-grid must be comma-separated numbers; got {args.c_grid!r}")
    if not all(c > 0 for c in c_grid):
        p.error("every C must be > 0")
    if min(args.max_features, args.ngrams, args.dim, args.cluster_ngrams) < 1 or args.clusters < 2:
        p.error("--max-features, --ngrams, --dim and --cluster-ngrams must be >= 1, --clusters >= 2")
    if not args.block_weight > 0:
        p.error(f"--block-weight must be > 0; got {args.block_weight}")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        p.error("scikit-learn is missing: pip install -r experiments/requirements-bench.txt")
    result = probe(c_grid, args.tasks.split(",") if args.tasks else None, args.max_features, args.ngrams,
                   args.dim, args.clusters, args.cluster_ngrams, args.block_weight)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.output, {**result, **provenance(command_line("experiments.lead_word_clusters", argv))})
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main(sys.argv[1:])
