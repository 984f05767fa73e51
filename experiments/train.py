"""The main job: train a model family on FDU-MTL with model.fit, select on dev, report dev and test error.

    python -m experiments.train                      # the paper's ASP-MTL on the 16 tasks (about 10 minutes)
    python -m experiments.train --export exports     # ... then write TF Serving models of it
    python -m experiments.train --quick              # a one-minute smoke test of the pipeline
    python -m experiments.train --model sp-mtl --seed 1

Model selection (the best epoch) uses the development split only: the last
200 rows of each ``.task.train`` file. Test error is computed once, with the
selected weights. The run folder (``--output-dir``) holds ``results.json``
and ``results.md``, the model (``model/model.keras``), TensorBoard logs
(``model/logs``: every loss term, the discriminator's accuracy, each task's
dev accuracy) and the training state; ``--results`` also writes the results
to a path of your choice.

Killed? Run the same command with the same ``--output-dir``: it says what it
resumed from and ends with the numbers of a run that was never killed (same
seed and thread settings; ``--deterministic`` fixes both). A diverging run
(NaN or infinite loss) stops at once with a non-zero exit and writes no results.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import keras
import pandas as pd
import tensorflow as tf

from experiments.provenance import command_line, provenance, write_atomic, write_json
from tf_aspmtl.data import FDU_MTL_TASKS, load_fdu_mtl
from tf_aspmtl.data.pipeline import make_eval_dataset, make_training_dataset
from tf_aspmtl.distribute import STRATEGIES, is_chief, make_strategy, worker_run_dir
from tf_aspmtl.layers.encoders import ENCODERS
from tf_aspmtl.models import MODEL_FAMILIES, MultiTaskClassifier
from tf_aspmtl.optimizers import OPTIMIZERS
from tf_aspmtl.preprocessing import MultiTaskPreprocessor, TextVectorizer, embedding_matrix
from tf_aspmtl.preprocessing.text_vectorizer import TRUNCATIONS
from tf_aspmtl.runtime import configure_cpu_threads
from tf_aspmtl.training import (
    FDU_MTL_CLASS_NAMES,
    MONITOR,
    PSEUDO_LABELS,
    QUICK,
    TrainConfig,
    apply_pretrained_encoders,
    build_model,
    directions_for_encoder,
    fit_with_dev_selection,
    held_out_duplicates,
    load_pretrained_language_model,
    pretrain_language_model_cached,
    task_errors,
    teacher_pseudo_labels,
)
from tf_aspmtl.training.train_config import EMBEDDINGS

logger = logging.getLogger("experiments.train")
WORD_VECTORS_CACHE = Path(__file__).resolve().parents[1] / "runs" / "word_vectors"
"""Cache of word2vec vectors (``--embedding word2vec`` / ``glove+word2vec``), keyed by a hash of the corpus and
every parameter, so reruns and resumed runs do not retrain them; under runs/, which git ignores."""
LM_PRETRAIN_DIR = Path(__file__).resolve().parents[1] / "runs" / "pretrain"
"""Language-model pretrainings (``--lm-pretrain-epochs``), one folder per hash of the corpus, vocabulary, initial
word vectors and every pretraining setting (seed included): runs that share them share one pretraining."""
LM_SETTINGS = {"batch_size": 64, "learning_rate": 1e-3, "num_sampled": 512, "holdout_fraction": 0.02}
"""Settings of the language-model pretraining that the config does not give."""
FAULT_ENV = "EXPERIMENTS_TRAIN_FAULT"
"""Test hook: ``mid-epoch:N``, ``epoch-end:N``, ``after-training`` or ``during-evaluation`` makes the
process SIGKILL itself there (tests/test_faults.py kills runs at each point and checks the reruns)."""


def _fault(point: str) -> None:
    if os.environ.get(FAULT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


class _FaultInjection(keras.callbacks.Callback):
    """SIGKILLs the process in the middle of epoch N or right after its end (after its checkpoint)."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 2:
            _fault(f"mid-epoch:{self._epoch + 1}")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        _fault(f"epoch-end:{epoch + 1}")
DEFAULT_THREADS = (1, 2)
"""Intra-op and inter-op threads unless ``--intra-op-threads`` / ``--inter-op-threads`` say otherwise."""


