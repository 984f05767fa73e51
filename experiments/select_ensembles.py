"""Ensembles chosen on dev, one per seed, among the 16-task models that the tables and the main job trained.

    python -m experiments.select_ensembles             # what is missing: each seed's selection, export, serving cost
    python -m experiments.select_ensembles --pool with-ngram   # the same with the n-gram model and the best LSTM
                                                               # configuration among the candidates

The candidates of seed S are the seed-S models of every configuration in
:data:`POOL`: the 16-task configurations of which a loadable model exists for
each of seeds 0-2 (a rule, not a choice: nothing was left out for its test
error). For each seed, ``python -m experiments.ensemble --select-on-dev``
picks members and weights on dev alone and then reads test once
(``experiments/results/ensemble_selection/seed<S>.json``; a seed with a file
is never rerun). Then each seed's ensemble is exported for one task
(``BENCH_TASK``) and ``experiments.bench_serving`` times those exports side by
side with the best configuration's single model and seed ensemble, in one
run, so the cost ratios are measured under the same load. ``python -m experiments.tables rebuild`` rewrites
the summary from the result files alone.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
from pathlib import Path

from experiments.bench_serving import load_note, variant_lines
from experiments.provenance import REPO_ROOT, write_atomic
from experiments.result_files import BEST, RESULTS as RESULT_FILES

logger = logging.getLogger("experiments.select_ensembles")
RESULTS = RESULT_FILES / "ensemble_selection"
BENCH = RESULTS / "bench_serving.json"
BENCH_TASK = "books"
SEEDS = (0, 1, 2)

POOL = {
    # configuration: run folder of seed S, relative to the repository (ASP-MTL's seed 0 is the main job's run,
    # whose numbers equal Table 2's; SP-MTL's seed 0 is its rerun with today's code: same numbers too).
    "ASP-MTL": lambda s: "runs/main-job" if s == 0 else f"runs/tables/asp_mtl_rerun_seed{s}",
    "SP-MTL": lambda s: "runs/tables/sp_mtl_rerun_seed0" if s == 0 else f"runs/tables/sp_mtl_seed{s}",
    "ASP-MTL without the adversarial term": lambda s: f"runs/tables/asp_mtl_no_adv_seed{s}",
    "ASP-MTL without the difference term": lambda s: f"runs/tables/asp_mtl_no_diff_seed{s}",
    "ASP-MTL, confusion objective": lambda s: f"runs/tables/asp_mtl_confusion_seed{s}",
    "ASP-MTL, 25 % unlabelled rows": lambda s: f"runs/tables/asp_mtl_unlabeled_seed{s}",
    "ASP-MTL, head+tail truncation": lambda s: f"runs/tables/s16_head_tail_seed{s}",
}
"""The candidate configurations (FS-MTL is not among them: its seed-0 model predates the refactor and does not load)."""

POOLS = {
    "lstm": POOL,
    "with-ngram": {
        **POOL,
        "ASP-MTL, head+tail + confusion + 25 % unlabelled (the best LSTM configuration)":
            lambda s: f"runs/tables/s16_ht_conf_unl_seed{s}",
        # The committed selections name model/model_fdu_class_names.keras: experiments.ngram named FDU-MTL's classes
        # "0"/"1" when those runs were trained, so a one-off step (select_ensembles.py of 8b95512, in git history)
        # copied each with the LSTMs' names, "negative"/"positive". experiments.ngram now names them so itself.
        "the shared/private n-gram model": lambda s: f"runs/ngram/seed{s}",
    },
}
"""Candidate pools: name -> configurations. ``with-ngram`` adds the two configurations trained since
(its own results folder, so the LSTM-only selection stays as it was)."""
TITLES = {"lstm": "Ensembles chosen on dev, one per seed",
          "with-ngram": "Ensembles chosen on dev, one per seed (with the n-gram model among the candidates)"}
"""Each pool's summary page title (``experiments/results/<results folder>.md``)."""
BEST_RUNS = {"lstm": REPO_ROOT / "runs" / "best", "with-ngram": REPO_ROOT / "runs" / "best_ngram"}
"""The best configuration's run folder each pool's serving cost is compared with."""


def candidates(seed: int, pool: str = "lstm") -> list[str]:
    """The ``.keras`` files of seed ``seed``'s candidates, one per configuration of the pool."""
    paths = [where(seed) for where in POOLS[pool].values()]
    return [p if p.endswith(".keras") else f"{p}/model/model.keras" for p in paths]


