"""One transfer run on FDU-MTL (the paper's Table 3): a trained model's shared space carried to a task it never saw."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import keras

from tf_aspmtl.data.fdu_mtl import load_fdu_mtl
from tf_aspmtl.data.pipeline import make_eval_dataset, make_training_dataset
from tf_aspmtl.io_utils import file_sha256, folder_lock
from tf_aspmtl.models.shared_private_ngram_classifier import SharedPrivateNgramClassifier
from tf_aspmtl.training.checkpoint_io import save_model_atomic
from tf_aspmtl.training.fit_with_dev_selection import RUN_LOCK, fit_with_dev_selection
from tf_aspmtl.training.ngram_run import ngram_rows_dataset
from tf_aspmtl.training.run_folder import TRANSFER_SETTINGS, claim_transfer_run_folder
from tf_aspmtl.training.task_errors import task_errors
from tf_aspmtl.training.train_config import FDU_MTL_CLASS_NAMES


def run_transfer(source_model: str | os.PathLike, task: str, run_dir: str | os.PathLike, mode: str = "bc",
                 train_shared: bool = False, difference_weight: float = 0.0, learning_rate: float = 1e-3,
                 batch_size: int = 16, epochs: int = 15, patience: int = 3, seed: int = 0,
                 data_dir: str | os.PathLike | None = None, verbose: int | str = 2) -> dict[str, Any]:
    """Transfers ``source_model``'s shared space to ``task``, selects the epoch on its dev split, reads test once.

    The new model (:meth:`~tf_aspmtl.models.Task.transfer`: the frozen shared encoder and a new output layer in
    ``"sc"`` mode, plus a new private encoder in ``"bc"``; the word embedding copied and frozen too unless
    ``train_shared``) trains on the task's train split; :func:`fit_with_dev_selection` keeps its state in
    ``run_dir/model``, so a killed run resumes; the selected model is saved as ``run_dir/model/model.keras``
    (atomically: a full disk keeps the one there). The folder records which run it holds (``transfer_args.json``:
    the source model file's SHA-256 and every training setting, :func:`claim_transfer_run_folder`), so a rerun
    with another source file, learning rate, seed, patience... is refused with the differing fields named, never
    resumed as the old run; the model folder's state also records a hash of the model's compile config (the
    optimizer and its learning rate). The whole run holds the folder's lock: a second live process on it is
    refused.

    Args:
        source_model: a ``.keras`` file of a model with a shared space, trained on other tasks: a model with a
            shared encoder, or the shared/private n-gram model (``"bc"`` only: its shared kernel, frozen unless
            ``train_shared``, and a new private kernel; its runs' batches of features).
        task: the new FDU-MTL task.
        run_dir: the run folder; a folder of another run is refused.
        mode: ``"sc"`` or ``"bc"``.
        train_shared: also train the copied embedding and shared encoder.
        difference_weight: gamma between the frozen shared and the new private feature (``"bc"`` only).
        learning_rate, batch_size, epochs, patience: the training's.
        seed: initial weights and data order.
        data_dir: FDU-MTL folder (else ``$TF_ASPMTL_FDU_MTL``, else ``../shared/data/fdu-mtl``).
        verbose: Keras ``fit`` verbosity.

    Returns:
        The results record, the main job's form: ``{"model": "transfer-<mode>", "per_task": {task: {"dev_error",
        "test_error", "best_epoch"}}, "avg_dev_error", "avg_test_error", "source_tasks", "source_class",
        "config" (these arguments), "source_sha256" (the source file's), "history", "wall_time_s", "processes",
        ...}``.

    Raises:
        ValueError: the source model saw ``task``, or an argument the transfer refuses (a mode, a
            difference weight in ``"sc"`` mode or for the n-gram model); no folder is made.
        RunFolderError: (a ValueError) ``run_dir`` holds another transfer run (the fields named).
        FolderBusyError: another live process runs in ``run_dir`` (its pid named).
        DiskWriteError: the disk is full (the file named); what was complete is kept and a rerun resumes.
    """
    import tf_aspmtl

    config = {"source_model": str(source_model), "task": task, "mode": mode, "train_shared": train_shared,
              "difference_weight": difference_weight, "learning_rate": learning_rate, "batch_size": batch_size,
              "epochs": epochs, "patience": patience, "seed": seed,
              "data_dir": None if data_dir is None else str(data_dir), "library": tf_aspmtl.__version__}
    keras.utils.set_random_seed(seed)
    started = time.time()
    source = keras.models.load_model(source_model, safe_mode=True)
    if task in source.task_names:
        raise ValueError(f"{source_model} was trained on {task!r}; transfer needs a task the source model has not "
                         "seen")
    ngram = isinstance(source, SharedPrivateNgramClassifier)
    if ngram and difference_weight:
        raise ValueError("difference_weight is a term between LSTM features: the n-gram model has none")
    # Built before the folder is claimed: arguments the transfer refuses leave no folder behind.
    options = {} if ngram else {"difference_weight": difference_weight}
    model = source.transfer(task, classes=list(FDU_MTL_CLASS_NAMES), mode=mode, train_shared=train_shared,
                            compile=False, **options)
    model.compile(learning_rate=learning_rate)
    source_sha256 = file_sha256(source_model)
    run_dir = Path(run_dir)
    with folder_lock(run_dir, RUN_LOCK, what="run folder"):  # a second live process on the folder is refused
        claim_transfer_run_folder(run_dir, {k: config[k] for k in TRANSFER_SETTINGS}, source_model, source_sha256)
        results = _train_transfer(model, source, run_dir, config, data_dir, verbose)
    return {**results, "source_sha256": source_sha256,
            "wall_time_s": results["wall_time_s"] + (time.time() - started)}


def _train_transfer(model: keras.Model, source: keras.Model, run_dir: Path, config: dict[str, Any],
                    data_dir: str | os.PathLike | None, verbose: int | str) -> dict[str, Any]:
    """:func:`run_transfer`'s training and evaluation of the compiled transfer ``model`` of ``source``, with the
    folder locked and claimed; ``config`` holds the run's arguments. The record's ``wall_time_s`` counts the
    training of every process, none of this one's other work."""
    task, mode, batch_size, seed = config["task"], config["mode"], config["batch_size"], config["seed"]
    data = load_fdu_mtl(data_dir, tasks=[task], splits=("train", "dev", "test"))
    train, dev, test = (data[data["split"] == s] for s in ("train", "dev", "test"))
    ngram = isinstance(source, SharedPrivateNgramClassifier)
    if ngram and model.task_nb_ratios:  # the private path's scale: the new task's own NB ratios (as run_ngram's)
        model.adapt_task_nb_ratios(train["text"].tolist(), train["label"].to_numpy(), train["task"].tolist())
    if ngram:  # the n-gram runs' batches: the features computed once, the rows reshuffled each pass
        train_ds, steps = ngram_rows_dataset(model, train, batch_size, seed=seed), math.ceil(len(train) / batch_size)
        dev_ds, test_ds = ngram_rows_dataset(model, dev, batch_size), ngram_rows_dataset(model, test, batch_size)
    else:
        vectorizer = model.preprocessor.text_vectorizer
        train_ds, steps = make_training_dataset(train, vectorizer, [task], batch_size=batch_size,
                                                max_length=vectorizer.max_length, seed=seed)
        dev_ds, test_ds = make_eval_dataset(dev, vectorizer, [task]), make_eval_dataset(test, vectorizer, [task])
    fit_started = time.time()
    selection = fit_with_dev_selection(model, train_ds, steps, dev_ds, run_dir / "model", epochs=config["epochs"],
                                       patience=config["patience"], verbose=verbose, record_compile_config=True)
    fit_s = time.time() - fit_started
    dev_err, test_err = task_errors(model, dev_ds)[task], task_errors(model, test_ds)[task]
    save_model_atomic(model, run_dir / "model" / "model.keras")  # a full disk keeps the one a rerun replaces
    return {
        "model": f"transfer-{mode}",
        "short_run": False,
        "source_model": config["source_model"],
        "source_tasks": list(source.task_names),
        "source_class": type(source).__name__,
        "per_task": {task: {"dev_error": dev_err, "test_error": test_err, "best_epoch": selection.best_epoch}},
        "avg_dev_error": dev_err,
        "avg_test_error": test_err,
        "config": config,
        "history": {task: selection.history},
        "wall_time_s": selection.wall_time_s - fit_s,
        "processes": selection.processes,
    }
