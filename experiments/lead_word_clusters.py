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

from experiments.lead_anchor import checked_c_grid, fit_beside_words, labelled_rows, nb_block, word_block
from experiments.provenance import REPO_ROOT, command_line, provenance, write_json

DEFAULT_OUTPUT = REPO_ROOT / "experiments" / "results" / "leads" / "word_clusters.json"
CACHE = REPO_ROOT / "runs" / "cache" / "word_vectors"


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
    """Both settings at every C (:func:`experiments.lead_anchor.fit_beside_words`), with the clusters' facts."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    train, dev, unlabeled = labelled_rows(tasks, unlabeled=True)
    y_train = train["label"].to_numpy()
    text_train, text_dev = train["text"].astype(str).tolist(), dev["text"].astype(str).tolist()
    cluster_of, facts = word_clusters(text_train + unlabeled["text"].astype(str).tolist(), dim, clusters)
    print(f"{facts['words']} words in {clusters} clusters ({facts['seconds']:.0f} s)", flush=True)
    words = word_block(text_train, text_dev, y_train, max_features, ngrams)
    grouped = nb_block(TfidfVectorizer(ngram_range=(1, cluster_ngrams), sublinear_tf=True, token_pattern=r"\S+",
                                       lowercase=False),
                       cluster_texts(text_train, cluster_of), cluster_texts(text_dev, cluster_of), y_train)
    result = fit_beside_words(train, dev, words, grouped, "words+clusters", block_weight, c_grid)
    return {**result, "max_features": max_features, "ngrams": ngrams, "dim": dim,
            "cluster_ngrams": cluster_ngrams, "word_clusters": facts}


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
    c_grid = checked_c_grid(p, args.c_grid, args.block_weight)
    if min(args.max_features, args.ngrams, args.dim, args.cluster_ngrams) < 1 or args.clusters < 2:
        p.error("--max-features, --ngrams, --dim and --cluster-ngrams must be >= 1, --clusters >= 2")
    result = probe(c_grid, args.tasks.split(",") if args.tasks else None, args.max_features, args.ngrams,
                   args.dim, args.clusters, args.cluster_ngrams, args.block_weight)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.output, {**result, **provenance(command_line("experiments.lead_word_clusters", argv))})
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main(sys.argv[1:])
