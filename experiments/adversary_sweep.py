"""Issue 23, "a fair chance for the adversary": does a shared space the probe cannot read give lower test error?

    bash experiments/queues/adversary_sweep.sh     # trains the sweep's runs, one at a time (SEEDS="0" for some seeds)
    python -m experiments.adversary_sweep          # then the table of every finished run (rerun it as runs finish)

With lambda 0.05 and gradient reversal, a fresh linear probe reads the task from ASP-MTL's shared features better
than from SP-MTL's: the adversary does not make the shared space task-invariant. The sweep (:data:`SETTINGS`) gives
it a fair chance: larger lambda, the confusion objective, a discriminator that learns at full weight with a gentle
reversal (``--gradient-reversal-scale``), the reversal warmed up over epochs (``--reversal-warmup-epochs``), and a
discriminator that also learns every step from recent shared rows of all tasks (``--discriminator-memory``: a
training batch holds one task, so the discriminator alone sees one target a step), and a term that pulls each
task's mean shared feature to the other tasks' (``--mean-matching-weight``: what a linear probe reads first), and a
projection that removes the tasks' mean differences from the shared feature outright (``--shared-mean-projection``).
Each run is ``experiments.train`` on the 16 FDU-MTL tasks, its epoch chosen on dev, test read once; results in
``experiments/results/adversary_sweep/<setting>_seed<S>.json``, run folders in
``runs/adversary_sweep/<setting>_seed<S>``.

For every finished run (its results file present) this command loads the selected model
(``<run folder>/model/model.keras``) and computes on the test reviews, as ``experiments.analysis`` does
(:func:`tf_aspmtl.analysis.feature_statistics`): the probe's task accuracy on the frozen shared features (logistic
regression fitted on the first ``--probe-rows`` training reviews of each task, ``--probe-seed``; chance 1/16) and
the model's own discriminator's task accuracy (ASP-MTL settings; SP-MTL has none). Each run's figures are cached in
``<setting>_seed<S>.probe.json`` beside its results (recomputed only if the model file or the probe's settings
change), so a rerun computes only new runs. Test error is each run's own ``avg_test_error``. Writes ``table.md``
and ``table.csv``: per setting, mean ± sd over seeds of the probe's accuracy, the discriminator's accuracy and the
test error, and the test error's difference from ``sp`` of the same seed (negative: better than SP-MTL), then one
line on whether settings the probe reads at <= ``--threshold`` % have lower test error than the others.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import re
import sys
from pathlib import Path
from typing import Any, Callable

from experiments.adversary_sweep_report import COLUMNS, PROBE_CACHE, REFERENCE, markdown, write_csv
from experiments.provenance import (REPO_ROOT, command_line, cpu_kind, provenance, repo_relative, write_atomic,
                                    write_json)

logger = logging.getLogger("experiments.adversary_sweep")
SWEEP = "adversary_sweep"
RESULTS_DIR = REPO_ROOT / "experiments" / "results" / SWEEP
RUNS_DIR = REPO_ROOT / "runs" / SWEEP
SETTINGS: dict[str, list[str]] = {
    "sp": ["--model", "sp-mtl"],
    "asp": ["--model", "asp-mtl"],  # lambda 0.05, the paper's reversal
    "asp_l03": ["--model", "asp-mtl", "--adversarial-weight", "0.3"],
    "asp_l1": ["--model", "asp-mtl", "--adversarial-weight", "1"],
    "conf_l03": ["--model", "asp-mtl", "--adversarial-weight", "0.3", "--adversarial-objective", "confusion"],
    "conf_l1": ["--model", "asp-mtl", "--adversarial-weight", "1", "--adversarial-objective", "confusion"],
    # a discriminator that learns at full weight, a gentle encoder (0.1 * lambda)
    "asp_l1_s01": ["--model", "asp-mtl", "--adversarial-weight", "1", "--gradient-reversal-scale", "0.1"],
    "asp_l1_warm": ["--model", "asp-mtl", "--adversarial-weight", "1", "--reversal-warmup-epochs", "5"],
    # the discriminator also learns from 256 recent shared rows of every task (one task a batch otherwise)
    "asp_mem": ["--model", "asp-mtl", "--discriminator-memory", "256"],
    "asp_l03_mem": ["--model", "asp-mtl", "--adversarial-weight", "0.3", "--discriminator-memory", "256"],
    "conf_l03_mem": ["--model", "asp-mtl", "--adversarial-weight", "0.3", "--adversarial-objective", "confusion",
                     "--discriminator-memory", "256"],
    # each task's mean shared feature pulled to the other tasks' (their rows in the memory): what a linear probe
    # reads first, removed without a discriminator's help
    "asp_mm10": ["--model", "asp-mtl", "--discriminator-memory", "256", "--mean-matching-weight", "10"],
    "asp_mm100": ["--model", "asp-mtl", "--discriminator-memory", "256", "--mean-matching-weight", "100"],
    # mm10 and mm100 left the probe at 12.0 and 11.1 % (seed 0): a weight 10 times larger, to reach <= 10 % and see
    # what a shared space the probe cannot read costs or gains
    "asp_mm1000": ["--model", "asp-mtl", "--discriminator-memory", "256", "--mean-matching-weight", "1000"],
    # no setting above left the probe <= 10 %: the tasks' mean differences cut out of the shared feature by a
    # projection (TaskMeanProjection) instead of penalised, with the paper's adversary and without any
    "asp_proj": ["--model", "asp-mtl", "--shared-mean-projection"],
    "sp_proj": ["--model", "sp-mtl", "--shared-mean-projection"],
}
"""Each setting's flags of ``experiments.train`` (beside ``--seed``, ``--output-dir`` and ``--results``), in the
queue's order; ``experiments/queues/adversary_sweep.sh`` reads them from here (``--print-settings``)."""
FIGURES = ("probe_task_accuracy_shared", "discriminator_accuracy", "test_error", "probe_task_accuracy_private",
           "mean_abs_cosine_shared_private")
