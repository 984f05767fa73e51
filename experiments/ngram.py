"""Trains the shared/private n-gram linear model on FDU-MTL: epochs chosen on dev, resumable, test read once.

    python -m experiments.ngram --seed 0 --output-dir runs/ngram/seed0 \\
        --results experiments/results/ngram/seed0.json

    python -m experiments.ngram --config experiments/configs/best.json --seed 0 --output-dir runs/best/seed0 \\
        --results experiments/results/best/best_seed0.json --export runs/best/export

The model is :class:`tf_aspmtl.SharedPrivateNgramClassifier` on
:class:`tf_aspmtl.NgramFeatures` learnt from the train split (never dev or
test). :func:`tf_aspmtl.training.fit_with_dev_selection` picks the epoch on
dev and resumes a killed run from its last finished epoch; the run folder
keeps the model (``model/model.keras``). ``--dev-only`` never reads the test
split (for screens). ``--config`` takes a JSON file with ``"model": "sp-ngram"``
and any of the settings (:data:`SETTING_FIELDS`, ``tasks``); flags given
beside it win. ``--export DIR`` then writes a TF Serving SavedModel per task.
The results file records per-task dev (and test) error,
the command, commit, versions, seed, wall time and every epoch's logs.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from experiments.provenance import REPO_ROOT, command_line, provenance, write_json
from tf_aspmtl.data.fdu_mtl import FDU_MTL_TASKS, load_fdu_mtl
from tf_aspmtl.models.shared_private_ngram_classifier import SharedPrivateNgramClassifier
from tf_aspmtl.optimizers import LazyAdam
from tf_aspmtl.preprocessing.ngram_features import NgramFeatures
from tf_aspmtl.preprocessing.ngram_preprocessor import NgramPreprocessor
from tf_aspmtl.training.epoch_summary import fit_output
from tf_aspmtl.training.fit_with_dev_selection import fit_with_dev_selection
from tf_aspmtl.training.task_errors import task_errors
from tf_aspmtl.training.train_config import FDU_MTL_CLASS_NAMES

logger = logging.getLogger("experiments.ngram")


def rows_dataset(model: SharedPrivateNgramClassifier, frame: pd.DataFrame, batch_size: int,
                 seed: int | None = None) -> tf.data.Dataset:
    """A frame's raw rows and class ids (the model's ``training_dataset`` / ``evaluation_dataset``; FDU-MTL's label ``i``
    is the task's class ``i``); with ``seed``, an endless stream reshuffled each pass (the same for the same seed)."""
    labels = [model.class_names[model.task_id(t)][int(v)] for t, v in zip(frame["task"], frame["label"])]
    x = {"text": frame["text"].astype(str).tolist(), "task": frame["task"].tolist()}
    if seed is None:
        return model.evaluation_dataset(x, labels, batch_size)
    return model.training_dataset(x, labels, batch_size, seed=seed)[0]


SETTING_FIELDS = ("max_features", "ngrams", "l2", "learning_rate", "batch_size", "epochs", "patience")
"""The model's and training's settings (a config file may set them, and ``tasks``)."""
RUN_FIELDS = ("tasks", "seed", *SETTING_FIELDS)
"""The arguments that define a run; a run folder holds one such run."""
MODEL = "sp-ngram"
"""The ``model`` field of this model's results and config files."""

SCREEN_SETTINGS: dict[str, list[str]] = {
    "sp_ngram": [],
    "long": ["--epochs", "40", "--patience", "5"],
    "trigram": ["--ngrams", "3", "--max-features", "500000", "--epochs", "40", "--patience", "5"],
}
"""The n-gram model's 16-task dev-only screens: name -> flags beside the defaults (``sp_ngram``: none)."""
SCREEN_BASELINES = {"long": "sp_ngram", "trigram": "long"}
"""The screen each setting is paired with (the one it changes one thing of)."""


SCREEN_RESULTS = REPO_ROOT / "experiments" / "results" / "ngram"
"""Where the screens' results files are."""
SCREEN_RUNS = REPO_ROOT / "runs"
"""Where the screens' run folders are (not committed)."""


def screen_result_path(name: str, seed: int) -> Path:
    """The results file of a dev-only screen run."""
    if name == "sp_ngram":
        return SCREEN_RESULTS / f"sp_ngram_dev_seed{seed}.json"
    return SCREEN_RESULTS / "screen" / f"{name}_seed{seed}.json"


def screen_run_dir(name: str, seed: int) -> Path:
    """The run folder of a dev-only screen run."""
    if name == "sp_ngram":
        return SCREEN_RUNS / "ngram" / f"seed{seed}"
    return SCREEN_RUNS / "ngram_screen" / f"{name}_seed{seed}"


