"""The best configuration found on dev, trained over seeds on the 16 tasks, with its test table and serving cost.

    python -m experiments.best                      # train what is missing, then write best.md

Runs ``experiments.train --config experiments/configs/best.json --seed S``
(``experiments.ngram --config ...`` when the config's model is the n-gram
model, ``"model": "sp-ngram"``) for every seed of ``--seeds`` (default 0 1 2), one process at a time, each in
``runs/best/seed<S>`` (a killed run resumes from its last epoch; a finished
seed is never rerun: its ``experiments/results/best/best_seed<S>.json``
exists). A seed that the 16-task screen already trained with this
configuration on dev only (``runs/tables/<chosen>_seed<S>``, or the n-gram
screen's folder, :func:`experiments.ngram_screens.screen_run_dir`) is copied
there and only evaluated on test. The first seed's model is also exported (``runs/best/export``) and
``experiments.bench_serving`` measures its p50 latency and batch-64
throughput on one task. Then ``experiments/results/best.md``: per-task test
error, mean ± sd over seeds, beside the paper's ASP-MTL and our FS-, SP- and
ASP-MTL of Table 2, the wall time of every run, and the serving figures.
Then the ensemble of all the seeds' models (``experiments.ensemble``),
reported apart, with its own serving cost.

Every choice in the config was made on dev (``experiments/results/tables/levers.md``
says which screening each lever passed); test is read once per run, here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

from experiments import ngram, ngram_screens
from experiments.bench_serving import load_note, variant_lines
from experiments.markdown_template import render
from experiments.provenance import REPO_ROOT, command_line, write_atomic
from experiments.result_files import BEST as RESULTS
from experiments.result_files import PREVIOUS_BEST_LSTM, TABLES, load_previous, plus_minus
from tf_aspmtl.training.ngram_config import NGRAM_MODEL, NgramConfig
from tf_aspmtl.training.run_folder import NGRAM_RUN_IDENTITY
from tf_aspmtl.training.train_config import CONFIG_FILE_METADATA, TrainConfig

logger = logging.getLogger("experiments.best")
CONFIG = REPO_ROOT / "experiments" / "configs" / "best.json"
REPORT = RESULTS.parent / "best.md"
TEMPLATE = REPO_ROOT / "experiments" / "templates" / "best.md"
TABLE2 = TABLES / "table2.csv"
TABLE2_RUNS = TABLES / "runs"
BENCH_TASK = "books"


def result_path(seed: int) -> Path:
    return RESULTS / f"best_seed{seed}.json"


def is_ngram(config: dict[str, Any]) -> bool:
    """Whether a config (or a run's results) is the shared/private n-gram model's (``experiments.ngram``)."""
    return config.get("model") == NGRAM_MODEL


def train_command(config: Path, seed: int, runs: Path, export: bool) -> list[str]:
    script = "experiments.ngram" if is_ngram(json.loads(Path(config).read_text())) else "experiments.train"
    command = [sys.executable, "-m", script, "--config", _arg(config), "--seed", str(seed),
               "--output-dir", _arg(runs / f"seed{seed}"), "--results", _arg(result_path(seed)), "--verbose", "2"]
    return command + (["--export", _arg(runs / "export")] if export else [])


def _settings(config: dict[str, Any]) -> dict[str, Any]:
    """A run's TrainConfig fields, checked and normalised, without the seed (and the config file's provenance)."""
    fields = {k: v for k, v in config.items() if k != "seed" and k not in CONFIG_FILE_METADATA}
    return {k: v for k, v in TrainConfig.from_dict(fields).to_dict().items() if k != "seed"}


def config_settings(config: dict[str, Any]) -> dict[str, Any]:
    """What defines a configuration's runs (seed aside), for either model, from its config file."""
    return ngram.identity(NgramConfig.from_dict(config)) if is_ngram(config) else _settings(config)


def result_settings(result: dict[str, Any]) -> dict[str, Any]:
    """The same, of a run's results file."""
    return ngram.identity(NgramConfig.from_results(result)) if is_ngram(result) else _settings(result["config"])


