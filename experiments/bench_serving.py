"""Inference speed of an exported SavedModel: latency of one review and throughput at batch 64.

    python -m experiments.bench_serving --export-dir exports/books/1
    python -m experiments.bench_serving --export-dir exports/books/2 --compare-export-dir exports/books/1 \
        --threads 1,2 --threads default     # variants side by side, each in its own process

Loads the SavedModel as a server would (``tf.saved_model.load`` with only
TensorFlow and TF Text), calls ``serving_default`` on real FDU-MTL test
reviews of the export's task(s) and writes
``experiments/results/bench_serving.json``:

- ``p50_ms`` / ``p99_ms``: latency of one call on one review, over
  ``--single-calls`` calls after ``--warmup`` calls, each call timed from
  building the input tensor to having the probabilities as numpy;
- ``batch64_reviews_per_s``: reviews per second over ``--batches`` calls of
  ``--batch-size`` (64) reviews each, after warm-up.

The file also records the command, commit, library versions, machine,
TensorFlow's thread settings and the exported model's sizes (from the
export's ``assets.extra/export.json``). With ``--compare-export-dir`` or several ``--threads``, every (export,
threads) variant is measured in its own process, in ``--rounds`` rounds
(best kept), and listed under ``variants``; the headline figures are the
first variant's. ``--rounds`` with one variant measures it that many times,
each in its own process, and keeps the best round: on a shared machine one
round's p50 varies by half between runs (``experiments/results/speed_equality/
serving_ngram_commits.md``). This measures the graph in-process;
TF Serving adds its request handling (and, over REST, JSON) on top.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from experiments.cli_types import non_negative_int, positive_int
from experiments.provenance import REPO_ROOT, command_line, provenance, write_json

DEFAULT_OUTPUT = REPO_ROOT / "experiments" / "results" / "bench_serving.json"
GOALS = {"p50_ms": 10.0, "batch64_reviews_per_s": 1500.0}


def variant_lines(bench: dict) -> list[str]:
    """Markdown bullets, one per export an experiments.bench_serving results dict timed: p50 and batch-64 throughput."""
    return [f"- `{v.get('export_dir', bench.get('export_dir', ''))}`: p50 {v['p50_ms']:.2f} ms, "
            f"{v['batch64_reviews_per_s']:.0f} reviews/s at batch 64" for v in bench.get("variants") or [bench]]


def load_note(bench: dict) -> str:
    """``before/after`` 1-minute load averages of an experiments.bench_serving results dict (what else ran)."""
    load = bench.get("machine_load_average_1min", {})
    return f"{load.get('before', '?')}/{load.get('after', '?')}"


def export_info(export_dir: Path) -> dict:
    """The export's ``assets.extra/export.json`` ({} if absent)."""
    path = export_dir / "assets.extra" / "export.json"
    return json.loads(path.read_text("utf-8")) if path.is_file() else {}


def training_run(info: dict) -> dict | None:
    """Command and test error of the run that trained the exported model, if experiments.train wrote it.

    ``experiments.train --output-dir D`` saves ``D/model/model.keras`` and ``D/results.json``.
    """
    source = info.get("source_model")
    if not source:
        return None
    results = Path(source).parent.parent / "results.json"
    if not results.is_file():
        return None
    run = json.loads(results.read_text("utf-8"))
    return {"command": run.get("command"), "commit": run.get("commit"), "avg_test_error": run.get("avg_test_error")}


def review_texts(tasks: list[str], data_dir: str | None, limit: int | None = None) -> tuple[list[str], list[str]]:
    """Real test reviews of ``tasks`` (FDU-MTL ``.task.test``) and each review's task."""
    from tf_aspmtl.data import load_fdu_mtl

    frame = load_fdu_mtl(path=data_dir, tasks=tasks, splits=("test",))
    frame = frame.sample(frac=1.0, random_state=0)  # mix tasks and lengths
    if limit:
        frame = frame.head(limit)
    return frame["text"].tolist(), frame["task"].tolist()