"""What :func:`run_figures` keeps of :func:`~tf_aspmtl.analysis.feature_statistics` (``test_error``: recomputed from
the features, a check on the results file's ``avg_test_error``)."""


def run_paths(name: str, seed: int, results_dir: Path, runs_dir: Path) -> dict[str, Path]:
    """The results file, probe cache, run folder and model of one run."""
    results = results_dir / f"{name}_seed{seed}.json"
    return {"results": results, "cache": results.with_name(f"{name}_seed{seed}{PROBE_CACHE}"),
            "run": runs_dir / f"{name}_seed{seed}", "model": runs_dir / f"{name}_seed{seed}" / "model" / "model.keras"}


def finished_runs(results_dir: Path) -> dict[str, list[int]]:
    """The seeds of each setting whose results file exists, settings in :data:`SETTINGS` order."""
    found: dict[str, list[int]] = {}
    for name in SETTINGS:
        pattern = re.compile(rf"{re.escape(name)}_seed(\d+)\.json")
        seeds = sorted(int(m.group(1)) for p in results_dir.glob(f"{name}_seed*.json")
                       if (m := pattern.fullmatch(p.name)))
        if seeds:
            found[name] = seeds
    return found


def setting_fields(name: str) -> dict[str, Any]:
    """The TrainConfig fields the setting's flags set (``{"model": "asp-mtl", "adversarial_weight": 0.3}``)."""
    from experiments import train
    from tf_aspmtl.training import TrainConfig
    from tf_aspmtl.training.config_arguments import given_fields

    return given_fields(train.parse_args(SETTINGS[name]), TrainConfig)


def setting_config(name: str) -> dict[str, Any]:
    """The values the setting's command line gives every field a setting of the sweep sets (``asp``: lambda 0.05)."""
    from dataclasses import fields

    from experiments import train
    from tf_aspmtl.training import TrainConfig

    swept = set().union(*(setting_fields(n) for n in SETTINGS))
    config = train.resolve_config(train.parse_args(SETTINGS[name]))
    return {f.name: getattr(config, f.name) for f in fields(TrainConfig) if f.name in swept}


def load_results(path: Path, name: str, seed: int) -> dict[str, Any]:
    """A finished run's results, checked: its config has the setting's values of the fields the sweep varies and
    the seed of its file name, and it read test.

    Raises:
        ValueError: naming the file: unreadable, a run of other settings, or one that never read test.
    """
    from tf_aspmtl.training import TrainConfig

    where = repo_relative(str(path))
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
        config = TrainConfig.from_dict(results["config"], where=where)
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{where}: cannot read the run's results and config ({err!r})") from None
    wanted = {**setting_config(name), "seed": seed}
    differ = {k: (getattr(config, k), v) for k, v in wanted.items() if getattr(config, k) != v}
    if differ:
        raise ValueError(f"{where} is not a run of setting {name!r} seed {seed} (field: (the run's, the setting's) "
                         f"{differ}); move it out of the sweep's folder")
    if results.get("dev_only") or results.get("avg_test_error") is None:
        raise ValueError(f"{where}: the run never read test (dev only); rerun it without --dev-only")
    return results


