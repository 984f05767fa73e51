"""Dev-based epoch selection, early stopping and exact resumption, as one callback."""

from __future__ import annotations

import json
import logging
import math
import os
import time
import warnings
from pathlib import Path
from typing import Any

import keras

from tf_aspmtl.io_utils import write_text_atomic
from tf_aspmtl.training.checkpoint_io import copy_file_atomic, file_damage, remove_partial_files, save_weights_atomic
from tf_aspmtl.training.model_fingerprint import COMPILE_CONFIG, fingerprint_differences
from tf_aspmtl.training.random_state import random_state, random_state_variables, set_random_state
from tf_aspmtl.training.run_folder import RUN_FOLDER_FORMAT, RunFolderError
from tf_aspmtl.training.run_state import DamagedRunFileError, read_training_state

logger = logging.getLogger("tf_aspmtl.training")

STATE_FILE = "state.json"
PREVIOUS_STATE_FILE = "state.previous.json"
"""The state one epoch (or one ``mark_finished``) earlier: a hard link to the replaced ``state.json``, read when
that one is damaged."""
BEST_WEIGHTS = "best.weights.h5"
LATER_IDENTITY_FIELDS = (COMPILE_CONFIG,)
"""Fields of a run identity that folders written before them lack: compared only where recorded."""
KEPT_BACKUPS = 2
"""Epoch backups kept: the last finished epoch's and the one before, to resume from if the last is damaged."""


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


