"""Milliseconds per training step of the shared/private n-gram model: sparse (LazyAdam) against dense updates.

    python -m experiments.bench_ngram [--steps 220] [--rounds 2] [--note "what else ran"]

On the 16 FDU-MTL tasks' training rows (batch 64, 200k 1-2-grams, the
settings of ``experiments/configs/best.json``), each variant of
:data:`VARIANTS` trains a fresh model for ``--steps`` steps on the same
cached batches; steps after the first ``--warmup`` are timed. The variants
run in turn, ``--rounds`` times, in one process, so their ratio is measured
under the same load (the best round of each is kept). Writes
``experiments/results/bench_ngram.json`` with the command, commit, versions,
machine, the load average before and after, and ``--note``.

- ``lazy-adam``: the library's default. The gradient of the weight matrices
  is ``tf.IndexedSlices`` over the batch's n-grams and LazyAdam updates only
  those rows.
- ``adam``: Keras' Adam on the same gradients, which updates every row of
  every matrix (its moments decay everywhere) on each step.
- ``lazy-adam+l2``: LazyAdam with an L2 penalty (``l2=1e-6``), whose gradient
  is dense, so every row changes on each step again.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from experiments.provenance import REPO_ROOT, command_line, provenance, write_json

DEFAULT_OUTPUT = REPO_ROOT / "experiments" / "results" / "bench_ngram.json"
VARIANTS = {"lazy-adam": ("lazy-adam", 0.0), "adam": ("adam", 0.0), "lazy-adam+l2": ("lazy-adam", 1e-6)}
"""Variant name -> (optimizer name, l2)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", help="comma-separated tasks (default: all 16)")
    p.add_argument("--max-features", type=int, default=200_000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=220, help="steps per variant and round")
    p.add_argument("--warmup", type=int, default=20, help="untimed first steps")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, from: " + ", ".join(VARIANTS))
    p.add_argument("--note", default="", help="what else ran on the machine")
    p.add_argument("--output", default=str(DEFAULT_OUTPUT))
    args = p.parse_args(argv)
    unknown = [v for v in args.variants.split(",") if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s) {unknown}; known: {list(VARIANTS)}")
    if args.steps <= args.warmup or args.warmup < 1 or args.rounds < 1:
        p.error("need --steps > --warmup >= 1 and --rounds >= 1")
    return args


def time_steps(model, batches, warmup: int) -> float:
    """Mean milliseconds of the training steps after the first ``warmup`` of one ``fit`` over ``batches``."""
    import keras

    class Timer(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == warmup:
                self.started = time.perf_counter()

        def on_train_end(self, logs=None):
            self.ms = (time.perf_counter() - self.started) / (self.params["steps"] - warmup) * 1000

    timer = Timer()
    model.fit(batches, epochs=1, verbose=0, callbacks=[timer])
    return timer.ms


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    command = command_line("experiments.bench_ngram", argv)
    load_before = os.getloadavg()[0]
    import keras

    from tf_aspmtl.data.fdu_mtl import FDU_MTL_TASKS, load_fdu_mtl
    from tf_aspmtl.models.shared_private_ngram_classifier import SharedPrivateNgramClassifier
    from tf_aspmtl.optimizers import resolve_optimizer
    from tf_aspmtl.preprocessing.ngram_features import NgramFeatures
    from tf_aspmtl.preprocessing.ngram_preprocessor import NgramPreprocessor
    from tf_aspmtl.training.ngram_run import ngram_rows_dataset
    from tf_aspmtl.training.train_config import FDU_MTL_CLASS_NAMES

    tasks = args.tasks.split(",") if args.tasks else list(FDU_MTL_TASKS)
    train = load_fdu_mtl(tasks=tasks, splits=("train",))
    features = NgramFeatures(max_features=args.max_features)
    features.adapt(train["text"].astype(str).tolist())
    preprocessor = NgramPreprocessor(tasks, {t: list(FDU_MTL_CLASS_NAMES) for t in tasks}, features)

    def fresh(optimizer: str, l2: float) -> SharedPrivateNgramClassifier:
        keras.utils.set_random_seed(0)
        model = SharedPrivateNgramClassifier(preprocessor, l2=l2)
        model.compile(optimizer=resolve_optimizer(optimizer, 1e-3))
        return model

    batches = ngram_rows_dataset(fresh("lazy-adam", 0.0), train, args.batch_size, seed=0).take(args.steps).cache()
    list(batches)  # materialised once: every variant trains on the same batches, read from memory
    names = args.variants.split(",")
    rounds: dict[str, list[float]] = {name: [] for name in names}
    for r in range(args.rounds):
        for name in names:
            rounds[name].append(time_steps(fresh(*VARIANTS[name]), batches, args.warmup))
            print(f"round {r + 1}: {name}: {rounds[name][-1]:.1f} ms/step", flush=True)
    best = {name: min(values) for name, values in rounds.items()}
    results = {
        **provenance(command),
        "what": "ms per training step of SharedPrivateNgramClassifier (16 tasks unless --tasks), variants in turn",
        "tasks": tasks, "max_features": args.max_features, "vocabulary_size": features.vocabulary_size,
        "batch_size": args.batch_size, "steps_timed": args.steps - args.warmup, "rounds": rounds, "ms_per_step": best,
        "ratio_to_lazy_adam": ({n: best[n] / best["lazy-adam"] for n in names} if "lazy-adam" in best else None),
        "machine_load_average_1min": {"before": load_before, "after": os.getloadavg()[0]}, "note": args.note,
    }
    write_json(Path(args.output), results)
    print({k: round(v, 1) for k, v in best.items()})
    return results


if __name__ == "__main__":
    main()