def tested_result_path(seed: int) -> Path:
    """The results file of the ``sp_ngram`` screen run of ``seed`` continued to read test (issue 11's rule)."""
    return SCREEN_RESULTS / f"sp_ngram_seed{seed}.json"


def load_screen_runs() -> dict[str, dict[int, dict[str, Any]]]:
    """Finished dev-only screen runs: setting -> seed -> results JSON (``s16_ngram_<name>`` keys, as in experiments.tables)."""
    runs: dict[str, dict[int, dict[str, Any]]] = {}
    for name in SCREEN_SETTINGS:
        for seed in range(10):
            path = screen_result_path(name, seed)
            if path.exists():
                runs.setdefault(screen_key(name), {})[seed] = json.loads(path.read_text(encoding="utf-8"))
    return runs


def screen_key(name: str) -> str:
    """The name experiments.tables gives a screen setting of this model."""
    return "s16_ngram" if name == "sp_ngram" else f"s16_ngram_{name}"


def settings_of(flags: list[str], defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """The settings (:data:`SETTING_FIELDS` and ``tasks`` as a list) that ``flags`` give, over ``defaults``
    (parser defaults, as :func:`settings_from_config` makes them)."""
    p = build_parser()
    p.set_defaults(**(defaults or {}))
    args = p.parse_args([*flags, "--output-dir", "-"])
    return {"tasks": [t for t in args.tasks.split(",") if t], **{k: getattr(args, k) for k in SETTING_FIELDS}}


def claim_run_folder(run_dir: Path, args: argparse.Namespace) -> None:
    """Records the run's arguments in ``run_dir/run_args.json``; exits 2 naming the fields if it holds another run."""
    wanted = {k: getattr(args, k) for k in RUN_FIELDS}
    record = run_dir / "run_args.json"
    if record.exists():
        held = json.loads(record.read_text(encoding="utf-8"))
        differing = sorted(k for k in set(held) | set(wanted) if held.get(k) != wanted.get(k))
        if differing:
            raise SystemExit(f"error: {run_dir} holds another run ({', '.join(differing)} differ); give this run "
                             "its own --output-dir")
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(record, wanted)


def config_settings(config: dict[str, Any]) -> dict[str, Any]:
    """A config's full settings (``tasks`` as a list and every :data:`SETTING_FIELDS`, defaults filled in)."""
    return settings_of([], settings_from_config(config, "config"))


def result_settings(result: dict[str, Any]) -> dict[str, Any]:
    """The same, of a results file this command wrote."""
    return {"tasks": list(result["tasks"]), **{k: result["settings"][k] for k in SETTING_FIELDS}}


def settings_from_config(config: Any, where: str) -> dict[str, Any]:
    """Parser defaults from a config dict; SystemExit naming ``where`` and the field if it is not one of ours."""
    from tf_aspmtl.training.train_config import CONFIG_FILE_METADATA

    if not isinstance(config, dict) or config.get("model") != MODEL:
        got = config.get("model") if isinstance(config, dict) else type(config).__name__
        raise SystemExit(f"error: {where}: 'model' is {got!r}; this command trains {MODEL!r} "
                         "(python -m experiments.train takes the LSTM configurations)")
    unknown = sorted(set(config) - {"model", "tasks", "seed", *SETTING_FIELDS, *CONFIG_FILE_METADATA})
    if unknown:
        raise SystemExit(f"error: {where}: unknown field(s) {unknown}; known: {['tasks', *SETTING_FIELDS]}")
    settings = {k: config[k] for k in SETTING_FIELDS if k in config}
    if "tasks" in config:
        settings["tasks"] = ",".join(config["tasks"]) if isinstance(config["tasks"], list) else str(config["tasks"])
    return settings


def read_config(path: str) -> dict[str, Any]:
    """A config file's settings, checked: ``model`` must be :data:`MODEL`; unknown fields are named."""
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise SystemExit(f"error: --config {path}: {error}")
    return settings_from_config(config, f"--config {path}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", help=f"JSON file with 'model': {MODEL!r} and settings (flags given here win)")
    p.add_argument("--data-dir", help="FDU-MTL folder (else $TF_ASPMTL_FDU_MTL, else ../shared/data/fdu-mtl)")
    p.add_argument("--tasks", default=",".join(FDU_MTL_TASKS), help="comma-separated tasks (default: all 16)")
    p.add_argument("--seed", type=int, default=0, help="data order (the weights start at zero)")
    p.add_argument("--max-features", type=int, default=200_000, help="most n-grams kept")
    p.add_argument("--ngrams", type=int, default=2, help="longest n-gram, in words")
    p.add_argument("--l2", type=float, default=0.0, help="L2 weight (0: early stopping alone, sparse updates)")
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--dev-only", action="store_true", help="never read the test split")
    p.add_argument("--output-dir", required=True, help="run folder (the same folder resumes)")
    p.add_argument("--results", help="results JSON (default: OUTPUT_DIR/results.json)")
    p.add_argument("--export", metavar="DIR", help="then write TF Serving SavedModels of every task under DIR")
    p.add_argument("--verbose", type=int, default=2,
                   help="training output: 1 Keras' progress bar, 2 one short line per epoch (loss terms, mean dev "
                        "accuracy, time), 0 none")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = build_parser()
    known, _ = p.parse_known_args(argv)
    if known.config:
        p.set_defaults(**read_config(known.config))
    args = p.parse_args(argv)
    for name in ("max_features", "ngrams", "batch_size", "epochs", "patience"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if not (math.isfinite(args.learning_rate) and args.learning_rate > 0):
        p.error("--learning-rate must be a finite number > 0")
    if not (math.isfinite(args.l2) and args.l2 >= 0):
        p.error("--l2 must be a finite number >= 0")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args(argv)
    command = command_line("experiments.ngram", argv)
    started = time.monotonic()
    tasks = [t for t in args.tasks.split(",") if t]
    splits = ("train", "dev") if args.dev_only else ("train", "dev", "test")
    data = load_fdu_mtl(args.data_dir, tasks=tasks, splits=splits)
    train, dev = data[data["split"] == "train"], data[data["split"] == "dev"]
    tf.keras.utils.set_random_seed(args.seed)
    features = NgramFeatures(max_features=args.max_features, ngrams=args.ngrams)
    features.adapt(train["text"].astype(str).tolist())
    # The LSTM runs' class names (experiments.train): label 0 is negative, 1 positive. So the two models' saved
    # models can be averaged by MultiTaskEnsemble and their exports answer with the same labels.
    class_names = [list(FDU_MTL_CLASS_NAMES) for _ in tasks]
    preprocessor = NgramPreprocessor(tasks, dict(zip(tasks, class_names)), features, name="preprocessor")
    model = SharedPrivateNgramClassifier(preprocessor, l2=args.l2, name="sp_ngram")
    model.compile(optimizer=LazyAdam(args.learning_rate))
    run_dir = Path(args.output_dir)
    claim_run_folder(run_dir, args)
    steps = math.ceil(len(train) / args.batch_size)
    fit_verbose, epoch_lines = fit_output(args.verbose)
    selection = fit_with_dev_selection(
        model, rows_dataset(model, train, args.batch_size, seed=args.seed), steps,
        rows_dataset(model, dev, args.batch_size), run_dir / "model", epochs=args.epochs, patience=args.patience,
        tensorboard=False, verbose=fit_verbose, callbacks=epoch_lines,
    )
    model.save(run_dir / "model" / "model.keras")
    dev_errors = task_errors(model, rows_dataset(model, dev, args.batch_size))
    results: dict[str, Any] = {
        **provenance(command), "model": "sp-ngram", "seed": args.seed, "tasks": tasks, "dev_only": args.dev_only,
        "settings": {k: getattr(args, k) for k in ("max_features", "ngrams", "l2", "learning_rate", "batch_size",
                                                    "epochs", "patience")},
        "vocabulary_size": features.vocabulary_size, "best_epoch": selection.best_epoch,
        "epochs_run": selection.epochs_run, "training_wall_time_s": selection.wall_time_s,
        "epochs_trained_here": selection.epochs_run - selection.resumed_from_epoch, "processes": selection.processes,
        "history": selection.history,
        "per_task": {t: {"dev_error": dev_errors[t]} for t in tasks},
        "avg_dev_error": float(np.mean(list(dev_errors.values()))),
    }
    if not args.dev_only:
        test_errors = task_errors(model, rows_dataset(model, data[data["split"] == "test"], args.batch_size))
        for t in tasks:
            results["per_task"][t]["test_error"] = test_errors[t]
        results["avg_test_error"] = float(np.mean(list(test_errors.values())))
    results["wall_time_s"] = time.monotonic() - started
    results["load_average_1m"] = os.getloadavg()[0]
    write_json(Path(args.results) if args.results else run_dir / "results.json", results)
    if args.export:
        from tf_aspmtl.export import export_model

        for item in export_model(model, args.export):
            logger.info("exported %s version %d to %s", item.name, item.version, item.path)
    logger.info("mean dev error %.2f %%%s", results["avg_dev_error"],
                f", mean test error {results['avg_test_error']:.2f} %" if "avg_test_error" in results else "")
    return results


BEST_SCREEN_RUNS = "experiments/results/tables/runs/s16_ht_conf_unl_seed{seed}.json"
"""The best configuration's 16-task dev-only runs (experiments/configs/best.json), one per seed."""


BEST_TESTED_RUNS = "experiments/results/best/previous_best_lstm.json"
"""The same configuration's runs with the test split read once (python -m experiments.best, when it was the best),
one file for every seed (:func:`experiments.best.load_previous`)."""


def summary(paths: list[str], best_runs: str = BEST_SCREEN_RUNS, best_tested: str | None = None) -> str:
    """Markdown: each seed's mean dev error beside the best LSTM configuration's of the same seed, and the mean;
    test errors too for the runs that read test (both models), paired the same way. ``best_tested``: a path
    pattern with ``{seed}`` of those runs' result files (default: :data:`BEST_TESTED_RUNS`, one file)."""
    import json

    from experiments.best import load_previous

    if best_tested is None:
        previous = load_previous(REPO_ROOT / BEST_TESTED_RUNS)
        tested_error, best_tested = (lambda seed: previous[seed]["avg_test_error"] if seed in previous else None,
                                     BEST_TESTED_RUNS)
    else:
        pattern = best_tested

        def tested_error(seed: int) -> float | None:
            path = REPO_ROOT / pattern.format(seed=seed)
            return json.loads(path.read_text(encoding="utf-8"))["avg_test_error"] if path.exists() else None
    rows, gains, tests = [], [], []
    for path in sorted(paths):
        run = json.loads((REPO_ROOT / path).read_text(encoding="utf-8"))  # a relative path: from the checkout
        best_path = REPO_ROOT / best_runs.format(seed=run["seed"])
        best = json.loads(best_path.read_text(encoding="utf-8"))["avg_dev_error"] if best_path.exists() else None
        if best is not None:
            gains.append(best - run["avg_dev_error"])
        rows.append(f"| {run['seed']} | {run['avg_dev_error']:.2f} | "
                    + (f"{best:.2f} | {best - run['avg_dev_error']:+.2f}" if best is not None else "- | -")
                    + f" | {run['best_epoch']} | {run['training_wall_time_s'] / 60:.1f} |")
        tested = tested_error(run["seed"]) if "avg_test_error" in run else None
        if tested is not None:
            tests.append((run["seed"], run["avg_test_error"], tested))
    gain = (f"{np.mean(gains):+.2f} +- {np.std(gains, ddof=1):.2f} points over {len(gains)} seeds"
            if len(gains) > 1 else "needs two seeds or more")
    return "\n".join([
        "# The shared/private n-gram model, screened on dev (16 tasks)", "",
        f"Made by `python -m experiments.ngram --summarize {' '.join(sorted(paths))}`. "
        + ("Dev only: the test split was not read. " if not tests else
           "Epochs were chosen on dev; the test split was read once per run, after the choice (below). ")
        + "Paired by seed with the best LSTM configuration's 16-task dev-only runs "
        f"(`{best_runs}`); gain = its dev error - the n-gram model's (positive: the n-gram model is better).", "",
        "| seed | n-gram dev % | best config dev % | gain | best epoch | training min |", "|---:|---:|---:|---:|---:|---:|",
        *rows, "", f"Mean gain: {gain}.", "",
    ] + ([] if not tests else [
        "## Test error (read once per run, after the choice on dev)", "",
        f"Beside the best LSTM configuration's tested runs (`{best_tested}`).", "",
        "| seed | n-gram test % | best config test % | difference |", "|---:|---:|---:|---:|",
        *[f"| {seed} | {ours:.2f} | {best:.2f} | {ours - best:+.2f} |" for seed, ours, best in tests], "",
        f"Mean: n-gram {np.mean([t[1] for t in tests]):.2f}"
        + (f" +- {np.std([t[1] for t in tests], ddof=1):.2f}" if len(tests) > 1 else "")
        + f", best config {np.mean([t[2] for t in tests]):.2f} over {len(tests)} seed(s).", "",
    ]))


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1 and sys.argv[1] == "--summarize":
        if len(sys.argv) < 3:
            raise SystemExit("usage: python -m experiments.ngram --summarize RESULTS.json [...]")
        print(summary(sys.argv[2:]), end="")
    else:
        main()
