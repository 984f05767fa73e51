"""Training throughput of our models against the plain Keras model a user would write.

    python -m experiments.bench                       # all models, batch 16 and 64, + one ASP-MTL epoch
    python -m experiments.bench --models plain,asp-mtl --batch-sizes 16 --no-epoch

Every model trains on the SAME batches of real FDU-MTL text (the library's
pipeline: one task per batch, length-bucketed, seeded), each measurement in
its own process (clean peak RSS, no shared caches), one after another in one
run, in ``--repeats`` rounds of which the fastest is kept (other jobs on a
shared machine only ever slow a measurement down), and every figure is
reported relative to the plain Keras LSTM
(``Sequential([Embedding, LSTM, Dense])`` + ``fit``) on those batches. A
second plain Keras line pads every text to ``--max-length`` as a user
typically would. Writes ``experiments/results/bench_train.json`` and prints a
table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

from experiments.cli_types import fdu_mtl_tasks
from experiments.provenance import REPO_ROOT, command_line, provenance, write_json

OPTIMIZER_NAMES = ("lazy-adam", "adam")  # keys of tf_aspmtl.optimizers.OPTIMIZERS (not imported: no TF here)
MODELS = ("plain", "plain-padded", "single", "fs-mtl", "sp-mtl", "asp-mtl")
DEFAULT_OUTPUT = REPO_ROOT / "experiments" / "results" / "bench_train.json"


def datasets(args):
    """Vectorizer and the seeded training stream over the benchmark's tasks."""
    from tf_aspmtl.data import FDU_MTL_TASKS, load_fdu_mtl
    from tf_aspmtl.data.pipeline import make_training_dataset
    from tf_aspmtl.preprocessing import TextVectorizer

    tasks = list(FDU_MTL_TASKS) if args.tasks == "all" else args.tasks.split(",")
    train = load_fdu_mtl(tasks=tasks, splits=("train",))
    vectorizer = TextVectorizer(max_length=args.max_length, max_tokens=args.max_tokens)
    vectorizer.adapt(train["text"].tolist())
    ds, steps = make_training_dataset(train, vectorizer, tasks, batch_size=args.batch_size, seed=0)
    return tasks, vectorizer, ds, steps


def build_model(name: str, tasks, vectorizer, args):
    import keras

    from tf_aspmtl.models import get_model_family
    from tf_aspmtl.optimizers import get_optimizer

    if name.startswith("plain"):
        model = keras.Sequential(
            [
                keras.layers.Embedding(vectorizer.vocabulary_size, args.embedding_dim, mask_zero=True),
                keras.layers.LSTM(args.hidden_dim),
                keras.layers.Dense(2),
            ]
        )
        model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model
    family = get_model_family(name)
    # --model-tasks N: a model of N tasks (the data's, then placeholders) fed the data's batches only, so the
    # cost of the tasks a batch does not hold is measured apart from what the batches hold.
    extra = [f"absent_task_{i}" for i in range(max(0, getattr(args, "model_tasks", 0) - len(tasks)))]
    model = family(
        tasks[:1] if name == "single" else [*tasks, *extra],
        vocabulary_size=vectorizer.vocabulary_size, embedding_dim=args.embedding_dim, hidden_dim=args.hidden_dim,
    )
    model.compile(get_optimizer(args.optimizer, 1e-3))
    return model


def adapt_batches(name: str, ds, max_length: int):
    """The same batches, in the form each model takes."""
    import tensorflow as tf

    if name == "plain":
        return ds.map(lambda x, y: (x["token_ids"], y))
    if name == "plain-padded":
        def pad(x, y):
            ids = x["token_ids"]
            return tf.pad(ids, [[0, 0], [0, max_length - tf.shape(ids)[1]]]), y
        return ds.map(pad)
    if name == "single":
        return ds.map(lambda x, y: ({"token_ids": x["token_ids"], "task_id": tf.zeros_like(x["task_id"])}, y))
    return ds


