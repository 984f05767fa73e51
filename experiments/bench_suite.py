"""Every speed figure of issue 22 in one run, each beside its anchor: ``experiments/results/bench_summary.json``.

    pip install -r experiments/requirements-bench.txt   # the anchors' own dependencies (scikit-learn)
    python -m experiments.bench_suite --note "nothing else ran"

One measurement after another, each in its own process (clean memory, no shared caches), in this order:

1. LSTM training speed (``experiments.bench`` workers, real FDU-MTL batches, batch 16): the plain Keras LSTM and
   ASP-MTL on the same batches (``asp_over_plain_b16``); ASP-MTL with 2 tasks and the same model given 16 tasks
   but fed the same 2 tasks' batches, alternated 2, 16, 2, 16 (``asp_16_over_2_tasks``: what the tasks a batch
   does not hold cost); the share of the machine's float32 matmul rate that ASP-MTL's LSTM arithmetic reaches
   (``flop_share``; the rate is measured here, with a 2048 x 2048 matmul); one 16-task epoch (``asp_epoch_s``).
2. The main job (``python -m experiments.train``, a fresh run folder, to its early stop; ``main_job_s``), and the
   n-gram model's best configuration, seed 0 (``ngram_train_s``: its training wall time, dev selection included;
   ``ngram_dev_error``); both export ``books`` for step 4.
3. The scikit-learn anchor a careful user would write: ``TfidfVectorizer(ngram_range=(1, 2),
   max_features=200_000, sublinear_tf=True)`` on the train rows, feature augmentation ``[x, x * 1{task}]`` plus a
   per-task bias, ``LogisticRegression(solver="liblinear")`` for each C of ``--sklearn-c``, C chosen on dev
   (``sklearn_train_s``: every fit of the grid; ``sklearn_dev_error``: the chosen C's). End to end, features
   included: ``sklearn_wall_s`` (features and fits) beside ``ngram_supervised_wall_s`` (the n-gram model without
   self-training, from the files to its saved model, the test read included).
4. Serving (``experiments.bench_serving``) of both ``books`` exports: p50 latency of one review, reviews/s at batch 64.

The machine is shared: the file records the load average before and after and ``--note`` (what else ran); only
ratios measured in one run compare. ``--quick`` shrinks every step (a smoke test of the command, not figures).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from experiments.provenance import REPO_ROOT, command_line, provenance, write_atomic, write_json
from tf_aspmtl.training.ngram_config import SELF_TRAINING_FIELDS, NgramConfig

DEFAULT_OUTPUT = REPO_ROOT / "experiments" / "results" / "bench_summary.json"
QUICK_OUTPUT = REPO_ROOT / "runs" / "bench_summary_quick.json"
"""Where ``--quick`` (a smoke test, not figures) writes without ``--output``: under runs/, which git ignores."""
GOALS = {"asp_over_plain_b16": (">=", 1.5), "asp_16_over_2_tasks": (">=", 0.9), "flop_share": (">=", 0.40),
         "asp_epoch_s": ("<=", 25.0), "main_job_s": ("<=", 300.0), "serving_lstm_p50_ms": ("<=", 1.0),
         "serving_lstm_b64_per_s": (">=", 4000.0), "serving_ngram_p50_ms": ("<=", 0.3),
         "serving_ngram_b64_per_s": (">=", 20000.0)}
"""Issue 22's goals: key -> (comparison, bound). The n-gram model's goal is relative: at or under scikit-learn's
time at equal or better dev error (``ngram_vs_sklearn`` in the file)."""
SERVED_TASK = "books"


def run(cmd: list[str], what: str) -> str:
    """Runs ``["python", "-m", module, ...]`` in this checkout with this interpreter; its stdout, or SystemExit naming ``what`` failed and its last output."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO_ROOT))
    print(f"-- {what}: {' '.join(cmd[2:])}", flush=True)
    out = subprocess.run([sys.executable, *cmd[1:]], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"bench_suite: {what} failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
    return out.stdout


def first_epoch_at_or_below(history: dict[str, list[float]], dev_error: float) -> int | None:
    """The first epoch (1-based) of a run's ``history`` whose mean dev error over the tasks (``val_acc_<task>``) is
    at or below ``dev_error`` percent; None if none is."""
    tasks = [key for key in history if key.startswith("val_acc_")]
    if not tasks:
        raise ValueError("the history holds no per-task dev accuracy (val_acc_<task>)")
    for epoch in range(len(history[tasks[0]])):
        if 100.0 * (1.0 - sum(history[t][epoch] for t in tasks) / len(tasks)) <= dev_error:
            return epoch + 1
    return None


def lstm_worker(model: str, args, tasks: str = "all", model_tasks: int = 0, epoch: bool = False) -> dict[str, Any]:
    """One ``experiments.bench`` worker's figures (batch 16)."""
    cmd = ["python", "-m", "experiments.bench", "--worker", model, "--batch-size", "16", "--tasks", tasks,
           "--steps", str(args.steps), "--warmup", "10", "--model-tasks", str(model_tasks)]
    return json.loads(run(cmd + (["--epoch"] if epoch else []), f"{model} on {tasks}").strip().splitlines()[-1])


def matmul_rate_gflops(size: int = 2048, repeats: int = 20) -> float:
    """The machine's float32 matmul rate (GFLOP/s) on TensorFlow's default threads: the best of ``repeats``."""
    import tensorflow as tf

    a = tf.random.normal([size, size])
    matmul = tf.function(lambda x: tf.matmul(x, x))
    matmul(a).numpy()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        matmul(a).numpy()
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def lstm_flops_per_token(embedding_dim: int = 50, hidden_dim: int = 100, lstms: int = 2) -> float:
    """Multiply-adds x 2 of ASP-MTL's LSTMs per real token, forward and backward (backward = 2 x forward)."""
    forward = 2 * (embedding_dim + hidden_dim) * 4 * hidden_dim
    return 3 * forward * lstms


def sklearn_anchor(c_grid: list[float], tasks: list[str] | None = None) -> dict[str, Any]:
    """The scikit-learn model of the module docstring: features time, every fit's time, the dev-chosen C."""
    import numpy as np
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from tf_aspmtl.data.fdu_mtl import FDU_MTL_TASKS, load_fdu_mtl

    tasks = list(tasks or FDU_MTL_TASKS)
    data = load_fdu_mtl(tasks=tasks, splits=("train", "dev"))
    train, dev = data[data["split"] == "train"], data[data["split"] == "dev"]
    started = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), max_features=200_000, sublinear_tf=True)
    x_train = vectorizer.fit_transform(train["text"].astype(str))
    x_dev = vectorizer.transform(dev["text"].astype(str))

    def augment(x, task_names):
        ids = np.array([tasks.index(t) for t in task_names])
        onehot = sp.csr_matrix((np.ones(len(ids)), (np.arange(len(ids)), ids)), shape=(len(ids), len(tasks)))
        private = [x.multiply(sp.csr_matrix((ids == k).astype(np.float64)).T) for k in range(len(tasks))]
        return sp.hstack([x, *private, onehot]).tocsr()

    a_train, a_dev = augment(x_train, train["task"]), augment(x_dev, dev["task"])
    features_s = time.perf_counter() - started
    fits = []
    for c in c_grid:
        fit_started = time.perf_counter()
        model = LogisticRegression(solver="liblinear", C=c).fit(a_train, train["label"].to_numpy())
        predicted = model.predict(a_dev)
        hits = predicted == dev["label"].to_numpy()
        errors = [100.0 * (1 - hits[(dev["task"] == t).to_numpy()].mean()) for t in tasks]
        fits.append({"C": c, "fit_s": time.perf_counter() - fit_started, "dev_error": float(np.mean(errors))})
    chosen = min(fits, key=lambda f: f["dev_error"])
    return {"features_s": features_s, "fits": fits, "train_s": sum(f["fit_s"] for f in fits),
            "chosen_C": chosen["C"], "dev_error": chosen["dev_error"]}


