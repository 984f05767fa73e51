"""What the tables' queue runs: every setting of ``experiments/configs/table_runs.toml`` and Table 3's transfer runs,
each over seeds, as commands (``python -m experiments.tables run`` starts the missing ones, one at a time)."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from experiments.provenance import REPO_ROOT
from experiments.result_files import TABLES as RESULTS

RUNS = RESULTS / "runs"
SEEDS = (0, 1, 2)
COMMON = ("--paper-scale", "--optimizer", "lazy-adam", "--intra-op-threads", "1", "--inter-op-threads", "2")
logger = logging.getLogger("experiments.table_plan")


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


TABLE3_SEEDS = SEEDS
"""Table 3's seeds. Seeds 1-2 keep seed 0's source-model settings: by the rule in ``table_runs.toml`` (fixed before
they ran), table2_protocol's SP-MTL and ASP-MTL did not lower Table 2's mean dev error over seeds 0-2 (13.72 against
13.41, 13.94 against 13.16)."""
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
            specs += table3_runs(TABLE3_SEEDS)
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
    chosen = [spec for spec in specs if (seeds is None or spec.seed in seeds)
              and (settings is None or spec.setting in settings)]
    if not chosen:  # a queue step that would run nothing is a mistake to name, not a silent success
        raise SystemExit(f"no run of tables {tables} for seeds {seeds} and settings {settings}")
    return chosen


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
    """A line a run (done or missing), then how many are done and, from the wall times the finished runs of each
    kind (training or transfer) recorded, about how long the missing ones will take on one process."""
    import json

    lines, missing, wall_times = [], [], {}
    for spec in planned_runs(tables, seeds, settings):
        done = spec.result_path.exists()
        lines.append(f"{'done   ' if done else 'missing'} {spec.table:9s} {spec.name}")
        if not done:
            missing.append(spec)
            continue
        wall_time = json.loads(spec.result_path.read_text(encoding="utf-8")).get("wall_time_s")
        if wall_time is not None:
            wall_times.setdefault(spec.module, []).append(float(wall_time))
    total = len(lines)
    summary = f"{total - len(missing)} of {total} runs done"
    if missing:
        unknown = sorted({spec.module for spec in missing if spec.module not in wall_times})
        seconds = sum(sum(wall_times[spec.module]) / len(wall_times[spec.module]) for spec in missing
                      if spec.module in wall_times)
        summary += (f"; the {len(missing)} missing: about {seconds / 3600:.1f} h on one process at the mean wall time "
                    "of the finished runs of their module" + (f" (none finished yet of {', '.join(unknown)})"
                                                              if unknown else ""))
    return "\n".join(lines + [summary])
