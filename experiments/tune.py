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
  ``python -m experiments.train --config best_config.json``;
* ``summary.json``: best and reference trials, settings, command, commit, versions.

Distributed: run this same command on every machine with
``KERASTUNER_TUNER_ID`` (``chief`` on one, ``tuner0``, ``tuner1``, ... on the
others), ``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT`` (the chief's
address); the chief runs the oracle and writes the outputs. ``python -m
experiments.launch tune --workers 2 -- ARGS`` does it on one machine.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import keras
import keras_tuner
import numpy as np

from experiments.provenance import command_line, provenance
from experiments.train import CACHE_DIR
from tf_aspmtl.training import FDU_MTL_CLASS_NAMES, MONITOR, TrainConfig
from tf_aspmtl.training.train_config import EMBEDDINGS
from experiments.tune_report import (
    best_train_config,
    plot_trials,
    summary,
    trials_frame,
    write_csv_atomic,
    write_json_atomic,
)
from tf_aspmtl.data import FDU_MTL_TASKS, load_fdu_mtl
from tf_aspmtl.data.pipeline import make_eval_dataset, make_training_dataset
from tf_aspmtl.layers.encoders import ENCODERS
from tf_aspmtl.models import MODEL_FAMILIES
from tf_aspmtl.optimizers import OPTIMIZERS
from tf_aspmtl.preprocessing import MultiTaskPreprocessor, TextVectorizer, embedding_matrix
from tf_aspmtl.tuning import TUNERS, ASPMTLHyperModel, build_tuner, default_values, searched_hyperparameters

logger = logging.getLogger("experiments.tune")
SETTINGS_FILE = "search_settings.json"
# Settings that may change when a search is resumed; every other one must match.
RESUMABLE_CHANGES = ("trials", "verbose", "results", "overwrite", "data_dir")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tuner", choices=TUNERS, default="random")
    p.add_argument("--trials", type=int, default=10, help="trials in all (hyperband: a cap)")
    p.add_argument("--tasks", default="all", help="comma-separated task names, or 'all'")
    p.add_argument("--epochs", type=int, default=3, help="epochs per trial (hyperband: the most per model)")
    p.add_argument("--directory", default="runs/tuning", help="keras-tuner's directory")
    p.add_argument("--project-name", help="project folder inside --directory (default <model>-<tuner>)")
    p.add_argument("--model", choices=sorted(MODEL_FAMILIES), default="asp-mtl")
    p.add_argument("--encoder", choices=sorted(ENCODERS), default="lstm")
    p.add_argument("--embedding", choices=EMBEDDINGS, default="glove",
                   help="initial word vectors, as in experiments.train: glove (50-d), word2vec (trained on the tasks' "
                        "train and unlabelled text, never dev or test; cached under runs/word_vectors), "
                        "glove+word2vec (both, concatenated) or random")
    p.add_argument("--embedding-dim", type=int,
                   help="word vector size (default TrainConfig's, 50): 50 for glove; the word2vec size for word2vec; "
                        "> 50 for glove+word2vec (50 GloVe dims + the rest word2vec, e.g. 150)")
    p.add_argument("--max-length", type=int, default=64, help="tokens kept per text")
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