def measure(signature, texts: list[str], tasks: list[str] | None, single_calls: int, warmup: int,
            batch_size: int, batches: int) -> dict:
    """Times ``signature`` on single reviews and on batches; returns the figures."""
    import tensorflow as tf

    def call(rows: slice):
        feed = {"text": tf.constant(texts[rows])}
        if tasks is not None:
            feed["task"] = tf.constant(tasks[rows])
        return signature(**feed)["probabilities"].numpy()

    n = len(texts)
    for i in range(warmup):
        call(slice(i % n, i % n + 1))
    latencies = []
    for i in range(single_calls):
        start = time.perf_counter()
        call(slice(i % n, i % n + 1))
        latencies.append((time.perf_counter() - start) * 1000.0)
    starts = [(j * batch_size) % max(1, n - batch_size + 1) for j in range(batches)]
    for start in starts[: max(1, min(3, batches))]:  # warm-up at this shape
        call(slice(start, start + batch_size))
    begin = time.perf_counter()
    rows = 0
    for start in starts:
        rows += call(slice(start, start + batch_size)).shape[0]
    elapsed = time.perf_counter() - begin
    latencies = np.array(latencies)
    return {
        "p50_ms": round(float(np.percentile(latencies, 50)), 3),
        "p99_ms": round(float(np.percentile(latencies, 99)), 3),
        "mean_ms": round(float(latencies.mean()), 3),
        f"batch{batch_size}_reviews_per_s": round(rows / elapsed, 1),
        f"batch{batch_size}_ms_per_batch": round(1000.0 * elapsed / len(starts), 3),
        "single_calls": single_calls,
        "batches": len(starts),
        "batch_size": batch_size,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m experiments.bench_serving", description=__doc__.split("\n\n")[0])
    parser.add_argument("--export-dir", required=True, help="a version folder written by python -m export")
    parser.add_argument("--tasks", help="comma-separated tasks whose test reviews to use (default: the export's)")
    parser.add_argument("--data-dir", help="FDU-MTL folder (default: as tf_aspmtl.data finds it)")
    parser.add_argument("--single-calls", type=positive_int, default=1000)
    parser.add_argument("--warmup", type=non_negative_int, default=50)
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--batches", type=positive_int, default=50)
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT), help="results JSON (default: %(default)s)")
    parser.add_argument("--threads", action="append", metavar="INTRA,INTER",
                        help="TensorFlow thread pools to measure, 'default' or e.g. '1,2' (repeatable; the first "
                             "is the headline; default: 'default')")
    parser.add_argument("--compare-export-dir", action="append", default=[], metavar="DIR",
                        help="another export measured side by side, e.g. the same model exported with --chunk-rows 0")
    parser.add_argument("--rounds", type=int,
                        help="rounds over every variant, each in its own process, the best round kept (default: 2 "
                             "with several variants; 1, in this process, with one)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return parser


def parse_threads(spec: str) -> tuple[int | None, int | None]:
    """'default' -> (None, None); 'INTRA,INTER' -> (intra, inter)."""
    if spec == "default":
        return None, None
    try:
        intra, inter = (int(x) for x in spec.split(","))
    except ValueError:
        raise SystemExit(f"bench_serving: --threads {spec!r}: expected 'default' or INTRA,INTER such as 1,2") from None
    return intra, inter


def _variant_figures(args, export_dir: Path, threads: str) -> dict:
    """Figures of one (export, threads) variant, measured in a fresh process (thread pools are per process)."""
    cmd = [sys.executable, "-m", "experiments.bench_serving", "--worker", "--export-dir", str(export_dir),
           "--threads", threads, "--single-calls", str(args.single_calls), "--warmup", str(args.warmup),
           "--batch-size", str(args.batch_size), "--batches", str(args.batches), "--output", os.devnull]
    if args.tasks:
        cmd += ["--tasks", args.tasks]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"bench_serving worker {export_dir} threads {threads} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare_variants(args, export_dirs: list[Path], threads: list[str]) -> list[dict]:
    """Every (export, threads) pair, ``--rounds`` times in turn; the best round of each is kept."""
    rate = f"batch{args.batch_size}_reviews_per_s"
    samples: dict[tuple[str, str], list[dict]] = {}
    for round_ in range(args.rounds):
        for export_dir in export_dirs:
            for spec in threads:
                figures = _variant_figures(args, export_dir, spec)
                samples.setdefault((str(export_dir), spec), []).append(figures)
                print(f"  round {round_ + 1}: {export_dir} threads {spec}: p50 {figures['p50_ms']:.2f} ms, "
                      f"{figures[rate]:.0f} reviews/s", flush=True)
    variants = []
    for (export_dir, spec), runs in samples.items():
        best = dict(max(runs, key=lambda r: r[rate]))
        best["p50_ms"] = min(r["p50_ms"] for r in runs)
        best["p99_ms"] = min(r["p99_ms"] for r in runs)
        best[f"{rate}_all_rounds"] = [r[rate] for r in runs]
        info = export_info(Path(export_dir))
        variants.append({"export_dir": str(Path(export_dir).resolve()), "chunk_rows": info.get("chunk_rows"),
                         "threads": spec, **best})
    return variants


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    export_dirs = [Path(d) for d in [args.export_dir, *args.compare_export_dir]]
    for export_dir in export_dirs:
        if not (export_dir / "saved_model.pb").is_file():
            raise SystemExit(f"bench_serving: no saved_model.pb in {str(export_dir)!r}; pass a version folder "
                             "such as exports/books/1")
    threads = args.threads or ["default"]
    for spec in threads:
        parse_threads(spec)
    export_dir = export_dirs[0]
    info = export_info(export_dir)
    tasks = args.tasks.split(",") if args.tasks else info.get("tasks")
    if not tasks:
        raise SystemExit(f"bench_serving: {str(export_dir)!r} names no task (no assets.extra/export.json); "
                         "pass --tasks")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.rounds is not None and args.rounds < 1:
        raise SystemExit(f"bench_serving: --rounds {args.rounds}: expected 1 or more")
    several = len(export_dirs) > 1 or len(threads) > 1
    args.rounds = args.rounds or (2 if several else 1)
    if several or args.rounds > 1:
        variants = compare_variants(args, export_dirs, threads)
        figures = {k: v for k, v in variants[0].items() if k not in ("export_dir", "threads", "chunk_rows")}
        figures["variants"] = variants
    else:
        figures = None
    if figures is None:  # measured here, in this process, with these thread pools
        from tf_aspmtl.runtime import configure_cpu_threads

        configure_cpu_threads(*parse_threads(threads[0]))
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the TF Text ops the graph uses)
    texts, row_tasks = review_texts(tasks, args.data_dir)
    load_before = os.getloadavg()
    start = time.perf_counter()
    load_s = None
    if figures is None:
        signature = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
        load_s = round(time.perf_counter() - start, 2)
        multitask = "task" in signature.structured_input_signature[1]
        figures = measure(signature, texts, row_tasks if multitask else None, args.single_calls, args.warmup,
                          args.batch_size, args.batches)
    if args.worker:
        print(json.dumps(figures))
        return figures
    lengths = [len(t.split()) for t in texts]
    if load_s is None:  # the headline variant ran in a worker process; 0 = TensorFlow's default
        intra, inter = parse_threads(threads[0])
        tf_threads = {"spec": threads[0], "intra_op": intra or 0, "inter_op": inter or 0}
    else:
        tf_threads = {"spec": threads[0], "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                      "inter_op": tf.config.threading.get_inter_op_parallelism_threads()}
    result = {
        **figures,
        "goals": GOALS,
        "export_dir": str(export_dir.resolve()),
        "chunk_rows": info.get("chunk_rows"),
        "exported_model": {k: info.get(k) for k in ("model_name", "version", "tasks", "model", "source_model")},
        "training_run": training_run(info),
        "reviews": {"tasks": tasks, "count": len(texts), "mean_whitespace_tokens": round(float(np.mean(lengths)), 1)},
        "load_s": load_s,
        # Other processes share these cores: the 1-minute load average before and after the run.
        "machine_load_average_1min": {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)},
        "tf_threads": tf_threads,
        **provenance(command_line("experiments.bench_serving", argv)),
    }
    write_json(args.output, result)
    print(json.dumps({k: result[k] for k in ("p50_ms", "p99_ms", f"batch{args.batch_size}_reviews_per_s")}))
    return result


if __name__ == "__main__":
    main()
