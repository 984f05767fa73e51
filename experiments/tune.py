"""Keras Tuner search of lambda, gamma, learning rate, width and dropout on FDU-MTL, selected on dev.

    python -m experiments.tune --tuner random --trials 20 --tasks books,dvd --epochs 3 \\
        --directory runs/tuning --project-name books-dvd

The objective is the mean dev accuracy over the tasks (``val_mean_task_accuracy``,
maximised); only the train and dev splits are read (and, for ``--embedding
word2vec`` or ``glove+word2vec``, the unlabelled rows: word2vec trains on the
train and unlabelled text, as in ``experiments.train``), never test. The first
trial is the paper's point (lambda 0.05, gamma 0.01 and the defaults of
``tf_aspmtl.tuning``) unless ``--no-reference-trial``.

Resuming: run the same command again. keras-tuner reloads the project in
``DIR/P`` (it never overwrites it unless ``--overwrite``), keeps the finished
trials and runs the interrupted one again; a larger ``--trials`` extends a
finished search. Other changed settings are refused, because the old trials
would not be comparable.

Outputs (in ``DIR/P``, and under ``--results PREFIX`` as ``PREFIX.csv``,
``PREFIX.png``, ``PREFIX.best.json``, ``PREFIX.json``):

* ``trials.csv``: every trial (id, status, objective, hyperparameters, dev metrics);
* ``trials.png``: dev accuracy against lambda and gamma;
* ``best_config.json``: the best trial as a config for
  ``python -m experiments.train --config best_config.json``: the search's
  settings and the winner's hyperparameters, with the main job's epochs and
  patience instead of the trials' budget; ``--max-length`` is kept as
  searched (its default here is shorter than the main job's, for speed);
* ``summary.json``: best and reference trials, settings, command, commit, versions.

Distributed: run this same command on every machine with
``KERASTUNER_TUNER_ID`` (``chief`` on one, ``tuner0``, ``tuner1``, ... on the
others), ``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` (the chief's
address); the chief runs the oracle and writes the outputs. The chief (or a
search without ``KERASTUNER_*``) holds ``DIR/.P.lock`` while it runs: a second
one on the same project is refused with the first's pid named (exit 2); the
tuners take no lock. A full disk stops the search with one line naming the
file (exit 1); the same command, once space is freed, runs the stopped trial
again. ``python -m
experiments.launch tune --workers 2 -- ARGS`` does it on one machine.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from experiments.provenance import command_line, provenance
from experiments.train import CACHE_DIR
from tf_aspmtl.data import FDU_MTL_TASKS
from tf_aspmtl.io_utils import DiskWriteError, FolderBusyError
from tf_aspmtl.layers.encoders import ENCODERS
from tf_aspmtl.models import MODEL_FAMILIES
from tf_aspmtl.optimizers import OPTIMIZERS
from tf_aspmtl.training import TrainConfig
from tf_aspmtl.training.train_config import EMBEDDINGS
from tf_aspmtl.tuning import TUNERS, default_values, searched_hyperparameters
from tf_aspmtl.tuning.fdu_mtl_search import search_fdu_mtl
from tf_aspmtl.tuning.search_files import SearchFiles, write_search_files

logger = logging.getLogger("experiments.tune")
MAIN_JOB = TrainConfig()
"""The main job's settings (TrainConfig's defaults), which the winner's config trains with (epochs, patience)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tuner", choices=TUNERS, default="random")
    p.add_argument("--trials", type=int, default=10, help="trials in all (hyperband: a cap)")
    p.add_argument("--tasks", default="all", help="comma-separated task names, or 'all'")
    p.add_argument("--epochs", type=int, default=3,
                   help=f"epochs per trial (default 3; hyperband: the most per model); best_config.json trains the "
                        f"winner for the main job's {MAIN_JOB.epochs} with patience {MAIN_JOB.patience} instead")
    p.add_argument("--directory", default="runs/tuning", help="keras-tuner's directory")
    p.add_argument("--project-name", help="project folder inside --directory (default <model>-<tuner>)")
    p.add_argument("--model", choices=sorted(set(MODEL_FAMILIES) - {"wide-deep"}), default="asp-mtl")
    p.add_argument("--encoder", choices=sorted(ENCODERS), default="lstm")
    p.add_argument("--embedding", choices=EMBEDDINGS, default="glove",
                   help="initial word vectors, as in experiments.train: glove (50-d), word2vec (trained on the tasks' "
                        "train and unlabelled text, never dev or test; cached under runs/word_vectors), "
                        "glove+word2vec (both, concatenated) or random")
    p.add_argument("--embedding-dim", type=int,
                   help="word vector size (default TrainConfig's, 50): 50 for glove; the word2vec size for word2vec; "
                        "> 50 for glove+word2vec (50 GloVe dims + the rest word2vec, e.g. 150)")
    p.add_argument("--max-length", type=int, default=64,
                   help=f"tokens kept per text (default 64, for speed; the main job's is {MAIN_JOB.max_length}, and "
                        "best_config.json keeps the length searched)")
    p.add_argument("--max-tokens", type=int, default=30000, help="vocabulary size cap")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--patience", type=int, default=3, help="early stopping on dev within a trial")
    p.add_argument("--sampling", choices=["proportional", "uniform"], default="proportional")
    p.add_argument("--difference-normalization", choices=["normalized", "sum"], default="normalized")
    p.add_argument("--adversarial-objective", choices=["reversal", "confusion"], default="reversal")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="lazy-adam",
                   help="lazy-adam: Adam updating only the embedding rows a batch used; adam: Keras' Adam")
    p.add_argument("--seed", type=int, default=0, help="data order, model initialisation and the oracle's seed")
    p.add_argument("--fix", action="append", default=[], metavar="NAME=VALUE",
                   help="keep a hyperparameter fixed, e.g. --fix hidden_dim=50 (repeatable)")
    p.add_argument("--no-reference-trial", action="store_true", help="do not make trial 0 the paper's point")
    p.add_argument("--initial-points", type=int, help="bayesian: random trials first (default max(3, trials//3))")
    p.add_argument("--hyperband-factor", type=int, default=3)
    p.add_argument("--max-rows-per-task", type=int,
                   help="first N train and dev rows (and unlabelled rows, for word2vec) of each task (smoke tests)")
    p.add_argument("--data-dir", help="FDU-MTL folder (else $TF_ASPMTL_FDU_MTL, else ../shared/data/fdu-mtl)")
    p.add_argument("--results", help="also write PREFIX.csv, PREFIX.png, PREFIX.best.json and PREFIX.json")
    p.add_argument("--overwrite", action="store_true", help="delete an existing project and start afresh")
    p.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity (0, 1 or 2)")
    return p.parse_args(argv)