def _finite(minimum: float, strict: bool):
    """An argparse type: a finite number above ``minimum`` (or at least it, unless ``strict``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value != value or abs(value) == float("inf") or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"must be a finite number {'>' if strict else '>='} {minimum:g}; got {text}")
        return value

    return parse


_positive_float = _finite(0.0, strict=True)
_weight = _finite(0.0, strict=False)


def _int_at_least(minimum: int):
    """An argparse type: an int >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}; got {text}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=sorted(MODEL_FAMILIES))
    p.add_argument("--tasks", default="all", help="comma-separated task names, or 'all' (the 16 FDU-MTL tasks)")
    p.add_argument("--encoder", choices=sorted(ENCODERS))
    p.add_argument("--embedding", choices=EMBEDDINGS,
                   help="initial word vectors: glove (50-d, the default), word2vec (trained on the tasks' train and "
                        "unlabelled text, never dev or test; cached under runs/word_vectors), glove+word2vec "
                        "(both, concatenated) or random")
    p.add_argument("--embedding-dim", type=_positive_int,
                   help="word vector size: 50 for glove; the word2vec size for word2vec; > 50 for glove+word2vec "
                        "(50 GloVe dims + the rest word2vec, e.g. 150)")
    p.add_argument("--hidden-dim", type=_positive_int)
    p.add_argument("--max-length", type=_positive_int, help="tokens kept per text (the rest is cut)")
    p.add_argument("--truncation", choices=TRUNCATIONS,
                   help="which tokens a longer text keeps: head (the first --max-length, the default), tail (the "
                        "last) or head+tail (the first quarter and the last three quarters)")
    p.add_argument("--batch-size", type=_positive_int)
    p.add_argument("--epochs", type=_positive_int)
    p.add_argument("--patience", type=_positive_int, help="epochs without dev improvement before stopping")
    p.add_argument("--learning-rate", type=_positive_float)
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS),
                   help="lazy-adam (default): Adam that updates only the embedding rows a batch used; adam: Keras' Adam")
    p.add_argument("--intra-op-threads", type=_positive_int,
                   help=f"TensorFlow intra-op threads (default {DEFAULT_THREADS[0]}; with {DEFAULT_THREADS[1]} inter-op "
                        "threads the shared and private LSTMs run one per core, the fastest on 2 cores)")
    p.add_argument("--inter-op-threads", type=_positive_int, help=f"TensorFlow inter-op threads (default {DEFAULT_THREADS[1]})")
    p.add_argument("--deterministic", action="store_true",
                   help="TensorFlow op determinism on top of the fixed thread settings: the same command gives "
                        "bit-identical results files (apart from times)")
    p.add_argument("--adversarial-weight", type=_weight, help="lambda (asp-mtl)")
    p.add_argument("--difference-weight", type=_weight, help="gamma (asp-mtl)")
    p.add_argument("--difference-normalization", choices=["normalized", "sum"])
    p.add_argument("--adversarial-objective", choices=["reversal", "confusion"],
                   help="reversal: the paper's gradient reversal; confusion: encoder pushes D toward uniform")
    p.add_argument("--dropout", type=float)
    p.add_argument("--sampling", choices=["proportional", "uniform"])
    p.add_argument("--unlabeled-fraction", type=float,
                   help="share of unlabelled rows per batch (they feed the adversary, the difference term and "
                        "--embedding-perturbation virtual, never the task loss)")
    p.add_argument("--seed", type=int)
    p.add_argument("--lm-pretrain-epochs", type=_non_negative_int,
                   help="first pretrain the LSTM encoders as a language model for this many epochs on the tasks' "
                        "train and unlabelled text (never dev or test; cached under runs/pretrain); 0: off (default)")
    p.add_argument("--lm-init", choices=["all", "shared"],
                   help="encoders the pretrained language model initialises: all (shared and private, the default) "
                        "or shared")
    p.add_argument("--self-training-threshold", type=_weight,
                   help="self-training: train a teacher as usual (model*/teacher), label the tasks' unlabelled rows "
                        "it is this sure of (in (0.5, 1]; never dev or test rows; as many of each class per task), "
                        "then train the reported model on train + those rows; 0: off (default)")
    p.add_argument("--self-training-max-per-task", type=_non_negative_int,
                   help="most pseudo-labelled rows per task, the most confident (0: no cap, the default)")
    p.add_argument("--embedding-perturbation", choices=["none", "adversarial", "virtual"],
                   help="perturbed word vectors (Miyato et al. 2017) and their loss term: adversarial (AT: the task "
                        "loss of the labelled rows at the worst-case perturbation) or virtual (VAT: the KL between "
                        "the clean and perturbed predictions on every row, so it also uses the batch's unlabelled "
                        "rows when --unlabeled-fraction > 0); none (default). Either makes a paper-scale training "
                        "step 2.1-2.5 times slower: two more passes through the encoders "
                        "(experiments/results/bench_perturbation.json)")
    p.add_argument("--perturbation-weight", type=_weight, help="weight of the perturbation's loss term (default 1)")
    p.add_argument("--perturbation-norm", type=_positive_float,
                   help="epsilon: L2 norm of each text's perturbation over all its real tokens' word vectors "
                        "(default 1; GloVe 50-d vectors have norms of about 4-6 per word)")
    p.add_argument("--quick", action="store_true", help=f"a smoke test, not the paper's numbers: {QUICK}")
    p.add_argument("--paper-scale", action="store_true", help="the paper's sizes (the default; kept for old commands)")
    p.add_argument("--config", help="JSON file of TrainConfig fields (e.g. written by experiments.tune)")
    p.add_argument("--data-dir", help="FDU-MTL folder (else $TF_ASPMTL_FDU_MTL, else ../shared/data/fdu-mtl)")
    p.add_argument("--output-dir", help="run folder (default runs/<model>-<time>); the same folder resumes a run")
    p.add_argument("--results", help="also write the results JSON here (a .md table is written beside it)")
    p.add_argument("--dev-only", action="store_true",
                   help="never read the test split: report dev error only (for screening and tuning runs)")
    p.add_argument("--export", metavar="DIR", help="then write TF Serving SavedModels of every task under DIR")
    p.add_argument("--verbose", type=int, default=1 if sys.stdout.isatty() else 2,
                   help="Keras fit verbosity: 1 progress bar (default in a terminal), 2 a line per epoch, 0 none")
    p.add_argument("--strategy", choices=STRATEGIES, default="default",
                   help="multi-worker: tf.distribute.MultiWorkerMirroredStrategy over the workers in $TF_CONFIG "
                        "(see tf_aspmtl/distribute.py)")
    args = p.parse_args(argv)
    if args.quick and args.paper_scale:
        p.error("--quick and --paper-scale contradict each other")
    return args


