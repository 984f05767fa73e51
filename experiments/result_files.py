"""Where the committed result files are, what their runs are called, reading them, and their mean ± sd.

Every queue and report of experiments/ finds results here, so none of them imports another to learn a path.
``EXPERIMENTS_TABLES_DIR`` and ``EXPERIMENTS_BEST_DIR`` let a queue in another checkout write into this one.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from experiments.provenance import REPO_ROOT
from tf_aspmtl.analysis.seed_comparison import mean_sd

RESULTS = REPO_ROOT / "experiments" / "results"
PAPER_DIR = RESULTS / "paper"
"""The paper's Tables 2 and 3 as printed (test error %)."""
TABLES = Path(os.environ.get("EXPERIMENTS_TABLES_DIR", RESULTS / "tables"))
"""The tables and their runs' files (``runs/<setting>_seed<S>.json``)."""
BEST = Path(os.environ.get("EXPERIMENTS_BEST_DIR", RESULTS / "best"))
"""The best configuration's runs (``best_seed<S>.json``), its ensemble and serving figures."""
PREVIOUS_BEST_LSTM = BEST / "previous_best_lstm.json"
"""The best LSTM configuration's tested runs (head+tail, confusion, 25 % unlabelled rows), when the n-gram model
replaced it as the best: the figures best.md and ngram.md compare with (derived from the runs' result files, since
deleted; the file names the commit whose files it read)."""
PREVIOUS_4TASK_WINNER = BEST / "previous_best_4task_winner.json"
"""The 4-task screen's winner run on 16 tasks by python -m experiments.best, when it was the best: its levers.md row."""

FAMILIES = ("single", "fs_mtl", "sp_mtl", "asp_mtl")
"""Table 2's settings, in the paper's order."""
PAPER_COLUMN = {"single": "lstm", "fs_mtl": "fs_mtl", "sp_mtl": "sp_mtl", "asp_mtl": "asp_mtl"}
"""The paper's Table 2 column of each family (the single-task column is its LSTM)."""
PROTOCOL_FAMILIES = tuple(f"{family}_w2v" for family in FAMILIES)
"""Table 2's families under the single-task screens' dev-chosen protocol (``table2_protocol`` of
``experiments/configs/table_runs.toml``), in the order of :data:`FAMILIES`."""
PROTOCOL_PAPER_COLUMN = {f"{family}_w2v": column for family, column in PAPER_COLUMN.items()}
"""The paper's Table 2 column of each family under that protocol."""
PROTOCOL_HT_FAMILIES = tuple(f"{family}_w2v_ht" for family in FAMILIES)
"""The same with head+tail truncation (``table2_protocol_ht``: the fourth single-task screen's setting)."""
PROTOCOL_HT_PAPER_COLUMN = {f"{family}_w2v_ht": column for family, column in PAPER_COLUMN.items()}
LABELS = {"single": "single-task LSTM", "fs_mtl": "FS-MTL", "sp_mtl": "SP-MTL", "asp_mtl": "ASP-MTL",
          "asp_mtl_no_adv": "ASP-MTL without L_adv", "asp_mtl_no_diff": "ASP-MTL without L_diff",
          "asp_mtl_confusion": "ASP-MTL, confusion objective", "asp_mtl_unlabeled": "ASP-MTL + 25 % unlabelled rows",
          "sp_mtl_sc": "SP-MTL-SC", "sp_mtl_bc": "SP-MTL-BC", "asp_mtl_sc": "ASP-MTL-SC", "asp_mtl_bc": "ASP-MTL-BC"}
LABELS.update({f"{family}_w2v": f"{LABELS[family]} (w2v)" for family in FAMILIES})
LABELS.update({f"{family}_w2v_ht": f"{LABELS[family]} (w2v, head+tail)" for family in FAMILIES})
"""How the tables name a setting (Table 2's families, under today's and the dev-chosen protocol; the ablations;
Table 3's transfer columns)."""


def load(relative: str) -> dict[str, Any] | None:
    """A JSON file of the checkout (``relative`` to it), or None without the file."""
    path = REPO_ROOT / relative
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def load_runs(folder: Path | None = None) -> dict[str, dict[int, dict[str, Any]]]:
    """Finished runs of the tables (``folder``: :data:`TABLES`/runs): setting -> seed -> results JSON."""
    runs: dict[str, dict[int, dict[str, Any]]] = {}
    for path in sorted((folder or TABLES / "runs").glob("*_seed*.json")):
        match = re.fullmatch(r"(.+)_seed(\d+)", path.stem)
        if match:
            runs.setdefault(match.group(1), {})[int(match.group(2))] = json.loads(path.read_text(encoding="utf-8"))
    return runs


def load_previous(path: Path) -> dict[int, dict[str, Any]]:
    """seed -> that seed's figures (``avg_dev_error``, ``avg_test_error``, ``per_task``, ``command``, ``config``) of
    an earlier best configuration's file (:data:`PREVIOUS_BEST_LSTM`); empty without the file."""
    if not Path(path).exists():
        return {}
    return {int(seed): run for seed, run in json.loads(Path(path).read_text(encoding="utf-8"))["runs"].items()}


def paper_table(name: str = "table2_error_rates.csv"):
    """One of the paper's tables (:data:`PAPER_DIR`) as a frame indexed by task."""
    import pandas as pd

    return pd.read_csv(PAPER_DIR / name).set_index("task")


def paper_average(column: str) -> float:
    """The paper's Table 2 average of one column (e.g. ``asp_mtl``): the mean over its 16 tasks."""
    return float(paper_table()[column].mean())


def plus_minus(values: list[float], digits: int = 2) -> str:
    """``mean ± sd`` of ``values`` to ``digits`` decimals (the mean alone for one value)."""
    mean, sd = mean_sd(values)
    return f"{mean:.{digits}f}" + (f" ± {sd:.{digits}f}" if len(values) > 1 else "")