def _arg(path: Path | str) -> str:
    """A path as a command-line argument: relative to the checkout when inside it (the commands run there), so
    the files they write name no folder of this machine."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def check_results_match(config: Path, seeds: list[int]) -> None:
    """Refuses result files of another configuration than ``config``: best.md must not mix two of them."""
    wanted = config_settings(json.loads(Path(config).read_text()))
    for seed in seeds:
        path = result_path(seed)
        if path.exists() and result_settings(json.loads(path.read_text())) != wanted:
            theirs = result_settings(json.loads(path.read_text()))
            diff = {k: (theirs.get(k), wanted[k]) for k in wanted if theirs.get(k) != wanted[k]}
            raise SystemExit(f"{path} is a run of another configuration than {config} (field: (run, config) "
                             f"{diff}); move {RESULTS} and {REPORT} aside before "
                             "training the new one (git keeps them)")


def adopt_screen_run(config: Path, seed: int, runs: Path, screen_runs: Path) -> bool:
    """Copies the screen's finished ``--dev-only`` run of this configuration and seed into ``runs/seed<S>``.

    ``choose-best`` picks a setting whose 16-task screen runs (``<screen_runs>/<chosen>_seed<S>``) already trained
    exactly this configuration on dev only; ``experiments.train`` on the copy then trains no epoch and reads the
    test split once for the selected model. Nothing is copied unless that run finished, its settings equal the
    config's and ``runs/seed<S>`` does not exist; the copy is staged beside it and renamed into place.
    Returns True if it copied.
    """
    wanted = json.loads(Path(config).read_text())
    chosen = wanted.get("provenance", {}).get("chosen")
    if is_ngram(wanted):
        return _adopt_ngram_screen_run(wanted, chosen, seed, runs)
    source, target = screen_runs / f"{chosen}_seed{seed}", runs / f"seed{seed}"
    if not chosen or target.exists() or not (source / "results.json").exists():
        return False
    done = json.loads((source / "results.json").read_text())
    if not done.get("dev_only") or _settings(done["config"]) != _settings(wanted):
        logger.info("seed %d: %s is not a dev-only run of this configuration; training afresh", seed, source)
        return False
    return _copy_run(source, runs, seed)


def _adopt_ngram_screen_run(wanted: dict[str, Any], chosen: str | None, seed: int, runs: Path) -> bool:
    """:func:`adopt_screen_run` for the n-gram model: its screen's folder, if it finished with these settings."""
    names = {ngram_screens.screen_key(name): name for name in ngram_screens.SCREEN_SETTINGS}
    if chosen not in names or (runs / f"seed{seed}").exists():
        return False
    source = ngram_screens.screen_run_dir(names[chosen], seed)
    finished = ngram_screens.screen_result_path(names[chosen], seed)
    if not finished.exists() or not (source / NGRAM_RUN_IDENTITY).exists():
        return False
    held = json.loads((source / NGRAM_RUN_IDENTITY).read_text())
    if "dev_only" in held:  # a self-training run's record: its dev-only student is never promoted to read test
        logger.info("seed %d: %s is a dev-only self-training run; training afresh", seed, source)
        return False
    held = NgramConfig.from_dict({**held, "tasks": held.get("tasks", "").split(",")}, where=str(source))
    if held.seed != seed or ngram.identity(held) != config_settings(wanted):
        logger.info("seed %d: %s holds other settings; training afresh", seed, source)
        return False
    return _copy_run(source, runs, seed)


def _copy_run(source: Path, runs: Path, seed: int) -> bool:
    """Copies a finished screen run folder to ``runs/seed<S>`` (staged beside it, then renamed)."""
    import shutil

    target = runs / f"seed{seed}"
    staging = runs / f".seed{seed}.copying"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging)
    staging.rename(target)
    logger.info("seed %d: adopted the screen's dev-only run %s (training is not repeated; test is read once)",
                seed, source)
    return True


