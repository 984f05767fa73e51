"""Inference speed of an exported SavedModel: latency of one review and throughput at batch 64.

    python -m experiments.bench_serving --export-dir exports/books/1

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
export's ``assets.extra/export.json``). This measures the graph in-process;
TF Serving adds its request handling (and, over REST, JSON) on top.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from experiments.provenance import REPO_ROOT, command_line, provenance, write_json

DEFAULT_OUTPUT = REPO_ROOT / "experiments" / "results" / "bench_serving.json"
GOALS = {"p50_ms": 10.0, "batch64_reviews_per_s": 1500.0}


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
    parser.add_argument("--single-calls", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT), help="results JSON (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    export_dir = Path(args.export_dir)
    if not (export_dir / "saved_model.pb").is_file():
        raise SystemExit(f"bench_serving: no saved_model.pb in {str(export_dir)!r}; pass a version folder "
                         "such as exports/books/1")
    info = export_info(export_dir)
    tasks = args.tasks.split(",") if args.tasks else info.get("tasks")
    if not tasks:
        raise SystemExit(f"bench_serving: {str(export_dir)!r} names no task (no assets.extra/export.json); "
                         "pass --tasks")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the TF Text ops the graph uses)
    texts, row_tasks = review_texts(tasks, args.data_dir)
    load_before = os.getloadavg()
    start = time.perf_counter()
    signature = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    load_s = time.perf_counter() - start
    multitask = "task" in signature.structured_input_signature[1]
    figures = measure(signature, texts, row_tasks if multitask else None, args.single_calls, args.warmup,
                      args.batch_size, args.batches)
    lengths = [len(t.split()) for t in texts]
    result = {
        **figures,
        "goals": GOALS,
        "export_dir": str(export_dir.resolve()),
        "exported_model": {k: info.get(k) for k in ("model_name", "version", "tasks", "model", "source_model")},
        "training_run": training_run(info),
        "reviews": {"tasks": tasks, "count": len(texts), "mean_whitespace_tokens": round(float(np.mean(lengths)), 1)},
        "load_s": round(load_s, 2),
        # Other processes share these cores: the 1-minute load average before and after the run.
        "machine_load_average_1min": {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)},
        "tf_threads": {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                       "inter_op": tf.config.threading.get_inter_op_parallelism_threads()},
        **provenance(command_line("experiments.bench_serving", argv)),
    }
    write_json(args.output, result)
    print(json.dumps({k: result[k] for k in ("p50_ms", "p99_ms", f"batch{args.batch_size}_reviews_per_s")}))
    return result


if __name__ == "__main__":
    main()