CONTROLLED_PAIRS = (("sp_proj", "sp"), ("asp_proj", "asp"))
"""Settings that differ from another only by what makes their shared space unreadable (the task means projected
out of it): paired by seed and task, they answer the sweep's question within one family."""


def controlled_pairs(results_dir: Path) -> list[dict[str, Any]]:
    """Test error of each of :data:`CONTROLLED_PAIRS` ``(a, b)``, ``a - b`` per (seed, task) over the seeds both
    finished, with its 95 % interval over the seeds (:func:`~tf_aspmtl.analysis.seed_comparison.compare_runs`)."""
    from tf_aspmtl.analysis.seed_comparison import compare_runs

    finished = finished_runs(results_dir)
    pairs = []
    for a, b in CONTROLLED_PAIRS:
        if a not in finished or b not in finished:
            continue
        runs = {name: {seed: load_results(results_dir / f"{name}_seed{seed}.json", name, seed)
                       for seed in finished[name]} for name in (a, b)}
        comparison = compare_runs(runs[a], runs[b])
        if comparison is not None:
            pairs.append({"a": a, "b": b, **comparison})
    return pairs


def run_figures(model_path: Path, train, test, probe_seed: int, name: str) -> dict[str, float]:
    """:data:`FIGURES` of one trained model (accuracies as fractions, test error in %), on ``test``'s rows."""
    import keras

    import tf_aspmtl  # noqa: F401  (registers the model classes)
    from tf_aspmtl.analysis import feature_statistics

    model = keras.models.load_model(model_path, compile=False, safe_mode=True)
    tasks = sorted(set(test["task"]))
    if sorted(model.task_names) != tasks:
        raise ValueError(f"{repo_relative(str(model_path))} has tasks {model.task_names}; its results name {tasks}")
    entry, _ = feature_statistics(model, train, test, probe_seed, name=name)
    del model
    keras.backend.clear_session()
    return {k: float(entry[k]) for k in FIGURES if k in entry}


def probe_data(data_dir: str | None, tasks: list[str], probe_rows: int):
    """(the probe's training rows: the first ``probe_rows`` train reviews of each task, the test rows)."""
    from tf_aspmtl.data import load_fdu_mtl

    data = load_fdu_mtl(data_dir, tasks=tasks, splits=("train", "test"))
    train = data[data["split"] == "train"].groupby("task", sort=False).head(probe_rows)
    return train, data[data["split"] == "test"]


