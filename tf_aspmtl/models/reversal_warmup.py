"""The callback that warms up a model's gradient reversal, epoch by epoch, during ``fit``."""

from __future__ import annotations

from typing import Any, Sequence

import keras

REVERSAL_SCALE_LOG = "reversal_scale"
"""The epoch log (history, TensorBoard, ``history.csv``) of the reversal's scale during that epoch."""


class ReversalWarmup(keras.callbacks.Callback):
    """Sets ``model.gradient_reversal``'s warm-up factor at the start of every epoch; logs the scale it used.

    The factor of epoch ``e`` is
    :func:`~tf_aspmtl.layers.gradient_reversal.reversal_warmup_factor` of Keras'
    epoch index ``e``, set before the epoch's first step
    (:meth:`~tf_aspmtl.layers.GradientReversal.set_epoch`). Keras passes the
    absolute index, ``initial_epoch`` included, so a run resumed at epoch
    ``e`` (:func:`~tf_aspmtl.training.fit_with_dev_selection`) trains epoch
    ``e`` with the factor an uninterrupted run had: nothing but the epoch
    index is read, and the value a checkpoint holds is overwritten before use.
    Per epoch rather than per step: the run's schedule then needs no
    ``steps_per_epoch`` in the model's config.

    :meth:`MultiTaskClassifier.fit <tf_aspmtl.models.MultiTaskClassifier.fit>` adds one when the
    model's objective has ``reversal_warmup_epochs > 0`` (:func:`with_reversal_warmup`), so plain
    ``model.fit`` warms up; it adds ``reversal_scale`` (``gradient_reversal_scale`` times the factor)
    to each epoch's logs.

    Example (not run):
        model.fit(train, steps_per_epoch=100, epochs=10)
        model.history.history["reversal_scale"][:3]   # [0.0, 0.7616, 0.9640]
    """

    def _layer(self):
        layer = getattr(self.model, "gradient_reversal", None)
        if layer is None or not getattr(layer, "warmup_epochs", 0):
            raise ValueError(f"ReversalWarmup needs a model whose gradient_reversal layer has warmup_epochs > 0; "
                             f"{type(self.model).__name__} {self.model.name!r} has none")
        return layer

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._layer().set_epoch(int(epoch))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is not None:
            logs[REVERSAL_SCALE_LOG] = self._layer().current_scale


def with_reversal_warmup(model: keras.Model, callbacks: Sequence[keras.callbacks.Callback] | None):
    """``callbacks`` with a :class:`ReversalWarmup` first if ``model``'s reversal warms up and none is there.

    First, so that its ``reversal_scale`` is in the logs the other callbacks (dev selection, TensorBoard)
    record at the end of an epoch. A model without a warm-up gets ``callbacks`` back unchanged.
    """
    layer = getattr(model, "gradient_reversal", None)
    if layer is None or not getattr(layer, "warmup_epochs", 0):
        return callbacks
    given = list(callbacks or ())
    if any(isinstance(c, ReversalWarmup) for c in given):
        return given
    return [ReversalWarmup(), *given]
