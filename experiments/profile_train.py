"""Where a training step's time goes: TensorFlow's profiler on real FDU-MTL batches, summarised.

    python -m experiments.profile_train                           # ASP-MTL, 16 tasks, batch 16
    python -m experiments.profile_train --optimizer adam --output experiments/results/profile_asp_mtl_adam.json
    python -m experiments.profile_train --model sp-ngram --batch-size 64   # the n-gram model, best.json's features
    python -m experiments.profile_train --tasks books,dvd --model-tasks 16   # 16 tasks, batches of 2 of them

Trains the model for ``--warmup`` steps (tracing), then records ``--steps``
steps with ``tf.profiler.experimental`` (the trace TensorBoard's Profile tab
shows; it is written under ``--logdir``, which is not committed: open it with
``tensorboard --logdir`` and the ``tensorboard-plugin-profile`` package).
The trace's op events are then summed by op type and by part of the step
(forward, backward, optimiser), and the table is written to
``experiments/results/profile_<model>.json`` and ``.md``.

Times are CPU time of TensorFlow's compute threads, summed over threads: on
2 cores two ops that run at once both count, so the total can exceed the
wall-clock time, which is reported beside it.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from experiments import bench
from experiments.cli_types import fdu_mtl_tasks, int_at_least
from experiments.provenance import REPO_ROOT, command_line, provenance, write_atomic, write_json

NGRAM_MODEL = "sp-ngram"

OP_EVENT = re.compile(r"^(?P<name>[^:]+):(?P<type>[A-Za-z0-9_]+)$")
"""An op event in the trace is named ``<op name>:<op type>``; executor and tf.data events are not."""


OPTIMIZER_SCOPE = re.compile(r"(^|/)(lazy_)?adam(_\d+)?/")
"""The optimizer's name scope: Keras names a process's optimizers "adam", "adam_1", ... in the order they are made."""


def part_of_step(op_name: str) -> str:
    """Which part of a training step an op belongs to, from its name scope."""
    if OPTIMIZER_SCOPE.search(op_name):
        return "optimizer"
    if "gradient_tape/" in op_name:
        return "backward"
    return "forward"


def summarise(xplane_path: Path) -> dict[str, Any]:
    """Op time (ms, summed over compute threads) by op type and by part of the step."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(xplane_path.read_bytes())
    by_type: collections.Counter = collections.Counter()
    by_part: collections.Counter = collections.Counter()
    by_part_type: collections.Counter = collections.Counter()
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            if not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                match = OP_EVENT.match(plane.event_metadata[event.metadata_id].name)
                if not match:
                    continue
                ms = event.duration_ps / 1e9
                part = part_of_step(match["name"])
                by_type[match["type"]] += ms
                by_part[part] += ms
                by_part_type[(part, match["type"])] += ms
    total = sum(by_type.values())
    return {
        "op_ms_total": total,
        "by_part_ms": dict(by_part.most_common()),
        "top_ops": [
            {"part": part, "op_type": op_type, "ms": ms, "share": ms / total}
            for (part, op_type), ms in by_part_type.most_common(25)
        ],
    }


def markdown(result: dict[str, Any]) -> str:
    """The summary as a markdown report."""
    s, cfg = result["summary"], result["config"]
    batch_tasks = result.get("batch_tasks", result["tasks"])  # files written before --model-tasks lack it
    steps = cfg["steps"]
    lines = [
        f"# Where the time goes: {cfg['model']} training, {result['tasks']} tasks, batch {cfg['batch_size']}"
        + (f" (batches of {batch_tasks} of them)" if batch_tasks != result["tasks"] else ""),
        "",
        f"Command: `{result['command']}` (commit {result['commit'][:12]}).",
        f"Optimiser {cfg['optimizer']}; threads intra-op {cfg['intra_op_threads'] or 'TF default'}, "
        f"inter-op {cfg['inter_op_threads'] or 'TF default'}.",
        f"{steps} profiled steps took {result['wall_s']:.2f} s wall-clock ({result['wall_s'] / steps * 1000:.1f} ms a step); "
        f"TensorFlow ops used {s['op_ms_total'] / steps:.1f} ms of compute-thread time a step (summed over threads).",
        "",
        "| part of the step | ms a step | share |",
        "|---|---:|---:|",
    ]
    for part, ms in s["by_part_ms"].items():
        lines.append(f"| {part} | {ms / steps:.1f} | {ms / s['op_ms_total']:.0%} |")
    lines += ["", "| part | op type | ms a step | share |", "|---|---|---:|---:|"]
    for op in s["top_ops"][:15]:
        lines.append(f"| {op['part']} | {op['op_type']} | {op['ms'] / steps:.2f} | {op['share']:.1%} |")
    return "\n".join(lines) + "\n"