def resolve_config(args: argparse.Namespace) -> TrainConfig:
    """The paper's defaults, then ``--quick``, then ``--config``, then explicit flags; checked."""
    values: dict[str, Any] = {}
    if args.quick:
        values.update(QUICK, paper_scale=False)
    overrides: dict[str, Any] = {}
    for f in fields(TrainConfig):
        flag = getattr(args, f.name, None)
        if flag is not None and f.name not in ("tasks", "paper_scale"):
            overrides[f.name] = flag
    if args.tasks != "all":
        overrides["tasks"] = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    if args.config:
        config = TrainConfig.from_json_file(args.config, **values)
        config = TrainConfig.from_dict({**config.to_dict(), **overrides}, where="command line")
    else:
        config = TrainConfig.from_dict({**values, **overrides}, where="command line")
    unknown_tasks = sorted(set(config.tasks) - set(FDU_MTL_TASKS))
    if unknown_tasks:
        raise ValueError(f"Unknown task(s) {unknown_tasks}; expected some of {list(FDU_MTL_TASKS)}")
    return config


def fdu_preprocessor(vectorizer: TextVectorizer, tasks: list[str]) -> MultiTaskPreprocessor:
    """The preprocessor of FDU-MTL tasks: label 0 is negative, 1 positive."""
    return MultiTaskPreprocessor(tasks, {t: list(FDU_MTL_CLASS_NAMES) for t in tasks}, text_vectorizer=vectorizer,
                                 name="preprocessor")


def pretrain_run_language_model(
    config: TrainConfig, data: pd.DataFrame, vectorizer: TextVectorizer, word_vectors, verbose: int | str = 2
) -> Path:
    """Pretrains the run's encoders as a language model (``config.lm_pretrain_epochs``); returns its ``.npz``.

    Directions: forward for a one-way LSTM encoder, forward and backward for
    a bidirectional one; units ``config.hidden_dim``; the embedding starts
    from the run's word vectors (random when there are none). The folder,
    ``runs/pretrain/<key>``, is keyed by a hash of the corpus, vocabulary,
    word vectors and every setting, seed included, so runs that share them
    (other families, reruns, resumed runs) share one pretraining (see
    :func:`tf_aspmtl.training.pretrain_language_model_cached`).
    """
    # The corpus: the run's tasks' train rows and unlabelled rows, NEVER dev or test text. The "train" split of
    # load_fdu_mtl excludes dev: dev is the last dev_size (200) rows of each .task.train file, train the rows before
    # them (_task_frames in tf_aspmtl/data/fdu_mtl.py); test and unlabelled rows come from their own files.
    texts = data[data["split"].isin(("train", "unlabeled"))]["text"].tolist()
    return pretrain_language_model_cached(
        texts, vectorizer, word_vectors, config.hidden_dim, cache_root=LM_PRETRAIN_DIR, embedding=config.embedding,
        directions=directions_for_encoder(config.encoder), epochs=config.lm_pretrain_epochs, seed=config.seed,
        embedding_dim=config.embedding_dim, verbose=verbose, **LM_SETTINGS,
    )


