"""keras-tuner's best-epoch checkpoint of a trial, written whole."""

from __future__ import annotations

import keras

from tf_aspmtl.training.checkpoint_io import save_weights_atomic


class BestEpochWeights(keras.callbacks.Callback):
    """keras-tuner's best-epoch checkpoint (its ``SaveBestEpoch``, whose state it shares), written whole: the
    weights through a scratch file in memory and a rename (HDF5's own handling of a full disk can crash the
    process, and an in-place write leaves a cut file where a whole one was).

    Args:
        keras_tuner_checkpoint: the ``SaveBestEpoch`` that keras-tuner's ``Tuner.run_trial`` made for the trial
            (its ``objective``, ``filepath`` and ``best_value`` are used and kept up to date).
    """

    def __init__(self, keras_tuner_checkpoint: keras.callbacks.Callback):
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
