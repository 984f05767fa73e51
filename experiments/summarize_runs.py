"""One table of several ``experiments.train`` results, and their mean over seeds.

    python -m experiments.summarize_runs experiments/results/runs_asp/*.json \\
        experiments/results/reproduce_asp-mtl.json --output experiments/results/runs_asp/summary.md

Each input is a results JSON written by ``python -m experiments.train
--results``. Runs whose configs differ only in the seed form a group; the
table lists every run (mean dev and test error over its tasks, wall time,
command) and then each group's mean and standard deviation over its seeds.
Dev error is what selects; test error is reported, never used to choose.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from experiments.provenance import command_line, provenance, write_atomic, write_json

KEY_FIELDS = ("model", "optimizer", "max_length", "hidden_dim", "adversarial_objective", "unlabeled_fraction",
              "adversarial_weight", "difference_weight", "learning_rate", "embedding_dim", "batch_size")
"""Config fields that tell groups apart (every field but the seed that these experiments vary)."""
DEFAULTS_OF_OLDER_RUNS = {"optimizer": "adam"}
"""Fields that older results lack, with the value those runs used (before ``--optimizer`` existed, Adam)."""


def load_run(path: Path) -> dict[str, Any]:
    """The figures of one results JSON; a clear error if it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise SystemExit(f"summarize_runs: cannot read {path}: {err}") from None
    missing = [k for k in ("config", "avg_dev_error", "avg_test_error", "command") if k not in data]
    if missing:
        raise SystemExit(f"summarize_runs: {path} is not an experiments.train results file (no {missing})")
    config = {**DEFAULTS_OF_OLDER_RUNS, **data["config"]}
    return {
        "file": str(path),
        "group": {k: config.get(k) for k in KEY_FIELDS},
        "seed": config.get("seed"),
        "tasks": len(config.get("tasks", [])),
        "avg_dev_error": data["avg_dev_error"],
        "avg_test_error": data["avg_test_error"],
        "wall_time_s": data.get("wall_time_s"),
        "command": data["command"],
        "commit": data.get("commit"),
    }


def _label(group: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in group.items() if k in ("model", "optimizer", "max_length",
                                                                  "adversarial_objective", "unlabeled_fraction"))


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard deviation of dev and test error per group (runs differing only by seed)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault(json.dumps(run["group"], sort_keys=True), []).append(run)
    rows = []
    for members in groups.values():
        dev = [r["avg_dev_error"] for r in members]
        test = [r["avg_test_error"] for r in members]
        rows.append({
            "group": members[0]["group"],
            "label": _label(members[0]["group"]),
            "seeds": sorted(r["seed"] for r in members),
            "dev_mean": statistics.mean(dev), "dev_sd": statistics.stdev(dev) if len(dev) > 1 else None,
            "test_mean": statistics.mean(test), "test_sd": statistics.stdev(test) if len(test) > 1 else None,
        })
    return sorted(rows, key=lambda r: r["dev_mean"])


def markdown(runs: list[dict[str, Any]], groups: list[dict[str, Any]], command: str) -> str:
    def pm(mean, sd):
        return f"{mean:.2f}" + ("" if sd is None else f" ± {sd:.2f}")

    lines = [f"Made by `{command}`.", "", "| setting | seeds | dev error % | test error % |", "|---|---|---:|---:|"]
    for g in groups:
        lines.append(f"| {g['label']} | {', '.join(map(str, g['seeds']))} | {pm(g['dev_mean'], g['dev_sd'])} | "
                     f"{pm(g['test_mean'], g['test_sd'])} |")
    lines += ["", "Groups are sorted by mean dev error (the selection criterion); ± is the standard deviation "
              "over seeds.", "", "| setting | seed | tasks | dev % | test % | wall s | command |",
              "|---|---:|---:|---:|---:|---:|---|"]
    for r in sorted(runs, key=lambda r: (_label(r["group"]), r["seed"])):
        wall = "" if r["wall_time_s"] is None else f"{r['wall_time_s']:.0f}"
        lines.append(f"| {_label(r['group'])} | {r['seed']} | {r['tasks']} | {r['avg_dev_error']:.2f} | "
                     f"{r['avg_test_error']:.2f} | {wall} | `{r['command']}` |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("results", nargs="+", help="results JSON files of experiments.train")
    p.add_argument("--output", required=True, help="markdown table to write (a .json is written beside it)")
    args = p.parse_args(argv)
    runs = [load_run(Path(f)) for f in args.results]
    groups = summarise(runs)
    command = command_line("experiments.summarize_runs", argv)
    output = Path(args.output)
    write_atomic(output, markdown(runs, groups, command))
    write_json(output.with_suffix(".json"), {**provenance(command), "groups": groups, "runs": runs})
    print(output.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