def pseudo_label_counts(pseudo: pd.DataFrame, tasks: list[str]) -> dict[str, dict[str, int]]:
    """Pseudo-labelled rows per task and class id (FDU-MTL: "0" negative, "1" positive)."""
    return {t: {str(c): int(((pseudo["task"] == t) & (pseudo["label"] == c)).sum())
                for c in range(len(FDU_MTL_CLASS_NAMES))} for t in tasks}


def _record_self_training(info: dict[str, Any], label: str, group: dict[str, Any]) -> None:
    """Adds one group's teacher and pseudo-label counts to the run's ``self_training`` record."""
    teacher = group["teacher"]
    info["teacher_dev_error"].update(teacher["dev_error"])
    info["pseudo_labels"].update(group["pseudo_labels"])
    info["teachers"][label] = {k: teacher[k] for k in ("best_epoch", "training_wall_time_s", "processes")}
    errors = list(info["teacher_dev_error"].values())
    info["avg_teacher_dev_error"] = sum(errors) / len(errors)
    info["teacher_training_wall_time_s"] = sum(t["training_wall_time_s"] for t in info["teachers"].values())


def run(
    config: TrainConfig, data_dir: str | None, run_dir: Path, command: str, verbose: int = 2,
    strategy: tf.distribute.Strategy | None = None, dev_only: bool = False,
) -> dict[str, Any]:
    """Trains, selects on dev, evaluates on test; returns the results record.

    Resumable: each model's training state lives in its folder under
    ``run_dir`` (see :func:`tf_aspmtl.training.fit_with_dev_selection`), and a
    single-task run keeps the results of the tasks it finished.

    Self-training (``config.self_training_threshold > 0``): each group first
    trains a teacher, the model a run without it trains, in
    ``<group folder>/teacher``; the teacher labels the group's unlabelled rows
    (never dev or test rows; an unlabelled review that repeats a dev or test
    text is dropped first), keeping the confident ones, as many of each class
    per task (``pseudo_labels.parquet``); then a fresh model of the same
    config and seed, the student, trains on the train rows and those, is
    selected on dev and evaluated as usual. Teacher and pseudo labels are
    reused by a rerun (see :func:`tf_aspmtl.training.teacher_pseudo_labels`).
    """
    keras.utils.set_random_seed(config.seed)
    started = time.time()
    made_by = provenance(command)  # the code as it was when the run started
    tasks = list(config.tasks)
    uses_word2vec = config.embedding in ("word2vec", "glove+word2vec")  # its corpus includes the unlabelled rows
    self_training = config.self_training_threshold > 0
    splits = ("train", "dev") + (() if dev_only else ("test",)) + (
        ("unlabeled",) if config.unlabeled_fraction > 0 or uses_word2vec or config.lm_pretrain_epochs > 0
        or self_training else ())
    data = load_fdu_mtl(data_dir, tasks=tasks, splits=splits)
    train, dev, test = (data[data["split"] == s] for s in ("train", "dev", "test"))
    unlabeled = data[data["split"] == "unlabeled"] if config.unlabeled_fraction > 0 else None
    logger.info("data: %d train, %d dev, %d test rows over %d tasks", len(train), len(dev), len(test), len(tasks))
    to_label, self_training_info = None, None
    if self_training:
        # The rows a teacher may label: the "unlabeled" split only, NEVER dev or test rows, minus any unlabelled
        # review that repeats a dev or test text (the test split is compared only when loaded, not with --dev-only).
        candidates = data[data["split"] == "unlabeled"]
        repeats = held_out_duplicates(candidates, pd.concat([dev, test]))
        to_label = candidates[~repeats]
        self_training_info = {
            "threshold": config.self_training_threshold, "max_per_task": config.self_training_max_per_task,
            "balanced": True, "unlabeled_rows": {t: int((to_label["task"] == t).sum()) for t in tasks},
            "dropped_repeats_of_dev_or_test": {t: int((candidates["task"] == t)[repeats].sum()) for t in tasks},
            "teacher_dev_error": {}, "pseudo_labels": {}, "teachers": {},
        }
        logger.info("self-training: %d unlabelled rows to label (%d dropped: they repeat a dev or test text)",
                    len(to_label), int(repeats.sum()))

    vectorizer = TextVectorizer(max_length=config.max_length, max_tokens=config.max_tokens,
                                truncation=config.truncation, name="text_vectorizer")
    vectorizer.adapt(train["text"].tolist())
    word_vectors, coverage = None, None
    word_vector_info: dict[str, Any] = {"kind": config.embedding, "dim": config.embedding_dim}
    if config.embedding != "random":
        texts = None
        if uses_word2vec:
            # The word2vec corpus: the run's tasks' train rows and unlabelled rows, NEVER dev or test text. The
            # "train" split of load_fdu_mtl already excludes dev: dev is the last dev_size (200) rows of each
            # .task.train file and train the rows before them (_task_frames in tf_aspmtl/data/fdu_mtl.py).
            corpus = data[data["split"].isin(("train", "unlabeled"))]
            texts = corpus["text"].tolist()
            word_vector_info["corpus_rows"] = {s: int((corpus["split"] == s).sum()) for s in ("train", "unlabeled")}
        word_vectors, stats = embedding_matrix(config.embedding, vectorizer, texts, dim=config.embedding_dim,
                                               seed=config.seed, cache_dir=WORD_VECTORS_CACHE)
        word_vector_info.update(stats)
        coverage = stats.get("glove")  # GloVe's coverage, as before (None without GloVe)
    logger.info("vocabulary %d words; %s word vectors (%d-d), coverage %s", vectorizer.vocabulary_size,
                config.embedding, config.embedding_dim, word_vector_info.get("coverage"))

    lm_path, lm_info, lm_wall_s, this_process_lm_s = None, None, 0.0, 0.0
    if config.lm_pretrain_epochs > 0:
        lm_started = time.time()
        lm_path = pretrain_run_language_model(config, data, vectorizer, word_vectors, verbose=verbose)
        this_process_lm_s = time.time() - lm_started
        meta = load_pretrained_language_model(lm_path)["metadata"]
        lm_wall_s = float(meta["wall_time_s"])  # every process's pretraining time, as for training below
        lm_info = {"path": str(lm_path), "epochs": meta["epochs"], "directions": meta["directions"],
                   "texts": meta["texts"], "heldout_texts": meta["heldout_texts"],
                   "heldout_perplexity": meta["heldout_perplexity"], "wall_time_s": lm_wall_s,
                   "init": config.lm_init, "applied": {}}
        # The classifier starts from the same random state whether the pretraining ran here or was cached.
        keras.utils.set_random_seed(config.seed)

    groups = [[t] for t in tasks] if config.model == "single" else [tasks]
    per_task: dict[str, dict[str, float]] = {}
    histories: dict[str, Any] = {}
    training_s, this_process_training_s, processes, resumed = 0.0, 0.0, 1, []
    evaluated_later: list[str] = []  # groups trained by a --dev-only run of this folder, tested by this one
    for group in groups:
        label = "+".join(group) if len(group) < 4 else f"{len(group)} tasks"
        group_dir = run_dir / ("model" if len(groups) == 1 else f"model-{group[0]}")
        done = group_dir / "group_results.json"
        finished = json.loads(done.read_text()) if done.exists() else None
        if finished is not None and not dev_only and any(r["test_error"] is None for r in finished["per_task"].values()):
            # Trained and selected on dev only (--dev-only): the steps below load its best weights without training
            # (its state says it finished) and read the test split, now, once.
            logger.info("%s was trained and selected on dev only (%s): evaluating its model on test", label, done)
            evaluated_later.append(label)
        elif finished is not None:  # finished before an interruption: keep its results
            logger.info("%s already trained and evaluated; reusing %s", label, done)
            per_task.update(finished["per_task"])
            histories[label] = finished["history"]
            training_s += finished.get("training_wall_time_s", 0.0)
            processes = max(processes, finished.get("processes", 1))
            if self_training_info is not None and finished.get("self_training"):
                _record_self_training(self_training_info, label, finished["self_training"])
                training_s += finished["self_training"]["teacher"]["training_wall_time_s"]
            continue
        logger.info("training %s on %s", config.model, label)
        sub = lambda df: df[df["task"].isin(group)]  # noqa: E731

        def group_dataset(frame: pd.DataFrame) -> tuple[tf.data.Dataset, int]:
            return make_training_dataset(
                frame, vectorizer, group, batch_size=config.batch_size, sampling=config.sampling,
                unlabeled=None if unlabeled is None else sub(unlabeled),
                unlabeled_fraction=config.unlabeled_fraction, max_length=config.max_length, seed=config.seed,
            )

        def group_model() -> MultiTaskClassifier:
            with strategy.scope() if strategy else contextlib.nullcontext():
                model = build_model(config, fdu_preprocessor(vectorizer, group), word_vectors)
                if lm_path is not None:  # before fit: a resumed fit then loads its checkpoint over these weights
                    lm_info["applied"][label] = apply_pretrained_encoders(model, lm_path, encoders=config.lm_init)
            return model

        train_ds, steps = group_dataset(sub(train))
        dev_ds = make_eval_dataset(sub(dev), vectorizer, group)
        test_ds = None if dev_only else make_eval_dataset(sub(test), vectorizer, group)
        group_self_training = None
        if self_training:
            pseudo, teacher, teacher_s = teacher_pseudo_labels(
                group_dir, group_model, train_ds, steps, dev_ds, sub(to_label), epochs=config.epochs,
                patience=config.patience, threshold=config.self_training_threshold,
                max_per_task=config.self_training_max_per_task or None, verbose=verbose, strategy=strategy,
            )
            # Rows saved by a --dev-only run were not compared with the test split: they are now that it is loaded.
            pseudo = pseudo[~held_out_duplicates(pseudo, pd.concat([dev, test]))]
            unknown = sorted(set(pseudo["task"]) - set(group))
            if unknown:
                raise ValueError(f"{group_dir / PSEUDO_LABELS} holds rows of task(s) {unknown}, not of {group}")
            this_process_training_s += teacher_s
            training_s += teacher["training_wall_time_s"]
            group_self_training = {
                "teacher": {k: teacher[k] for k in ("dev_error", "best_epoch", "training_wall_time_s", "processes")},
                "pseudo_labels": pseudo_label_counts(pseudo, group),
            }
            _record_self_training(self_training_info, label, group_self_training)
            logger.info("self-training: the student trains on %d train + %d pseudo-labelled rows %s",
                        len(sub(train)), len(pseudo), group_self_training["pseudo_labels"])
            # The student: a fresh model of the same config and seed, whether its teacher trained here or earlier;
            # its data order is seeded (config.seed) and its rows are the saved ones, so a rerun resumes it exactly.
            keras.utils.set_random_seed(config.seed)
            columns = ["task", "text", "label"]
            train_ds, steps = group_dataset(pd.concat([sub(train)[columns], pseudo[columns]], ignore_index=True))
        model = group_model()
        fit_started = time.time()
        selection = fit_with_dev_selection(
            model, train_ds, steps, dev_ds, group_dir, epochs=config.epochs, patience=config.patience,
            verbose=verbose, strategy=strategy, callbacks=[_FaultInjection()] if os.environ.get(FAULT_ENV) else [],
        )
        this_process_training_s += time.time() - fit_started
        if selection.resumed_from_epoch:
            resumed.append({"group": label, "from_epoch": selection.resumed_from_epoch})
        if strategy is not None:
            from tf_aspmtl.distribute import distribute_eval_dataset

            dev_ds = distribute_eval_dataset(strategy, dev_ds)
            test_ds = None if test_ds is None else distribute_eval_dataset(strategy, test_ds)
        _fault("after-training")
        dev_err = task_errors(model, dev_ds)
        _fault("during-evaluation")
        test_err = {t: None for t in group} if test_ds is None else task_errors(model, test_ds)
        group_results = {
            t: {"dev_error": dev_err[t], "test_error": test_err[t], "best_epoch": selection.best_epoch} for t in group
        }
        per_task.update(group_results)
        histories[label] = selection.history
        training_s += selection.wall_time_s
        processes = max(processes, selection.processes)
        model.save(group_dir / "model.keras")
        write_json(done, {"per_task": group_results, "history": selection.history,
                          "training_wall_time_s": selection.wall_time_s, "processes": selection.processes,
                          **({"self_training": group_self_training} if group_self_training else {})})

    def avg(key):
        values = [r[key] for r in per_task.values()]
        return None if None in values else sum(values) / len(values)

    return {
        "model": config.model,
        "short_run": not config.paper_scale,
        "dev_only": dev_only,
        "per_task": per_task,
        "avg_dev_error": avg("dev_error"),
        "avg_test_error": avg("test_error"),
        "config": asdict(config),
        "glove_coverage": coverage,
        "word_vectors": word_vector_info,  # kind, dims, word2vec corpus rows and parameters, coverage per source
        "history": histories,
        "training_wall_time_s": training_s,  # with self-training, the teachers' training time included
        # Training time of every process (each up to its last finished epoch), plus this process's other work.
        # Language-model pretraining counts the same way (its full time even when cached by an earlier run),
        # and so does a self-training teacher.
        "wall_time_s": (training_s + (time.time() - started) - this_process_training_s
                        + lm_wall_s - this_process_lm_s),
        "processes": processes,
        "resumed": resumed,
        # Groups whose training (same folder, same config) was a --dev-only run; this run read their test split.
        "test_read_after_dev_only_training": evaluated_later,
        "lm_pretraining": lm_info,  # path, epochs, held-out perplexity per epoch, wall time (all processes)
        # threshold, cap, unlabelled rows per task, dropped repeats of dev/test texts, teacher dev error per task,
        # pseudo-labelled rows per task and class, each teacher's best epoch and training time; None when off
        "self_training": self_training_info,
        **made_by,
    }