class DevSelection(keras.callbacks.Callback):
    """Keeps the weights of the best dev epoch, stops after ``patience`` epochs without gain, and can resume.

    At the end of every epoch it writes, in this order and each atomically
    (temporary file, then rename): the model's and optimizer's weights
    (``epoch-N.weights.h5``), the best weights if the epoch improved
    ``monitor`` (``best.weights.h5``, a hard link to the backup), then
    ``state.json``: every finished epoch's logs, the best epoch, the wall
    time spent so far, the SHA-256 of each weights file it names (the
    state it replaces is kept as ``state.previous.json``) and, with each
    backup, the model's random state (every ``SeedGenerator``'s, which the
    weights file does not hold: dropout masks, VAT directions; see
    :mod:`tf_aspmtl.training.random_state`). The backups of the
    last two epochs are kept while training runs; when it is over
    (:meth:`mark_finished`), only the best epoch's own backup, if still kept, stays (a rerun of a finished run
    loads the best weights and never resumes training, so the others would only take disk space: two copies of
    the model and its optimizer state). A process killed at any point leaves a state
    that names a complete backup. A new :class:`DevSelection` on the same
    folder (see :meth:`resume`) restores that backup, its random state, the
    epoch count, the history and the patience counter, so the resumed run
    draws the same random numbers and takes the same decisions as one never
    killed; its caller must also give the data stream
    from the same position (:func:`tf_aspmtl.training.fit_with_dev_selection`
    does). A weights file whose bytes are not the ones recorded is damaged:
    a damaged last backup is replaced by the one before (the epoch is
    trained again, to the same numbers), and said; a damaged best weights
    file, or no complete backup left, is an error naming the file, its role
    and the way out.

    Args:
        run_dir: str or path. Folder of this training run.
        monitor: str. Log to maximise (or minimise, with ``mode="min"``).
        patience: int. Epochs without improvement before stopping.
        mode: ``"max"`` or ``"min"``.
        run_identity: optional dict of str to str that says what run this is
            (:func:`~tf_aspmtl.training.model_fingerprint.model_fingerprint`
            of the model, the steps per epoch...). It is written to
            ``state.json``, and :meth:`resume` refuses a folder that recorded
            another, naming the fields that differ: a folder of another
            model of the same weight shapes would otherwise load silently.
        legacy_run_identity: optional dict of str to str: the same run's
            identity as versions that hashed the layers' build configs
            recorded it (``model_fingerprint(model, keep_build_configs=True)``).
            A folder that recorded it resumes too (and records
            ``run_identity`` from its next epoch on).
        epochs: optional int. The most epochs of the run, recorded in ``state.json`` (:attr:`recorded_epochs`
            after :meth:`resume`), so a later call can tell a finished run of another epoch count.
    """

    def __init__(self, run_dir: str | os.PathLike, monitor: str = "val_mean_task_accuracy", patience: int = 3,
                 mode: str = "max", run_identity: dict[str, str] | None = None,
                 legacy_run_identity: dict[str, str] | None = None, epochs: int | None = None):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min'; got {mode!r}")
        if int(patience) < 1:
            raise ValueError(f"patience must be >= 1; got {patience}")
        self.run_dir = Path(run_dir)
        self.monitor = monitor
        self.patience = int(patience)
        self.mode = mode
        self.run_identity = dict(run_identity) if run_identity is not None else None
        self.legacy_run_identity = dict(legacy_run_identity) if legacy_run_identity is not None else None
        self.epochs = None if epochs is None else int(epochs)
        self.recorded_epochs: int | None = None  # the most epochs the folder's state recorded (None: not recorded)
        self.history: list[dict[str, float]] = []
        self.previous_wall_time_s = 0.0
        self.processes = 0
        self.finished = False
        self._started = time.time()
        self._backups: list[dict[str, Any]] = []  # newest first: {"file", "epoch", "sha256" (None: not recorded)}
        self._best: dict[str, Any] | None = None  # the best weights file: {"file", "epoch", "sha256"}
        self._state_damaged = False  # state.json was damaged: it never replaces state.previous.json
        self.stopped_early = False

    # ------------------------------------------------------------- state
    @property
    def state_path(self) -> Path:
        return self.run_dir / STATE_FILE

    @property
    def best_weights_path(self) -> Path:
        return self.run_dir / BEST_WEIGHTS

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    def _better(self, value: float | None, best: float | None) -> bool:
        if value is None:
            return False
        if best is None:
            return True
        return value > best if self.mode == "max" else value < best

    @property
    def best_epoch(self) -> int | None:
        """1-based epoch with the best ``monitor`` so far (the first of ties), or None."""
        best, epoch = None, None
        for i, row in enumerate(self.history):
            value = _finite(row.get(self.monitor, float("nan")))
            if self._better(value, best):
                best, epoch = value, i + 1
        return epoch

    @property
    def wait(self) -> int:
        """Epochs since the best one."""
        best = self.best_epoch
        return self.epochs_done - (best or 0)

    def wall_time_s(self) -> float:
        """Wall time of every process of this run, this one included."""
        return self.previous_wall_time_s + (time.time() - self._started)

    def resume(self) -> int:
        """Reads ``state.json`` if there is one and returns the number of finished epochs (0 for a new run).

        The weights of the last finished epoch are loaded into the model by
        :meth:`restore_weights` (needs the model and its optimizer). Temporary
        files that an interrupted write left behind are removed first. A
        damaged ``state.json`` (not JSON, or not what a state holds) is
        replaced by ``state.previous.json`` if that one is whole, and said.

        Raises:
            RunFolderError: the state is damaged (and no earlier one is whole), records another run (another
                model, or another ``patience`` or ``mode``), or was written by a newer version of the library;
                the message names the file and the way out.
        """
        for stale in remove_partial_files(self.run_dir):
            logger.warning("removed %s, a file left half written by an interrupted run", stale)
        if not self.state_path.exists():
            return 0
        state = self._read_state()
        if state.get("monitor") != self.monitor:
            raise ValueError(f"{self.state_path} selects on {state.get('monitor')!r}, not {self.monitor!r}")
        self._check_selection(state)
        recorded = state.get("run_identity")
        if self.run_identity is not None and recorded is not None:
            differing = self._identity_differences(recorded, self.run_identity)
            if differing and self.legacy_run_identity is not None and not self._identity_differences(
                    recorded, self.legacy_run_identity):
                logger.info("%s recorded this run as earlier versions did (build configs hashed); resuming it",
                            self.state_path)
                differing = []
            if differing:
                raise ValueError(
                    f"{self.state_path} records another run: {', '.join(differing)} differ(s) from this one's; "
                    "give this run its own folder (or remove that one to start afresh)"
                )
        elif self.run_identity is not None:
            logger.warning("%s was written before run folders recorded their run; resuming it without checking "
                           "that it holds this model", self.state_path)
            # From now on it is recorded, so a later process is checked.
        else:
            self.run_identity = recorded
        self.history = state["history"]
        self.previous_wall_time_s = float(state.get("wall_time_s", 0.0))
        self.processes = int(state.get("processes", 1))
        self.finished = bool(state.get("finished", False))
        self.stopped_early = bool(state.get("stopped_early", False))
        recorded_epochs = state.get("epochs")
        self.recorded_epochs = (recorded_epochs if isinstance(recorded_epochs, int)
                                and not isinstance(recorded_epochs, bool) else None)
        if state.get("format") is None:  # the first format: one backup, the best file, no checksums
            backup, best = state.get("backup"), self.best_epoch
            self._backups = [{"file": backup, "epoch": self.epochs_done, "sha256": None}] if backup else []
            self._best = None if best is None else {"file": BEST_WEIGHTS, "epoch": best, "sha256": None}
        else:
            self._backups, self._best = list(state["backups"]), state.get("best")
        if self.finished:  # a process killed inside mark_finished left backups its state no longer names
            self._remove_unnamed_backups()
        return self.epochs_done

    def _check_selection(self, state: dict[str, Any]) -> None:
        """Raises RunFolderError, naming the file and each setting with (that run's, this one's) value, if
        ``state`` recorded another ``patience`` or ``mode``: its epochs were kept or stopped by other rules."""
        ours = {"patience": self.patience, "mode": self.mode}
        diff = {k: (state[k], v) for k, v in ours.items() if k in state and state[k] != v}
        if diff:
            raise RunFolderError(f"{self.state_path} records a run that selected epochs otherwise (field: (that run, "
                                 f"this one) {diff}); give this run its own folder (or remove that one to start "
                                 "afresh)")

    def _identity_differences(self, recorded: dict[str, str], current: dict[str, str]) -> list[str]:
        """:func:`fingerprint_differences`, but a field of :data:`LATER_IDENTITY_FIELDS` that ``recorded`` lacks
        is no difference (said; the next state records it)."""
        differing = fingerprint_differences(recorded, current)
        unrecorded = [k for k in differing if k in LATER_IDENTITY_FIELDS and k not in recorded]
        if unrecorded:
            logger.info("%s was written before run folders recorded %s; resuming it without comparing them",
                        self.state_path, ", ".join(unrecorded))
        return [k for k in differing if k not in unrecorded]

    def _read_state(self) -> dict[str, Any]:
        """``state.json``, checked; ``state.previous.json`` if that one is damaged and the previous one whole."""
        try:
            return read_training_state(self.state_path, self.run_dir)
        except DamagedRunFileError as damaged:
            previous = self.run_dir / PREVIOUS_STATE_FILE
            try:
                state = read_training_state(previous, self.run_dir) if previous.exists() else None
            except DamagedRunFileError:
                state = None
            if state is None:
                raise damaged from None
            logger.warning("%s is damaged (%s); resuming from %s, the state before it (%d epoch(s) done)",
                           self.state_path, damaged.problem, previous, len(state["history"]))
            self._state_damaged = True
            return state

    def restore_weights(self, model: keras.Model) -> None:
        """Loads the backup of the last finished epoch (model and optimizer) into ``model``.

        If that backup is damaged (missing, unreadable, or not the bytes
        recorded) and the one before is whole, that one is loaded instead, the
        epochs after it are dropped from the history (training repeats them,
        to the same numbers) and a warning says so; :attr:`epochs_done` is
        then the earlier epoch.

        Raises:
            RunFolderError: no whole backup is left; the message names the last backup, what is wrong with
                it and the way out.
        """
        if not self._backups:
            return
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        newest, problems = self._backups[0], []
        for backup in self._backups:
            path = self.run_dir / backup["file"]
            problem = file_damage(path, backup.get("sha256")) or self._load_problem(model, path)
            if problem is None:
                self._restore_random_state(model, backup)
                if backup is not newest:
                    logger.warning(
                        "%s (the backup of epoch %d) is damaged: %s; resuming from %s, the backup of epoch %d "
                        "(epochs %d to %d are trained again, to the same numbers)", self.run_dir / newest["file"],
                        newest["epoch"], problems[0], path, backup["epoch"], backup["epoch"] + 1, newest["epoch"])
                    del self.history[backup["epoch"]:]
                    self._backups = [backup]
                return
            problems.append(problem)
        earlier = (f"; the backup of the epoch before cannot be used either ({problems[1]})" if len(problems) > 1
                   else "; the run keeps no earlier backup")
        raise DamagedRunFileError(
            f"{self.run_dir / newest['file']} (the backup of epoch {newest['epoch']}, to resume the run from) is "
            f"damaged: {problems[0]}{earlier}; remove {self.run_dir} (or choose another folder) to train this run "
            "again", self.run_dir / newest["file"], problems[0])

    @staticmethod
    def _load_problem(model: keras.Model, path: Path) -> str | None:
        """What keeps ``path`` from loading into ``model`` (a cut file...), or None once it is loaded."""
        try:
            with warnings.catch_warnings():
                if model.optimizer is None or not model.optimizer.built:
                    # The file holds the optimizer's state too; a model that has not trained in this process has
                    # no slots to take it and needs none for its best weights: Keras' notice that it skips them
                    # would only alarm the user of a finished run.
                    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
                model.load_weights(str(path))
        except (OSError, ValueError, KeyError) as err:
            return f"it cannot be read ({str(err).splitlines()[0] if str(err) else type(err).__name__})"
        return None

    def load_best_weights(self, model: keras.Model) -> None:
        """Loads the best epoch's weights into ``model``, after checking they are the bytes written (if they are
        not, the epoch's backup, when it is kept whole as a file of its own, and said).

        Raises:
            RunFolderError: the file is damaged or missing; the message names it, its role and the way out.
        """
        path, epoch = self.best_weights_path, self.best_epoch
        sha256 = self._best.get("sha256") if self._best and self._best.get("epoch") == epoch else None
        problem = file_damage(path, sha256) or self._load_problem(model, path)
        if problem is None:
            return
        for backup in self._backups:  # the epoch's own backup, if kept and a file of its own (no hard links)
            copy = self.run_dir / backup["file"]
            if (sha256 is not None and backup["epoch"] == epoch and backup.get("sha256") == sha256
                    and not file_damage(copy, sha256) and not self._load_problem(model, copy)):
                logger.warning("%s (the weights of the best epoch, %d) is damaged: %s; loaded %s, the backup of "
                               "that epoch, which holds the same weights", path, epoch, problem, copy)
                return
        raise DamagedRunFileError(
            f"{path} (the weights of the best epoch, {epoch}) is damaged: {problem}; the run keeps no other copy "
            f"of them: remove {self.run_dir} (or choose another folder) to train this run again", path, problem)

    def _restore_random_state(self, model: keras.Model, backup: dict[str, Any]) -> None:
        """Sets the seed generators of ``model`` to the state recorded with ``backup`` (a folder written before
        states were recorded: a warning, if the model draws random numbers)."""
        recorded = backup.get("random_state")
        if recorded is None:
            if random_state_variables(model):
                logger.warning("%s was written before checkpoints kept the random state: the resumed epochs draw "
                               "other random numbers (dropout masks, VAT directions) than a run never stopped",
                               self.state_path)
            return
        try:
            set_random_state(model, recorded)
        except ValueError as err:
            raise RunFolderError(f"{self.state_path}: {err}; it was written for another model; give this run its "
                                 "own folder (or remove that one to start afresh)") from None

    def _write_state(self) -> None:
        state = {
            "format": RUN_FOLDER_FORMAT,
            "monitor": self.monitor,
            "mode": self.mode,
            "patience": self.patience,
            **({} if self.epochs is None else {"epochs": self.epochs}),
            "epochs_done": self.epochs_done,
            "best_epoch": self.best_epoch,
            "finished": self.finished,
            "stopped_early": self.stopped_early,
            "backup": self._backups[0]["file"] if self._backups else None,
            "backups": self._backups,
            "best": self._best,
            "run_identity": self.run_identity,
            "wall_time_s": self.wall_time_s(),
            "processes": self.processes + 1,
            "history": self.history,
        }
        if self.state_path.exists() and not self._state_damaged:  # the state it replaces stays, as a hard link
            copy_file_atomic(self.state_path, self.run_dir / PREVIOUS_STATE_FILE)
        write_text_atomic(self.state_path, json.dumps(state, indent=1) + "\n")
        self._state_damaged = False

    # --------------------------------------------------------- callbacks
    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        if self.monitor not in logs:
            raise ValueError(
                f"DevSelection monitors {self.monitor!r}, which epoch {epoch + 1} did not log (got {sorted(logs)}); "
                "pass validation_data to fit"
            )
        before = self.best_epoch
        del self.history[epoch:]  # an epoch rerun after a kill replaces its row
        self.history.append({"epoch": epoch + 1, **logs})
        backup = {"file": f"epoch-{epoch + 1}.weights.h5", "epoch": epoch + 1}
        backup["sha256"] = save_weights_atomic(self.model, self.run_dir / backup["file"])
        backup["random_state"] = random_state(self.model)  # where the next epoch's draws start, as of the backup
        if self.best_epoch != before:  # the same weights: the backup's file, not a second serialisation
            copy_file_atomic(self.run_dir / backup["file"], self.best_weights_path)
            self._best = {"file": BEST_WEIGHTS, "epoch": epoch + 1, "sha256": backup["sha256"]}
        if self.wait >= self.patience:
            self.stopped_early = True
            self.model.stop_training = True
        self._backups = [backup] + [b for b in self._backups if b["epoch"] < backup["epoch"]][: KEPT_BACKUPS - 1]
        self._write_state()
        self._remove_unnamed_backups()

    def mark_finished(self) -> None:
        """Records that training is over (a rerun then skips ``fit``), then removes the epoch backups a finished run
        never reads: all but the best epoch's own (kept if still there: the best weights' second copy where the disk
        has no hard links). The state that stops naming them is written first, so a kill in between leaves files
        no state names, removed by the next process's :meth:`resume`."""
        self.finished = True
        self._backups = [b for b in self._backups if b["epoch"] == self.best_epoch]
        self._write_state()
        self._remove_unnamed_backups()

    def _remove_unnamed_backups(self) -> None:
        kept = {b["file"] for b in self._backups}
        for old in self.run_dir.glob("epoch-*.weights.h5"):
            if old.name not in kept:
                old.unlink(missing_ok=True)
