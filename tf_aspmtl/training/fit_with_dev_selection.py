"""``model.fit`` with dev-based epoch selection that survives being killed."""

from __future__ import annotations

import dataclasses
import logging
import os
import weakref
from pathlib import Path
from typing import Any, Sequence

import keras
import tensorflow as tf

from tf_aspmtl.io_utils import folder_lock
from tf_aspmtl.training.dev_selection import DevSelection
from tf_aspmtl.training.model_fingerprint import compile_fingerprint, model_fingerprint
from tf_aspmtl.training.non_finite_loss import StopOnNonFiniteLoss
from tf_aspmtl.training.run_folder import RunFolderError
from tf_aspmtl.training.tensorboard_logs import TensorBoardLogs, remove_empty_event_files

logger = logging.getLogger("tf_aspmtl.training")
MONITOR = "val_mean_task_accuracy"
RUN_LOCK = ".lock"
"""The lock file of a run folder, held while a process trains in it."""
_READ_STREAMS: weakref.WeakSet = weakref.WeakSet()
"""Training datasets an earlier call in this process has trained from (see :func:`fit_with_dev_selection`)."""


@dataclasses.dataclass
class SelectionResult:
    """What :func:`fit_with_dev_selection` did.

    Attributes:
        history: dict of lists. Every logged value of every finished epoch (all processes).
        best_epoch: int. 1-based epoch whose weights the model now holds.
        epochs_run: int. Epochs trained in all.
        stopped_early: bool. Patience ran out before ``epochs``.
        resumed_from_epoch: int. Finished epochs found when this call began (0: a fresh run).
        wall_time_s: float. Training time summed over every process of the run
            (each counted up to its last finished epoch).
        processes: int. Processes that trained this run.
    """

    history: dict[str, list[float]]
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    resumed_from_epoch: int
    wall_time_s: float
    processes: int


def fit_with_dev_selection(
    model: keras.Model,
    train: tf.data.Dataset,
    steps_per_epoch: int,
    dev: tf.data.Dataset,
    run_dir: str | os.PathLike,
    epochs: int = 15,
    patience: int = 3,
    monitor: str = MONITOR,
    tensorboard: bool = True,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = "auto",
    strategy: tf.distribute.Strategy | None = None,
    record_compile_config: bool = False,
) -> SelectionResult:
    """Trains ``model`` on ``train``, keeps the epoch with the best dev ``monitor``, and resumes if killed.

    ``train`` must be an endless, deterministic stream (for example
    :func:`tf_aspmtl.data.make_training_dataset` with a seed): a resumed run
    skips the ``epochs_done * steps_per_epoch`` batches the earlier processes
    consumed, restores the weights and optimizer state of the last finished
    epoch, the model's random state (its seed generators': dropout masks, VAT
    directions), the history and the patience counter, and so ends with the numbers
    of a run that was never interrupted (same seed and thread settings). A
    run whose training had finished is not trained again: the best weights
    are loaded. The folder records what run it holds (the model's
    :func:`~tf_aspmtl.training.model_fingerprint.model_fingerprint` and
    ``steps_per_epoch``, with its ``patience``, selection mode and ``epochs``); a folder of another run is refused
    with the fields that differ named, even when its weights would fit this model (a run not finished may go on to
    more ``epochs``; a finished one is another run's unless patience stopped it by then). A NaN or infinite loss raises
    :class:`~tf_aspmtl.training.NonFiniteLossError`. A training dataset object serves one run in a process: one
    an earlier call trained from is refused with a ValueError (iterated again, a seeded ``tf.data`` shuffle draws
    other orders), so build it again to resume after an error or to train another run.

    Writes into ``run_dir``: ``state.json`` (history, best epoch, wall time, the
    SHA-256 of each weights file; the one before as ``state.previous.json``),
    ``best.weights.h5``, the last two epochs' backups (a damaged last one is
    replaced by the one before, and said), ``history.csv``, the lock
    ``.lock`` (a second process on the folder while this one runs is refused
    with its pid named; a dead one's lock is taken over) and, with
    ``tensorboard``, TensorBoard logs under ``logs/`` (every loss term, the
    discriminator's accuracy, each task's dev accuracy). A full disk raises a
    one-line :class:`~tf_aspmtl.io_utils.DiskWriteError` naming the file;
    what was complete stays so, and the same call resumes once space is freed.

    Args:
        model: a compiled model.
        train: endless tf.data.Dataset of training batches.
        steps_per_epoch: int. Batches per epoch.
        dev: tf.data.Dataset. The development split (never the test split).
        run_dir: folder of the run; the same folder resumes.
        epochs: int. Most epochs.
        patience: int. Epochs without dev improvement before stopping.
        monitor: str. Dev log to maximise.
        tensorboard: bool. Write TensorBoard logs.
        callbacks: more Keras callbacks.
        verbose: Keras ``fit`` verbosity.
        strategy: optional ``tf.distribute`` strategy the model was built
            under; the datasets are split as :mod:`tf_aspmtl.distribute` explains.
        record_compile_config: bool. Also record a hash of the model's compile
            config (:func:`~tf_aspmtl.training.model_fingerprint.compile_fingerprint`:
            the optimizer, its learning rate...) and refuse a folder that recorded
            another; a folder that recorded none (written before, or without it)
            resumes and records it from its next epoch on. Off by default, so the
            folders of the runs that do not ask for it record what they always did.

    Returns:
        :class:`SelectionResult`; the model holds the best epoch's weights.
    """
    if int(epochs) < 1 or int(steps_per_epoch) < 1:
        raise ValueError(f"epochs and steps_per_epoch must be >= 1; got {epochs}, {steps_per_epoch}")
    with folder_lock(run_dir, RUN_LOCK, what="run folder"):  # a second live writer of the folder is refused
        return _fit(model, train, int(steps_per_epoch), dev, Path(run_dir), int(epochs), patience, monitor,
                    tensorboard, callbacks, verbose, strategy, record_compile_config)


