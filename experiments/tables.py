"""The paper's Table 2 over seeds, its ablations, and the queue that runs them.

    nohup python -m experiments.tables run table2 ablations > runs/tables.log 2>&1 &
    python -m experiments.tables status                 # what is finished, what is missing
    python -m experiments.tables rebuild                # tables and plots from the result files alone

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
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from experiments.provenance import REPO_ROOT

RESULTS = REPO_ROOT / "experiments" / "results" / "tables"
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

    @property
    def name(self) -> str:
        return f"{self.setting}_seed{self.seed}"

    @property
    def result_path(self) -> Path:
        return RUNS / f"{self.name}.json"

    def command(self, runs_dir: Path) -> list[str]:
        return [
            sys.executable, "-m", "experiments.train", *COMMON, *self.flags, "--seed", str(self.seed),
            "--output-dir", str(runs_dir / self.name), "--results", str(self.result_path), "--verbose", "2",
        ]


TABLE2_SETTINGS = {
    "sp_mtl": ("--model", "sp-mtl"),
    "fs_mtl": ("--model", "fs-mtl"),
    "single": ("--model", "single"),
    "asp_mtl": ("--model", "asp-mtl"),
}
ABLATION_SETTINGS = {
    "asp_mtl_no_adv": ("--model", "asp-mtl", "--adversarial-weight", "0"),
    "asp_mtl_no_diff": ("--model", "asp-mtl", "--difference-weight", "0"),
    "asp_mtl_confusion": ("--model", "asp-mtl", "--adversarial-objective", "confusion"),
    "asp_mtl_unlabeled": ("--model", "asp-mtl", "--unlabeled-fraction", "0.25"),
}
TABLES = {"table2": TABLE2_SETTINGS, "ablations": ABLATION_SETTINGS}


def planned_runs(tables: list[str]) -> list[RunSpec]:
    """Every run of ``tables``, seed-major so that early seeds complete whole comparisons first."""
    specs = []
    for table in tables:
        for seed in SEEDS:
            for setting, flags in TABLES[table].items():
                specs.append(RunSpec(table, setting, seed, flags))
    return specs


def run_queue(tables: list[str], runs_dir: Path) -> int:
    """Runs every missing run of ``tables``, one process at a time; returns the number of failures."""
    failures = 0
    for spec in planned_runs(tables):
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


def status(tables: list[str]) -> str:
    lines = []
    for spec in planned_runs(tables):
        lines.append(f"{'done   ' if spec.result_path.exists() else 'missing'} {spec.table:9s} {spec.name}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", required=True)
    r = sub.add_parser("run", help="run every missing run of the given tables, one at a time")
    r.add_argument("tables", nargs="+", choices=sorted(TABLES))
    r.add_argument("--runs-dir", default=str(REPO_ROOT / "runs" / "tables"), help="where run folders go")
    s = sub.add_parser("status", help="list finished and missing runs")
    s.add_argument("tables", nargs="*", default=sorted(TABLES))
    args = p.parse_args(argv)
    if args.action == "run":
        RUNS.mkdir(parents=True, exist_ok=True)
        return 1 if run_queue(args.tables, Path(args.runs_dir)) else 0
    print(status(args.tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
