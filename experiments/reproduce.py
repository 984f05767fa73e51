"""Reproduce the paper's Table 2 on all 16 FDU-MTL tasks: one paper-scale run per family.

    nohup python -m experiments.reproduce > runs/reproduce.log 2>&1 &

Each family runs ``experiments.train --paper-scale`` in ``runs/reproduce/<family>``
and writes ``experiments/results/reproduce_<family>.json``. Interrupted? Run
the same command again: finished families are skipped, a family cut short
resumes from its last epoch (BackupAndRestore) and, for the single-task
family, from its last finished task. The summary (``table2_reproduction.md``,
``.json`` and ``.png``) compares test error with the paper's and is rebuilt
from whatever families have finished.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from experiments import train
from experiments.train import PAPER_COLUMNS, paper_table
from experiments.provenance import REPO_ROOT, command_line, provenance, write_atomic, write_json

RESULTS = REPO_ROOT / "experiments" / "results"
logger = logging.getLogger("experiments.reproduce")


def summarize(families: list[str], command: str) -> dict[str, Any] | None:
    """Collects finished families into one table beside the paper's numbers."""
    paper = paper_table()
    rows, finished = [], {}
    for family in families:
        path = RESULTS / f"reproduce_{family}.json"
        if not path.exists():
            continue
        result = json.loads(path.read_text())
        finished[family] = {
            "avg_dev_error": result["avg_dev_error"],
            "avg_test_error": result["avg_test_error"],
            "paper_avg_test_error": float(paper[PAPER_COLUMNS[family]].mean()),
            "wall_time_s": result["wall_time_s"],
            "commit": result["commit"],
        }
        for task, r in result["per_task"].items():
            rows.append({"family": family, "task": task, "dev_error": r["dev_error"], "test_error": r["test_error"],
                         "paper_test_error": float(paper.loc[task, PAPER_COLUMNS[family]])})
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    summary = {"families": finished, "per_task": rows, **provenance(command)}
    write_json(RESULTS / "table2_reproduction.json", summary)
    write_atomic(RESULTS / "table2_reproduction.md", _markdown(frame, finished, command))
    _plot(frame, RESULTS / "table2_reproduction.png")
    return summary


def _markdown(frame: pd.DataFrame, finished: dict[str, Any], command: str) -> str:
    test = frame.pivot(index="task", columns="family", values="test_error")
    paper = frame.pivot(index="task", columns="family", values="paper_test_error")
    families = [f for f in PAPER_COLUMNS if f in test.columns]
    order = [t for t in paper_table().index if t in test.index]
    head = "| task | " + " | ".join(f"{f} ours | {f} paper" for f in families) + " |"
    lines = [
        "# Table 2 reproduction: test error % on FDU-MTL (epoch selected on dev)",
        "",
        f"Made by `{command}` from the per-family results `reproduce_<family>.json`",
        "(each holds its own command, commit, versions and config).",
        "",
        head,
        "|---|" + "---:|---:|" * len(families),
    ]
    for task in order:
        cells = " | ".join(f"{test.loc[task, f]:.1f} | {paper.loc[task, f]:.1f}" for f in families)
        lines.append(f"| {task} | {cells} |")
    avg = " | ".join(
        f"**{finished[f]['avg_test_error']:.1f}** | {finished[f]['paper_avg_test_error']:.1f}" for f in families
    )
    lines.append(f"| **average** | {avg} |")
    lines.append("")
    lines.append("| family | avg dev error | avg test error | paper avg test error | wall time (s) |")
    lines.append("|---|---:|---:|---:|---:|")
    for f in families:
        r = finished[f]
        lines.append(f"| {f} | {r['avg_dev_error']:.1f} | {r['avg_test_error']:.1f} | "
                     f"{r['paper_avg_test_error']:.1f} | {r['wall_time_s']:.0f} |")
    return "\n".join(lines) + "\n"


def _plot(frame: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = [f for f in PAPER_COLUMNS if f in set(frame["family"])]
    fig, ax = plt.subplots(figsize=(7, 4))
    ours = [frame[frame.family == f].test_error.mean() for f in families]
    paper = [frame[frame.family == f].paper_test_error.mean() for f in families]
    x = range(len(families))
    ax.bar([i - 0.2 for i in x], ours, width=0.4, label="ours (tf-aspmtl)")
    ax.bar([i + 0.2 for i in x], paper, width=0.4, label="paper (Table 2)")
    ax.set_xticks(list(x), families)
    ax.set_ylabel("average test error over tasks (%)")
    ax.set_title("FDU-MTL, 16 tasks")
    ax.legend()
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--families", default="asp-mtl,sp-mtl,fs-mtl,single")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--summary-only", action="store_true", help="only rebuild the summary from finished families")
    args = p.parse_args(argv)
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    command = command_line("experiments.reproduce", argv)
    for family in families if not args.summary_only else []:
        target = RESULTS / f"reproduce_{family}.json"
        if target.exists():
            logger.info("%s: done already (%s)", family, target)
            continue
        logger.info("%s: paper-scale run", family)
        train.main(["--model", family, "--paper-scale", "--seed", str(args.seed),
                    "--output-dir", str(REPO_ROOT / "runs" / "reproduce" / family),
                    "--results", str(target), "--verbose", "2"])
        summarize(families, command)
    summarize(families, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