def run_missing(config: Path, seeds: list[int], runs: Path, screen_runs: Path | None = None) -> int:
    """Trains every seed without a result file, one process at a time; returns the number of failures.

    With ``screen_runs``, a seed the 16-task screen already trained on dev only is adopted (see
    :func:`adopt_screen_run`) instead of trained again.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    check_results_match(config, seeds)
    failures = 0
    for i, seed in enumerate(seeds):
        if result_path(seed).exists():
            logger.info("seed %d already done: %s", seed, result_path(seed))
            continue
        if screen_runs is not None:
            runs.mkdir(parents=True, exist_ok=True)
            adopt_screen_run(config, seed, runs, screen_runs)
        command = train_command(config, seed, runs, export=i == 0)
        logger.info("training seed %d: %s", seed, " ".join(command[1:]))
        if subprocess.call(command, cwd=REPO_ROOT) != 0 or not result_path(seed).exists():
            logger.error("seed %d failed", seed)
            failures += 1
    return failures


class StepFailed(RuntimeError):
    """A step's process (the serving benchmark, the ensemble) exited with an error or wrote no results file."""


def bench(runs: Path, export: str = "export", output: Path | None = None) -> Path | None:
    """Serving latency and throughput of an export of one task (the first seed's by default), measured once; None
    without an export (said), :class:`StepFailed` if the measurement fails."""
    out = output or RESULTS / "bench_serving.json"
    if out.exists():
        return out
    versions = sorted((runs / export / BENCH_TASK).glob("[0-9]*"), key=lambda p: int(p.name))
    if not versions:
        logger.warning("no export of %s under %s: serving cost not measured", BENCH_TASK, runs / export)
        return None
    command = [sys.executable, "-m", "experiments.bench_serving", "--export-dir", _arg(versions[-1]),
               "--output", _arg(out)]
    logger.info("measuring serving: %s", " ".join(command[1:]))
    if subprocess.call(command, cwd=REPO_ROOT) != 0 or not out.exists():
        raise StepFailed(f"the serving benchmark failed: {' '.join(command[1:])}")
    return out


def ensemble(seeds: list[int], runs: Path) -> Path | None:
    """The ensemble of every seed's model (none chosen: all of them), scored and exported once, then timed; None
    until every seed has its result and model, :class:`StepFailed` if scoring or timing it fails."""
    out = RESULTS / "ensemble.json"
    members = [runs / f"seed{s}" / "model" / "model.keras" for s in seeds]
    if not out.exists():
        if len(seeds) < 2 or not all(result_path(s).exists() and m.exists() for s, m in zip(seeds, members)):
            logger.warning("ensemble skipped: it needs every seed's result and model (%s)", ", ".join(map(str, members)))
            return None
        command = [sys.executable, "-m", "experiments.ensemble", "--results", _arg(out),
                   "--export", _arg(runs / "export-ensemble")]
        for m in members:
            command += ["--member", _arg(m)]
        logger.info("scoring the ensemble: %s", " ".join(command[1:]))
        if subprocess.call(command, cwd=REPO_ROOT) != 0 or not out.exists():
            raise StepFailed(f"the ensemble failed: {' '.join(command[1:])}")
    bench(runs, export="export-ensemble", output=RESULTS / "bench_serving_ensemble.json")
    return out


def changed_fields(config: dict[str, Any]) -> str:
    """The fields of a run's config that differ from TrainConfig's defaults (seed aside)."""
    default = dataclasses.asdict(TrainConfig())  # every field (to_dict leaves some out at their defaults)
    changed = {k: v for k, v in config.items() if k != "seed" and k in default
               and (list(v) if isinstance(v, (list, tuple)) else v) != (list(default[k]) if isinstance(default[k], tuple) else default[k])}
    return ", ".join(f"{k}={v}" for k, v in changed.items()) or "none"