def distributed_role() -> str:
    """``"single"``, ``"chief"`` or ``"worker"``, from keras-tuner's KERASTUNER_* variables."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return "single"
    missing = [v for v in ("KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID") if v not in os.environ]
    if missing:
        raise ValueError(f"KERASTUNER_ORACLE_IP is set but {missing} are not; set all three on every machine")
    return "chief" if "chief" in os.environ["KERASTUNER_TUNER_ID"] else "worker"


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


def check_resumable(project_dir: Path, settings: dict[str, Any], role: str) -> None:
    """Refuses to resume a project that was started with different settings; records them otherwise."""
    path = project_dir / SETTINGS_FILE
    if path.exists():
        old = json.loads(path.read_text(encoding="utf-8"))
        changed = {
            k: (old.get(k), settings.get(k)) for k in sorted(set(old) | set(settings))
            if k not in RESUMABLE_CHANGES and old.get(k) != settings.get(k)
        }
        if changed:
            raise ValueError(
                f"{project_dir} holds a search started with other settings {changed} (old, new); resume it with "
                "the same arguments, or use another --project-name, or --overwrite"
            )
    if role != "worker":
        write_json_atomic(path, settings)


def load_data(args: argparse.Namespace, tasks: list[str]):
    """Train and dev rows of ``tasks`` (never test) and the word2vec corpus, cut to ``--max-rows-per-task`` if given.

    The corpus (``--embedding`` word2vec or glove+word2vec; else None) is the one of experiments.train's ``run()``:
    the tasks' train and unlabelled rows, task by task, NEVER dev or test text (load_fdu_mtl's "train" split
    already excludes dev), so both share the word2vec cache.
    """
    uses_word2vec = args.embedding in ("word2vec", "glove+word2vec")
    splits = ("train", "dev") + (("unlabeled",) if uses_word2vec else ())
    data = load_fdu_mtl(args.data_dir, tasks=tasks, splits=splits)
    if args.max_rows_per_task:
        data = data.groupby(["task", "split"], sort=False).head(args.max_rows_per_task)
    train, dev = (data[data["split"] == s].reset_index(drop=True) for s in ("train", "dev"))
    corpus = data[data["split"].isin(("train", "unlabeled"))].reset_index(drop=True) if uses_word2vec else None
    return train, dev, corpus


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args(argv)
    started = time.time()
    role = distributed_role()
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
    if not args.overwrite:
        check_resumable(project_dir, settings, role)
    keras.utils.set_random_seed(args.seed)

    train, dev, corpus = load_data(args, tasks)
    logger.info("%s: %d train and %d dev rows over %d tasks (test is not read)", role, len(train), len(dev), len(tasks))
    vectorizer = TextVectorizer(max_length=args.max_length, max_tokens=args.max_tokens, name="text_vectorizer")
    vectorizer.adapt(train["text"].tolist())
    preprocessor = MultiTaskPreprocessor(tasks, {t: list(FDU_MTL_CLASS_NAMES) for t in tasks},
                                         text_vectorizer=vectorizer, name="preprocessor")
    word_vectors = None
    if args.embedding != "random":
        texts = None if corpus is None else corpus["text"].tolist()
        word_vectors, stats = embedding_matrix(args.embedding, vectorizer, texts, dim=base.embedding_dim,
                                               seed=args.seed, cache_dir=CACHE_DIR / "word_vectors")
        logger.info("%s word vectors (%d-d) cover %.1f%% of the vocabulary", args.embedding, base.embedding_dim,
                    100.0 * stats["coverage"])
    hypermodel = ASPMTLHyperModel(
        preprocessor, family=args.model, word_vectors=word_vectors, embedding_dim=base.embedding_dim,
        encoder=args.encoder, difference_normalization=args.difference_normalization, adversarial_objective=args.adversarial_objective,
        optimizer=args.optimizer, seed=args.seed,
    )
    hyperparameters = keras_tuner.HyperParameters()
    for name, value in fixed.items():
        hyperparameters.Fixed(name, value)
    initial = args.initial_points or min(args.trials, max(3, args.trials // 3))
    tuner = build_tuner(
        args.tuner, hypermodel, max_trials=args.trials, directory=args.directory, project_name=project_name,
        max_epochs=args.epochs, hyperparameters=hyperparameters, seed=args.seed,
        reference_first=not args.no_reference_trial, overwrite=args.overwrite and role != "worker",
        num_initial_points=initial, hyperband_factor=args.hyperband_factor,
    )
    if args.overwrite and role != "worker":
        write_json_atomic(project_dir / SETTINGS_FILE, settings)
    if role == "single":
        done = sum(t.status in ("COMPLETED", "FAILED") for t in tuner.oracle.trials.values())
        logger.info("search %s: %d of %d trials already done", project_dir, done, args.trials)
    search_kwargs: dict[str, Any] = {"verbose": args.verbose}
    try:
        if role == "chief":
            logger.info("chief: serving the oracle on %s:%s; the tuners run the trials",
                        os.environ["KERASTUNER_ORACLE_IP"], os.environ["KERASTUNER_ORACLE_PORT"])
            tuner.search(**search_kwargs)
        else:
            # A fresh seeded stream for every trial (see ASPMTLHyperModel.fit): same data order in every
            # trial, whether or not the search was interrupted.
            train_data = functools.partial(
                make_training_dataset, train, preprocessor.token_ids, tasks, batch_size=args.batch_size,
                sampling=args.sampling, max_length=args.max_length, seed=args.seed,
            )
            dev_ds = make_eval_dataset(dev, preprocessor.token_ids, tasks)
            stop = keras.callbacks.EarlyStopping(monitor=MONITOR, mode="max", patience=args.patience)
            tuner.search(train_data, epochs=args.epochs, validation_data=dev_ds, callbacks=[stop], **search_kwargs)
    except KeyboardInterrupt:
        print(f"\ninterrupted; run the same command again to resume the search in {project_dir}", flush=True)
        return 130
    if role == "worker":
        logger.info("%s: no trials left", os.environ["KERASTUNER_TUNER_ID"])
        return 0
    command = command_line("experiments.tune", argv)
    write_outputs(tuner, args, base, settings, project_dir, hypermodel, hyperparameters, started, command)
    return 0


def write_outputs(tuner, args, base: TrainConfig, settings, project_dir: Path, hypermodel, hyperparameters,
                  started: float, command: str) -> dict[str, Any]:
    """Writes trials.csv, trials.png, best_config.json and summary.json (and the ``--results`` copies)."""
    searched = settings["searched"]
    reference = None if args.no_reference_trial else {
        k: v for k, v in default_values(hypermodel, hyperparameters).items() if k in searched
    }
    frame = trials_frame(tuner.oracle, reference)
    best_trials = [t for t in tuner.oracle.get_best_trials(1) if t.status == "COMPLETED"]
    best_config = best_train_config(base, best_trials[0].hyperparameters.values) if best_trials else None
    record = _plain({
        **summary(frame, settings, best_config),
        "tuner": args.tuner,
        "project_dir": str(project_dir),
        "wall_time_s_this_invocation": time.time() - started,
        **provenance(command),
    })
    title = (f"{args.tuner} search, {args.model} on {', '.join(settings['tasks'])}: "
             f"{len(frame)} trials, {args.epochs} epoch(s) each, max length {args.max_length}")
    targets = [(project_dir / "trials.csv", project_dir / "trials.png", project_dir / "best_config.json",
                project_dir / "summary.json")]
    if args.results:
        prefix = Path(args.results)
        name = prefix.name
        targets.append(tuple(prefix.with_name(name + ext) for ext in (".csv", ".png", ".best.json", ".json")))
    for csv_path, png_path, config_path, summary_path in targets:
        write_csv_atomic(frame, csv_path)
        plot_trials(frame, png_path, title)
        if best_config is not None:
            made_by = {"command": record["command"], "commit": record["commit"], "summary": str(summary_path)}
            write_json_atomic(config_path, _plain({**best_config, "provenance": made_by}))
        write_json_atomic(summary_path, record)
        logger.info("wrote %s, %s, %s, %s", csv_path, png_path, config_path, summary_path)
    _print_outcome(record)
    return record


def _print_outcome(record: dict[str, Any]) -> None:
    best, ref = record.get("best"), record.get("reference")
    print(f"trials: {record['trials']}")
    if best:
        print(f"best: trial {best['trial_id']}, mean dev accuracy {100 * best['val_mean_task_accuracy']:.2f}% "
              f"with {best['hyperparameters']}")
    if ref:
        print(f"paper's point: trial {ref['trial_id']}, mean dev accuracy {100 * ref['val_mean_task_accuracy']:.2f}% "
              f"(rank {ref['rank']} of {record['trials'].get('COMPLETED', 0)} completed)")


def _plain(value):
    """``value`` with numpy scalars as Python numbers and NaN as None, for JSON."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


if __name__ == "__main__":
    sys.exit(main())
