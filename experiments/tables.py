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
import logging
import re
import sys
from pathlib import Path
from typing import Any

from experiments import best as best_script
from experiments import ngram, ngram_screens, results_doc, select_ensembles
from experiments.choose_best import WIDE_DEEP_PREFIX, choose_best, wide_deep_screen_runs
from experiments.provenance import REPO_ROOT, command_line, write_atomic
from experiments.result_files import (
    FAMILIES,
    PAPER_COLUMN,
    PREVIOUS_4TASK_WINNER,
    PROTOCOL_FAMILIES,
    PROTOCOL_HT_FAMILIES,
    PROTOCOL_HT_PAPER_COLUMN,
    PROTOCOL_PAPER_COLUMN,
    RESULTS as RESULT_FILES,
    TABLES as RESULTS,
    load_previous,
    load_runs,
)
from experiments.single_task_gap import single_task_gap
from experiments.table3 import TRANSFER_COLUMNS, paired_transfer, table3_frame, table3_markdown
from experiments.table_format import error_table, frame_csv, markdown_table, paired, plot
from experiments.table_plan import (
    ABLATION_SETTINGS,
    LEVERS_FROM_ABLATIONS,
    OWN_FLAGS,
    PLAN,
    RUNS,
    SCREEN16_SETTINGS,
    SCREEN_TASKS,
    TABLES,
    baseline,
    run_queue,
    status,
)
from tf_aspmtl.analysis.seed_comparison import mean_sd

TABLE2_PAIRS = (("asp_mtl", "sp_mtl"), ("sp_mtl", "fs_mtl"), ("fs_mtl", "single"))
ABLATION_PAIRS = tuple((a, "asp_mtl") for a in ABLATION_SETTINGS)
README = REPO_ROOT / "README.md"
RESULTS_DOC = REPO_ROOT / "docs" / "RESULTS.md"


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
    for name in PROTOCOLS:
        protocol = table2_protocol(runs, command, name)
        if protocol is not None:
            add(name, *protocol)
        else:
            blocks[name] = "No run of this table has finished yet."
    blocks["single_task_gap"] = single_task_gap(runs)
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
        add("table3", table3, table3_markdown(table3, [p for p in pairs if p], command, runs))
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
    tested = sorted(ngram_screens.SCREEN_RESULTS.glob("sp_ngram_seed*.json"))
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


PROTOCOLS = {
    "table2_protocol": (PROTOCOL_FAMILIES, PROTOCOL_PAPER_COLUMN,
                        "Table 2 under the dev-chosen protocol (word2vec 200-d, at most 30 epochs, patience 5)", FAMILIES),
    "table2_protocol_ht": (PROTOCOL_HT_FAMILIES, PROTOCOL_HT_PAPER_COLUMN,
                           "Table 2 under the dev-chosen protocol with head+tail truncation", PROTOCOL_FAMILIES),
}
"""Table 2 under each protocol of ``experiments/configs/table_runs.toml``: (its settings, the paper's column of each,
title, the settings of the protocol it changes, each family paired with its run of the same seed there)."""


def table2_protocol(runs, command: str, protocol: str = "table2_protocol"):
    """Table 2's families under a protocol of :data:`PROTOCOLS`: (frame, markdown), or None before any run
    finished. Its pairs: each step of the paper's order within the protocol, then each family against its run under
    the protocol it changes."""
    families, columns, title, previous = PROTOCOLS[protocol]
    frame = error_table(runs, families, columns)
    if frame is None:
        return None
    name = dict(zip(FAMILIES, families))
    within = [(name[a], name[b]) for a, b in TABLE2_PAIRS]
    pairs = [paired(runs, a, b) for a, b in within + list(zip(families, previous))]
    wall = sum(r["wall_time_s"] for f in families for r in runs.get(f, {}).values())
    return frame, markdown_table(frame, families, columns, title, pairs, command, wall_s=wall)


def rebuild(command: str) -> list[Path]:
    """Writes every file :func:`build` makes (and the plots); returns those whose content changed."""
    changed = []
    for path, text in build(command).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, text)
            changed.append(path)
    return changed



