"""What stacking each kind of per-task variable into one variable would save in Adam's update (issue 22).

    python -m experiments.bench_adam_layout                         # 16 and 2 tasks, 300 steps, 3 alternations

With one task per batch, a training step of an N-task ASP-MTL updates every
task's private encoder and head (absent tasks get zero gradients, and Adam
moves them by their momentum), so the update's cost grows with N
(``experiments/results/speed_equality/tasks_2_vs_16.md``). This times
``keras.optimizers.Adam``'s update of the paper-scale ASP-MTL's dense
variables (the embedding left out: LazyAdam updates its rows sparsely) in two
layouts of the same numbers: (a) as the model holds them, one variable per
task and kind; (b) stacked, one variable per shape with a leading axis, as a
model that read its per-task weights with a gather would hold them. Same
elements, same element-wise arithmetic; (b) has one update per kind instead
of one per task and kind. The two layouts are timed alternately in one
process, each with fixed random gradients, after a warm-up.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from experiments.cli_types import int_at_least
from experiments.provenance import REPO_ROOT, command_line, provenance, write_atomic, write_json

OUTPUT = REPO_ROOT / "experiments" / "results" / "speed_equality" / "adam_layout.json"


def dense_variable_shapes(num_tasks: int, embedding_dim: int = 50, hidden_dim: int = 100) -> list[tuple[int, ...]]:
    """Shapes of the paper-scale ASP-MTL's trainable variables for ``num_tasks`` tasks, the embedding left out."""
    from tf_aspmtl.models import get_model_family

    tasks = [f"task_{i}" for i in range(num_tasks)]
    model = get_model_family("asp-mtl")(tasks, vocabulary_size=1000, embedding_dim=embedding_dim,
                                        hidden_dim=hidden_dim)
    model.build()
    return [tuple(v.shape) for v in model.trainable_variables if "embedding" not in v.path]


def time_update(shapes: list[tuple[int, ...]], stacked: bool, steps: int, warmup: int = 10) -> float:
    """Milliseconds a step of Adam's update of variables of ``shapes`` (each its own, or stacked by shape)."""
    import keras
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    if stacked:
        counts: dict[tuple[int, ...], int] = {}
        for shape in shapes:
            counts[shape] = counts.get(shape, 0) + 1
        shapes = [(n, *shape) for shape, n in counts.items()]
    variables = [keras.Variable(rng.normal(size=s).astype("float32")) for s in shapes]
    grads = [tf.constant(rng.normal(size=s).astype("float32")) for s in shapes]
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(variables)
    step = tf.function(lambda: optimizer.apply(grads, variables))
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps * 1e3


def markdown(payload: dict[str, Any]) -> str:
    """The result file's table: each layout's times a step, per task count."""
    lines = ["# Adam's update of ASP-MTL's dense variables: one variable per task and kind, or stacked by shape", "",
             f"`{payload['command']}` at commit `{payload['commit'][:7]}`, {payload['steps']} steps a timing, "
             f"layouts alternated in one process ({payload['machine']['cpu_model']}, "
             f"{payload['machine']['cpu_count']} cores; 1-minute load {payload['load_average_1min']['before']:.2f} "
             f"before, {payload['load_average_1min']['after']:.2f} after; what else ran: the command's note).", "",
             "| model tasks | dense variables | elements | one variable per task and kind, ms a step | "
             "stacked by shape, ms a step |", "|---:|---:|---:|---|---|"]
    for tasks, r in payload["results"].items():
        per_task, stacked = (", ".join(f"{t:.2f}" for t in r["ms_per_step"][k]) for k in ("per_task", "stacked"))
        lines.append(f"| {tasks} | {r['variables']} | {r['elements']:,} | {per_task} | {stacked} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-tasks", default="2,16", type=lambda text: [int_at_least(2)(x) for x in text.split(",")],
                   help="comma-separated task counts, each >= 2 (ASP-MTL's adversary needs two; default 2,16)")
    p.add_argument("--steps", type=int_at_least(1), default=300)
    p.add_argument("--repeats", type=int_at_least(1), default=3, help="alternations of the two layouts")
    p.add_argument("--note", default="", help="what else ran on the machine")
    p.add_argument("--output", default=str(OUTPUT))
    args = p.parse_args(argv)

    load_before = os.getloadavg()[0]
    results: dict[str, Any] = {}
    for tasks in args.model_tasks:
        shapes = dense_variable_shapes(tasks)
        runs: dict[str, list[float]] = {"per_task": [], "stacked": []}
        for _ in range(args.repeats):
            for layout in runs:
                runs[layout].append(time_update(shapes, layout == "stacked", args.steps))
        results[str(tasks)] = {"variables": len(shapes), "elements": sum(math.prod(s) for s in shapes),
                               "ms_per_step": runs}
        print(f"{tasks:3d} tasks, {len(shapes)} dense variables: Adam update per_task "
              + ", ".join(f"{t:.2f}" for t in runs["per_task"]) + " ms; stacked by shape "
              + ", ".join(f"{t:.2f}" for t in runs["stacked"]) + " ms")
    payload = {**provenance(command_line("experiments.bench_adam_layout", argv)), "note": args.note,
               "steps": args.steps, "results": results,
               "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]}}
    write_json(args.output, payload)
    write_atomic(Path(args.output).with_suffix(".md"), markdown(payload))
    print(f"wrote {os.path.relpath(args.output, REPO_ROOT)} and its .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
