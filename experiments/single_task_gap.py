"""The single-task gap that remains under the dev-chosen protocol (issue 23): per task against the paper, and the
figures from Table 2's run files that bear on its cause. A block of docs/RESULTS.md (``python -m experiments.tables
rebuild``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from experiments.result_files import paper_table, plus_minus

SINGLE = "single_w2v_ht"
"""The single-task LSTM under the dev-chosen protocol with head+tail truncation: the closest to the paper's."""
SINGLE_PROTOCOLS = ("single", "single_w2v", "single_w2v_ht")
"""The single-task protocols that read test (Table 2, its dev-chosen protocol, with head+tail)."""
MULTI_TASK = ("fs_mtl_w2v_ht", "sp_mtl_w2v_ht", "asp_mtl_w2v_ht")
PAPER_SINGLE, PAPER_FS = "lstm", "fs_mtl"


def _seeds(runs: dict[str, dict[int, dict[str, Any]]], settings) -> list[int]:
    """The seeds every one of ``settings`` has."""
    return sorted(set.intersection(*(set(runs.get(s, {})) for s in settings)))


def _dev_test(runs, setting: str, seeds: list[int]) -> tuple[float, float]:
    """Mean dev and test error of ``setting`` over ``seeds``."""
    return (float(np.mean([runs[setting][s]["avg_dev_error"] for s in seeds])),
            float(np.mean([runs[setting][s]["avg_test_error"] for s in seeds])))


def per_task_choice(runs, seed: int, settings=SINGLE_PROTOCOLS) -> float:
    """The mean test error when each task takes, on its own dev error, one of ``settings`` (the paper's per-task grid
    on dev, over the protocols that read test); a tie goes to the earlier setting."""
    tasks = list(runs[settings[0]][seed]["per_task"])
    chosen = [min(settings, key=lambda s: (runs[s][seed]["per_task"][t]["dev_error"], settings.index(s)))
              for t in tasks]
    return float(np.mean([runs[s][seed]["per_task"][t]["test_error"] for s, t in zip(chosen, tasks)]))


def single_task_gap(runs: dict[str, dict[int, dict[str, Any]]]) -> str:
    """The block (``runs``: the tables' runs, :func:`~experiments.result_files.load_runs`): per task, the paper's
    single-task LSTM, ours (:data:`SINGLE`, mean ± sd over seeds, dev beside),
    the gap and each side's FS-MTL gain; then the figures that bear on the gap's cause."""
    seeds = _seeds(runs, SINGLE_PROTOCOLS + MULTI_TASK)
    if not seeds:
        return "Not every single-task protocol and multi-task family under head+tail has a run of one seed yet."
    paper = paper_table()
    ours = runs[SINGLE]
    fs = runs["fs_mtl_w2v_ht"]
    lines = [f"Seeds {', '.join(map(str, seeds))}; test error %, mean ± sd over seeds; gap = ours − the paper's "
             "single-task LSTM; FS-MTL gain = single-task − FS-MTL test error, each side's own (ours: FS-MTL under "
             "the same protocol).", "",
             "| task | paper, single-task LSTM | ours, test | ours, dev | gap | paper's FS-MTL gain | our FS-MTL gain |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    gaps = {}
    for task in ours[seeds[0]]["per_task"]:
        test = [ours[s]["per_task"][task]["test_error"] for s in seeds]
        dev = [ours[s]["per_task"][task]["dev_error"] for s in seeds]
        ours_fs = np.mean(test) - np.mean([fs[s]["per_task"][task]["test_error"] for s in seeds])
        gaps[task] = float(np.mean(test) - paper.loc[task, PAPER_SINGLE])
        lines.append(f"| {task} | {paper.loc[task, PAPER_SINGLE]:.1f} | {plus_minus(test, 1)} | {np.mean(dev):.1f} | "
                     f"{gaps[task]:+.1f} | {paper.loc[task, PAPER_SINGLE] - paper.loc[task, PAPER_FS]:.1f} | "
                     f"{ours_fs:.1f} |")
    dev, test = _dev_test(runs, SINGLE, seeds)
    paper_single, paper_fs = float(paper[PAPER_SINGLE].mean()), float(paper[PAPER_FS].mean())
    worst = max(gaps, key=gaps.get)
    without_worst = float(np.mean([g for t, g in gaps.items() if t != worst]))
    worst_tests = ", ".join(f"{ours[s]['per_task'][worst]['test_error']:.1f}" for s in seeds)
    multi_task = {name.split("_w2v")[0].replace("_", "-").upper(): _dev_test(runs, name, seeds) for name in MULTI_TASK}
    multi = "; ".join(f"{name} {d:.2f} / {t:.2f}" for name, (d, t) in multi_task.items())
    optimism = [t - d for d, t in multi_task.values()]
    fs_test = multi_task["FS-MTL"][1]
    choice = [per_task_choice(runs, s) for s in seeds]
    lines += ["", "What bears on its cause:", "",
              f"- **The gap is {test - paper_single:+.2f} points on average** ({test:.2f} against "
              f"{paper_single:.2f}); {sum(g > 0 for g in gaps.values())} of {len(gaps)} tasks are above the "
              f"paper's. One task holds much of it: {worst} {gaps[worst]:+.1f} (test {worst_tests} over the seeds); "
              f"without it the mean gap is {without_worst:+.2f}.",
              f"- **On dev our single-task model is at {dev:.2f} %**, below the paper's test figure, and "
              f"{test - dev:.2f} points better than on test; the multi-task families' dev errors are "
              f"{min(optimism):.2f} to {max(optimism):.2f} points better than their test errors (dev / test: {multi}). A single-task run picks each task's epoch, "
              "out of up to 30, on that task's 200 dev rows; a multi-task run picks one epoch on all 3,200: the "
              "single-task dev figure is the more optimistic: a protocol below the paper's figure on dev is above it "
              "on test.",
              f"- **Choosing per task, on dev, among the three single-task protocols that read test** (the paper "
              f"chose its settings per task on dev): test {plus_minus(choice)} against {plus_minus([ours[s]['avg_test_error'] for s in seeds])} "
              "for the protocol alone, same seeds: a per-task choice on 200 dev rows adds noise, not accuracy.",
              f"- **Multi-task learning gains {test - fs_test:.2f} points here (single-task − FS-MTL) against "
              f"{paper_single - paper_fs:.2f} in the paper**, and our FS-MTL ({fs_test:.2f}) is below the paper's ({paper_fs:.2f}): the same "
              "encoders and training code match the paper where tasks share their data, and fall short where one "
              "task's 1,400 rows train an LSTM alone. What the paper does not state (hidden size, optimiser, "
              "epochs, length cap, vocabulary, how its word vectors were trained) is where the rest can come from; "
              "every stated factor the library can set was screened above."]
    return "\n".join(lines)