def parse_fixed(items: list[str], family: str) -> dict[str, float | int]:
    """``["hidden_dim=50", ...]`` -> ``{"hidden_dim": 50, ...}``, names checked against the family's space."""
    allowed = searched_hyperparameters(family)
    fixed: dict[str, float | int] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or name not in allowed:
            raise ValueError(f"--fix {item!r}: expected NAME=VALUE with NAME one of {list(allowed)} (family {family})")
        try:
            fixed[name] = int(raw) if name == "hidden_dim" else float(raw)
        except ValueError:
            raise ValueError(f"--fix {item!r}: {raw!r} is not a number") from None
    return fixed


def search_settings(args: argparse.Namespace, tasks: list[str]) -> dict[str, Any]:
    """The arguments that define the search, as recorded in ``DIR/P/search_settings.json``."""
    settings = {k: v for k, v in vars(args).items() if k not in ("directory", "project_name")}
    settings["tasks"] = tasks
    fixed = parse_fixed(args.fix, args.model)
    settings["searched"] = [n for n in searched_hyperparameters(args.model) if n not in fixed]
    return settings


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args(argv)
    started = time.time()
    tasks = list(FDU_MTL_TASKS) if args.tasks == "all" else [t.strip() for t in args.tasks.split(",") if t.strip()]
    unknown = sorted(set(tasks) - set(FDU_MTL_TASKS))
    if unknown:
        raise ValueError(f"Unknown task(s) {unknown}; expected some of {list(FDU_MTL_TASKS)}")
    if args.trials < 1 or args.epochs < 1:
        raise ValueError(f"--trials and --epochs must be >= 1; got {args.trials} and {args.epochs}")
    fixed = parse_fixed(args.fix, args.model)
    dim = {} if args.embedding_dim is None else {"embedding_dim": args.embedding_dim}
    base = replace(
        TrainConfig(), model=args.model, tasks=tuple(tasks), encoder=args.encoder, embedding=args.embedding, **dim,
        max_length=args.max_length, max_tokens=args.max_tokens, batch_size=args.batch_size, epochs=args.epochs,
        patience=args.patience, sampling=args.sampling, difference_normalization=args.difference_normalization,
        adversarial_objective=args.adversarial_objective, optimizer=args.optimizer, seed=args.seed,
    )
    project_name = args.project_name or f"{args.model}-{args.tuner}"
    project_dir = Path(args.directory) / project_name
    settings = search_settings(args, tasks)
    try:
        search = search_fdu_mtl(base, args.tuner, args.trials, args.directory, project_name, settings, fixed,
                                reference_first=not args.no_reference_trial, overwrite=args.overwrite,
                                initial_points=args.initial_points, hyperband_factor=args.hyperband_factor,
                                data_dir=args.data_dir, max_rows_per_task=args.max_rows_per_task,
                                cache_dir=CACHE_DIR, verbose=args.verbose)
        if search.role == "worker":
            logger.info("%s: no trials left", os.environ["KERASTUNER_TUNER_ID"])
            return 0
        command = command_line("experiments.tune", argv)
        write_outputs(search.tuner, args, base, settings, project_dir, search.hypermodel, search.hyperparameters,
                      started, command)
    except KeyboardInterrupt:
        print(f"\ninterrupted; run the same command again to resume the search in {project_dir}", flush=True)
        return 130
    except FolderBusyError as err:  # another chief (or single search) on the project
        print(f"experiments.tune: error: {err}", file=sys.stderr)
        return 2
    except DiskWriteError as err:  # a full disk: the same command runs the trial it stopped again
        print(f"experiments.tune: error: {err}", file=sys.stderr)
        return 1
    return 0