def results_table(results: dict[str, Any]) -> str:
    """A markdown table of dev and test error per task, with the paper's number when known."""
    paper = _paper_errors(results["model"])
    lines = [
        f"# {results['model']}: error % (dev selects the epoch; test reported once)",
        "",
        f"`{results['command']}` at commit `{results['commit']}`, {results['wall_time_s']:.0f} s"
        + (" (short run: not the paper's scale)" if results["short_run"] else ""),
        "",
        "| task | dev error | test error | paper test error |",
        "|---|---:|---:|---:|",
    ]
    for task, r in results["per_task"].items():
        ref = paper.get(task)
        test = "–" if r["test_error"] is None else f"{r['test_error']:.1f}"
        lines.append(f"| {task} | {r['dev_error']:.1f} | {test} | {'' if ref is None else f'{ref:.1f}'} |")
    ref_avg = [paper[t] for t in results["per_task"] if t in paper]
    ref_txt = f"{sum(ref_avg) / len(ref_avg):.1f}" if len(ref_avg) == len(results["per_task"]) else ""
    test = "–" if results["avg_test_error"] is None else f"**{results['avg_test_error']:.1f}**"
    lines.append(f"| **average** | **{results['avg_dev_error']:.1f}** | {test} | {ref_txt} |")
    st = results.get("self_training")
    if st:
        rows = sum(sum(counts.values()) for counts in st["pseudo_labels"].values())
        lines += ["", f"Self-training: {rows} pseudo-labelled rows (threshold {st['threshold']:g}, classes balanced "
                      f"per task); the teachers' average dev error {st['avg_teacher_dev_error']:.1f}."]
    return "\n".join(lines) + "\n"


