"""Stop training at the first non-finite loss term, loudly."""

from __future__ import annotations

import math

import keras

from tf_aspmtl.training.epoch_summary import LOSS_TERMS


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss term."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises :class:`NonFiniteLossError` at the first step whose loss terms are not finite.

    Keras' ``TerminateOnNaN`` only sets ``stop_training``: ``fit`` returns
    normally and a script goes on to report the diverged model. This raises
    instead, naming the epoch, the step and every loss term (:data:`LOSS_TERMS`)
    that went non-finite, so a run fails with a non-zero
    exit and nothing after ``fit`` claims a number. Checkpoints written at the
    end of earlier epochs are untouched.

    Example:
    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> model.compile(loss="mse")
    >>> x = np.array([[1.0], [np.nan]])  # a NaN input: the first step's loss is NaN
    >>> model.fit(x, np.zeros(2), epochs=3, verbose=0, callbacks=[StopOnNonFiniteLoss()])
    Traceback (most recent call last):
    ...
    tf_aspmtl.training.non_finite_loss.NonFiniteLossError: Training diverged in epoch 1, step 1: ... loss=nan ...
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        bad = {}
        for name in LOSS_TERMS:
            if name in logs:
                value = float(logs[name])
                if not math.isfinite(value):
                    bad[name] = value
        if bad:
            self.model.stop_training = True
            terms = ", ".join(f"{k}={v}" for k, v in bad.items())
            raise NonFiniteLossError(
                f"Training diverged in epoch {self._epoch + 1}, step {batch + 1}: non-finite loss term(s) {terms} "
                "(the logged values are means over the epoch so far, so this step is the first bad one). "
                "Lower the learning rate or the loss weights; checkpoints of earlier epochs are kept."
            )