def _count_tokens(ds, skip: int, take: int, max_length: int, padded: bool) -> tuple[int, int]:
    import tensorflow as tf

    real = padded_total = 0
    for x, _ in ds.skip(skip).take(take):
        ids = x["token_ids"]
        real += int(tf.reduce_sum(tf.cast(ids != 0, tf.int32)))
        padded_total += int(ids.shape[0]) * (max_length if padded else int(ids.shape[1]))
    return real, padded_total


def worker(args) -> dict[str, Any]:
    """One measurement, in this process: steady-state training speed of one model."""
    import keras

    from tf_aspmtl.runtime import configure_cpu_threads

    configure_cpu_threads(args.intra_op_threads, args.inter_op_threads)
    keras.utils.set_random_seed(0)
    tasks, vectorizer, ds, steps_per_epoch = datasets(args)
    model = build_model(args.worker, tasks, vectorizer, args)
    batches = adapt_batches(args.worker, ds, args.max_length)
    stamps: dict[int, float] = {}

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            stamps[batch] = time.perf_counter()

    started = time.perf_counter()
    if args.epoch:
        # Trace once, then time one full epoch as a user's second epoch runs.
        model.fit(batches, steps_per_epoch=args.warmup, epochs=1, verbose=0)
        traced = time.perf_counter()
        model.fit(batches.skip(args.warmup), steps_per_epoch=steps_per_epoch, epochs=1, verbose=0)
        return {"name": args.worker, "batch_size": args.batch_size, "epoch_s": time.perf_counter() - traced,
                "model_tasks": len(model.task_names) if hasattr(model, "task_names") else 1,
                "steps": steps_per_epoch, "tasks": len(tasks), "first_call_s": traced - started,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    model.fit(batches, steps_per_epoch=args.warmup + args.steps, epochs=1, verbose=0, callbacks=[Clock()])
    elapsed = stamps[args.warmup + args.steps - 1] - stamps[args.warmup - 1]
    real, padded = _count_tokens(ds, args.warmup, args.steps, args.max_length, args.worker == "plain-padded")
    return {
        "name": args.worker,
        "batch_size": args.batch_size,
        "model_tasks": len(model.task_names) if hasattr(model, "task_names") else 1,
        "examples_per_s": args.steps * args.batch_size / elapsed,
        "tokens_per_s": real / elapsed,
        "padding_ratio": padded / real,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "first_call_s": stamps[args.warmup - 1] - started,
    }


def _spawn(name: str, batch_size: int, args, epoch: bool = False) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "experiments.bench", "--worker", name, "--batch-size", str(batch_size),
           "--tasks", args.tasks, "--steps", str(args.steps), "--warmup", str(args.warmup),
           "--max-length", str(args.max_length), "--hidden-dim", str(args.hidden_dim),
           "--embedding-dim", str(args.embedding_dim), "--max-tokens", str(args.max_tokens),
           "--optimizer", args.optimizer]
    for flag, value in (("--intra-op-threads", args.intra_op_threads), ("--inter-op-threads", args.inter_op_threads),
                        ("--model-tasks", getattr(args, "model_tasks", None))):
        if value is not None:
            cmd += [flag, str(value)]
    if epoch:
        cmd.append("--epoch")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark worker {name} (batch {batch_size}) failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    """The model size, optimiser and thread flags shared by the benchmark and experiments.profile_train."""
    p.add_argument("--max-length", type=int, default=200)
    p.add_argument("--hidden-dim", type=int, default=100)
    p.add_argument("--embedding-dim", type=int, default=50)
    p.add_argument("--max-tokens", type=int, default=30000)
    p.add_argument("--optimizer", choices=sorted(OPTIMIZER_NAMES), default="lazy-adam",
                   help="optimiser of our models (the plain Keras model always uses keras.optimizers.Adam)")
    p.add_argument("--intra-op-threads", type=int, default=None, help="TensorFlow intra-op threads (default: TF's)")
    p.add_argument("--inter-op-threads", type=int, default=None, help="TensorFlow inter-op threads (default: TF's)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--batch-sizes", default="16,64")
    p.add_argument("--tasks", type=fdu_mtl_tasks, default="all", help="comma-separated task names, or 'all'")
    p.add_argument("--steps", type=int, default=40, help="timed steps per measurement")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps first (tracing)")
    p.add_argument("--repeats", type=int, default=2, help="rounds over all models; the best round is reported")
    add_model_arguments(p)
    p.add_argument("--no-epoch", action="store_true", help="skip the full ASP-MTL epoch at batch 16")
    p.add_argument("--output", default=str(DEFAULT_OUTPUT))
    p.add_argument("--worker", choices=MODELS, help=argparse.SUPPRESS)
    p.add_argument("--batch-size", type=int, default=16, help=argparse.SUPPRESS)
    p.add_argument("--epoch", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model-tasks", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    unknown = sorted(set(args.models.split(",")) - set(MODELS))
    if unknown or not args.models:
        p.error(f"--models: unknown {unknown or 'empty list'}; choose among {','.join(MODELS)}")
    try:
        sizes = [int(b) for b in args.batch_sizes.split(",")]
    except ValueError:
        p.error(f"--batch-sizes must be comma-separated integers; got {args.batch_sizes!r}")
    for name, value in (("--batch-sizes", min(sizes)), ("--steps", args.steps), ("--warmup", args.warmup),
                        ("--repeats", args.repeats)):
        if value < 1:
            p.error(f"{name} must be >= 1; got {value}")

    command = command_line("experiments.bench", argv)
    made_by = provenance(command)
    # Rounds over every model, best of the rounds kept: on a shared machine
    # another job only ever slows a measurement down.
    samples: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for round_ in range(args.repeats):
        for batch_size in sizes:
            for name in args.models.split(","):
                rec = _spawn(name, batch_size, args)
                samples.setdefault((name, batch_size), []).append(rec)
                print(f"  round {round_ + 1}: {name:13s} batch {batch_size:3d}: "
                      f"{rec['examples_per_s']:7.1f} examples/s", flush=True)
    records = []
    for runs in samples.values():
        best = dict(max(runs, key=lambda r: r["examples_per_s"]))
        best["examples_per_s_all_rounds"] = [r["examples_per_s"] for r in runs]
        records.append(best)
    for rec in records:  # without a plain Keras measurement at that batch size there is no ratio
        base = next((r for r in records if r["name"] == "plain" and r["batch_size"] == rec["batch_size"]), None)
        rec["ratio_to_plain_keras"] = None if base is None else rec["examples_per_s"] / base["examples_per_s"]
    result: dict[str, Any] = {**made_by, "config": {k: v for k, v in vars(args).items()
                                                    if k not in ("worker", "epoch", "batch_size")},
                              "load_average_1_5_15": list(os.getloadavg()),
                              "models": records}
    if not args.no_epoch:
        epoch = _spawn("asp-mtl", 16, args, epoch=True)
        result["asp_mtl_epoch_s"] = epoch["epoch_s"]
        result["asp_mtl_epoch"] = epoch
        print(f"  one {epoch['tasks']}-task ASP-MTL epoch at batch 16: {epoch['epoch_s']:.1f} s ({epoch['steps']} steps)")
    write_json(args.output, result)
    print(table(result))
    return 0


def table(result: dict[str, Any]) -> str:
    """The records as a markdown table."""
    lines = ["| model | batch | examples/s | real tokens/s | x plain Keras | peak RSS (MB) | padded/real tokens |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["models"]:
        lines.append(f"| {r['name']} | {r['batch_size']} | {r['examples_per_s']:.0f} | {r['tokens_per_s']:.0f} | "
                     f"{'–' if r['ratio_to_plain_keras'] is None else format(r['ratio_to_plain_keras'], '.2f')} | "
                     f"{r['peak_rss_mb']:.0f} | {r['padding_ratio']:.2f} |")
    if "asp_mtl_epoch_s" in result:
        epoch = result["asp_mtl_epoch"]
        lines.append(f"\nOne full {epoch['tasks']}-task ASP-MTL epoch at batch 16: {epoch['epoch_s']:.1f} s "
                     f"({epoch['steps']} steps; peak RSS {epoch['peak_rss_mb']:.0f} MB).")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
