"""One training run of the shared/private n-gram model on FDU-MTL: features, fit with dev selection, errors."""

from __future__ import annotations

import contextlib
import math
import os
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from tf_aspmtl.data.fdu_mtl import load_fdu_mtl
from tf_aspmtl.distribute import distribute_eval_dataset
from tf_aspmtl.io_utils import folder_lock
from tf_aspmtl.models.shared_private_ngram_classifier import SharedPrivateNgramClassifier
from tf_aspmtl.optimizers import LazyAdam
from tf_aspmtl.preprocessing.ngram_feature_union import NgramFeatureUnion
from tf_aspmtl.preprocessing.ngram_features import NgramFeatures
from tf_aspmtl.preprocessing.ngram_preprocessor import NgramPreprocessor
from tf_aspmtl.training.checkpoint_io import save_model_atomic
from tf_aspmtl.training.epoch_summary import fit_output
from tf_aspmtl.training.fit_with_dev_selection import RUN_LOCK, fit_with_dev_selection
from tf_aspmtl.training.ngram_config import NGRAM_MODEL, NgramConfig
from tf_aspmtl.training.ngram_self_training import ngram_self_training
from tf_aspmtl.training.run_folder import claim_ngram_run_folder
from tf_aspmtl.training.task_errors import task_errors
from tf_aspmtl.training.train_config import FDU_MTL_CLASS_NAMES


def ngram_rows_dataset(model: SharedPrivateNgramClassifier, frame: pd.DataFrame, batch_size: int,
                       seed: int | None = None) -> tf.data.Dataset:
    """An FDU-MTL frame's rows as the model's batches (FDU-MTL's label ``i`` is the task's class ``i``).

    Args:
        model: the model (its tasks and class names).
        frame: rows with ``text``, ``task`` and an integer ``label``, as :func:`~tf_aspmtl.data.load_fdu_mtl` gives;
            with ``seed``, an optional ``weight`` column: each row's weight in the loss.
        batch_size: rows per batch.
        seed: None for the rows once, in order (:meth:`~tf_aspmtl.models.Task.evaluation_dataset`); else an
            endless stream reshuffled each pass, the same for the same seed (``training_dataset``).
    """
    labels = [model.class_names[model.task_id(t)][int(v)] for t, v in zip(frame["task"], frame["label"])]
    x = {"text": frame["text"].astype(str).tolist(), "task": frame["task"].tolist()}
    if seed is None:
        return model.evaluation_dataset(x, labels, batch_size)
    weights = {"sample_weight": frame["weight"].to_numpy()} if "weight" in frame.columns else {}
    return model.training_dataset(x, labels, batch_size, seed=seed, **weights)[0]


def ngram_preprocessor(config: NgramConfig, train: pd.DataFrame) -> NgramPreprocessor:
    """The n-gram features of ``config`` learnt from FDU-MTL train rows (``text``, ``task``, integer ``label``; the
    labels for ``feature_weighting="nb"`` only), in a preprocessor of ``config.tasks`` with FDU-MTL's class names."""
    tasks = list(config.tasks)
    nb = config.feature_weighting == "nb"
    weights = {"weighting": config.feature_weighting, "term_frequency": config.term_frequency,
               "nb_smoothing": config.nb_smoothing}
    features = NgramFeatures(max_features=config.max_features, ngrams=config.ngrams, **weights)
    if config.character_ngrams:
        characters = NgramFeatures(max_features=config.character_max_features, ngrams=config.character_ngrams,
                                   min_ngram=2, analyzer="char_wb", name="character_ngram_features", **weights)
        features = NgramFeatureUnion(features, characters, config.character_weight, name="ngram_feature_union")
    features.adapt(train["text"].astype(str).tolist(), labels=train["label"].to_numpy() if nb else None)
    return NgramPreprocessor(tasks, {t: list(FDU_MTL_CLASS_NAMES) for t in tasks}, features, name="preprocessor")