def cached_figures(name: str, seed: int, paths: dict[str, Path], tasks: list[str], probe: dict[str, Any],
                   load_data: Callable[[list[str]], tuple], command: str) -> dict[str, float]:
    """One run's figures: from its probe cache if that was made by the same probe settings from the same model
    file, else computed (:func:`run_figures`) and cached.

    Raises:
        ValueError: the model file is missing and no cache holds the run's figures.
    """
    cache, held = paths["cache"], None
    if cache.exists():
        try:
            held = json.loads(cache.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            logger.warning("%s: unreadable (%s); probing again", repo_relative(str(cache)), err)
    model = paths["model"]
    if not model.exists():
        if held is not None and held.get("probe") == probe:
            logger.warning("%s: the model is gone (%s); using its cached figures", name, repo_relative(str(model)))
            return held["figures"]
        raise ValueError(f"{repo_relative(str(paths['results']))} has no model to probe: "
                         f"{repo_relative(str(model))} is missing (the run folder the queue gives as --output-dir, "
                         f"runs/{SWEEP}/{name}_seed{seed}); restore it, or move the results file out of the sweep")
    from tf_aspmtl.io_utils import file_sha256

    sha = file_sha256(model)
    if held is not None and held.get("probe") == probe and held.get("model_sha256") == sha:
        return held["figures"]
    logger.info("%s seed %d: probing %s", name, seed, repo_relative(str(model)))
    train, test = load_data(tasks)
    figures = run_figures(model, train, test, probe["seed"], f"{name} seed {seed}")
    write_json(cache, {**provenance(command), "setting": name, "seed": seed, "model": str(model), "model_sha256": sha,
                       "probe": probe, "probe_rows": {"train": int(len(train)), "test": int(len(test))},
                       "figures": figures})
    return figures


def collect(results_dir: Path, runs_dir: Path, data_dir: str | None, probe_rows: int, probe_seed: int,
            command: str) -> tuple[dict[str, dict[int, dict[str, float]]], list[str]]:
    """Each finished run's table figures (setting -> seed -> probe %, discriminator %, test error %), and the tasks.

    Raises:
        ValueError: a results file of other settings, of a dev-only run or without a model; runs of other tasks.
    """
    probe = {"train_rows_per_task": probe_rows, "seed": probe_seed}
    loaded: dict[tuple, tuple] = {}

    def load_data(tasks: list[str]) -> tuple:
        if tuple(tasks) not in loaded:
            loaded[tuple(tasks)] = probe_data(data_dir, tasks, probe_rows)
        return loaded[tuple(tasks)]

    figures: dict[str, dict[int, dict[str, float]]] = {}
    tasks = None
    for name, seeds in finished_runs(results_dir).items():
        for seed in seeds:
            paths = run_paths(name, seed, results_dir, runs_dir)
            results = load_results(paths["results"], name, seed)
            run_tasks = list(results["config"]["tasks"])
            if tasks is not None and run_tasks != tasks:
                raise ValueError(f"{repo_relative(str(paths['results']))} has tasks {run_tasks}; the sweep's other "
                                 f"runs {tasks}")
            tasks = run_tasks
            got = cached_figures(name, seed, paths, tasks, {**probe, "tasks": tasks}, load_data, command)
            if abs(got["test_error"] - results["avg_test_error"]) > 0.01:
                logger.warning("%s seed %d: test error %.3f %% from the features, %.3f %% in its results file",
                               name, seed, got["test_error"], results["avg_test_error"])
            row = {"probe": 100 * got["probe_task_accuracy_shared"], "test_error": float(results["avg_test_error"])}
            if "discriminator_accuracy" in got:
                row["discriminator"] = 100 * got["discriminator_accuracy"]
            row["cpu"] = cpu_kind(results.get("machine") or {})
            figures.setdefault(name, {})[seed] = row
    return figures, tasks or []


def table_rows(figures: dict[str, dict[int, dict[str, float]]]) -> list[dict[str, Any]]:
    """Per setting with runs: its flags, seeds, mean ± sd of each column over seeds, and the test error paired with
    :data:`REFERENCE` by seed (:func:`~tf_aspmtl.analysis.settings_summary.summarize_settings`)."""
    from tf_aspmtl.analysis.settings_summary import summarize_settings

    paired = {"reference": REFERENCE, "paired": "test_error"} if REFERENCE in figures else {}
    summary = summarize_settings(figures, list(COLUMNS), **paired)
    return [{"setting": name, "flags": " ".join(SETTINGS[name]), **summary[name], "runs": figures[name]}
            for name in summary]


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results-dir", default=str(RESULTS_DIR), help="the sweep's results files; table.md/csv go here")
    p.add_argument("--runs-dir", default=str(RUNS_DIR), help="the sweep's run folders")
    p.add_argument("--data-dir", help="FDU-MTL folder (else $TF_ASPMTL_FDU_MTL, else ../shared/data/fdu-mtl)")
    p.add_argument("--probe-rows", type=int, default=400, help="training reviews per task for the probe")
    p.add_argument("--probe-seed", type=int, default=0, help="random_state of the probe")
    p.add_argument("--threshold", type=float, default=10.0,
                   help="probe accuracy (%%) at or below which a shared space counts as unreadable")
    p.add_argument("--print-settings", action="store_true",
                   help="only print each setting's name and flags, tab-separated, in order (for the queue)")
    args = p.parse_args(argv)
    if args.print_settings:
        for name, flags in SETTINGS.items():
            print(name, " ".join(flags), sep="\t")
        return 0
    if args.probe_rows < 1:
        p.error(f"--probe-rows must be >= 1; got {args.probe_rows}")
    command = command_line("experiments.adversary_sweep", argv)
    results_dir = Path(args.results_dir)
    try:
        figures, tasks = collect(results_dir, Path(args.runs_dir), args.data_dir, args.probe_rows, args.probe_seed,
                                 command)
    except ValueError as err:
        print(f"experiments.adversary_sweep: error: {err}", file=sys.stderr)
        return 2
    if not figures:
        print(f"experiments.adversary_sweep: error: no finished run in {repo_relative(str(results_dir))} "
              f"(run experiments/queues/adversary_sweep.sh)", file=sys.stderr)
        return 2
    rows = table_rows(figures)
    made = {**provenance(command), "probe_rows": args.probe_rows, "probe_seed": args.probe_seed,
            "threshold": args.threshold, "tasks": tasks, "results_dir": repo_relative(str(results_dir)),
            "runs_dir": repo_relative(str(Path(args.runs_dir)))}
    text = markdown(rows, made, list(SETTINGS), controlled_pairs(results_dir))
    write_atomic(results_dir / "table.md", text)
    buffer = io.StringIO()
    write_csv(rows, buffer)
    write_atomic(results_dir / "table.csv", buffer.getvalue())
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
