"""How the tables of runs over seeds are computed and printed: paired differences, error tables, markdown, plots
and CSVs (:mod:`experiments.tables` and :mod:`experiments.table3` share them)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from experiments.result_files import LABELS, paper_table
from tf_aspmtl.analysis.seed_comparison import compare_runs
from tf_aspmtl.analysis.seed_comparison import error_table as seed_error_table

CSV_DECIMALS = 4
"""Decimals of the result CSVs; the frames hold their means and sds at that precision, so every table prints alike."""


def paired(runs, a: str, b: str) -> dict[str, Any] | None:
    """``a - b`` test error over the seeds both have, per (seed, task) and per seed (mean over tasks)."""
    comparison = compare_runs(runs.get(a, {}), runs.get(b, {}))
    return None if comparison is None else {"a": a, "b": b, **comparison}


def error_table(runs, settings, paper_columns: dict[str, str] | None):
    """:func:`tf_aspmtl.analysis.error_table` with the paper's column of each setting in ``paper_columns``."""
    frame = seed_error_table(runs, settings, CSV_DECIMALS)
    if frame is not None and paper_columns:
        paper = paper_table()
        for setting, column in paper_columns.items():
            frame[f"paper_{setting}"] = [float(paper[column].mean() if task == "average" else paper.loc[task, column])
                                         for task in frame["task"]]
    return frame


def format_mean_sd(mean: float, sd: float, seeds: int) -> str:
    if seeds == 0:
        return "–"
    return f"{mean:.1f}" if seeds == 1 else f"{mean:.1f} ± {sd:.1f}"


def interval_verdict(ci95, first_lower: str, second_lower: str) -> tuple[str, str]:
    """``(interval, verdict)`` of a paired comparison's 95 % interval over the seeds (``a - b``): ``first_lower``
    when it lies below 0, ``second_lower`` above, else no difference shown; one seed (NaN): no interval, no claim."""
    low, high = ci95
    if math.isnan(low):
        return "–", "one seed: nothing shown"
    return (f"[{low:+.2f}, {high:+.2f}]",
            first_lower if high < 0 else second_lower if low > 0 else "no difference shown")


def pair_line(p: dict[str, Any]) -> str:
    """One row of :data:`PAIR_HEADER`: the verdict is read off the 95 % interval over the seeds' mean differences
    (:func:`interval_verdict`)."""
    seeds = ", ".join(str(s) for s in p["seeds"])
    per_seed = ", ".join(f"{d:+.2f}" for d in p["per_seed_mean_over_tasks"])
    interval, verdict = interval_verdict(p["ci95"], f"{LABELS[p['a']]} better", f"{LABELS[p['b']]} better")
    return (f"| {LABELS[p['a']]} − {LABELS[p['b']]} | {seeds} | {p['pairs']} | **{p['mean']:+.2f}** | "
            f"{interval} | {per_seed} | {p['a_better_pairs']} / {p['b_better_pairs']} | {verdict} |")


PAIR_HEADER = ("| comparison (test error, points) | seeds | seed x task pairs | mean difference | "
               "95 % interval over seeds | per seed (mean over tasks) | pairs where the first / second is better | "
               "95 % interval over seeds says |"
               "\n|---|---|---:|---:|---|---|---|---|")


def markdown_table(frame, settings, paper_columns, title: str, pairs: list[dict[str, Any]], command: str,
                   wall_s: float | None = None) -> str:
    head = "| task | " + " | ".join(
        f"{LABELS[s]}" + (" | paper" if paper_columns and s in paper_columns else "") for s in settings) + " |"
    cols = sum(2 if paper_columns and s in paper_columns else 1 for s in settings)
    lines = [f"# {title}", "", f"Made by `{command}` from `experiments/results/tables/runs/*.json`. Test error %, "
             "mean ± sd over seeds (the epoch of each run chosen on dev); the paper's column beside ours.", "",
             head, "|---|" + "---:|" * cols]
    for _, row in frame.iterrows():
        cells = []
        for s in settings:
            cells.append(format_mean_sd(row[f"{s}_mean"], row[f"{s}_sd"], int(row[f"{s}_seeds"])))
            if paper_columns and s in paper_columns:
                cells.append(f"{row[f'paper_{s}']:.1f}")
        name = "**average**" if row["task"] == "average" else row["task"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    seeds = ", ".join(f"{LABELS[s]}: {int(frame[f'{s}_seeds'].iloc[-1])}" for s in settings)
    lines += ["", f"Seeds per setting: {seeds}.", ""]
    if wall_s is not None:
        lines += [f"Wall time of these runs, summed: {wall_s / 3600:.2f} h on this 2-core machine (each run's "
                  "`wall_time_s`; one run at a time, some while tests or other work shared the cores).", ""]
    lines += ["Paired differences (same seed: same initial weights and data order; negative = the first has lower "
              "error). The mean difference is the mean of the per-seed means; its 95 % t-interval is over the seeds "
              "(the tasks of one seed come from one model, so the seeds are the independent units; one seed: no "
              "interval):", "", PAIR_HEADER]
    lines += [pair_line(p) for p in pairs if p]
    return "\n".join(lines) + "\n"


def plot(frame, settings, paper_columns, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    x = np.arange(len(frame))
    width = 0.8 / (len(settings) * (2 if paper_columns else 1))
    fig, ax = plt.subplots(figsize=(16, 5))
    k = 0
    for i, s in enumerate(settings):
        color = plt.cm.tab10(i)
        ax.bar(x + k * width, frame[f"{s}_mean"], width, yerr=frame[f"{s}_sd"].fillna(0), color=color,
               label=f"{LABELS[s]} (ours)", capsize=2)
        k += 1
        if paper_columns and s in paper_columns:
            ax.bar(x + k * width, frame[f"paper_{s}"], width, color=color, alpha=0.35, hatch="//",
                   label=f"{LABELS[s]} (paper)")
            k += 1
    ax.set_xticks(x + width * (k - 1) / 2, frame["task"], rotation=45, ha="right")
    ax.set_ylabel("test error %")
    ax.set_title(title)
    ax.legend(ncol=4, fontsize=8)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.part.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)


def frame_csv(frame) -> str:
    """A table's CSV text, its numbers to :data:`CSV_DECIMALS` decimals."""
    return frame.to_csv(index=False, float_format=f"%.{CSV_DECIMALS}f")
