"""Are two experiments.train results the same run? Every per-task error, best epoch and logged epoch value, compared.

    python -m experiments.compare_runs experiments/results/tables/runs/asp_mtl_seed0.json \\
        experiments/results/main_job.json --output experiments/results/refactor_equality.md

Used to show that a refactor changed no arithmetic: the same command before
and after must give the same numbers, not just similar ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from experiments.provenance import command_line, write_atomic


def compare(a: dict, b: dict) -> dict:
    tasks = sorted(set(a["per_task"]) | set(b["per_task"]))
    differing = [t for t in tasks if a["per_task"].get(t) != b["per_task"].get(t)]
    histories_a, histories_b = a.get("history", {}), b.get("history", {})
    largest, values = 0.0, 0
    for group in set(histories_a) & set(histories_b):
        for key in set(histories_a[group]) & set(histories_b[group]):
            for x, y in zip(histories_a[group][key], histories_b[group][key]):
                largest, values = max(largest, abs(x - y)), values + 1
    return {"tasks": len(tasks), "tasks_differing": differing, "history_values_compared": values,
            "largest_history_difference": largest,
            "epochs": [len(next(iter(h.values()))["loss"]) if h else 0 for h in (histories_a, histories_b)]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--output")
    args = p.parse_args(argv)
    a, b = (json.loads(Path(x).read_text(encoding="utf-8")) for x in (args.before, args.after))
    result = compare(a, b)
    same = not result["tasks_differing"] and result["largest_history_difference"] == 0.0
    lines = [
        "# Same run before and after?", "",
        f"Made by `{command_line('experiments.compare_runs', argv)}`.", "",
        "| | before | after |", "|---|---|---|",
        f"| command | `{a['command']}` | `{b['command']}` |",
        f"| commit | `{a['commit']}` | `{b['commit']}` |",
        f"| mean dev error % | {a['avg_dev_error']:.4f} | {b['avg_dev_error']:.4f} |",
        f"| mean test error % | {a['avg_test_error']:.4f} | {b['avg_test_error']:.4f} |",
        f"| epochs trained | {result['epochs'][0]} | {result['epochs'][1]} |",
        f"| wall time s | {a['wall_time_s']:.0f} | {b['wall_time_s']:.0f} |", "",
        f"Tasks whose dev error, test error or best epoch differ: {result['tasks_differing'] or 'none'} "
        f"(of {result['tasks']}). Largest difference over {result['history_values_compared']} logged epoch values "
        f"(every loss term and metric of every epoch): {result['largest_history_difference']}. "
        + ("**The same numbers.**" if same else "**Different numbers.**"), "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.output:
        write_atomic(args.output, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
