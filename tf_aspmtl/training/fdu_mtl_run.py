"""One training run on FDU-MTL, as the main job does it: data, word vectors, optional pretraining and self-training,
``fit`` with dev selection and exact resume, per-task dev and test errors."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import keras
import pandas as pd
import tensorflow as tf

from tf_aspmtl.data.fdu_mtl import load_fdu_mtl
from tf_aspmtl.io_utils import folder_lock, write_json_atomic
from tf_aspmtl.models import MultiTaskClassifier
from tf_aspmtl.preprocessing import (
    MultiTaskPreprocessor,
    NgramFeatures,
    TextVectorizer,
    WideAndDeepPreprocessor,
    embedding_matrix,
)
from tf_aspmtl.training.apply_pretrained_encoders import apply_pretrained_encoders, directions_for_encoder
from tf_aspmtl.training.checkpoint_io import save_model_atomic
from tf_aspmtl.training.epoch_summary import fit_output
from tf_aspmtl.training.fit_with_dev_selection import RUN_LOCK, fit_with_dev_selection
from tf_aspmtl.training.held_out_duplicates import held_out_duplicates
from tf_aspmtl.training.pretrain_language_model import load_pretrained_language_model
from tf_aspmtl.training.pretrain_language_model_cached import pretrain_language_model_cached
from tf_aspmtl.training.run_folder import claim_run_folder
from tf_aspmtl.training.self_training_record import record_self_training, self_training_rows
from tf_aspmtl.training.shared_means import refresh_shared_means
from tf_aspmtl.training.task_errors import task_errors
from tf_aspmtl.training.teacher_pseudo_labels import PSEUDO_LABELS, teacher_pseudo_labels
from tf_aspmtl.training.train_config import FDU_MTL_CLASS_NAMES, WIDE_DEEP, TrainConfig, build_model

logger = logging.getLogger(__name__)

LM_SETTINGS = {"batch_size": 64, "learning_rate": 1e-3, "num_sampled": 512, "holdout_fraction": 0.02}
"""Settings of the language-model pretraining that the config does not give."""
GROUP_RESULTS = "group_results.json"
"""A trained and evaluated group's results, in its model folder: a rerun reuses them."""


def fdu_preprocessor(vectorizer: TextVectorizer, tasks: Sequence[str],
                     ngram_features: NgramFeatures | None = None) -> MultiTaskPreprocessor:
    """The preprocessor of FDU-MTL tasks: label 0 is negative, 1 positive (with ``ngram_features``, a
    :class:`WideAndDeepPreprocessor`, which also gives them)."""
    classes = {t: list(FDU_MTL_CLASS_NAMES) for t in tasks}
    if ngram_features is not None:
        return WideAndDeepPreprocessor(list(tasks), classes, text_vectorizer=vectorizer, ngram_features=ngram_features,
                                       name="preprocessor")
    return MultiTaskPreprocessor(list(tasks), classes, text_vectorizer=vectorizer, name="preprocessor")


def wide_ngram_features(config: TrainConfig, train: pd.DataFrame) -> NgramFeatures:
    """The wide path's :class:`NgramFeatures` (``config.ngram_max_features``, ``ngrams``,
    ``wide_feature_weighting``), adapted on ``train``'s rows: pass the train split alone, never dev, test or
    unlabelled rows. With ``"nb"`` its NB log-count ratios are learnt from their labels (FDU-MTL: 1 positive)."""
    nb = config.wide_feature_weighting == "nb"
    features = NgramFeatures(max_features=config.ngram_max_features, ngrams=config.ngrams,
                             weighting=config.wide_feature_weighting)
    features.adapt(train["text"].tolist(), labels=train["label"].to_numpy() if nb else None)
    return features


def _rows(preprocessor: MultiTaskPreprocessor, frame: pd.DataFrame) -> tuple[list, Any]:
    """A frame's texts and task ids."""
    return frame["text"].tolist(), preprocessor.task_ids(frame["task"].tolist())


