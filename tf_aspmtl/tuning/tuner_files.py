"""A tuner whose files a full disk cannot leave half written, and which stops on a full disk instead of failing
trial after trial."""

from __future__ import annotations

import json

import keras_tuner
import tensorflow as tf

# keras-tuner 1.4's best-epoch checkpoint, made by Tuner.run_trial; not exported by the package.
from keras_tuner.src.engine.tuner_utils import SaveBestEpoch

from tf_aspmtl.io_utils import DiskWriteError, write_text_atomic
from tf_aspmtl.training.tensorboard_logs import tensorflow_disk_error
from tf_aspmtl.tuning.best_epoch_weights import BestEpochWeights


class TrialDiskWriteError(DiskWriteError, keras_tuner.errors.FatalError):
    """A :class:`~tf_aspmtl.io_utils.DiskWriteError` during a trial: keras-tuner ends the search on it (rather
    than marking the trial failed and starting the next one on the same full disk). The trial stays recorded as
    running, so the same search run again once space is freed runs it again."""


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
        kwargs["callbacks"] = [BestEpochWeights(c) if isinstance(c, SaveBestEpoch) else c
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
