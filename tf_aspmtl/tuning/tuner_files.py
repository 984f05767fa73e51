"""A tuner whose files a full disk cannot leave half written, and which stops on a full disk instead of failing
trial after trial."""

from __future__ import annotations

import json

import keras
import keras_tuner
import tensorflow as tf

# keras-tuner 1.4's best-epoch checkpoint, made by Tuner.run_trial; not exported by the package.
from keras_tuner.src.engine.tuner_utils import SaveBestEpoch

from tf_aspmtl.io_utils import DiskWriteError, write_text_atomic
from tf_aspmtl.training.checkpoint_io import save_weights_atomic
from tf_aspmtl.training.tensorboard_logs import tensorflow_disk_error


class TrialDiskWriteError(DiskWriteError, keras_tuner.errors.FatalError):
    """A :class:`~tf_aspmtl.io_utils.DiskWriteError` during a trial: keras-tuner ends the search on it (rather
    than marking the trial failed and starting the next one on the same full disk). The trial stays recorded as
    running, so the same search run again once space is freed runs it again."""


class _BestEpochWeights(keras.callbacks.Callback):
    """keras-tuner's best-epoch checkpoint (its ``SaveBestEpoch``, whose state it shares), written whole: the
    weights through a scratch file in memory and a rename (HDF5's own handling of a full disk can crash the
    process, and an in-place write leaves a cut file where a whole one was)."""

    def __init__(self, keras_tuner_checkpoint: SaveBestEpoch):
        super().__init__()
        self.inner = keras_tuner_checkpoint

    def on_epoch_end(self, epoch, logs=None):
        objective = self.inner.objective
        if not objective.has_value(logs):
            save_weights_atomic(self.model, self.inner.filepath)
            return
        value = objective.get_value(logs)
        if objective.better_than(value, self.inner.best_value):
            self.inner.best_value = value  # the best over all of the trial's executions, as keras-tuner keeps it
            save_weights_atomic(self.model, self.inner.filepath)


class AtomicTunerFiles:
    """Tuner mixin: the tuner's and oracle's state and each trial's checkpoint are written whole, and a full disk
    ends the search with one :class:`~tf_aspmtl.io_utils.DiskWriteError` naming the file.

    Pair it with an oracle that writes its files whole
    (:class:`~tf_aspmtl.tuning.oracle_files.AtomicOracleFiles`).
    """

    def save(self):
        if not self._is_worker():  # in a distributed search only the chief writes the oracle's files
            self.oracle.save()
        write_text_atomic(self._get_tuner_fname(), json.dumps(self.get_state()))

    def _build_and_fit_model(self, trial, *args, **kwargs):
        kwargs["callbacks"] = [_BestEpochWeights(c) if isinstance(c, SaveBestEpoch) else c
                               for c in kwargs.get("callbacks", [])]
        try:
            return super()._build_and_fit_model(trial, *args, **kwargs)
        except tf.errors.OpError as error:  # keras-tuner writes build_config.json with tf.io.gfile
            disk = tensorflow_disk_error(error, self.get_trial_dir(trial.trial_id))
            if disk is None:
                raise
            raise disk from None

    def _run_and_update_trial(self, trial, *args, **kwargs):
        try:
            return super()._run_and_update_trial(trial, *args, **kwargs)
        except DiskWriteError as error:
            raise TrialDiskWriteError(error.errno, error.strerror) from None