def _word_vectors(config: TrainConfig, data: pd.DataFrame, vectorizer: TextVectorizer, cache_dir: Path):
    """The run's word-vector matrix (None for random vectors) and what describes it."""
    info: dict[str, Any] = {"kind": config.embedding, "dim": config.embedding_dim}
    if config.embedding == "random":
        return None, info
    texts = None
    if config.embedding in ("word2vec", "glove+word2vec"):
        # The word2vec corpus: the run's tasks' train and unlabelled rows, NEVER dev or test text (the "train"
        # split of load_fdu_mtl excludes dev: the last dev_size rows of each .task.train file).
        corpus = data[data["split"].isin(("train", "unlabeled"))]
        texts = corpus["text"].tolist()
        info["corpus_rows"] = {s: int((corpus["split"] == s).sum()) for s in ("train", "unlabeled")}
    matrix, stats = embedding_matrix(config.embedding, vectorizer, texts, dim=config.embedding_dim,
                                     seed=config.seed, cache_dir=cache_dir / "word_vectors")
    info.update(stats)
    return matrix, info


def pretrain_for_run(config: TrainConfig, data: pd.DataFrame, vectorizer: TextVectorizer, word_vectors,
                     cache_dir: str | os.PathLike, verbose: int | str = 2) -> Path:
    """Pretrains the run's encoders as a language model; returns the ``.npz`` path.

    The corpus is the run's train and unlabelled rows (``data``'s ``split``
    column), never dev or test text; directions: forward for an LSTM encoder,
    both for a BiLSTM; units ``config.hidden_dim``; the embedding starts from
    the run's word vectors. Cached under ``cache_dir/pretrain`` by a hash of
    the corpus, vocabulary, vectors and every setting, so runs that share them
    share one pretraining (:func:`pretrain_language_model_cached`).
    """
    texts = data[data["split"].isin(("train", "unlabeled"))]["text"].tolist()
    return pretrain_language_model_cached(
        texts, vectorizer, word_vectors, config.hidden_dim, cache_root=Path(cache_dir) / "pretrain",
        embedding=config.embedding, directions=directions_for_encoder(config.encoder),
        epochs=config.lm_pretrain_epochs, seed=config.seed, embedding_dim=config.embedding_dim, verbose=verbose,
        **LM_SETTINGS,
    )


def _pretrain(config: TrainConfig, data: pd.DataFrame, vectorizer: TextVectorizer, word_vectors, cache_dir: Path,
              verbose) -> tuple[Path, dict[str, Any], float]:
    """:func:`pretrain_for_run`; (path, its record, this process's seconds)."""
    started = time.time()
    path = pretrain_for_run(config, data, vectorizer, word_vectors, cache_dir, verbose)
    meta = load_pretrained_language_model(path)["metadata"]
    info = {"path": str(path), "epochs": meta["epochs"], "directions": meta["directions"], "texts": meta["texts"],
            "heldout_texts": meta["heldout_texts"], "heldout_perplexity": meta["heldout_perplexity"],
            "wall_time_s": float(meta["wall_time_s"]), "init": config.lm_init, "applied": {}}
    return path, info, time.time() - started


def _read_group_results(path: Path) -> dict[str, Any] | None:
    """A finished group's results, or None if it has none; a damaged file is said and set aside (the group's
    trained model is then evaluated again from its best weights, which gives the same numbers)."""
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        logger.warning("%s is damaged (%s); evaluating the group's trained model again", path, err)
        return None