def compiled_ngram_model(config: NgramConfig, preprocessor: NgramPreprocessor,
                         rows: pd.DataFrame | None = None) -> SharedPrivateNgramClassifier:
    """A fresh model of ``config`` (weights at zero) on ``preprocessor``'s features, compiled with LazyAdam; with
    ``config.task_nb_ratios``, its per-task NB scale learnt from ``rows`` (those the features were learnt from)."""
    model = SharedPrivateNgramClassifier(preprocessor, l2=config.l2, feature_dropout=config.feature_dropout,
                                         feature_dropout_seed=config.seed, task_nb_ratios=config.task_nb_ratios,
                                         label_smoothing=config.label_smoothing,
                                         private_learning_rate_multiplier=config.private_learning_rate_multiplier,
                                         name="sp_ngram")
    if config.task_nb_ratios:
        if rows is None:
            raise ValueError("task_nb_ratios needs the rows the features were learnt from")
        model.adapt_task_nb_ratios(rows["text"].astype(str).tolist(), rows["label"].to_numpy(),
                                   rows["task"].tolist())
    model.compile(optimizer=LazyAdam(config.learning_rate))
    return model


def _evaluation_batches(model: SharedPrivateNgramClassifier, frame: pd.DataFrame, batch_size: int,
                        strategy: tf.distribute.Strategy | None):
    """``frame``'s rows once, in order (:func:`ngram_rows_dataset`); under ``strategy``, the whole of them for every
    replica (:func:`~tf_aspmtl.distribute.distribute_eval_dataset`), so each replica's errors are one process's."""
    dataset = ngram_rows_dataset(model, frame, batch_size)
    return dataset if strategy is None else distribute_eval_dataset(strategy, dataset)


def _ratio_summary(features: NgramFeatures) -> dict[str, float]:
    """The range and mean size of a features layer's NB log-count ratios (the unknown column left out)."""
    ratio = features.nb_ratio.numpy()[1:]
    return {"ratio_min": float(ratio.min()), "ratio_max": float(ratio.max()),
            "ratio_mean_abs": float(np.abs(ratio).mean())}