PAPER_COLUMNS = {"single": "lstm", "fs-mtl": "fs_mtl", "sp-mtl": "sp_mtl", "asp-mtl": "asp_mtl"}
"""Table 2 column of each family (the single-task column is the paper's LSTM)."""
PAPER_TABLE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "paper" / "table2_error_rates.csv"


def paper_table() -> pd.DataFrame | None:
    """The paper's Table 2 (test error %) indexed by task, or None without ../shared."""
    return pd.read_csv(PAPER_TABLE).set_index("task") if PAPER_TABLE.exists() else None


def _paper_errors(model: str) -> dict[str, float]:
    table = paper_table()
    return {} if table is None else table[PAPER_COLUMNS[model]].to_dict()


def configure_threads(intra: int | None, inter: int | None, strict: bool = False) -> tuple[int, int]:
    """Sets TensorFlow's thread pools (before any op) and returns the settings in force.

    One intra-op and two inter-op threads unless told otherwise: the shared and
    the private LSTM run one per core (the fastest setting on 2 cores, see
    experiments.bench), and a fixed setting repeats its numbers. In a process
    whose TensorFlow already runs (a test, a notebook) the pools cannot
    change: an explicit or ``strict`` request is then an error, the default
    keeps TensorFlow's settings with a warning.
    """
    wanted = (intra or DEFAULT_THREADS[0], inter or DEFAULT_THREADS[1])
    try:
        configure_cpu_threads(*wanted)
        return wanted
    except RuntimeError:
        if intra or inter or strict:
            raise
        kept = (tf.config.threading.get_intra_op_parallelism_threads(),
                tf.config.threading.get_inter_op_parallelism_threads())
        logger.warning("TensorFlow's thread pools already run; keeping intra-op %d, inter-op %d", *kept)
        return kept


