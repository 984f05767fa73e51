"""Do two runs of the same command give the same numbers? Per-task errors, best epochs and every logged epoch value.

    python -m experiments.equality --pair main-job BEFORE.json AFTER.json --pair ngram BEFORE.json AFTER.json \\
        --output experiments/results/redesign_equality.json

A refactor must change no arithmetic: the same command on the same machine,
before and after, must give the same numbers, not just similar ones. Each
pair is two results files of ``experiments.train`` or ``experiments.ngram``;
the output (JSON, and a Markdown table beside it) gives, per pair, the
largest absolute difference of any per-task dev or test error and of any
logged epoch value (every loss term and metric), and the tasks that differ.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from experiments.provenance import command_line, provenance, write_atomic, write_json


def _history(results: dict) -> dict[str, list[float]]:
    """Every logged epoch series of a results file, by name (``experiments.train`` nests them by stage)."""
    history = results.get("history") or {}
    if history and all(isinstance(v, dict) for v in history.values()):
        return {f"{stage}/{k}": v for stage, logs in history.items() for k, v in logs.items()}
    return history


def compare(before: dict, after: dict) -> dict[str, Any]:
    """How two results files of the same command differ: tasks, per-task errors, every logged epoch value.

    A figure one side lacks (a dev-only run's test error) is left out of the comparison, not counted as a
    difference; a task one side lacks is one."""
    tasks = sorted(set(before["per_task"]) | set(after["per_task"]))
    errors = 0.0
    differing = []
    for task in tasks:
        a, b = before["per_task"].get(task), after["per_task"].get(task)
        if a is None or b is None:
            differing.append(task)
            continue
        shared = [k for k in sorted(set(a) & set(b)) if a[k] is not None and b[k] is not None]
        if any(a[k] != b[k] for k in shared):
            differing.append(task)
        for key in ("dev_error", "test_error"):
            if key in shared:
                errors = max(errors, abs(a[key] - b[key]))
    a_history, b_history = _history(before), _history(after)
    largest, values = 0.0, 0
    for key in sorted(set(a_history) & set(b_history)):
        if len(a_history[key]) != len(b_history[key]):
            differing.append(f"epochs logged for {key}")
        for x, y in zip(a_history[key], b_history[key]):
            largest, values = max(largest, abs(float(x) - float(y))), values + 1
    return {
        "tasks": len(tasks), "tasks_differing": differing,
        "largest_error_difference": errors, "largest_history_difference": largest,
        "history_values_compared": values,
        "avg_dev_error": [before.get("avg_dev_error"), after.get("avg_dev_error")],
        "avg_test_error": [before.get("avg_test_error"), after.get("avg_test_error")],
        "commits": [before.get("commit"), after.get("commit")],
        "commands": [before.get("command"), after.get("command")],
        "same": not differing and errors == 0.0 and largest == 0.0,
    }


def markdown(result: dict) -> str:
    lines = ["# The same numbers before and after?", "", f"Made by `{result['command']}`.", "",
             "| run | commit before | commit after | mean dev % before / after | mean test % before / after | "
             "largest per-task error difference | largest epoch-log difference (values) | same |",
             "|---|---|---|---|---|---:|---:|---|"]
    for name, pair in result["pairs"].items():
        dev, test = ([("–" if v is None else f"{v:.4f}") for v in pair[key]] for key in ("avg_dev_error", "avg_test_error"))
        lines.append(f"| {name} | `{str(pair['commits'][0])[:12]}` | `{str(pair['commits'][1])[:12]}` | "
                     f"{dev[0]} / {dev[1]} | {test[0]} / {test[1]} | "
                     f"{pair['largest_error_difference']} | {pair['largest_history_difference']} "
                     f"({pair['history_values_compared']}) | {'yes' if pair['same'] else '**no**'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pair", nargs=3, action="append", required=True, metavar=("NAME", "BEFORE", "AFTER"))
    p.add_argument("--output", help="JSON file to write (a .md table is written beside it)")
    args = p.parse_args(argv)
    pairs = {name: compare(*(json.loads(Path(x).read_text(encoding="utf-8")) for x in (before, after)))
             for name, before, after in args.pair}
    result = {**provenance(command_line("experiments.equality", argv)), "pairs": pairs,
              "same": all(pair["same"] for pair in pairs.values())}
    text = markdown(result)
    print(text)
    if args.output:
        write_json(Path(args.output), result)
        write_atomic(Path(args.output).with_suffix(".md"), text)
    return 0 if result["same"] else 1


if __name__ == "__main__":
    sys.exit(main())
