"""Where a served SavedModel's time goes: its signature called on real reviews under TensorFlow's profiler, op time
summed by op type (issue 22).

    python -m experiments.profile_serving --export-dir runs/best/export/books/1 --batch-sizes 1,64 \\
        --output experiments/results/profile_serving_ngram.json

Each batch size: the first reviews of the task's test split (``--task``, default the export's folder name), cut into
batches, called once to warm up, then ``--calls`` times under ``tf.profiler.experimental``; the trace's op events
are summed per op type (:func:`experiments.profile_train.summarise`) and divided by the calls. Op time is summed
over TensorFlow's compute threads, so two threads busy at once count twice; the wall time per call is beside it.
The reviews are the model's input only: their labels are not read.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from experiments.cli_types import int_at_least
from experiments.profile_train import summarise
from experiments.provenance import command_line, provenance, write_atomic, write_json


def batch_sizes(text: str) -> list[int]:
    """``--batch-sizes``: comma-separated whole numbers >= 1."""
    try:
        sizes = [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"comma-separated whole numbers, not {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"every batch size must be >= 1, not {text!r}")
    return sizes


def profile_batch_size(signature, texts: list[str], batch: int, calls: int) -> dict[str, Any]:
    """Op time per call by op type, and wall time per call, for ``calls`` calls of ``batch`` reviews each."""
    import tensorflow as tf

    batches = [tf.constant(texts[i:i + batch]) for i in range(0, len(texts) - batch + 1, batch)][:8]
    if not batches:
        raise SystemExit(f"profile_serving: fewer than {batch} reviews to make one batch")
    for x in batches:
        signature(text=x)
    logdir = Path(tempfile.mkdtemp(prefix="tf_aspmtl_profile_serving_"))
    tf.profiler.experimental.start(str(logdir))
    started = time.perf_counter()
    for i in range(calls):
        signature(text=batches[i % len(batches)])
    wall = time.perf_counter() - started
    tf.profiler.experimental.stop()
    traces = sorted(logdir.glob("plugins/profile/*/*.xplane.pb"))
    if not traces:
        raise RuntimeError(f"the profiler wrote no trace under {logdir}")
    summary = summarise(traces[-1])
    return {"batch_size": batch, "calls": calls, "wall_ms_per_call": 1e3 * wall / calls,
            "op_ms_per_call": summary["op_ms_total"] / calls,
            "top_ops": [{"op_type": op["op_type"], "ms_per_call": op["ms"] / calls, "share": op["share"]}
                        for op in summary["top_ops"]]}


def markdown(result: dict[str, Any]) -> str:
    lines = [f"# Where a served call's time goes: `{result['export_dir']}`", "",
             f"Made by `{result['command']}` at commit `{result['commit'][:12]}` ({result['note'] or 'no note'}). "
             "Op time summed over compute threads (two busy at once count twice), per call; wall time under the "
             "profiler, per call.", ""]
    for run in result["batch_sizes"]:
        lines += [f"## Batch {run['batch_size']}: {run['op_ms_per_call']:.3f} ms of ops, "
                  f"{run['wall_ms_per_call']:.3f} ms of wall time a call ({run['calls']} calls)", "",
                  "| op type | ms a call | share of op time |", "|---|---:|---:|"]
        lines += [f"| {op['op_type']} | {op['ms_per_call']:.4f} | {100 * op['share']:.1f} % |"
                  for op in run["top_ops"][:12]]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--export-dir", required=True, help="one task's SavedModel version folder (.../<task>/<version>)")
    p.add_argument("--task", help="whose test reviews to send (default: the export's task folder name)")
    p.add_argument("--batch-sizes", type=batch_sizes, default=[1, 64], help="comma-separated (default 1,64)")
    p.add_argument("--calls", type=int_at_least(1), default=300, help="profiled calls per batch size")
    p.add_argument("--output", required=True, help="results JSON (a .md beside it)")
    p.add_argument("--note", default="", help="what else ran on the machine")
    args = p.parse_args(argv)
    export_dir = Path(args.export_dir)
    if not (export_dir / "saved_model.pb").exists():
        p.error(f"--export-dir {export_dir}: no saved_model.pb there (give the version folder, e.g. .../books/1)")
    made_by = provenance(command_line("experiments.profile_serving", argv))
    import tensorflow as tf

    from tf_aspmtl.data import load_fdu_mtl

    task = args.task or export_dir.parent.name
    texts = load_fdu_mtl(tasks=[task], splits=("test",))["text"].tolist()
    signature = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    result = {**made_by, "note": args.note, "export_dir": str(export_dir), "task": task,
              "batch_sizes": [profile_batch_size(signature, texts, b, args.calls) for b in args.batch_sizes]}
    output = Path(args.output)
    write_json(output, result)
    write_atomic(output.with_suffix(".md"), markdown(result))
    print(markdown(result))
    return result


if __name__ == "__main__":
    main()