def describe_config(run: dict[str, Any]) -> str:
    """The configuration of a run, in words: what it changes from its model's defaults."""
    if is_ngram(run):
        settings = ", ".join(f"{k}={v}" for k, v in run["settings"].items())
        return f"the shared/private n-gram model, `python -m experiments.ngram` with `{settings}`"
    return f"the paper's ASP-MTL settings but `{changed_fields(run['config'])}`"


def data_used(run: dict[str, Any]) -> str:
    """What a run learnt from beyond the labelled train rows, so nobody compares it unfairly with the paper's."""
    if is_ngram(run):
        settings = run.get("settings", {})
        learnt = "n-gram vocabulary, idf and NB ratios" if settings.get("feature_weighting") == "nb" else \
            "n-gram vocabulary and idf"
        if settings.get("self_training_threshold", 0) > 0:
            where = "the train split and the pseudo-labelled rows" \
                if settings.get("student_features", "train") == "train+pseudo" else "the train split"
            return (f"the labelled train rows ({learnt} from {where}) and pseudo-labelled unlabelled "
                    "reviews: no word vectors, no pretraining")
        return (f"the labelled train rows only ({learnt} from the train split): no unlabelled text, "
                "no word vectors, no pretraining")
    config, used = run["config"], []
    if "glove" in str(config.get("embedding", "")):
        used.append("GloVe 6B vectors (as the paper)")
    if "word2vec" in str(config.get("embedding", "")):
        used.append("in-domain word2vec vectors trained on train + unlabelled text")
    if config.get("unlabeled_fraction", 0) > 0:
        used.append("unlabelled reviews in the adversary")
    if config.get("lm_pretrain_epochs", 0) > 0:
        used.append("language-model pretraining on train + unlabelled text")
    if config.get("self_training_threshold", 0) > 0:
        used.append("pseudo-labelled unlabelled reviews")
    return "the labelled train rows" + (", " + ", ".join(used) if used else " only")


def _listed(seeds) -> str:
    return ", ".join(map(str, seeds))