def run_ngram(config: NgramConfig, run_dir: str | os.PathLike, data_dir: str | os.PathLike | None = None,
              dev_only: bool = False, verbose: int = 2, strategy: tf.distribute.Strategy | None = None
              ) -> dict[str, Any]:
    """Trains the n-gram model of ``config``, selects its epoch on dev, reads test once; returns the results record.

    The n-grams and their idf are learnt from the train split alone (never dev or test), the weights start at
    zero and ``config.seed`` orders the data. :func:`fit_with_dev_selection` keeps the training state in
    ``run_dir/model``, so the same call on the same folder resumes a killed run and ends with the numbers of
    one that was never killed; the selected model is saved as ``run_dir/model/model.keras``. Classes are FDU-MTL's
    names (label 0 ``negative``, 1 ``positive``), as the LSTM runs name them, so both kinds of model ensemble.

    ``config.feature_weighting == "nb"`` scales each n-gram's column by its naive-Bayes log-count ratio, learnt
    from the train split's labels (label 1 positive) with the vocabulary (:class:`NgramFeatures`): one ratio per
    n-gram over all tasks' train rows, stored in the features layer, so the saved and exported model compute the
    same features from raw text. ``config.self_training_threshold > 0``: the model above is first trained as the
    teacher, in ``run_dir/model/teacher``; it labels the tasks' unlabelled reviews (never dev or test texts),
    keeping the confident ones balanced per class and task (:func:`ngram_self_training`), and the reported model,
    the student, a fresh one of the same features and seed, trains on train + those rows, its epoch chosen on
    dev. Teacher, pseudo labels and student each resume from the folder. With ``config.self_training_rounds = r >
    1``, rounds 2 to r each train the previous round's student afresh (``run_dir/model/round<k>/teacher``, as the
    reported model of an ``r - 1``-round run trains) and let it label the unlabelled reviews again
    (``run_dir/model/round<k>``); the reported model learns from train + the last round's rows. With ``config.student_features ==
    "train+pseudo"`` the student's features (vocabulary, idf, NB ratios) are learnt again from its rows, train +
    pseudo-labelled (``nb_weighting``'s ``rows`` then counts both). ``config.pseudo_label_weight`` and
    ``pseudo_label_weighting`` weigh each pseudo-labelled row in the student's loss (a labelled row weighs 1);
    ``config.pseudo_label_balance`` balances its classes by rows kept or by weights.

    Under a ``strategy`` (``python -m experiments.ngram --strategy multi-worker``), every model (teachers and the
    reported one) is made in its scope and trains on slices of the same global batches
    (:func:`~tf_aspmtl.distribute.distribute_training_dataset`); every replica evaluates the whole dev and test
    splits (:func:`~tf_aspmtl.distribute.distribute_eval_dataset`). Each worker calls this with its own ``run_dir``
    (:func:`~tf_aspmtl.distribute.worker_run_dir`).

    Args:
        config: the run's :class:`NgramConfig`.
        run_dir: the run folder; a folder of another run is refused (:func:`claim_ngram_run_folder`).
        data_dir: FDU-MTL folder (else ``$TF_ASPMTL_FDU_MTL``, else ``../shared/data/fdu-mtl``).
        dev_only: never read the test split (screens); a later run on the folder without it reads test once
            (not with self-training: see :func:`claim_ngram_run_folder`).
        verbose: 0 silent, 1 Keras' progress bar, 2 one short line per epoch.
        strategy: optional ``tf.distribute`` strategy to train under (None: this process alone, as before).

    Returns:
        ``{"model", "seed", "tasks", "dev_only", "settings", "vocabulary_size", "best_epoch", "epochs_run",
        "training_wall_time_s", "epochs_trained_here", "processes", "history", "per_task": {task: {"dev_error"
        [, "test_error"]}}, "avg_dev_error" [, "avg_test_error"], "wall_time_s"}``, with ``"nb_weighting"``
        (rows and positive rows the ratios were learnt from, their range) and ``"self_training"``
        (:func:`ngram_self_training`'s record; ``training_wall_time_s`` then counts the teacher's too) when on;
        with later rounds, the record also holds ``rounds`` and ``later_rounds`` (each round's own record).

    Raises:
        RunFolderError: ``run_dir`` holds another run.
        FolderBusyError: another live process runs in ``run_dir`` (its pid named): the whole run holds the folder's
            lock, so two processes never write its pseudo labels or ``model.keras`` together.
    """
    started = time.monotonic()
    run_dir = Path(run_dir)
    with folder_lock(run_dir, RUN_LOCK, what="run folder"):  # a second live process on the folder is refused
        return _run_ngram(config, run_dir, data_dir, dev_only, verbose, started, strategy)


