"""Trains the shared/private n-gram linear model on FDU-MTL: epochs chosen on dev, resumable, test read once.

    python -m experiments.ngram --seed 0 --output-dir runs/ngram/seed0 \\
        --results experiments/results/ngram/seed0.json

    python -m experiments.ngram --config experiments/configs/best.json --seed 0 --output-dir runs/best/seed0 \\
        --results experiments/results/best/best_seed0.json --export runs/best/export

    python -m experiments.ngram --summarize experiments/results/ngram/sp_ngram_seed*.json   # ngram.md

A command line over :func:`tf_aspmtl.training.run_ngram`, which does the
work (see there: n-grams learnt from the train split only, the epoch chosen
on dev, a killed run resumed from its run folder). ``--dev-only`` never
reads the test split (for screens). ``--config`` takes a JSON file with
``"model": "sp-ngram"`` and any :class:`tf_aspmtl.training.NgramConfig`
fields; flags given beside it win. Two levers, off by default:
``--feature-weighting nb`` (NBSVM-style naive-Bayes-scaled features) and
``--self-training-threshold T`` (a teacher pseudo-labels the unlabelled
reviews; the results record the rows kept per task and class).
``--export DIR`` then writes a TF Serving SavedModel per task. The results file records per-task dev (and test) error,
the command, commit, versions, seed, wall time and every epoch's logs.
``--strategy multi-worker`` trains across the workers of ``$TF_CONFIG`` (``python -m experiments.launch ngram
--workers 2 -- ARGS`` starts them on this machine; see tf_aspmtl/distribute.py): worker ``i > 0`` works in
``OUTPUT_DIR/worker-<i>``, and only the chief (worker 0) writes ``--results`` and ``--export``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from experiments.provenance import REPO_ROOT, command_line, provenance, write_json
from experiments.result_files import load_previous
from tf_aspmtl.training.ngram_config import (FEATURE_WEIGHTINGS, NGRAM_MODEL, PSEUDO_LABEL_BALANCES,
                                           PSEUDO_LABEL_WEIGHTINGS, STUDENT_FEATURES, TERM_FREQUENCIES, NgramConfig)
from tf_aspmtl.training.ngram_run import run_ngram
from tf_aspmtl.distribute import STRATEGIES, is_chief, make_strategy, worker_run_dir
from tf_aspmtl.io_utils import FolderBusyError
from tf_aspmtl.data import DataNotFoundError
from tf_aspmtl.training.run_folder import RunFolderError

logger = logging.getLogger("experiments.ngram")

def identity(config: NgramConfig) -> dict[str, Any]:
    """What defines a configuration's runs, seed aside: the model, its tasks and settings."""
    return {"model": NGRAM_MODEL, "tasks": list(config.tasks), **config.settings()}


