"""The summary of the ensembles chosen on dev, one per seed, among the 16-task models the tables and the main job
trained (``python -m experiments.tables rebuild`` writes it from the result files alone).

The candidates of seed S were the seed-S models of every configuration in :data:`POOLS` (the 16-task
configurations with a loadable model for each of seeds 0-2: a rule, not a choice). For each seed,
``python -m experiments.ensemble --select-on-dev`` picked members and weights on dev alone and then read test once
(``experiments/results/ensemble_selection*/seed<S>.json``, each with its command); then each seed's ensemble was
exported for one task (``BENCH_TASK``) and ``experiments.bench_serving`` timed those exports side by side with the
best configuration's single model and seed ensemble. The one-off driver that ran those steps in turn is
``experiments/select_ensembles.py`` of commit ``ce5b5f2`` (git history).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from experiments.bench_serving import load_note, variant_lines
from experiments.result_files import RESULTS as RESULT_FILES

RESULTS = RESULT_FILES / "ensemble_selection"
BENCH = RESULTS / "bench_serving.json"
BENCH_TASK = "books"

POOL = (
    # configuration (its seed-S run folder; ASP-MTL's seed 0 was the main job's run, whose numbers equal Table 2's;
    # SP-MTL's seed 0 its rerun with the code of that time: same numbers too)
    "ASP-MTL",  # runs/main-job, runs/tables/asp_mtl_rerun_seed{1,2}
    "SP-MTL",  # runs/tables/sp_mtl_rerun_seed0, runs/tables/sp_mtl_seed{1,2}
    "ASP-MTL without the adversarial term",  # runs/tables/asp_mtl_no_adv_seed{S}
    "ASP-MTL without the difference term",  # runs/tables/asp_mtl_no_diff_seed{S}
    "ASP-MTL, confusion objective",  # runs/tables/asp_mtl_confusion_seed{S}
    "ASP-MTL, 25 % unlabelled rows",  # runs/tables/asp_mtl_unlabeled_seed{S}
    "ASP-MTL, head+tail truncation",  # runs/tables/s16_head_tail_seed{S}
)
"""The candidate configurations (FS-MTL is not among them: its seed-0 model predates the refactor and does not load)."""
POOLS = {
    "lstm": POOL,
    "with-ngram": (
        *POOL,
        "ASP-MTL, head+tail + confusion + 25 % unlabelled (the best LSTM configuration)",  # s16_ht_conf_unl_seed{S}
        "the shared/private n-gram model",  # runs/ngram/seed{S}
    ),
}
"""Candidate pools: name -> configurations. ``with-ngram`` adds the two configurations trained since
(its own results folder, so the LSTM-only selection stays as it was)."""
TITLES = {"lstm": "Ensembles chosen on dev, one per seed",
          "with-ngram": "Ensembles chosen on dev, one per seed (with the n-gram model among the candidates)"}
"""Each pool's summary page title (``experiments/results/<results folder>.md``)."""


def results_dir(pool: str = "lstm") -> Path:
    """The folder of a pool's per-seed result files."""
    return RESULTS if pool == "lstm" else RESULTS.parent / f"ensemble_selection_{pool.replace('-', '_')}"


def run_name(path: str) -> str:
    """A member's run folder (``runs/tables/asp_mtl_confusion_seed0/model/model.keras`` -> ``asp_mtl_confusion_seed0``;
    ``runs/ngram/seed0/model/...`` -> ``ngram/seed0``)."""
    parts = Path(path).parts
    if len(parts) >= 4 and parts[-2] == "model" and parts[-3].startswith("seed"):
        return f"{parts[-4]}/{parts[-3]}"
    return parts[-3] if len(parts) >= 3 and parts[-2] == "model" else Path(path).stem


def summary(directory: Path, best_dir: Path, pool: str = "lstm") -> str | None:
    """Markdown over the per-seed selected ensembles (``directory/seed<S>.json``), or None if there are none.

    Per seed: the chosen members and weights, dev and test error, and the test
    error of the best configuration's single model of the same seed
    (``best_dir/best_seed<S>.json``); then test mean ± sd over seeds and the
    paired difference; then the serving figures of ``directory/bench_serving.json``.
    """
    reports = {int(f.stem[4:]): json.loads(f.read_text(encoding="utf-8"))
               for f in directory.glob("seed*.json") if f.stem[4:].isdigit()}
    if not reports:
        return None
    lines = [
        f"One ensemble per seed, chosen on dev among that seed's models of {len(POOLS[pool])} configurations "
        f"({'; '.join(POOLS[pool])}): greedy forward selection with replacement on dev's mean per-task log loss picks "
        "members and weights (`python -m experiments.ensemble --select-on-dev`; each file has its command); test is read once, for the chosen ensemble. Reported apart "
        "from the single-model numbers: an ensemble runs every member for each review.", "",
        "| seed | members (weight) | dev % | test % | best configuration's single model, same seed, test % | "
        "difference |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    differences = []
    for seed, r in sorted(reports.items()):
        members = ", ".join(f"{run_name(m['path'])} ({m['weight']:.2f})" for m in r["member_results"])
        best = best_dir / f"best_seed{seed}.json"
        single = json.loads(best.read_text(encoding="utf-8"))["avg_test_error"] if best.exists() else None
        cells = [f"{r['avg_dev_error']:.2f}", f"{r['avg_test_error']:.2f}"]
        if single is None:
            cells += ["–", "–"]
        else:
            differences.append(r["avg_test_error"] - single)
            cells += [f"{single:.2f}", f"{differences[-1]:+.2f}"]
        lines.append(f"| {seed} | {members} | " + " | ".join(cells) + " |")
    tests = [r["avg_test_error"] for _, r in sorted(reports.items())]
    spread = f" ± {statistics.stdev(tests):.2f}" if len(tests) > 1 else ""
    lines += ["", f"Mean test error over {len(tests)} seed(s): **{statistics.mean(tests):.2f}{spread} %** "
                  f"(distinct members per ensemble: {', '.join(str(len(r['members'])) for _, r in sorted(reports.items()))})."]
    if differences:
        lines[-1] += (" Against the best configuration's single model of the same seed: "
                      f"{statistics.mean(differences):+.2f} points on average (per seed "
                      f"{' / '.join(f'{d:+.2f}' for d in differences)}).")
    bench_file = directory / BENCH.name
    if bench_file.exists():
        b = json.loads(bench_file.read_text(encoding="utf-8"))
        lines += ["", f"Serving, one review of {BENCH_TASK} per call and batches of 64, all variants measured in "
                      f"turn in one run (`{b.get('command', '')}`; load average before/after {load_note(b)}, i.e. "
                      "what else ran):", "", *variant_lines(b)]
    return "\n".join(lines) + "\n"