RUN_IDENTITY = "run_config.json"
"""What a run folder holds: its TrainConfig and whether test is read. A rerun on the folder must match it."""


def claim_run_folder(run_dir: Path, config: TrainConfig, dev_only: bool) -> None:
    """Records which run ``run_dir`` holds, or refuses to continue one made by another configuration.

    A rerun on the same folder resumes the run (its checkpoints) or reuses its
    finished results; with another configuration that would silently report
    the old run's numbers as the new one's (same weight shapes) or fail deep
    in a weight load. A folder made before this record existed is checked
    against its ``results.json`` if it finished, else claimed as it is. A
    ``--dev-only`` run's folder may be continued by the same configuration
    without ``--dev-only``: its training is the same, and the rerun reads the
    test split for the model it selected (never the other way round, and not
    with self-training, whose dev-only student may have learnt from
    unlabelled repeats of test texts).

    Raises:
        ValueError: the folder holds a run of another configuration; the
            message names the fields that differ, the folder's value first.
    """
    identity = json.loads(json.dumps({"config": config.to_dict(), "dev_only": bool(dev_only)}))
    path = run_dir / RUN_IDENTITY
    finished = run_dir / "results.json"  # a finished run from before the record says what it was
    record = path if path.exists() else finished if finished.exists() else None
    if record is not None:
        try:
            theirs = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise ValueError(f"{record}: cannot read which run this folder holds ({err})") from None
        try:  # through TrainConfig: fields added since the folder was written take their defaults
            their_config = json.loads(json.dumps(TrainConfig.from_dict(theirs.get("config") or {}).to_dict()))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{record}: its configuration is not one this code can compare ({err})") from None
        theirs = {"config": their_config, "dev_only": bool(theirs.get("dev_only"))}
        # A self-training student of a --dev-only run may have learnt from unlabelled repeats of test texts (they
        # are dropped only when test is loaded), so it is never promoted.
        promotable = not config.self_training_threshold > 0
        if theirs == identity or (promotable and theirs["config"] == identity["config"] and theirs["dev_only"]
                                  and not dev_only):
            # The same run; or a --dev-only one of the same configuration, whose test split this run reads.
            if theirs != identity or not path.exists():
                write_json(path, identity)
            return
        flat = lambda d: {**d.get("config", {}), "dev_only": d.get("dev_only")}  # noqa: E731
        ours, old = flat(identity), flat(theirs)
        diff = {k: (old.get(k), ours.get(k)) for k in sorted(set(ours) | set(old)) if old.get(k) != ours.get(k)}
        raise ValueError(f"{run_dir} holds a run of another configuration (field: (that run, this one) {diff}); "
                         "give this run another --output-dir, or remove the folder to start afresh")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(path, identity)