def build_parser() -> argparse.ArgumentParser:
    default = NgramConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", help=f"JSON file with 'model': {NGRAM_MODEL!r} and settings (flags given here win)")
    p.add_argument("--data-dir", help="FDU-MTL folder (else $TF_ASPMTL_FDU_MTL, else ../shared/data/fdu-mtl)")
    p.add_argument("--tasks", help="comma-separated tasks (default: all 16)")
    p.add_argument("--seed", type=int, help="data order (the weights start at zero; default 0)")
    for flag, kind, what in (("--max-features", int, "most n-grams kept"),
                             ("--ngrams", int, "longest n-gram, in words"),
                             ("--l2", float, "L2 weight (0: early stopping alone, sparse updates)"),
                             ("--learning-rate", float, "LazyAdam's"), ("--batch-size", int, "rows per step"),
                             ("--epochs", int, "most epochs"), ("--patience", int, "epochs without dev gain")):
        p.add_argument(flag, type=kind, help=f"{what} (default {getattr(default, flag[2:].replace('-', '_'))})")
    p.add_argument("--feature-weighting", choices=FEATURE_WEIGHTINGS,
                   help="tfidf, or nb: each n-gram's tf-idf scaled by its naive-Bayes log-count ratio, learnt from "
                        f"the train split's labels (default {default.feature_weighting})")
    p.add_argument("--self-training-threshold", type=float, metavar="T",
                   help="0 (off) or in (0.5, 1]: a teacher labels the unlabelled reviews it is this sure of (as many "
                        "of each class per task), then the reported model trains on train + those "
                        f"(default {default.self_training_threshold})")
    p.add_argument("--student-features", choices=STUDENT_FEATURES,
                   help="with self-training: the rows the student's n-gram vocabulary, idf and NB ratios are learnt "
                        "from: train, or train+pseudo (train and the pseudo-labelled unlabelled reviews) "
                        f"(default {default.student_features})")
    p.add_argument("--feature-dropout", type=float, metavar="P",
                   help="in [0, 1): share of a training row's n-grams each step leaves out, the rest scaled up "
                        f"(default {default.feature_dropout}: off)")
    p.add_argument("--task-nb-ratios", action="store_true", default=None,
                   help="with --feature-weighting nb: the private weights read features scaled by their task's own "
                        "NB ratios (default: off)")
    p.add_argument("--self-training-rounds", type=int, metavar="R",
                   help="with self-training: how many times a teacher labels the unlabelled reviews, each later "
                        "round's teacher the previous round's student (default "
                        f"{default.self_training_rounds})")
    p.add_argument("--label-smoothing", type=float, metavar="E",
                   help="in [0, 1): every model the run trains learns from targets 1 - E on the label plus E / 2 on "
                        f"each class (default {default.label_smoothing}: off)")
    p.add_argument("--private-learning-rate-multiplier", type=float, metavar="C",
                   help="> 0: the private weights' learning rate relative to the shared ones' (below 1 the tasks "
                        f"lean on the shared weights; default {default.private_learning_rate_multiplier}: off)")
    p.add_argument("--term-frequency", choices=TERM_FREQUENCIES,
                   help="sublinear: 1 + log(count); binary: each n-gram a text holds weighs its idf, however often "
                        f"(default {default.term_frequency})")
    p.add_argument("--nb-smoothing", type=float, metavar="A",
                   help="> 0, with --feature-weighting nb: the count added to each n-gram's positive and negative "
                        f"row counts in its NB ratio (default {default.nb_smoothing}, NBSVM's)")
    p.add_argument("--character-ngrams", type=int, metavar="N",
                   help="0 (off) or >= 2: beside the word n-grams, character n-grams of 2 to N characters inside "
                        f"word boundaries, weighted as the words' (default {default.character_ngrams})")
    p.add_argument("--character-max-features", type=int, metavar="K",
                   help="with --character-ngrams: most character n-grams kept "
                        f"(default {default.character_max_features})")
    p.add_argument("--character-weight", type=float, metavar="W",
                   help="> 0, with --character-ngrams: the character block's scale against the words' "
                        f"(default {default.character_weight})")
    p.add_argument("--pseudo-label-weight", type=float, metavar="W",
                   help="in (0, 1], with self-training: a pseudo-labelled row's weight in the student's loss, a "
                        f"labelled row's being 1 (default {default.pseudo_label_weight})")
    p.add_argument("--pseudo-label-weighting", choices=PSEUDO_LABEL_WEIGHTINGS,
                   help="with self-training: constant (every pseudo-labelled row weighs W), or confidence: W times "
                        "the teacher's margin over chance, 2c - 1 for probability c of two classes "
                        f"(default {default.pseudo_label_weighting})")
    p.add_argument("--pseudo-label-balance", choices=PSEUDO_LABEL_BALANCES,
                   help="with self-training: rows (as many pseudo-labelled rows of each class per task, the most "
                        "confident) or weights (every row above the threshold, a class's rows weighing in total as "
                        f"the task's rarest class's) (default {default.pseudo_label_balance})")
    p.add_argument("--dev-only", action="store_true", help="never read the test split")
    p.add_argument("--output-dir", required=True, help="run folder (the same folder resumes)")
    p.add_argument("--results", help="results JSON (default: OUTPUT_DIR/results.json; with --strategy multi-worker, "
                                     "the chief's, besides every worker's in its run folder)")
    p.add_argument("--export", metavar="DIR", help="then write TF Serving SavedModels of every task under DIR")
    p.add_argument("--strategy", choices=STRATEGIES, default="default",
                   help="multi-worker: tf.distribute.MultiWorkerMirroredStrategy over the workers in $TF_CONFIG "
                        "(see tf_aspmtl/distribute.py; python -m experiments.launch ngram starts them)")
    p.add_argument("--verbose", type=int, default=2,
                   help="training output: 1 Keras' progress bar, 2 one short line per epoch (loss terms, mean dev "
                        "accuracy, time), 0 none")
    return p


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, NgramConfig]:
    """The arguments and the run's config: NgramConfig's defaults, then ``--config``, then the flags given."""
    p = build_parser()
    args = p.parse_args(argv)
    given = {k: v for k, v in vars(args).items() if k in NgramConfig.__dataclass_fields__ and v is not None}
    if "tasks" in given:
        given["tasks"] = [t for t in given["tasks"].split(",") if t]
    try:
        from_file = NgramConfig.from_json_file(args.config).to_dict() if args.config else {}
        return args, NgramConfig.from_dict({**from_file, **given}, where="command line")
    except ValueError as err:
        hint = " (python -m experiments.train takes the LSTM configurations)" if "'model' is" in str(err) else ""
        p.error(f"{err}{hint}")