def serving(export_dir: Path, work: Path, name: str, args) -> dict[str, Any]:
    """``experiments.bench_serving`` on one export: its figures."""
    out = work / f"serving_{name}.json"
    run(["python", "-m", "experiments.bench_serving", "--export-dir", str(export_dir), "--output", str(out),
         "--single-calls", str(args.serving_calls), "--batches", str(max(5, args.serving_calls // 20)),
         "--rounds", str(args.serving_rounds)],
        f"serving {name}")
    return json.loads(out.read_text(encoding="utf-8"))


def version_dir(export_root: Path) -> Path:
    """The newest version folder of ``books`` under an export root."""
    versions = sorted((export_root / SERVED_TASK).iterdir(), key=lambda p: int(p.name))
    return versions[-1]


def summary_markdown(result: dict[str, Any]) -> str:
    """The figures against the goals, as a markdown table (the README's speed section)."""
    f = result["figures"]
    lines = [f"Measured by `{result['command']}` at commit {result['commit'][:12]} "
             f"(load average {result['load_average_1min']['before']} before, {result['load_average_1min']['after']} "
             f"after; {result['note'] or 'no note'}).", "", "| figure | measured | goal |", "|---|---:|---:|"]
    for key, value in f.items():
        goal = GOALS.get(key)
        shown = "–" if value is None else (f"{value:.3g}" if isinstance(value, float) else str(value))
        lines.append(f"| `{key}` | {shown} | {'' if goal is None else ' '.join(map(str, goal))} |")
    ngram = result["ngram_vs_sklearn"]
    lines.append(f"\nn-gram model against scikit-learn: {ngram}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--note", default="", help="what else ran on the machine")
    p.add_argument("--steps", type=int, default=60, help="timed steps per LSTM measurement")
    p.add_argument("--sklearn-c", default="1,10,100", help="comma-separated C values of the scikit-learn grid")
    p.add_argument("--serving-calls", type=int, default=1000, help="single-review calls per serving measurement")
    p.add_argument("--serving-rounds", type=int, default=3,
                   help="serving measurements per export, each in its own process, the best kept (default: "
                        "%(default)s; one round's p50 varies by half between runs on a shared machine)")
    p.add_argument("--quick", action="store_true", help="a smoke test: 2 tasks, few steps, no epoch (no figures)")
    p.add_argument("--output", help=f"summary JSON, a .md beside it (default {DEFAULT_OUTPUT}; with --quick "
                                    f"{QUICK_OUTPUT})")
    p.add_argument("--keep-work", action="store_true",
                   help="keep the scratch folder (trained runs and exports, several GB; removed by default, also "
                        "when a step fails)")
    args = p.parse_args(argv)
    try:
        c_grid = [float(c) for c in args.sklearn_c.split(",")]
    except ValueError:
        p.error(f"--sklearn-c must be comma-separated numbers; got {args.sklearn_c!r}")
    if args.steps < 1 or args.serving_calls < 1 or args.serving_rounds < 1 or min(c_grid) <= 0:
        p.error("--steps, --serving-calls and --serving-rounds must be >= 1 and every C > 0")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        p.error("scikit-learn is missing: pip install -r experiments/requirements-bench.txt")
    if args.quick:
        args.steps, args.serving_calls, args.serving_rounds = 5, 20, 1
    args.output = args.output or str(QUICK_OUTPUT if args.quick else DEFAULT_OUTPUT)
    made_by = provenance(command_line("experiments.bench_suite", argv))
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="tf_aspmtl_bench_suite_"))
    try:
        return measure_suite(args, c_grid, work, made_by, load_before)
    finally:  # its exports and run folders take several GB: a failed run's too would fill a disk in a few runs
        if args.keep_work:
            print(f"bench_suite: the scratch folder is kept: {work}", flush=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


def measure_suite(args: argparse.Namespace, c_grid: list[float], work: Path, made_by: dict[str, Any],
                  load_before: float) -> dict[str, Any]:
    """Every figure, measured with scratch files under ``work``; writes the summary (``args.output`` and .md)."""
    two = "books,MR" if args.quick else "books,dvd"
    figures: dict[str, Any] = {}

    plain, asp = lstm_worker("plain", args, two if args.quick else "all"), lstm_worker("asp-mtl", args, two if args.quick else "all")
    figures["asp_over_plain_b16"] = asp["examples_per_s"] / plain["examples_per_s"]
    scaling = [lstm_worker("asp-mtl", args, two, model_tasks=n) for n in (2, 16, 2, 16)]
    best = {n: max(r["examples_per_s"] for r in scaling if r["model_tasks"] == n) for n in (2, 16)}
    figures["asp_16_over_2_tasks"] = best[16] / best[2]
    rate = matmul_rate_gflops()
    figures["flop_share"] = asp["tokens_per_s"] * lstm_flops_per_token() / (rate * 1e9)
    figures["asp_epoch_s"] = None if args.quick else lstm_worker("asp-mtl", args, epoch=True)["epoch_s"]

    main_flags = ["--quick", "--tasks", two] if args.quick else []
    started = time.perf_counter()
    run(["python", "-m", "experiments.train", *main_flags, "--output-dir", str(work / "main_job"),
         "--results", str(work / "main_job.json"), "--export", str(work / "main_export"), "--verbose", "2"],
        "main job")
    figures["main_job_s"] = time.perf_counter() - started
    main_job = json.loads((work / "main_job.json").read_text(encoding="utf-8"))
    ngram_flags = ["--tasks", two, "--epochs", "2"] if args.quick else []

    def ngram_run(name: str, flags: list[str], what: str) -> dict[str, Any]:
        """The best configuration's n-gram model, seed 0, with ``flags`` beside it; its results."""
        run(["python", "-m", "experiments.ngram", "--config", "experiments/configs/best.json", *ngram_flags, *flags,
             "--seed", "0", "--output-dir", str(work / name), "--results", str(work / f"{name}.json")], what)
        return json.loads((work / f"{name}.json").read_text(encoding="utf-8"))

    ngram = ngram_run("ngram", ["--export", str(work / "ngram_export")], "n-gram model")
    # every self-training field at its default (off), as flags: the settings that need self-training go with it
    default = NgramConfig()
    without_self_training = [x for name in SELF_TRAINING_FIELDS
                             for x in (f"--{name.replace('_', '-')}", str(getattr(default, name)))]
    figures["ngram_train_s"], figures["ngram_dev_error"] = ngram["training_wall_time_s"], ngram["avg_dev_error"]
    # scikit-learn learns from the train rows alone: beside a best configuration that self-trains on the unlabelled
    # reviews, the same model without self-training is the like-for-like anchor pair.
    supervised = None
    if ngram["settings"].get("self_training_threshold"):
        supervised = ngram_run("ngram_supervised", without_self_training, "n-gram model without self-training")
        figures["ngram_supervised_train_s"] = supervised["training_wall_time_s"]
        figures["ngram_supervised_dev_error"] = supervised["avg_dev_error"]
        # what a user waits for, end to end: ours from reading the files to the saved model (features, training,
        # dev selection, the test read); scikit-learn's features and its grid of fits
        figures["ngram_supervised_wall_s"] = supervised["wall_time_s"]
    print("-- scikit-learn anchor", flush=True)
    anchor = sklearn_anchor(c_grid, two.split(",") if args.quick else None)
    figures["sklearn_train_s"], figures["sklearn_dev_error"] = anchor["train_s"], anchor["dev_error"]
    figures["sklearn_wall_s"] = anchor["features_s"] + anchor["train_s"]
    # The same model trained only as long as it takes to reach scikit-learn's dev error: the epochs are read from
    # the supervised run's dev history (dev data only), then a fresh run of that many epochs is timed.
    base, base_flags = (supervised, without_self_training) if supervised else (ngram, [])
    fast = first_epoch_at_or_below(base["history"], anchor["dev_error"])
    if fast is not None and fast < base["epochs_run"]:
        fast_run = ngram_run("ngram_fast", [*base_flags, "--epochs", str(fast), "--patience", str(fast)],
                             f"n-gram model, {fast} epoch(s)")
        figures["ngram_fast_epochs"] = fast
        figures["ngram_fast_train_s"], figures["ngram_fast_dev_error"] = (fast_run["training_wall_time_s"],
                                                                        fast_run["avg_dev_error"])

    lstm_serving = serving(version_dir(work / "main_export"), work, "lstm", args)
    ngram_serving = serving(version_dir(work / "ngram_export"), work, "ngram", args)
    figures["serving_lstm_p50_ms"] = lstm_serving["p50_ms"]
    figures["serving_lstm_b64_per_s"] = lstm_serving["batch64_reviews_per_s"]
    figures["serving_ngram_p50_ms"] = ngram_serving["p50_ms"]
    figures["serving_ngram_b64_per_s"] = ngram_serving["batch64_reviews_per_s"]

    result = {
        **made_by, "note": args.note, "quick": args.quick, "figures": figures, "goals": GOALS,
        "ngram_vs_sklearn": (
            f"training {figures['ngram_train_s']:.0f} s against {figures['sklearn_train_s']:.0f} s "
            f"(+ {anchor['features_s']:.0f} s of features; ours: {ngram['epochs_run']} epochs), dev error "
            f"{figures['ngram_dev_error']:.2f} % against {figures['sklearn_dev_error']:.2f} % (C = {anchor['chosen_C']:g})"
            + ("" if supervised is None else
               f"; without self-training (train rows only, as scikit-learn): {figures['ngram_supervised_train_s']:.0f} s"
               f", dev error {figures['ngram_supervised_dev_error']:.2f} %; end to end (files to saved model, features "
               f"included) {figures['ngram_supervised_wall_s']:.0f} s against {figures['sklearn_wall_s']:.0f} s")
            + ("" if "ngram_fast_epochs" not in figures else
               f"; trained {figures['ngram_fast_epochs']} epoch(s), the first at or below scikit-learn's dev error "
               f"in that run: {figures['ngram_fast_train_s']:.0f} s, dev error {figures['ngram_fast_dev_error']:.2f} %")),
        "details": {"plain_b16": plain, "asp_b16": asp, "task_scaling": scaling, "matmul_gflops": rate,
                    "lstm_flops_per_token": lstm_flops_per_token(), "sklearn": anchor,
                    "main_job": {k: main_job.get(k) for k in ("avg_dev_error", "avg_test_error", "best_epoch",
                                                              "epochs_run", "training_wall_time_s")},
                    "ngram": {k: ngram.get(k) for k in ("avg_dev_error", "avg_test_error", "best_epoch", "epochs_run",
                                                        "training_wall_time_s", "wall_time_s")},
                    "serving_lstm": lstm_serving, "serving_ngram": ngram_serving},
        "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
    }
    committed = REPO_ROOT / "experiments" / "results" / "main_job.json"
    if committed.exists() and not args.quick:  # the goal: faster, with the same numbers
        before = json.loads(committed.read_text(encoding="utf-8"))["per_task"]
        result["details"]["main_job"]["same_per_task_errors_as_main_job_json"] = all(
            before[t] == main_job["per_task"].get(t) for t in before)
    # The run's scratch folder is this machine's: the file names it $BENCH_TMP.
    result = json.loads(json.dumps(result).replace(str(work), "$BENCH_TMP"))
    output = Path(args.output)
    write_json(output, result)
    write_atomic(output.with_suffix(".md"), summary_markdown(result))
    print(summary_markdown(result))
    return result


if __name__ == "__main__":
    main()