def run(
    config: TrainConfig,
    run_dir: str | os.PathLike,
    data_dir: str | os.PathLike | None = None,
    dev_only: bool = False,
    strategy: tf.distribute.Strategy | None = None,
    verbose: int = 2,
    cache_dir: str | os.PathLike | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    checkpoint_hook: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Trains ``config`` on FDU-MTL, selects each model's epoch on dev, reads test once; returns the results record.

    What ``python -m experiments.train`` runs. The run folder holds each
    model's training state (``model/``, or ``model-<task>/`` per task for
    the single-task family; see :func:`fit_with_dev_selection`), so the same
    call on the same folder resumes a killed run and ends with the numbers of
    one that was never killed; a folder of another configuration is refused
    by name (:func:`claim_run_folder`). A group that finished keeps its
    results (``group_results.json``). Every group starts from the run's seed
    (``keras.utils.set_random_seed(config.seed)`` right before it), whatever
    groups the process trained before it, so a rerun that skips the finished
    ones trains the rest as the first process did; the single-task family's
    models therefore all start from the same initial weights (same seed,
    same vocabulary), each then trained on its own task's data.

    Self-training (``config.self_training_threshold > 0``): each group first
    trains a teacher, the model a run without it trains, in
    ``<group folder>/teacher``; the teacher labels the group's unlabelled rows
    (never dev or test rows; an unlabelled review that repeats a dev or test
    text is dropped first), keeping the confident ones, as many of each class
    per task; then a fresh model of the same config and seed, the student,
    trains on the train rows and those.

    Args:
        config: the run's :class:`TrainConfig`.
        run_dir: the run folder.
        data_dir: FDU-MTL folder (else ``$TF_ASPMTL_FDU_MTL``, else ``../shared/data/fdu-mtl``).
        dev_only: never read the test split (screens); a later run on the folder without it reads test once.
        strategy: optional ``tf.distribute`` strategy to train under.
        verbose: 0 silent, 1 Keras' progress bar, 2 one short line per epoch.
        cache_dir: where word2vec vectors and language-model pretrainings are cached (``run_dir/cache`` by
            default); runs that share them share one.
        callbacks: more Keras callbacks for every ``fit``.
        checkpoint_hook: optional ``fn(point)`` called at ``"after-training"`` and ``"during-evaluation"``
            (tests kill the process there).

    Raises:
        RunFolderError: the folder holds another configuration's run (the fields named).
        FolderBusyError: another live process runs in the folder (its pid named).

    Returns:
        ``{"model", "per_task": {task: {"dev_error", "test_error", "best_epoch"}}, "avg_dev_error",
        "avg_test_error", "config", "history", "training_wall_time_s", "wall_time_s", ...}``; with
        ``config.wide_feature_weighting == "nb"``, ``"wide_nb_weighting"``: the train rows its NB ratios came from.
    """
    run_dir = Path(run_dir)
    with folder_lock(run_dir, RUN_LOCK, what="run folder"):  # a second live process on the folder is refused
        return _run(config, run_dir, data_dir, dev_only, strategy, verbose,
                    run_dir / "cache" if cache_dir is None else Path(cache_dir), callbacks, checkpoint_hook)


def _run(config: TrainConfig, run_dir: Path, data_dir, dev_only: bool, strategy, verbose, cache_dir: Path,
         callbacks, checkpoint_hook) -> dict[str, Any]:
    claim_run_folder(run_dir, config, dev_only)
    hook = checkpoint_hook or (lambda point: None)
    keras.utils.set_random_seed(config.seed)
    started = time.time()
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
    to_label, self_training_info = (self_training_rows(data, pd.concat([dev, test]), config, tasks)
                                    if self_training else (None, None))

    vectorizer = TextVectorizer(max_length=config.max_length, max_tokens=config.max_tokens,
                                truncation=config.truncation, name="text_vectorizer")
    vectorizer.adapt(train["text"].tolist())
    word_vectors, word_vector_info = _word_vectors(config, data, vectorizer, cache_dir)
    logger.info("vocabulary %d words; %s word vectors (%d-d), coverage %s", vectorizer.vocabulary_size,
                config.embedding, config.embedding_dim, word_vector_info.get("coverage"))
    ngram_features, wide_nb = None, None
    if config.model == WIDE_DEEP:  # the wide path's n-grams, idf (and NB ratios), from the train split alone
        ngram_features = wide_ngram_features(config, train)
        if config.wide_feature_weighting == "nb":
            wide_nb = {"rows": len(train), "positive_rows": int((train["label"] == 1).sum())}
    lm_path, lm_info, this_process_lm_s = None, None, 0.0
    if config.lm_pretrain_epochs > 0:
        lm_path, lm_info, this_process_lm_s = _pretrain(config, data, vectorizer, word_vectors, cache_dir, verbose)
        keras.utils.set_random_seed(config.seed)  # the same random state whether pretraining ran here or was cached

    fit_verbose, epoch_lines = fit_output(verbose)
    groups = [[t] for t in tasks] if config.model == "single" else [tasks]
    per_task: dict[str, dict[str, float]] = {}
    histories: dict[str, Any] = {}
    training_s, this_process_training_s, processes, resumed = 0.0, 0.0, 1, []
    shared_means: dict[str, Any] = {}  # by group: the projection's means, refreshed once trained
    evaluated_later: list[str] = []  # groups trained by a dev-only run of this folder, tested by this one
    for group in groups:
        label = "+".join(group) if len(group) < 4 else f"{len(group)} tasks"
        group_dir = run_dir / ("model" if len(groups) == 1 else f"model-{group[0]}")
        done = group_dir / GROUP_RESULTS
        finished = _read_group_results(done)
        if finished is not None and not dev_only and any(r["test_error"] is None for r in finished["per_task"].values()):
            # Trained and selected on dev only: the steps below load its best weights without training (its state
            # says it finished) and read the test split, now, once.
            logger.info("%s was trained and selected on dev only (%s): evaluating its model on test", label, done)
            evaluated_later.append(label)
        elif finished is not None:  # finished before an interruption: keep its results
            logger.info("%s already trained and evaluated; reusing %s", label, done)
            per_task.update(finished["per_task"])
            histories[label] = finished["history"]
            training_s += finished.get("training_wall_time_s", 0.0)
            processes = max(processes, finished.get("processes", 1))
            if self_training_info is not None and finished.get("self_training"):
                record_self_training(self_training_info, label, finished["self_training"])
                training_s += finished["self_training"]["teacher"]["training_wall_time_s"]
            if finished.get("shared_means") is not None:  # what the process that trained the group recorded
                shared_means[label] = finished["shared_means"]
            if lm_info is not None and finished.get("lm_applied") is not None:
                lm_info["applied"][label] = finished["lm_applied"]
            continue
        logger.info("training %s on %s", config.model, label)
        # Each group starts from the run's seed, not from where the groups this process trained before it left the
        # random state: a rerun skips the finished groups, so the group it trains next must not depend on them.
        # For the first group (a multi-task run's only one) it is the state set above: nothing in between draws.
        keras.utils.set_random_seed(config.seed)
        sub = lambda df: df[df["task"].isin(group)]  # noqa: E731
        preprocessor = fdu_preprocessor(vectorizer, group, ngram_features)

        def group_dataset(frame: pd.DataFrame) -> tuple[tf.data.Dataset, int]:
            return preprocessor.training_dataset(
                *_rows(preprocessor, frame), frame["label"].to_numpy(), config.batch_size, seed=config.seed,
                sampling=config.sampling, unlabeled=None if unlabeled is None else _rows(preprocessor, sub(unlabeled)),
                unlabeled_fraction=config.unlabeled_fraction,
            )

        def evaluation_dataset(frame: pd.DataFrame) -> tf.data.Dataset:
            return preprocessor.evaluation_dataset(*_rows(preprocessor, frame), frame["label"].to_numpy())

        def group_model() -> MultiTaskClassifier:
            with strategy.scope() if strategy else contextlib.nullcontext():
                model = build_model(config, fdu_preprocessor(vectorizer, group, ngram_features), word_vectors)
                if lm_path is not None:  # before fit: a resumed fit then loads its checkpoint over these weights
                    lm_info["applied"][label] = apply_pretrained_encoders(model, lm_path, encoders=config.lm_init)
            return model

        train_ds, steps = group_dataset(sub(train))
        dev_ds = evaluation_dataset(sub(dev))
        test_ds = None if dev_only else evaluation_dataset(sub(test))
        group_self_training = None
        if self_training:
            pseudo, teacher, teacher_s = teacher_pseudo_labels(
                group_dir, group_model, train_ds, steps, dev_ds, sub(to_label), epochs=config.epochs,
                patience=config.patience, threshold=config.self_training_threshold,
                max_per_task=config.self_training_max_per_task or None, verbose=fit_verbose, strategy=strategy,
                callbacks=epoch_lines,
            )
            # Rows saved by a dev-only run were not compared with the test split: they are now that it is loaded.
            pseudo = pseudo[~held_out_duplicates(pseudo, pd.concat([dev, test]))]
            unknown = sorted(set(pseudo["task"]) - set(group))
            if unknown:
                raise ValueError(f"{group_dir / PSEUDO_LABELS} holds rows of task(s) {unknown}, not of {group}")
            this_process_training_s += teacher_s
            training_s += teacher["training_wall_time_s"]
            group_self_training = {
                "teacher": {k: teacher[k] for k in ("dev_error", "best_epoch", "training_wall_time_s", "processes")},
                "pseudo_labels": {t: {str(c): int(((pseudo["task"] == t) & (pseudo["label"] == c)).sum())
                                      for c in range(len(FDU_MTL_CLASS_NAMES))} for t in group},
            }
            record_self_training(self_training_info, label, group_self_training)
            logger.info("self-training: the student trains on %d train + %d pseudo-labelled rows %s",
                        len(sub(train)), len(pseudo), group_self_training["pseudo_labels"])
            # The student: a fresh model of the same config and seed; its data order is seeded and its rows are
            # the saved ones, so a rerun resumes it exactly.
            keras.utils.set_random_seed(config.seed)
            columns = ["task", "text", "label"]
            train_ds, steps = group_dataset(pd.concat([sub(train)[columns], pseudo[columns]], ignore_index=True))
        model = group_model()
        fit_started = time.time()
        selection = fit_with_dev_selection(
            model, train_ds, steps, dev_ds, group_dir, epochs=config.epochs, patience=config.patience,
            verbose=fit_verbose, strategy=strategy, callbacks=epoch_lines + list(callbacks),
        )
        this_process_training_s += time.time() - fit_started
        if config.shared_mean_projection:  # the exact means of the train rows, not the moving averages
            shared_means[label] = refresh_shared_means(model, evaluation_dataset(sub(train)))
        if selection.resumed_from_epoch:
            resumed.append({"group": label, "from_epoch": selection.resumed_from_epoch})
        if strategy is not None:
            from tf_aspmtl.distribute import distribute_eval_dataset

            dev_ds = distribute_eval_dataset(strategy, dev_ds)
            test_ds = None if test_ds is None else distribute_eval_dataset(strategy, test_ds)
        hook("after-training")
        dev_err = task_errors(model, dev_ds)
        hook("during-evaluation")
        test_err = {t: None for t in group} if test_ds is None else task_errors(model, test_ds)
        group_results = {
            t: {"dev_error": dev_err[t], "test_error": test_err[t], "best_epoch": selection.best_epoch} for t in group
        }
        per_task.update(group_results)
        histories[label] = selection.history
        training_s += selection.wall_time_s
        processes = max(processes, selection.processes)
        save_model_atomic(model, group_dir / "model.keras")  # a full disk keeps a model.keras already there
        write_json_atomic(done, {"per_task": group_results, "history": selection.history,
                                 "training_wall_time_s": selection.wall_time_s, "processes": selection.processes,
                                 **({"self_training": group_self_training} if group_self_training else {}),
                                 **({"shared_means": shared_means[label]} if label in shared_means else {}),
                                 **({"lm_applied": lm_info["applied"][label]}
                                    if lm_info is not None and label in lm_info["applied"] else {})})

    def avg(key):
        values = [r[key] for r in per_task.values()]
        return None if None in values else sum(values) / len(values)

    lm_wall_s = 0.0 if lm_info is None else lm_info["wall_time_s"]
    return {
        "model": config.model,
        "short_run": not config.paper_scale,
        "dev_only": dev_only,
        "per_task": per_task,
        "avg_dev_error": avg("dev_error"),
        "avg_test_error": avg("test_error"),
        "config": config.to_dict(),  # the fields of RECORDED_WHEN_SET only when set
        "glove_coverage": word_vector_info.get("glove"),  # GloVe's coverage (None without GloVe)
        "word_vectors": word_vector_info,  # kind, dims, word2vec corpus rows and parameters, coverage per source
        "history": histories,
        "training_wall_time_s": training_s,  # with self-training, the teachers' training time included
        # Training time of every process (each up to its last finished epoch), plus this process's other work;
        # language-model pretraining counts the same way (its full time even when cached by an earlier run).
        "wall_time_s": (training_s + (time.time() - started) - this_process_training_s
                        + lm_wall_s - this_process_lm_s),
        "processes": processes,
        "resumed": resumed,
        "test_read_after_dev_only_training": evaluated_later,
        "lm_pretraining": lm_info,
        "self_training": self_training_info,
        **({"wide_nb_weighting": wide_nb} if wide_nb else {}),  # only then: other runs' results are as before
        **({"shared_means": shared_means} if shared_means else {}),
    }