def write_outputs(tuner, args, base: TrainConfig, settings, project_dir: Path, hypermodel, hyperparameters,
                  started: float, command: str) -> dict[str, Any]:
    """Writes trials.csv, trials.png, best_config.json and summary.json (and the ``--results`` copies)."""
    reference = None if args.no_reference_trial else {
        k: v for k, v in default_values(hypermodel, hyperparameters).items() if k in settings["searched"]
    }
    targets = [SearchFiles(*(project_dir / name for name in ("trials.csv", "trials.png", "best_config.json",
                                                              "summary.json")))]
    if args.results:
        prefix = Path(args.results)
        targets.append(SearchFiles(*(prefix.with_name(prefix.name + ext)
                                     for ext in (".csv", ".png", ".best.json", ".json"))))
    trials = len(tuner.oracle.trials)
    title = (f"{args.tuner} search, {args.model} on {', '.join(settings['tasks'])}: "
             f"{trials} trials, {args.epochs} epoch(s) each, max length {args.max_length}")
    made_by = {"tuner": args.tuner, "project_dir": str(project_dir),
               "wall_time_s_this_invocation": time.time() - started, **provenance(command)}
    record = write_search_files(tuner, base, settings, reference, targets, title, made_by)
    best, ref = record.get("best"), record.get("reference")
    print(f"trials: {record['trials']}")
    if best:
        print(f"best: trial {best['trial_id']}, mean dev accuracy {100 * best['val_mean_task_accuracy']:.2f}% "
              f"with {best['hyperparameters']}")
        print(f"train the winner: python -m experiments.train --config {targets[0].best_config} (up to "
              f"{MAIN_JOB.epochs} epochs, patience {MAIN_JOB.patience}, as the main job; max length "
              f"{args.max_length}, as searched)")
    if ref:
        print(f"paper's point: trial {ref['trial_id']}, mean dev accuracy {100 * ref['val_mean_task_accuracy']:.2f}% "
              f"(rank {ref['rank']} of {record['trials'].get('COMPLETED', 0)} completed)")
    return record


if __name__ == "__main__":
    sys.exit(main())