def _table(runs: dict[int, dict[str, Any]], lstm: dict[int, dict[str, Any]], table2) -> str:
    """Per-task test error, mean ± sd over seeds, beside the best LSTM configuration's, the paper's and Table 2's."""
    families = [("fs_mtl", "FS-MTL"), ("sp_mtl", "SP-MTL"), ("asp_mtl", "ASP-MTL")]
    lines = ["| task | best config | " + ("best LSTM config | " if lstm else "") + "paper ASP-MTL | "
             + " | ".join(f"our {label}" for _, label in families) + " |",
             "|---|" + "---:|" * (2 + bool(lstm) + len(families))]
    for task in list(next(iter(runs.values()))["per_task"]) + ["average"]:
        digits = 2 if task == "average" else 1
        cells = [plus_minus([r["avg_test_error"] if task == "average" else r["per_task"][task]["test_error"]
                             for r in chosen.values()], digits) for chosen in ([runs, lstm] if lstm else [runs])]
        if table2 is not None and task in table2.index:
            row = table2.loc[task]
            cells.append(f"{row['paper_asp_mtl']:.1f}")
            cells += [f"{row[f'{f}_mean']:.1f} ± {row[f'{f}_sd']:.1f}" for f, _ in families]
        else:
            cells += [""] * (1 + len(families))
        lines.append(f"| {f'**{task}**' if task == 'average' else task} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _earlier_test_reads(runs: dict[int, dict[str, Any]], reused: list[int]) -> str:
    """The test errors that ``experiments.ngram`` read with the same weights after the screen, beside these."""
    earlier = {s: json.loads(ngram_screens.tested_result_path(s).read_text()) for s in reused
               if ngram_screens.tested_result_path(s).exists()}
    return "; ".join(f"seed {s} {r['avg_test_error']:.2f} / {runs[s]['avg_test_error']:.2f}" for s, r in earlier.items()
                     if "avg_test_error" in r and result_settings(r) == result_settings(runs[s]))


def _wall_times(runs: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Minutes per run: of every process that trained it (``training``: "" unless every run records it) and of the
    process that wrote its result; their sums in hours; the load average at the end of each run."""
    training = [r.get("training_wall_time_s") for r in runs.values()]
    process = [r["wall_time_s"] for r in runs.values()]
    known = all(t is not None for t in training)
    return {"training": ", ".join(f"{t / 60:.1f}" for t in training) if known else "",
            "training_hours": sum(training) / 3600 if known else None,
            "process": ", ".join(f"{w / 60:.1f}" for w in process), "process_hours": sum(process) / 3600,
            "loads": ", ".join("?" if r.get("load_average_1m") is None else f"{r['load_average_1m']:.1f}"
                               for r in runs.values())}


def report(seeds: list[int], command: str, table2_csv: str | None = None) -> str:
    """best.md from the result files alone (``table2_csv``: Table 2's CSV text, instead of reading :data:`TABLE2`);
    its prose is ``experiments/templates/best.md``."""
    import io

    import pandas as pd

    runs = {s: json.loads(result_path(s).read_text()) for s in seeds if result_path(s).exists()}
    if not runs:
        raise SystemExit(f"no result file under {RESULTS}: run python -m experiments.best first")
    first = next(iter(runs.values()))
    if table2_csv is not None:
        table2 = pd.read_csv(io.StringIO(table2_csv)).set_index("task")
    else:
        table2 = pd.read_csv(TABLE2).set_index("task") if TABLE2.exists() else None
    previous = load_previous(PREVIOUS_BEST_LSTM) if is_ngram(first) else {}
    lstm = {s: previous[s] for s in runs if s in previous}
    asp = {s: json.loads(path.read_text()) for s in runs if (path := TABLE2_RUNS / f"asp_mtl_seed{s}.json").exists()}
    reused = [s for s, r in runs.items() if is_ngram(r) and not r.get("dev_only") and r.get("epochs_trained_here") == 0]

    def serving_vs_previous() -> dict[str, str]:
        bench = json.loads((RESULTS / "bench_serving_vs_previous.json").read_text())
        return {"load": load_note(bench), "variants": "\n".join(variant_lines(bench))}

    return render(TEMPLATE, RESULTS, {
        "command": command, "config": describe_config(first), "seeds": _listed(runs), "lstm_seeds": _listed(lstm),
        "data_used": data_used(first), "table": _table(runs, lstm, table2),
        "paired": "; ".join(f"seed {s}: dev {runs[s]['avg_dev_error'] - r['avg_dev_error']:+.2f}, test "
                            f"{runs[s]['avg_test_error'] - r['avg_test_error']:+.2f}" for s, r in asp.items()),
        "reused": _listed(reused), "earlier_read": lambda: _earlier_test_reads(runs, reused),
        "adopted": _listed(s for s, r in runs.items() if r.get("test_read_after_dev_only_training")),
        "wall": _wall_times(runs), "bench_task": BENCH_TASK, "first_seed": seeds[0],
        "serving_vs_previous": serving_vs_previous})


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=str(CONFIG), help="TrainConfig JSON (default: %(default)s)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--runs-dir", default=str(REPO_ROOT / "runs" / "best"))
    p.add_argument("--screen-runs-dir", default=str(REPO_ROOT / "runs" / "tables"),
                   help="where experiments.tables trained the screen runs: a seed the chosen setting already trained "
                        "there on dev only is tested, not retrained (default: %(default)s)")
    args = p.parse_args(argv)
    failures = run_missing(Path(args.config), args.seeds, Path(args.runs_dir), Path(args.screen_runs_dir))
    for step in (lambda: bench(Path(args.runs_dir)), lambda: ensemble(args.seeds, Path(args.runs_dir))):
        try:
            step()
        except StepFailed as error:  # the page is still written; the exit status says a step failed
            logger.error("%s", error)
            failures += 1
    write_atomic(REPORT, report(args.seeds, command_line("experiments.best", argv)))
    logger.info("wrote %s", REPORT)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