def _fit(model, train, steps_per_epoch, dev, run_dir, epochs, patience, monitor, tensorboard, callbacks, verbose,
         strategy, record_compile_config) -> SelectionResult:
    steps = {"steps_per_epoch": str(int(steps_per_epoch)),
             **(compile_fingerprint(model) if record_compile_config else {})}
    run_identity = {**model_fingerprint(model), **steps}
    legacy_run_identity = {**model_fingerprint(model, keep_build_configs=True), **steps}  # folders written before
    selection = DevSelection(run_dir, monitor=monitor, patience=patience, run_identity=run_identity,
                             legacy_run_identity=legacy_run_identity, epochs=epochs)
    done = selection.resume()
    _check_epochs(selection, epochs)
    if done:
        logger.info("resuming %s: %d epoch(s) finished by %d earlier process(es), %.0f s so far; best epoch %s",
                    run_dir, done, selection.processes, selection.previous_wall_time_s, selection.best_epoch)
    finished = selection.finished or done >= epochs or selection.stopped_early
    if not finished:
        _refuse_a_read_stream(train, run_dir)
        selection.restore_weights(model)
        done = selection.epochs_done  # an earlier epoch if the last one's backup was damaged
        if done:
            train = train.skip(done * int(steps_per_epoch))
        if strategy is not None:
            from tf_aspmtl.distribute import distribute_eval_dataset, distribute_training_dataset

            train, dev = distribute_training_dataset(strategy, train), distribute_eval_dataset(strategy, dev)
        all_callbacks = [StopOnNonFiniteLoss(), selection]
        if tensorboard:
            remove_empty_event_files(run_dir / "logs")  # left by a process that found the disk full
            all_callbacks.append(TensorBoardLogs(str(run_dir / "logs"), write_graph=False))
        all_callbacks += list(callbacks)
        model.fit(train, steps_per_epoch=int(steps_per_epoch), epochs=int(epochs), initial_epoch=done,
                  validation_data=dev, callbacks=all_callbacks, verbose=verbose)
        trained_here = selection.epochs_done > done
        selection.mark_finished()
    else:
        trained_here = False
        logger.info("%s: training had finished (%d epochs); loading the best weights", run_dir, done)
    if selection.best_epoch is None:
        raise ValueError(f"{run_dir}: no epoch logged a finite {monitor!r}")
    selection.load_best_weights(model)
    history = _columns(selection.history)
    _write_csv(run_dir / "history.csv", selection.history)
    return SelectionResult(
        history=history, best_epoch=selection.best_epoch, epochs_run=selection.epochs_done,
        stopped_early=selection.stopped_early, resumed_from_epoch=done,
        wall_time_s=selection.wall_time_s(),
        # This process is one of those that trained the run only if it trained an epoch; the state it wrote then
        # counts it too (DevSelection records its processes plus this one).
        processes=selection.processes + 1 if trained_here else selection.processes,
    )


def _check_epochs(selection: DevSelection, epochs: int) -> None:
    """Refuses a folder whose run cannot be this one of ``epochs`` epochs, naming both counts.

    A finished run is reused as it is: one that ran out of epochs is another run than one of more (which would have
    trained on) or fewer (which could not have selected its later epochs); one stopped by its patience is the same
    run for any count from its last epoch on. A run not finished continues to ``epochs``, unless it trained more.

    Raises:
        RunFolderError: the folder holds a run of another epoch count.
    """
    done = selection.epochs_done
    if not done:
        return
    recorded = selection.recorded_epochs
    if selection.finished and not selection.stopped_early:
        same = recorded == epochs if recorded is not None else done == epochs
    else:
        same = done <= epochs
    if not same:
        theirs = recorded if recorded is not None else done
        raise RunFolderError(
            f"{selection.state_path} records a run of {theirs} epoch(s) ({done} trained"
            f"{', finished' if selection.finished else ''}), which is not this run of {epochs} (field: (that run, "
            f"this one) {{'epochs': ({theirs}, {epochs})}}); give this run its own folder (or remove that one to "
            "start afresh)")


def _refuse_a_read_stream(train, run_dir: Path) -> None:
    """Refuses a training dataset object an earlier call in this process trained from; else remembers this one.

    A ``shuffle`` with a seed and ``reshuffle_each_iteration`` keeps its seed sequence in the dataset object, so a
    second iteration of the same object draws other orders than the first did (a fresh object built with the same
    seed repeats them). Resumed from such an object (the same call again after an error, in one process), a run
    would train on other batches than one never stopped; started from it, another run would not see the order its
    seed gives in a fresh process (so two runs meant to be paired by data order would not be). Both silently.
    """
    if not isinstance(train, tf.data.Dataset):
        return
    if train in _READ_STREAMS:
        raise ValueError(
            f"{run_dir}: this training dataset was already trained from by an earlier call in this process; "
            "iterated again, its shuffle draws other orders than its seed gives (a resumed run would not repeat "
            "one never stopped, a new run would not see its seed's order). Build the dataset again (the same rows "
            "and seed) for each run and pass the new one."
        )
    _READ_STREAMS.add(train)


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[float]]:
    keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
    return {k: [float(r.get(k, float("nan"))) for r in rows] for k in keys}


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    import pandas as pd

    from tf_aspmtl.io_utils import write_text_atomic

    write_text_atomic(path, pd.DataFrame(rows).to_csv(index=False))