def config_from_flags(flags: list[str]) -> NgramConfig:
    """The config that this command's ``flags`` give (e.g. a screen's
    :data:`experiments.ngram_screens.SCREEN_SETTINGS`)."""
    return parse_args([*flags, "--output-dir", "-"])[1]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args, config = parse_args(argv)
    try:
        strategy = make_strategy(args.strategy)  # first: MultiWorkerMirroredStrategy precedes every TensorFlow op
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None  # it names --strategy or TF_CONFIG
    run_dir = worker_run_dir(Path(args.output_dir)) if strategy else Path(args.output_dir)
    chief = strategy is None or is_chief()
    made_by = provenance(command_line("experiments.ngram", argv))
    try:
        results = run_ngram(config, run_dir, args.data_dir, dev_only=args.dev_only, verbose=args.verbose,
                            strategy=strategy)
    except (RunFolderError, FolderBusyError) as err:
        raise SystemExit(f"error: {err} (the folder is --output-dir)") from None
    except DataNotFoundError as err:
        raise SystemExit(f"error: {err} (--data-dir)") from None
    results = {**made_by, **results, "load_average_1m": os.getloadavg()[0]}
    if strategy is None:  # one process: --results, else the run folder's
        targets = [Path(args.results) if args.results else run_dir / "results.json"]
    else:  # every worker: its run folder's; the chief: --results too
        targets = [run_dir / "results.json"] + ([Path(args.results)] if args.results and chief else [])
    for path in targets:
        write_json(path, results)
    if args.export and chief:
        import keras

        from tf_aspmtl.export import export_model

        model = keras.models.load_model(run_dir / "model" / "model.keras", compile=False)
        for item in export_model(model, args.export):
            logger.info("exported %s version %d to %s", item.name, item.version, item.path)
    logger.info("mean dev error %.2f %%%s", results["avg_dev_error"],
                f", mean test error {results['avg_test_error']:.2f} %" if "avg_test_error" in results else "")
    return results


BEST_SCREEN_RUNS = "experiments/results/tables/runs/s16_ht_conf_unl_seed{seed}.json"
"""The best LSTM configuration's 16-task dev-only runs (the screen's s16_ht_conf_unl), one per seed."""
BEST_TESTED_RUNS = "experiments/results/best/previous_best_lstm.json"
"""The same configuration's runs with the test split read once (python -m experiments.best, when it was the best),
one file for every seed (:func:`experiments.result_files.load_previous`)."""


def summary(paths: list[str]) -> str:
    """Markdown: each seed's mean dev error beside the best LSTM configuration's of the same seed
    (:data:`BEST_SCREEN_RUNS`), and the mean; test errors too for the runs that read test, paired the same way with
    that configuration's tested runs (:data:`BEST_TESTED_RUNS`)."""
    previous = load_previous(REPO_ROOT / BEST_TESTED_RUNS)
    rows, gains, tests = [], [], []
    for path in sorted(paths):
        run = json.loads((REPO_ROOT / path).read_text(encoding="utf-8"))  # a relative path: from the checkout
        best_path = REPO_ROOT / BEST_SCREEN_RUNS.format(seed=run["seed"])
        best = json.loads(best_path.read_text(encoding="utf-8"))["avg_dev_error"] if best_path.exists() else None
        if best is not None:
            gains.append(best - run["avg_dev_error"])
        rows.append(f"| {run['seed']} | {run['avg_dev_error']:.2f} | "
                    + (f"{best:.2f} | {best - run['avg_dev_error']:+.2f}" if best is not None else "- | -")
                    + f" | {run['best_epoch']} | {run['training_wall_time_s'] / 60:.1f} |")
        if "avg_test_error" in run and run["seed"] in previous:
            tests.append((run["seed"], run["avg_test_error"], previous[run["seed"]]["avg_test_error"]))
    gain = (f"{np.mean(gains):+.2f} +- {np.std(gains, ddof=1):.2f} points over {len(gains)} seeds"
            if len(gains) > 1 else "needs two seeds or more")
    return "\n".join([
        "# The shared/private n-gram model, screened on dev (16 tasks)", "",
        f"Made by `python -m experiments.ngram --summarize {' '.join(sorted(paths))}`. "
        + ("Dev only: the test split was not read. " if not tests else
           "Epochs were chosen on dev; the test split was read once per run, after the choice (below). ")
        + "Paired by seed with the best LSTM configuration's 16-task dev-only runs "
        f"(`{BEST_SCREEN_RUNS}`); gain = its dev error - the n-gram model's (positive: the n-gram model is better).", "",
        "| seed | n-gram dev % | best config dev % | gain | best epoch | training min |", "|---:|---:|---:|---:|---:|---:|",
        *rows, "", f"Mean gain: {gain}.", "",
    ] + ([] if not tests else [
        "## Test error (read once per run, after the choice on dev)", "",
        f"Beside the best LSTM configuration's tested runs (`{BEST_TESTED_RUNS}`).", "",
        "| seed | n-gram test % | best config test % | difference |", "|---:|---:|---:|---:|",
        *[f"| {seed} | {ours:.2f} | {best:.2f} | {ours - best:+.2f} |" for seed, ours, best in tests], "",
        f"Mean: n-gram {np.mean([t[1] for t in tests]):.2f}"
        + (f" +- {np.std([t[1] for t in tests], ddof=1):.2f}" if len(tests) > 1 else "")
        + f", best config {np.mean([t[2] for t in tests]):.2f} over {len(tests)} seed(s).", "",
    ]))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--summarize":
        if len(sys.argv) < 3:
            raise SystemExit("usage: python -m experiments.ngram --summarize RESULTS.json [...]")
        print(summary(sys.argv[2:]), end="")
    else:
        main()