def serving_instructions(run_dir: Path, export_dir: str | None, config: TrainConfig) -> str:
    """What to run to serve the trained model (printed at the end of the main job)."""
    model_path = run_dir / ("model" if config.model != "single" else f"model-{config.tasks[0]}") / "model.keras"
    lines = ["", "To serve it with TensorFlow Serving:"]
    if export_dir is None:
        lines.append(f"  python -m export --model {model_path} --output exports")
        export_dir = "exports"
    mount = export_dir if Path(export_dir).is_absolute() else f"$PWD/{export_dir}"
    lines += [
        f"  docker run -p 8501:8501 -v {mount}:/models -t tensorflow/serving "
        "--model_config_file=/models/models.config",
        f"  curl -d '{{\"instances\": [\"a gripping, well written story\"]}}' "
        f"http://localhost:8501/v1/models/{config.tasks[0]}:predict",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        config = resolve_config(args)
    except ValueError as err:
        print(f"experiments.train: error: {err}", file=sys.stderr)
        return 2
    intra, inter = configure_threads(args.intra_op_threads, args.inter_op_threads, strict=args.deterministic)
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    strategy = make_strategy(args.strategy)
    run_dir = Path(args.output_dir or Path("runs") / f"{config.model}-{time.strftime('%Y%m%d-%H%M%S')}")
    run_dir = worker_run_dir(run_dir) if strategy else run_dir
    try:
        claim_run_folder(run_dir, config, args.dev_only)
    except ValueError as err:
        print(f"experiments.train: error: {err}", file=sys.stderr)
        return 2
    if not config.paper_scale:
        logger.info(
            "quick run (%d epoch(s), hidden %d, max length %d): a smoke test of the pipeline, not the paper's "
            "numbers; drop --quick for those", config.epochs, config.hidden_dim, config.max_length,
        )
    command = command_line("experiments.train", argv)
    results = run(config, args.data_dir, run_dir, command, verbose=args.verbose, strategy=strategy,
                  dev_only=args.dev_only)
    results["deterministic"] = bool(args.deterministic)
    results["threads"] = {"intra_op": intra, "inter_op": inter}
    results["load_average_1m"] = os.getloadavg()[0]  # what else ran shows here (2 = both cores busy)
    table = results_table(results)
    print(table)
    targets = [run_dir / "results.json"] + ([Path(args.results)] if args.results and (strategy is None or is_chief()) else [])
    for path in targets:
        write_json(path, results)
        write_atomic(path.with_suffix(".md"), table)
        logger.info("wrote %s and %s", path, path.with_suffix(".md"))
    if strategy is None or is_chief():
        if args.export:
            from tf_aspmtl.export import export_model

            for group_model in sorted(run_dir.glob("model*/model.keras")):
                model = keras.models.load_model(group_model, compile=False)
                for item in export_model(model, args.export):
                    logger.info("exported %s version %d to %s", item.name, item.version, item.path)
        print(serving_instructions(run_dir, args.export, config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
