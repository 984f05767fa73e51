"""Dev-based epoch selection, early stopping and exact resumption, as one callback."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import keras

from tf_aspmtl.io_utils import write_text_atomic
from tf_aspmtl.training.checkpoint_io import copy_file_atomic, remove_partial_files, save_weights_atomic
from tf_aspmtl.training.model_fingerprint import fingerprint_differences
from tf_aspmtl.training.random_state import random_state, random_state_variables, set_random_state
from tf_aspmtl.training.run_folder import RunFolderError

logger = logging.getLogger("tf_aspmtl.training")

STATE_FILE = "state.json"
BEST_WEIGHTS = "best.weights.h5"


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


class DevSelection(keras.callbacks.Callback):
    """Keeps the weights of the best dev epoch, stops after ``patience`` epochs without gain, and can resume.

    At the end of every epoch it writes, in this order and each atomically
    (temporary file, then rename): the model's and optimizer's weights
    (``epoch-N.weights.h5``), the best weights if the epoch improved
    ``monitor`` (``best.weights.h5``), then ``state.json``: every finished
    epoch's logs, the best epoch, the wall time spent so far, and the
    model's random state (every ``SeedGenerator``'s, which the weights file
    does not hold: dropout masks, VAT directions; see
    :mod:`tf_aspmtl.training.random_state`). A process killed at any point
    leaves a state that names a complete backup. A new :class:`DevSelection`
    on the same folder (see :meth:`resume`) restores that backup, the random
    state, the epoch count, the history and the patience counter, so the
    resumed run draws the same random numbers and takes the same decisions
    as one never killed; its caller must also give the data stream from the
    same position (:func:`tf_aspmtl.training.fit_with_dev_selection` does).

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
    """

    def __init__(self, run_dir: str | os.PathLike, monitor: str = "val_mean_task_accuracy", patience: int = 3,
                 mode: str = "max", run_identity: dict[str, str] | None = None,
                 legacy_run_identity: dict[str, str] | None = None):
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
        self.history: list[dict[str, float]] = []
        self.previous_wall_time_s = 0.0
        self.processes = 0
        self.finished = False
        self._started = time.time()
        self._backup: str | None = None
        self._random_state: list[list[int]] | None = None  # the seed generators' states at the backup
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
        files that an interrupted write left behind are removed first (the
        caller holds the folder's lock, so no live writer owns them).
        """
        for stale in remove_partial_files(self.run_dir):
            logger.warning("removed %s, a file left half written by an interrupted run", stale)
        if not self.state_path.exists():
            return 0
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise RunFolderError(f"{self.state_path} (the training state: epochs done, best epoch, history) cannot "
                                 f"be read ({err}); it is damaged; remove {self.run_dir} (or choose another folder) "
                                 "to train this run again") from None
        if state.get("monitor") != self.monitor:
            raise ValueError(f"{self.state_path} selects on {state.get('monitor')!r}, not {self.monitor!r}")
        recorded = state.get("run_identity")
        if self.run_identity is not None and recorded is not None:
            differing = fingerprint_differences(recorded, self.run_identity)
            if differing and self.legacy_run_identity is not None and not fingerprint_differences(
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
        self._backup = state.get("backup")
        self._random_state = state.get("random_state")
        return self.epochs_done

    def restore_weights(self, model: keras.Model) -> None:
        """Loads the backup of the last finished epoch (model and optimizer) and its random state into ``model``."""
        backup = self._backup
        if not backup:
            return
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        self.load_weights_file(model, self.run_dir / backup, f"the backup of epoch {self.epochs_done}")
        if self._random_state is None:
            if random_state_variables(model):
                logger.warning("%s was written before checkpoints kept the random state: the resumed epochs draw "
                               "other random numbers (dropout masks, VAT directions) than a run never stopped, if "
                               "the model draws any", self.state_path)
            return
        try:
            set_random_state(model, self._random_state)
        except ValueError as err:
            raise RunFolderError(f"{self.state_path}: {err}; it was written for another model; give this run its "
                                 "own folder (or remove that one to start afresh)") from None

    def load_weights_file(self, model: keras.Model, path: Path, role: str) -> None:
        """``model.load_weights(path)``; a damaged or missing file raises :class:`RunFolderError` naming the file,
        its role and how to recover."""
        try:
            model.load_weights(str(path))
        except (OSError, ValueError, KeyError) as err:
            detail = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise RunFolderError(
                f"{path} ({role}) cannot be read: {detail}. The file is damaged (cut short by a failing disk or a "
                f"bad copy) or missing, and the run keeps no other copy of it; remove {self.run_dir} (or choose "
                "another folder) to train this run again") from None

    def _write_state(self, backup: str | None) -> None:
        state = {
            "monitor": self.monitor,
            "mode": self.mode,
            "patience": self.patience,
            "epochs_done": self.epochs_done,
            "best_epoch": self.best_epoch,
            "finished": self.finished,
            "stopped_early": self.stopped_early,
            "backup": backup,
            "random_state": self._random_state,
            "run_identity": self.run_identity,
            "wall_time_s": self.wall_time_s(),
            "processes": self.processes + 1,
            "history": self.history,
        }
        write_text_atomic(self.state_path, json.dumps(state, indent=1) + "\n")

    def _save_weights_atomic(self, path: Path) -> None:
        save_weights_atomic(self.model, path)

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
        backup = f"epoch-{epoch + 1}.weights.h5"
        self._save_weights_atomic(self.run_dir / backup)
        random_numbers = random_state(self.model)  # where the next epoch's draws start, as of the backup
        if self.best_epoch != before:  # the same weights: the backup's file, not a second serialisation
            copy_file_atomic(self.run_dir / backup, self.best_weights_path)
        if self.wait >= self.patience:
            self.stopped_early = True
            self.model.stop_training = True
        self._backup, self._random_state = backup, random_numbers
        self._write_state(backup)
        for old in self.run_dir.glob("epoch-*.weights.h5"):
            if old.name != backup:
                old.unlink(missing_ok=True)

    def mark_finished(self) -> None:
        """Records that training is over (a rerun then skips ``fit``)."""
        self.finished = True
        self._write_state(self._backup)