def results_dir(pool: str = "lstm") -> Path:
    return RESULTS if pool == "lstm" else RESULTS.parent / f"ensemble_selection_{pool.replace('-', '_')}"


def result_path(seed: int, pool: str = "lstm") -> Path:
    return results_dir(pool) / f"seed{seed}.json"


def export_dir(seed: int, pool: str = "lstm") -> Path:
    return REPO_ROOT / "runs" / results_dir(pool).name / f"export-seed{seed}"


def select(seed: int, max_steps: int, pool: str = "lstm") -> bool:
    """Runs the selection of ``seed`` unless its result file exists; False if it failed."""
    if result_path(seed, pool).exists():
        logger.info("seed %d already done: %s", seed, result_path(seed, pool))
        return True
    missing = [c for c in candidates(seed, pool) if not (REPO_ROOT / c).is_file()]
    if missing:
        logger.error("seed %d: candidate model(s) missing: %s", seed, ", ".join(missing))
        return False
    command = [sys.executable, "-m", "experiments.ensemble", "--select-on-dev", "--max-steps", str(max_steps),
               "--results", str(result_path(seed, pool).relative_to(REPO_ROOT))]
    for path in candidates(seed, pool):
        command += ["--candidate", path]
    logger.info("seed %d: %s", seed, " ".join(command[1:]))
    return subprocess.call(command, cwd=REPO_ROOT) == 0 and result_path(seed, pool).exists()


def export(seed: int, pool: str = "lstm") -> Path | None:
    """Seed ``seed``'s chosen ensemble (members and weights from its result file) exported for ``BENCH_TASK``."""
    target = export_dir(seed, pool)
    versions = sorted(target.glob(f"{BENCH_TASK}/[0-9]*"), key=lambda p: int(p.name))
    if versions:
        return versions[-1]
    import tf_aspmtl

    report = json.loads(result_path(seed, pool).read_text(encoding="utf-8"))
    ensemble = tf_aspmtl.MultiTaskEnsemble.load([REPO_ROOT / m for m in report["members"]],
                                                member_weights=report["weights"], name="ensemble")
    (exported,) = ensemble.export(target, tasks=[BENCH_TASK], verbose=False)
    logger.info("seed %d: exported %s", seed, exported.path)
    return Path(exported.path)


def bench(seeds: list[int], pool: str = "lstm") -> None:
    """One experiments.bench_serving run over the selected ensembles' exports and the best configuration's."""
    output = results_dir(pool) / BENCH.name
    if output.exists():
        return
    exports = [export(s, pool) for s in seeds]
    best = BEST_RUNS[pool]
    others = [sorted((best / name / BENCH_TASK).glob("[0-9]*"), key=lambda p: int(p.name))
              for name in ("export", "export-ensemble")]
    command = [sys.executable, "-m", "experiments.bench_serving", "--export-dir", str(exports[0]), "--output",
               str(output.relative_to(REPO_ROOT))]
    for path in exports[1:] + [v[-1] for v in others if v]:
        command += ["--compare-export-dir", str(path)]
    logger.info("serving cost: %s", " ".join(command[1:]))
    if subprocess.call(command, cwd=REPO_ROOT) != 0:
        logger.error("experiments.bench_serving failed")


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
        "members and weights (`python -m experiments.select_ensembles"
        + ("`" if pool == "lstm" else f" --pool {pool}`") + ", which runs `python -m experiments.ensemble "
        "--select-on-dev`; each file has its command); test is read once, for the chosen ensemble. Reported apart "
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


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    p.add_argument("--max-steps", type=int, default=20, help="most picks per ensemble (default: %(default)s)")
    p.add_argument("--pool", choices=sorted(POOLS), default="lstm", help="the candidates (default: %(default)s)")
    args = p.parse_args(argv)
    folder = results_dir(args.pool)
    folder.mkdir(parents=True, exist_ok=True)
    ok = all([select(seed, args.max_steps, args.pool) for seed in args.seeds])
    if ok:
        bench(args.seeds, args.pool)
    text = summary(folder, BEST, args.pool)
    if text is not None:
        write_atomic(folder.with_suffix(".md"), f"# {TITLES[args.pool]}\n\n" + text)
        logger.info("wrote %s", folder.with_suffix(".md"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
