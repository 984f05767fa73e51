"""The paper's Table 2 over seeds, its ablations, and the queue that runs them.

    nohup python -m experiments.tables run table2 ablations > runs/tables.log 2>&1 &
    python -m experiments.tables status                 # what is finished, what is missing
    python -m experiments.tables rebuild                # docs/RESULTS.md, README's headline, every table and plot

Every run is one ``python -m experiments.train --paper-scale`` process with the
library's default optimiser (LazyAdam), 1 intra-op / 2 inter-op threads, and
a seed; it writes ``experiments/results/tables/runs/<name>.json`` when it
finishes. ``run`` starts, one at a time, every run whose JSON is missing, so
a killed queue continues where it stopped when started again (a run cut short
resumes from its last finished epoch, and the single-task family from its
last finished task); a finished run is never rerun. Runs of the same seed
share initial weights and data order, which is what the paired comparisons
of ``rebuild`` rely on.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments import best as best_script
from experiments import ngram, results_doc, select_ensembles
from experiments.train import parse_args, resolve_config
from experiments.provenance import REPO_ROOT, command_line, git_commit, write_atomic
from experiments.result_files import (
    FAMILIES,
    LABELS,
    PAPER_COLUMN,
    PREVIOUS_4TASK_WINNER,
    RESULTS as RESULT_FILES,
    TABLES as RESULTS,
    load_previous,
    load_runs,
    paper_table,
)
from tf_aspmtl.analysis.seed_comparison import compare_runs, mean_sd, summarize_differences
from tf_aspmtl.analysis.seed_comparison import error_table as seed_error_table

RUNS = RESULTS / "runs"
SEEDS = (0, 1, 2)
COMMON = ("--paper-scale", "--optimizer", "lazy-adam", "--intra-op-threads", "1", "--inter-op-threads", "2")
logger = logging.getLogger("experiments.tables")


@dataclass(frozen=True)
class RunSpec:
    """One training run of a table: a setting and a seed."""

    table: str
    setting: str
    seed: int
    flags: tuple[str, ...]
    module: str = "experiments.train"

    @property
    def name(self) -> str:
        return f"{self.setting}_seed{self.seed}"

    @property
    def result_path(self) -> Path:
        return RUNS / f"{self.name}.json"

    def command(self, runs_dir: Path) -> list[str]:
        common = COMMON if self.module == "experiments.train" else ()
        flags = [f.format(runs=runs_dir) for f in self.flags]
        return [
            sys.executable, "-m", self.module, *common, *flags, "--seed", str(self.seed),
            "--output-dir", str(runs_dir / self.name), "--results", str(self.result_path), "--verbose", "2",
        ]


PLAN_FILE = REPO_ROOT / "experiments" / "configs" / "table_runs.toml"
PLAN = tomllib.loads(PLAN_FILE.read_text(encoding="utf-8"))
"""table -> ``settings`` (setting -> its own flags), ``append`` (flags every run of the table adds), ``baseline``
and ``baselines`` (what each lever is paired with), ``skip_seeds``: :data:`PLAN_FILE`."""
TABLES = {table: {name: (*flags, *plan.get("append", ())) for name, flags in plan["settings"].items()}
          for table, plan in PLAN.items()}
"""table -> setting -> every flag of its runs."""
OWN_FLAGS = {name: tuple(flags) for plan in PLAN.values() for name, flags in plan["settings"].items()}
"""setting -> the flags that make it what it is (without its table's ``append``: what tables show)."""
TABLE2_SETTINGS, ABLATION_SETTINGS, SCREEN16_SETTINGS = TABLES["table2"], TABLES["ablations"], TABLES["screen16"]
LEVER_SETTINGS = {**TABLES["levers"], **TABLES["more_levers"]}
SCREEN_TASKS = PLAN["levers"]["append"][1]


def baseline(table: str, setting: str) -> str:
    """The setting a lever of ``table`` is paired with on dev."""
    return PLAN[table].get("baselines", {}).get(setting, PLAN[table]["baseline"])


LEVERS_FROM_ABLATIONS = {"asp_mtl_confusion": "confusion", "asp_mtl_unlabeled": "unlabeled"}
"""Ablation runs (16 tasks, paired with ASP-MTL) that double as lever screens."""


TABLE3_SEEDS = (0,)
TRANSFER_FAMILIES = {"sp_mtl": "sp-mtl", "asp_mtl": "asp-mtl"}


def table3_runs(seeds=TABLE3_SEEDS) -> list[RunSpec]:
    """For every task: SP-MTL and ASP-MTL trained on the other 15, then SC and BC on the held-out task."""
    from tf_aspmtl.data.paths import FDU_MTL_TASKS

    specs = []
    for seed in seeds:
        for task in FDU_MTL_TASKS:
            others = ",".join(t for t in FDU_MTL_TASKS if t != task)
            for family, model in TRANSFER_FAMILIES.items():
                source = RunSpec("table3", f"t3src_{family}_no_{task}", seed, ("--model", model, "--tasks", others))
                specs.append(source)
                for mode in ("sc", "bc"):
                    specs.append(RunSpec(
                        "table3", f"t3_{family}_{mode}_{task}", seed,
                        ("--source-model", "{runs}/" + source.name + "/model/model.keras", "--task", task,
                         "--mode", mode),
                        module="experiments.transfer",
                    ))
    return specs


def planned_runs(tables: list[str], seeds: list[int] | None = None,
                 settings: list[str] | None = None) -> list[RunSpec]:
    """Every run of ``tables`` (only ``seeds`` and ``settings`` if given), seed-major so that early seeds complete
    whole comparisons first."""
    specs = []
    for table in tables:
        if table == "table3":
            specs += table3_runs()
            continue
        skip = PLAN[table].get("skip_seeds", {})
        for seed in SEEDS:
            for setting, flags in TABLES[table].items():
                if seed not in skip.get(setting, ()):
                    specs.append(RunSpec(table, setting, seed, flags))
    if settings is not None:
        unknown = sorted(set(settings) - {spec.setting for spec in specs})
        if unknown:
            raise SystemExit(f"unknown setting(s) {unknown} for tables {tables}")
    return [spec for spec in specs if (seeds is None or spec.seed in seeds)
            and (settings is None or spec.setting in settings)]


def run_queue(tables: list[str], runs_dir: Path, seeds: list[int] | None = None,
              settings: list[str] | None = None) -> int:
    """Runs every missing run of ``tables`` (of ``seeds`` and ``settings`` if given), one process at a time; returns
    the number of failures."""
    failures = 0
    for spec in planned_runs(tables, seeds, settings):
        if spec.result_path.exists():
            continue
        command = spec.command(runs_dir)
        logger.info("starting %s: %s", spec.name, " ".join(command[1:]))
        started = time.time()
        code = subprocess.call(command, cwd=REPO_ROOT)
        logger.info("%s ended with exit code %d after %.0f s", spec.name, code, time.time() - started)
        if code != 0 or not spec.result_path.exists():
            failures += 1
    return failures


def status(tables: list[str], seeds: list[int] | None = None, settings: list[str] | None = None) -> str:
    lines = []
    for spec in planned_runs(tables, seeds, settings):
        lines.append(f"{'done   ' if spec.result_path.exists() else 'missing'} {spec.table:9s} {spec.name}")
    return "\n".join(lines)


# ---------------------------------------------------------------- rebuild
TABLE2_PAIRS = (("asp_mtl", "sp_mtl"), ("sp_mtl", "fs_mtl"), ("fs_mtl", "single"))
ABLATION_PAIRS = tuple((a, "asp_mtl") for a in ABLATION_SETTINGS)
README = REPO_ROOT / "README.md"
RESULTS_DOC = REPO_ROOT / "docs" / "RESULTS.md"
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


def _fmt(mean: float, sd: float, seeds: int) -> str:
    if seeds == 0:
        return "–"
    return f"{mean:.1f}" if seeds == 1 else f"{mean:.1f} ± {sd:.1f}"


def pair_line(p: dict[str, Any]) -> str:
    seeds = ", ".join(str(s) for s in p["seeds"])
    per_seed = ", ".join(f"{d:+.2f}" for d in p["per_seed_mean_over_tasks"])
    low, high = p["ci95"]
    interval = "–" if math.isnan(low) else f"[{low:+.2f}, {high:+.2f}]"  # one pair: no interval
    verdict = (f"{LABELS[p['a']]} better" if high < 0 else f"{LABELS[p['b']]} better" if low > 0
               else "no difference shown" if interval != "–" else "one pair: nothing shown")
    if len(p["seeds"]) < 2:  # the interval spans tasks only: seed-to-seed variation is not in it
        verdict += " (one seed: not settled)"
    return (f"| {LABELS[p['a']]} − {LABELS[p['b']]} | {seeds} | {p['pairs']} | **{p['mean']:+.2f}** | "
            f"{interval} | {per_seed} | {p['a_better_pairs']} / {p['b_better_pairs']} | {verdict} |")


PAIR_HEADER = ("| comparison (test error, points) | seeds | seed x task pairs | mean difference | 95 % interval | "
               "per seed (mean over tasks) | pairs where the first / second is better | 95 % interval says |"
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
            cells.append(_fmt(row[f"{s}_mean"], row[f"{s}_sd"], int(row[f"{s}_seeds"])))
            if paper_columns and s in paper_columns:
                cells.append(f"{row[f'paper_{s}']:.1f}")
        name = "**average**" if row["task"] == "average" else row["task"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    seeds = ", ".join(f"{LABELS[s]}: {int(frame[f'{s}_seeds'].iloc[-1])}" for s in settings)
    lines += ["", f"Seeds per setting: {seeds}.", ""]
    if wall_s is not None:
        lines += [f"Wall time of these runs, summed: {wall_s / 3600:.2f} h on this 2-core machine (each run's "
                  "`wall_time_s`; one run at a time, some while tests or other work shared the cores).", ""]
    lines += [ "Paired differences (same seed: same initial weights "
              "and data order; negative = the first has lower error):", "", PAIR_HEADER]
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


def build(command: str, plots: bool = True) -> dict[Path, str]:
    """Every generated text file, from the result files alone: path -> content (nothing is written but the plots,
    with ``plots``). ``docs/RESULTS.md`` holds every result; README only its headline table."""
    runs = load_runs(RUNS)
    out: dict[Path, str] = {}
    blocks: dict[str, str] = {}

    def add(name: str, frame, md: str) -> None:
        out[RESULTS / f"{name}.csv"], out[RESULTS / f"{name}.md"] = frame_csv(frame), md
        blocks[name] = md

    table2 = error_table(runs, FAMILIES, PAPER_COLUMN)
    if table2 is not None:
        pairs = [paired(runs, a, b) for a, b in TABLE2_PAIRS]
        wall = sum(r["wall_time_s"] for f in FAMILIES for r in runs.get(f, {}).values())
        md = markdown_table(table2, FAMILIES, PAPER_COLUMN, "Table 2: the four families on the 16 FDU-MTL tasks",
                            pairs, command, wall_s=wall)
        add("table2", table2, md)
        if plots:
            plot(table2, FAMILIES, PAPER_COLUMN, RESULTS / "table2.png",
                 "Test error per task: ours (mean ± sd over seeds) and the paper's")
    ablation_settings = ("asp_mtl",) + tuple(ABLATION_SETTINGS)
    ablations = error_table(runs, ablation_settings, None)
    if ablations is not None and any(runs.get(s) for s in ABLATION_SETTINGS):
        pairs = [paired(runs, a, b) for a, b in ABLATION_PAIRS]
        md = markdown_table(ablations, ablation_settings, None, "Ablations of ASP-MTL on the 16 FDU-MTL tasks",
                            pairs, command)
        add("ablations", ablations, md)
    table3 = table3_frame(runs)
    if table3 is not None:
        pairs = [paired_transfer(runs, f"asp_mtl_{m}", f"sp_mtl_{m}") for m in ("sc", "bc")]
        add("table3", table3, table3_markdown(table3, [p for p in pairs if p], command))
        if plots:
            plot(table3, TRANSFER_COLUMNS, {c: c for c in TRANSFER_COLUMNS},
                 RESULTS / "table3.png", "Transfer to a held-out task: test error, ours and the paper's")
    levers = levers_table(runs)
    if levers is not None:
        add("levers", levers, levers_markdown(levers, command))
    best_seeds = sorted(int(p.stem[len("best_seed"):]) for p in best_script.RESULTS.glob("best_seed*.json")
                        if p.stem[len("best_seed"):].isdigit())
    if best_seeds:
        # best.md reads table2.csv: the one just made, not the file on disk
        blocks["best"] = out[best_script.REPORT] = best_script.report(best_seeds, command, table2_csv=out.get(
            RESULTS / "table2.csv"))
    tested = sorted(ngram.SCREEN_RESULTS.glob("sp_ngram_seed*.json"))
    if tested:
        blocks["ngram"] = out[RESULT_FILES / "ngram.md"] = ngram.summary(
            [str(p.relative_to(REPO_ROOT)) for p in tested])
    for pool, title in select_ensembles.TITLES.items():
        folder = select_ensembles.results_dir(pool)
        selected = select_ensembles.summary(folder, best_script.RESULTS, pool)
        if selected is not None:
            out[folder.with_suffix(".md")] = f"# {title}\n\n" + selected
            blocks[f"ensemble-selection-{pool}"] = selected
    out[RESULTS_DOC] = results_doc.results_markdown(blocks, command)
    out[README] = replace_blocks(README.read_text(encoding="utf-8"), {"headline": results_doc.headline(command, runs),
                                                                     "speed": results_doc.speed_summary()})
    return out


def rebuild(command: str) -> list[Path]:
    """Writes every file :func:`build` makes (and the plots); returns those whose content changed."""
    changed = []
    for path, text in build(command).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, text)
            changed.append(path)
    return changed


TRANSFER_COLUMNS = ("sp_mtl_sc", "sp_mtl_bc", "asp_mtl_sc", "asp_mtl_bc")


def _transfer_runs(runs, column: str) -> dict[str, dict[int, dict[str, Any]]]:
    """task -> seed -> results of the transfer runs of ``column`` (e.g. ``asp_mtl_bc``)."""
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for setting, by_seed in runs.items():
        if setting.startswith(f"t3_{column}_"):
            found[setting[len(f"t3_{column}_"):]] = by_seed
    return found


def table3_frame(runs):
    import pandas as pd

    if not any(_transfer_runs(runs, c) for c in TRANSFER_COLUMNS):
        return None
    paper = paper_table("table3_transfer_error_rates.csv")
    rows = []
    for task in list(paper.index) + ["average"]:
        row: dict[str, Any] = {"task": task}
        for column in TRANSFER_COLUMNS:
            by_task = _transfer_runs(runs, column)
            if task == "average":
                complete = [t for t in paper.index if t in by_task]
                values = ([sum(by_task[t][s]["avg_test_error"] for t in complete) / len(complete)
                           for s in set.intersection(*(set(by_task[t]) for t in complete))]
                          if len(complete) == len(paper.index) else [])
            else:
                values = [r["avg_test_error"] for r in by_task.get(task, {}).values()]
            mean, sd = mean_sd(values) if values else (float("nan"), float("nan"))
            row[f"{column}_mean"], row[f"{column}_sd"] = round(mean, CSV_DECIMALS), round(sd, CSV_DECIMALS)
            row[f"{column}_seeds"] = len(values)
            row[f"paper_{column}"] = float(paper[column].mean() if task == "average" else paper.loc[task, column])
        singles = runs.get("single", {})
        if singles:
            values = [r["avg_test_error"] if task == "average" else r["per_task"][task]["test_error"]
                      for r in singles.values()]
            row["single_mean"] = sum(values) / len(values)
        row["paper_single_avg"] = float(paper["single_avg"].mean() if task == "average" else paper.loc[task, "single_avg"])
        rows.append(row)
    return pd.DataFrame(rows)


def paired_transfer(runs, a: str, b: str) -> dict[str, Any] | None:
    """``a - b`` test error over the (task, seed) pairs both have."""
    ra, rb = _transfer_runs(runs, a), _transfer_runs(runs, b)
    diffs = [ra[t][s]["avg_test_error"] - rb[t][s]["avg_test_error"] for t in ra if t in rb
             for s in ra[t] if s in rb[t]]
    if not diffs:
        return None
    return {"a": a, "b": b, **summarize_differences(diffs, sorted({s for t in ra if t in rb for s in ra[t] if s in rb[t]}))}


def table3_markdown(frame, pairs, command: str) -> str:
    lines = ["# Table 3: transfer to a held-out task", "",
             f"Made by `{command}`. For each task, SP-MTL and ASP-MTL trained on the other 15 tasks; then SC "
             "(frozen shared encoder + new output layer) or BC (+ a new private encoder) trained on the held-out "
             "task's train split, epoch chosen on its dev split. Test error %, mean ± sd over seeds; the paper's "
             "column beside ours; `single` is our single-task LSTM from Table 2.", "",
             "| task | single (ours) | single (paper) | " + " | ".join(f"{LABELS[c]} | paper" for c in TRANSFER_COLUMNS)
             + " |", "|---|" + "---:|" * (2 + 2 * len(TRANSFER_COLUMNS))]
    for _, row in frame.iterrows():
        single = f"{row['single_mean']:.1f}" if "single_mean" in row and row["single_mean"] == row["single_mean"] else "–"
        cells = [single, f"{row['paper_single_avg']:.1f}"]
        for c in TRANSFER_COLUMNS:
            cells += [_fmt(row[f"{c}_mean"], row[f"{c}_sd"], int(row[f"{c}_seeds"])), f"{row[f'paper_{c}']:.1f}"]
        name = "**average**" if row["task"] == "average" else row["task"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "The average is given once every task has a run."]
    tasks = frame[frame["task"] != "average"]
    for c in TRANSFER_COLUMNS:
        done = tasks[tasks[f"{c}_seeds"] > 0]
        if 0 < len(done) < len(tasks):
            lines.append(f"- {LABELS[c]} so far, {len(done)} of {len(tasks)} tasks ({', '.join(done['task'])}): "
                         f"mean of the per-task means {done[f'{c}_mean'].mean():.2f}, the paper's on the same tasks "
                         f"{done[f'paper_{c}'].mean():.2f}.")
    lines += ["", "Paired differences (same held-out task and seed):", "", PAIR_HEADER] + [pair_line(p) for p in pairs]
    lines += table3_targets(frame, pairs)
    return "\n".join(lines) + "\n"


TABLE3_BC_TARGET = 14.3
"""The issue's transfer target: ASP-MTL-BC mean test error at most the paper's."""


def table3_targets(frame, pairs) -> list[str]:
    """The targets, met or missed, from the table's own numbers (empty until every task has a run)."""
    average = frame[frame["task"] == "average"].iloc[0]
    ours = average.get("asp_mtl_bc_mean", float("nan"))
    if ours != ours:
        return []
    lines = ["", "## Targets", "",
             f"- ASP-MTL-BC mean test error <= {TABLE3_BC_TARGET}: ours {ours:.2f} "
             f"({int(average['asp_mtl_bc_seeds'])} seed(s)): **{'met' if ours <= TABLE3_BC_TARGET else 'missed'}**."]
    for p in pairs:
        if p["a"].startswith("asp_mtl") and p["b"].startswith("sp_mtl"):
            low, high = p["ci95"]
            verdict = ("ASP better, paired" if high < 0 else "SP better, paired" if low > 0
                       else "not shown either way")
            lines.append(f"- {LABELS[p['a']]} better than {LABELS[p['b']]}: mean difference {p['mean']:+.2f} "
                         f"[{low:+.2f}, {high:+.2f}] over {p['pairs']} pairs: **{verdict}**.")
    single, paper_single = average.get("single_mean", float("nan")), average["paper_single_avg"]
    if single == single:
        columns = [c for c in TRANSFER_COLUMNS if average[f"{c}_mean"] == average[f"{c}_mean"]]
        gaps = [average[f"{c}_mean"] - average[f"paper_{c}"] for c in columns]
        lines.append(
            f"- What the evidence says: our transfer columns are {min(gaps):+.2f} to {max(gaps):+.2f} points from the "
            f"paper's, while our single-task baseline is {single - paper_single:+.2f} from the paper's ({single:.1f} "
            f"vs {paper_single:.1f}, Table 2's protocol and data): the same code and data give a much weaker "
            "single-task model than the paper reports, and transfer closes most of that gap. With one seed the "
            "columns' order is not settled: Table 2's sd over seeds shows how far a seed moves a 16-task average."
        )
    return lines


def _lever_row(runs, base: str, setting: str, lever: str, flags: str, screen: str) -> dict[str, Any] | None:
    seeds = sorted(set(runs.get(base, {})) & set(runs.get(setting, {})))
    if not seeds:
        return None
    b, r = runs[base], runs[setting]
    mean, sd = mean_sd([b[s]["avg_dev_error"] - r[s]["avg_dev_error"] for s in seeds])
    return {"lever": lever, "flags": flags, "screen": screen, "seeds": len(seeds),
            "dev_gain_mean": mean, "dev_gain_sd": sd,
            "dev_error_base": mean_sd([b[s]["avg_dev_error"] for s in seeds])[0],
            "dev_error_lever": mean_sd([r[s]["avg_dev_error"] for s in seeds])[0],
            "commands": " ; ".join(r[s]["command"] for s in seeds)}


NGRAM_BASELINE = "s16_ht_conf_unl"
"""What the shared/private n-gram model was screened against: the best LSTM configuration at the time."""


def levers_table(runs):
    """Each lever's paired dev gain over its baseline (same seeds): positive = lower dev error than the baseline.

    Screened levers are paired with ``lever_base`` (4 tasks, dev only); the
    ablations that are levers too with ASP-MTL on 16 tasks (their dev errors).
    """
    import pandas as pd

    rows = []
    for table in ("levers", "more_levers"):
        for setting in PLAN[table]["settings"]:
            if setting != "lever_base":
                base = baseline(table, setting)
                rows.append(_lever_row(runs, base, setting, setting[len("lever_"):], " ".join(OWN_FLAGS[setting]),
                                       f"4 tasks, dev only, vs {base[len('lever_'):]}"))
    for setting in SCREEN16_SETTINGS:
        base = baseline("screen16", setting)
        rows.append(_lever_row(runs, base, setting, setting, " ".join(OWN_FLAGS[setting]),
                               f"16 tasks, dev only, vs {base}"))
    with_ngram = {**runs, **ngram.load_screen_runs()}
    for name, flags in ngram.SCREEN_SETTINGS.items():
        base = ngram.screen_key(ngram.SCREEN_BASELINES[name]) if name in ngram.SCREEN_BASELINES else NGRAM_BASELINE
        lever = "the n-gram model instead of the LSTMs" if name == "sp_ngram" else f"n-gram model: {name}"
        rows.append(_lever_row(with_ngram, base, ngram.screen_key(name), lever,
                               " ".join(["python -m experiments.ngram", *flags]), f"16 tasks, dev only, vs {base}"))
    for setting, lever in LEVERS_FROM_ABLATIONS.items():
        rows.append(_lever_row(runs, "asp_mtl", setting, lever, " ".join(OWN_FLAGS[setting]), "16 tasks (ablation)"))
    best = load_previous(PREVIOUS_4TASK_WINNER)
    if best:
        rows.append(_lever_row({**runs, "best": best}, "asp_mtl", "best", "4-task winner on 16 tasks",
                               best_script.changed_fields(next(iter(best.values()))["config"]),
                               "16 tasks, full runs (experiments.best)"))
    rows = [r for r in rows if r is not None]
    return pd.DataFrame(rows) if rows else None


def levers_markdown(frame, command: str) -> str:
    lines = ["# Levers, screened on dev", "", f"4-task screens: {SCREEN_TASKS}.", "",
             f"Made by `{command}`. Each lever is the paper-scale ASP-MTL with one setting changed; gain = baseline "
             "dev error − lever dev error, paired by seed (positive = better). Screens on 4 tasks use `--dev-only` "
             "(the test split is never read) against `lever_base` (or the stacked baseline named); 16-task screens "
             "(`s16_*`, `--dev-only`) are paired with Table 2's ASP-MTL runs of the same seed (a stacked one, `s16_ht_*`, "
             "with the lever it stacks on); the confusion and "
             "unlabelled levers are the 16-task ablation runs against ASP-MTL; `4-task winner on 16 tasks` is the 4-task "
             "screen's choice run on 16 tasks by `python -m experiments.best` (`experiments/results/best/"
             "previous_best_4task_winner.json`). The n-gram rows are another model, not a setting of ASP-MTL: "
             "`python -m experiments.ngram --dev-only` on 16 tasks, the model itself paired with the best LSTM "
             f"configuration's screen runs (`{NGRAM_BASELINE}`), each of its own settings with the n-gram screen it "
             "changes one thing of. Commands of every run: `levers.csv`.", "",
             "| lever | flags | screen | seeds | baseline dev % | lever dev % | dev gain (points), mean ± sd over seeds |",
             "|---|---|---|---:|---:|---:|---:|"]
    for _, r in frame.sort_values("dev_gain_mean", ascending=False).iterrows():
        sd = "" if r["seeds"] < 2 else f" ± {r['dev_gain_sd']:.2f}"
        lines.append(f"| {r['lever']} | `{r['flags']}` | {r['screen']} | {r['seeds']} | {r['dev_error_base']:.2f} | "
                     f"{r['dev_error_lever']:.2f} | {r['dev_gain_mean']:+.2f}{sd} |")
    return "\n".join(lines) + "\n"


BEST_CONFIG = REPO_ROOT / "experiments" / "configs" / "best.json"


def choose_best(runs, command: str) -> dict[str, Any]:
    """The screened setting with the lowest mean dev error over every seed, as a 16-task TrainConfig file.

    Candidates are the 16-task screen's settings that finished all of
    :data:`SEEDS`, with Table 2's ASP-MTL (their baseline) and the n-gram
    model's 16-task screens (:data:`experiments.ngram.SCREEN_SETTINGS`; then
    the file is an ``experiments.ngram --config``); only when none
    has, the 4-task screen's settings (and its baseline). So every candidate
    saw the same tasks, seeds and data order. Mean dev errors are compared to
    3 decimals (whole rows: float noise is no gain); a tie keeps the current
    ``best.json`` choice, then goes to the cheaper (mean wall time). Only
    dev errors are read (the screens never read test). Writes
    ``experiments/configs/best.json``; the reason goes in its ``provenance``
    field, which :meth:`TrainConfig.from_json_file` ignores.
    """

    def finished(settings: dict[str, tuple[str, ...]]) -> dict[str, dict[str, float]]:
        found = {}
        for name in settings:
            done = runs.get(name, {})
            if all(seed in done for seed in SEEDS):
                found[name] = {
                    "mean_dev_error": mean_sd([done[s]["avg_dev_error"] for s in SEEDS])[0],
                    "mean_wall_time_s": mean_sd([done[s]["wall_time_s"] for s in SEEDS])[0],
                }
        return found

    # The 16-task screen supersedes the 4-task one (whose winner did not carry over to 16 tasks); its candidates
    # include the paper's ASP-MTL itself (Table 2's runs, the screen's baseline): a lever must beat it on dev.
    base16 = PLAN["screen16"]["baseline"]
    settings = {base16: TABLE2_SETTINGS[base16], **SCREEN16_SETTINGS}
    screen = "all 16 tasks"
    candidates = finished(SCREEN16_SETTINGS) and finished(settings)
    if not candidates:
        settings, screen = LEVER_SETTINGS, SCREEN_TASKS
        candidates = finished(settings)
    if not candidates:
        raise SystemExit(f"no lever setting has finished seeds {list(SEEDS)}: run python -m experiments.tables run "
                         "screen16 (or levers)")
    ngram_names = {}
    if screen == "all 16 tasks":  # the n-gram model's 16-task screens compete with the LSTM settings
        runs = {**runs, **ngram.load_screen_runs()}
        ngram_names = {ngram.screen_key(name): flags for name, flags in ngram.SCREEN_SETTINGS.items()}
        candidates.update(finished(ngram_names))
    # Dev errors are whole rows (a 16-task mean moves in steps of 1/32 point): compare them to 3 decimals, so float
    # noise cannot break a tie. A tie keeps the current choice (a candidate must beat it to replace it), then goes
    # to the cheaper.
    incumbent = None
    if BEST_CONFIG.exists():
        incumbent = json.loads(BEST_CONFIG.read_text(encoding="utf-8")).get("provenance", {}).get("chosen")
    chosen = min(candidates, key=lambda n: (round(candidates[n]["mean_dev_error"], 3), n != incumbent,
                                            candidates[n]["mean_wall_time_s"]))
    if chosen in ngram_names:
        flags = list(ngram_names[chosen])
        config = ngram.identity(ngram.config_from_flags(flags))
        command_of_runs = "python -m experiments.ngram --dev-only"
    else:
        flags = list(OWN_FLAGS[chosen])
        config = resolve_config(parse_args(flags)).to_dict()
        command_of_runs = "python -m experiments.tables run screen16"
    config["command"], config["commit"] = command, git_commit()
    config["provenance"] = {
        "chosen_by": command, "chosen": chosen, "flags": " ".join(flags), "screen_tasks": screen,
        "seeds": list(SEEDS), "rule": "lowest mean dev error over the seeds on the screening tasks (the LSTM "
        "settings and the n-gram model's screens alike), to 3 decimals; ties: the current choice, then the cheaper", "screen_command": command_of_runs,
        "candidates": candidates,
    }
    BEST_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(BEST_CONFIG, json.dumps(config, indent=2) + "\n")
    return config


def replace_blocks(text: str, blocks: dict[str, str]) -> str:
    """``text`` with each ``<!-- BEGIN generated: NAME ... -->`` ... ``<!-- END generated: NAME -->`` block's body
    replaced by ``blocks[NAME]``."""
    for name, body in blocks.items():
        pattern = re.compile(rf"(<!-- BEGIN generated: {re.escape(name)} [^>]*-->\n)(?:.*?\n)?(<!-- END generated: "
                             rf"{re.escape(name)} -->)", re.S)
        text = pattern.sub(lambda m: m.group(1) + body.strip() + "\n" + m.group(2), text)
    return text


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", required=True)
    r = sub.add_parser("run", help="run every missing run of the given tables, one at a time")
    r.add_argument("tables", nargs="+", choices=sorted(TABLES) + ["table3"])
    r.add_argument("--runs-dir", default=str(REPO_ROOT / "runs" / "tables"), help="where run folders go")
    s = sub.add_parser("status", help="list finished and missing runs")
    s.add_argument("tables", nargs="*", default=sorted(TABLES) + ["table3"])
    for parser in (r, s):
        parser.add_argument("--seeds", type=lambda text: [int(x) for x in text.split(",")],
                            help="comma-separated seeds: only their runs (default: every seed of each table)")
        parser.add_argument("--settings", type=lambda text: text.split(","),
                            help="comma-separated settings (e.g. s16_head_tail): only their runs (default: all)")
    sub.add_parser("rebuild", help="docs/RESULTS.md, README's headline table, every table and plot, from the result "
                                   "files alone")
    sub.add_parser("choose-best", help="write experiments/configs/best.json: the screened setting with the lowest "
                                       "mean dev error over every seed")
    args = p.parse_args(argv)
    if args.action == "choose-best":
        config = choose_best(load_runs(RUNS), command_line("experiments.tables", argv))
        why = config["provenance"]
        print(f"chose {why['chosen']} ({why['flags']}): " + ", ".join(
            f"{n} {c['mean_dev_error']:.2f}" for n, c in sorted(why["candidates"].items(), key=lambda kv: kv[1]["mean_dev_error"])))
        return 0
    if args.action == "rebuild":
        changed = rebuild(command_line("experiments.tables", argv))
        print("changed: " + (", ".join(str(p.relative_to(REPO_ROOT)) for p in changed) or "nothing"))
        return 0
    if args.action == "run":
        RUNS.mkdir(parents=True, exist_ok=True)
        return 1 if run_queue(args.tables, Path(args.runs_dir), args.seeds, args.settings) else 0
    print(status(args.tables, args.seeds, args.settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