def ngram_model_and_batches(args) -> tuple[list[str], Any, Any]:
    """The n-gram model of ``experiments/configs/best.json`` (its features and learning rate) on the train split of
    ``--tasks`` and its seeded stream of ``--batch-size`` batches, the features computed once."""
    from experiments.ngram import config_from_flags
    from tf_aspmtl.data import load_fdu_mtl
    from tf_aspmtl.training.ngram_run import compiled_ngram_model, ngram_preprocessor, ngram_rows_dataset

    flags = ["--config", str(REPO_ROOT / "experiments" / "configs" / "best.json")]
    config = config_from_flags(flags + ([] if args.tasks == "all" else ["--tasks", args.tasks]))
    train = load_fdu_mtl(tasks=list(config.tasks), splits=("train",))
    model = compiled_ngram_model(config, ngram_preprocessor(config, train))
    return list(config.tasks), model, ngram_rows_dataset(model, train, args.batch_size, seed=0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="asp-mtl", help="model family: single, fs-mtl, sp-mtl, asp-mtl; or sp-ngram, "
                   "the shared/private n-gram model with experiments/configs/best.json's features and learning rate")
    p.add_argument("--tasks", type=fdu_mtl_tasks, default="all", help="comma-separated task names, or 'all'")
    p.add_argument("--batch-size", type=int_at_least(1), default=16)
    p.add_argument("--steps", type=int_at_least(1), default=50, help="profiled steps")
    p.add_argument("--warmup", type=int_at_least(1), default=20, help="untimed steps first (tracing)")
    p.add_argument("--model-tasks", type=int_at_least(0), default=0,
                   help="give the LSTM model this many tasks, the ones beyond --tasks absent from every batch (as "
                        "the benchmark's 16-against-2-task figure does); 0: the tasks of --tasks")
    bench.add_model_arguments(p)
    p.add_argument("--logdir", default=None, help="where the raw trace goes (default: a temporary folder)")
    p.add_argument("--output", default=None, help="JSON path (default experiments/results/profile_<model>.json)")
    args = p.parse_args(argv)
    if args.model_tasks and args.model == NGRAM_MODEL:
        p.error(f"--model-tasks is for the LSTM models; {NGRAM_MODEL} has the tasks of --tasks")
    from tf_aspmtl.data.paths import FDU_MTL_TASKS

    batch_tasks = len(FDU_MTL_TASKS) if args.tasks == "all" else len(args.tasks.split(","))
    if 0 < args.model_tasks < batch_tasks:
        p.error(f"--model-tasks {args.model_tasks} is fewer than the {batch_tasks} tasks of --tasks")

    from tf_aspmtl.runtime import configure_cpu_threads

    configure_cpu_threads(args.intra_op_threads, args.inter_op_threads)
    import keras
    import tensorflow as tf

    made_by = provenance(command_line("experiments.profile_train", argv))
    keras.utils.set_random_seed(0)
    if args.model == NGRAM_MODEL:
        tasks, model, batches = ngram_model_and_batches(args)
    else:
        tasks, vectorizer, ds, _ = bench.datasets(args)
        model = bench.build_model(args.model, tasks, vectorizer, args)
        batches = bench.adapt_batches(args.model, ds, args.max_length)
    model.fit(batches, steps_per_epoch=args.warmup, epochs=1, verbose=0)
    logdir = Path(args.logdir or tempfile.mkdtemp(prefix="tf_aspmtl_profile_"))
    print(f"profiling {args.steps} steps into {logdir}", flush=True)
    tf.profiler.experimental.start(str(logdir))
    started = time.perf_counter()
    model.fit(batches.skip(args.warmup), steps_per_epoch=args.steps, epochs=1, verbose=0)
    wall = time.perf_counter() - started
    tf.profiler.experimental.stop()
    traces = sorted(logdir.glob("plugins/profile/*/*.xplane.pb"))
    if not traces:
        raise RuntimeError(f"the profiler wrote no trace under {logdir}")
    result = {**made_by, "config": {k: v for k, v in vars(args).items() if k != "output"},
              "tasks": len(getattr(model, "task_names", tasks)), "batch_tasks": len(tasks), "wall_s": wall,
              "trace": str(traces[-1]), "summary": summarise(traces[-1])}
    output = Path(args.output or REPO_ROOT / "experiments" / "results" / f"profile_{args.model.replace('-', '_')}.json")
    write_json(output, result)
    report = markdown(result)
    write_atomic(output.with_suffix(".md"), report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