def _lever_row(runs, base: str, setting: str, lever: str, flags: str, screen: str) -> dict[str, Any] | None:
    seeds = sorted(set(runs.get(base, {})) & set(runs.get(setting, {})))
    if not seeds:
        return None
    b, r = runs[base], runs[setting]
    for s in seeds:  # a mean dev error over other tasks than the baseline's is no gain
        if set(r[s].get("per_task", {})) != set(b[s].get("per_task", {})):
            raise ValueError(f"{setting} seed {s} ran tasks {sorted(r[s].get('per_task', {}))}, its baseline {base} "
                             f"ran {sorted(b[s].get('per_task', {}))}: no paired dev gain")
    mean, sd = mean_sd([b[s]["avg_dev_error"] - r[s]["avg_dev_error"] for s in seeds])
    return {"lever": lever, "flags": flags, "screen": screen, "seeds": len(seeds),
            "dev_gain_mean": mean, "dev_gain_sd": sd,
            "dev_error_base": mean_sd([b[s]["avg_dev_error"] for s in seeds])[0],
            "dev_error_lever": mean_sd([r[s]["avg_dev_error"] for s in seeds])[0],
            "commands": " ; ".join(r[s]["command"] for s in seeds)}


NGRAM_BASELINE = "s16_ht_conf_unl"
"""What the shared/private n-gram model was screened against: the best LSTM configuration at the time."""
WIDE_DEEP_BASELINES = {"wd_wide03": "wd", "wd_wide3": "wd", "wd_wide10": "wd", "wd_wide10_nb": "wd_wide10",
                       "wd_wide10_nb_vat": "wd_wide10_nb"}
"""The wide-and-deep setting each one changes one thing of (``wd``: the LSTM configuration whose deep path it is,
:data:`NGRAM_BASELINE`)."""


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
    with_ngram = {**runs, **ngram_screens.load_screen_runs()}
    for name, flags in ngram_screens.SCREEN_SETTINGS.items():
        base = ngram_screens.screen_key(ngram_screens.SCREEN_BASELINES[name]) if name in ngram_screens.SCREEN_BASELINES else NGRAM_BASELINE
        lever = "the n-gram model instead of the LSTMs" if name == "sp_ngram" else f"n-gram model: {name}"
        rows.append(_lever_row(with_ngram, base, ngram_screens.screen_key(name), lever,
                               " ".join(["python -m experiments.ngram", *flags]), f"16 tasks, dev only, vs {base}"))
    wide_deep = wide_deep_screen_runs()
    for key, by_seed in wide_deep.items():
        name = key[len(WIDE_DEEP_PREFIX):]
        base = WIDE_DEEP_PREFIX + WIDE_DEEP_BASELINES[name] if name in WIDE_DEEP_BASELINES else NGRAM_BASELINE
        flags = " ".join(["python -m experiments.train", *next(iter(by_seed.values()))["flags"]])
        rows.append(_lever_row({**runs, **wide_deep}, base, key, f"wide-and-deep: {name}", flags,
                               f"16 tasks, dev only, vs {base}"))
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



def replace_blocks(text: str, blocks: dict[str, str]) -> str:
    """``text`` with each ``<!-- BEGIN generated: NAME ... -->`` ... ``<!-- END generated: NAME -->`` block's body
    replaced by ``blocks[NAME]``.

    Raises:
        ValueError: a block's markers are not in ``text`` exactly once (a page that would keep its old figures).
    """
    for name, body in blocks.items():
        pattern = re.compile(rf"(<!-- BEGIN generated: {re.escape(name)} [^>]*-->\n)(?:.*?\n)?(<!-- END generated: "
                             rf"{re.escape(name)} -->)", re.S)
        text, found = pattern.subn(lambda m: m.group(1) + body.strip() + "\n" + m.group(2), text)
        if found != 1:
            raise ValueError(f"generated block {name!r}: its BEGIN/END markers are found {found} times, not once")
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