def _run_ngram(config: NgramConfig, run_dir: Path, data_dir: str | os.PathLike | None, dev_only: bool, verbose: int,
               started: float, strategy: tf.distribute.Strategy | None) -> dict[str, Any]:
    """:func:`run_ngram`'s work, with the run folder's lock held (``started``: its ``time.monotonic()``)."""
    claim_ngram_run_folder(run_dir, config, dev_only)
    tasks = list(config.tasks)
    splits = ("train", "dev") if dev_only else ("train", "dev", "test")
    data = load_fdu_mtl(data_dir, tasks=tasks, splits=splits + (("unlabeled",) if config.self_training else ()))
    train, dev = data[data["split"] == "train"], data[data["split"] == "dev"]
    keras.utils.set_random_seed(config.seed)
    nb = config.feature_weighting == "nb"
    preprocessor = ngram_preprocessor(config, train)
    features, features_rows = preprocessor.features, train

    def new_model() -> SharedPrivateNgramClassifier:
        with strategy.scope() if strategy else contextlib.nullcontext():
            return compiled_ngram_model(config, preprocessor, features_rows)

    model = new_model()
    fit_verbose, epoch_lines = fit_output(verbose)
    train_ds, steps = ngram_rows_dataset(model, train, config.batch_size, seed=config.seed), \
        math.ceil(len(train) / config.batch_size)
    dev_ds = ngram_rows_dataset(model, dev, config.batch_size)
    self_training, teacher_s = None, 0.0
    if config.self_training:
        held_out, unlabeled = data[data["split"].isin(("dev", "test"))], data[data["split"] == "unlabeled"]
        weighting = {"pseudo_label_weight": config.pseudo_label_weight,
                     "pseudo_label_weighting": config.pseudo_label_weighting,
                     "pseudo_label_balance": config.pseudo_label_balance}
        rows, self_training = ngram_self_training(
            run_dir / "model", new_model, train_ds, steps, dev_ds, train, held_out, unlabeled,
            threshold=config.self_training_threshold, epochs=config.epochs, patience=config.patience,
            verbose=fit_verbose, callbacks=epoch_lines, strategy=strategy, **weighting,
        )
        teacher_s = self_training["teacher_training_wall_time_s"]
        later_rounds = []
        for round_ in range(2, config.self_training_rounds + 1):
            # This round's teacher is the previous round's student, trained as the reported model would be (the
            # run's seed, its rows' stream), in model/round<r>/teacher; its labels in model/round<r>.
            keras.utils.set_random_seed(config.seed)
            rows_ds = ngram_rows_dataset(model, rows, config.batch_size, seed=config.seed)
            rows, record = ngram_self_training(
                run_dir / "model" / f"round{round_}", new_model, rows_ds, math.ceil(len(rows) / config.batch_size),
                dev_ds, train, held_out, unlabeled, threshold=config.self_training_threshold, epochs=config.epochs,
                patience=config.patience, verbose=fit_verbose, callbacks=epoch_lines, strategy=strategy, **weighting,
            )
            later_rounds.append({"round": round_, **record})
            teacher_s += record["teacher_training_wall_time_s"]
        if later_rounds:
            self_training = {**self_training, "rounds": config.self_training_rounds, "later_rounds": later_rounds}
        # The student: a fresh model from the run's seed; its rows are the saved ones, so a rerun resumes it exactly.
        keras.utils.set_random_seed(config.seed)
        if config.student_features == "train+pseudo":  # learnt again, from train + the pseudo-labelled rows
            features_rows = rows
            preprocessor = ngram_preprocessor(config, rows)  # new_model() reads this name when it is called
            features = preprocessor.features
        model = new_model()
        train_ds = ngram_rows_dataset(model, rows, config.batch_size, seed=config.seed)
        steps = math.ceil(len(rows) / config.batch_size)
    selection = fit_with_dev_selection(
        model, train_ds, steps, dev_ds, run_dir / "model", epochs=config.epochs, patience=config.patience,
        tensorboard=False, verbose=fit_verbose, callbacks=epoch_lines, strategy=strategy,
    )
    save_model_atomic(model, run_dir / "model" / "model.keras")  # a full disk keeps the one a rerun replaces
    dev_errors = task_errors(model, _evaluation_batches(model, dev, config.batch_size, strategy))
    results: dict[str, Any] = {
        "model": NGRAM_MODEL, "seed": config.seed, "tasks": tasks, "dev_only": dev_only,
        "settings": config.settings(), "vocabulary_size": features.vocabulary_size,
        "best_epoch": selection.best_epoch, "epochs_run": selection.epochs_run,
        "training_wall_time_s": selection.wall_time_s + teacher_s,
        "epochs_trained_here": selection.epochs_run - selection.resumed_from_epoch,
        "processes": selection.processes, "history": selection.history,
        "per_task": {t: {"dev_error": dev_errors[t]} for t in tasks},
        "avg_dev_error": float(np.mean(list(dev_errors.values()))),
    }
    if nb:  # the word n-grams' ratios (and, with character n-grams, theirs apart)
        union = isinstance(features, NgramFeatureUnion)
        results["nb_weighting"] = {"rows": len(features_rows),
                                   "positive_rows": int((features_rows["label"] == 1).sum()),
                                   "counts": "binarised (rows holding the n-gram)", "smoothing": config.nb_smoothing,
                                   **_ratio_summary(features.words if union else features)}
        if union:
            results["nb_weighting"]["characters"] = {**_ratio_summary(features.characters),
                                                     "vocabulary_size": features.characters.vocabulary_size}
    if self_training:
        results["self_training"] = self_training
    if not dev_only:
        test = data[data["split"] == "test"]
        test_errors = task_errors(model, _evaluation_batches(model, test, config.batch_size, strategy))
        for t in tasks:
            results["per_task"][t]["test_error"] = test_errors[t]
        results["avg_test_error"] = float(np.mean(list(test_errors.values())))
    results["wall_time_s"] = time.monotonic() - started
    return results
