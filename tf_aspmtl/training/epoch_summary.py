"""One short line per epoch, for a log a person reads: the loss terms, the mean dev accuracy and the time.

Keras' ``verbose=2`` prints every logged value each epoch (with one dev
accuracy per task, some 40 numbers); :class:`EpochSummary`, with ``fit``'s
``verbose=0``, prints instead::

    epoch 3/15: loss 0.4121 task_loss 0.3687 adv_loss 0.6931 diff_loss 0.0012 | dev mean accuracy 0.8431 | 41.2 s

The per-task figures stay in the run's history, results file and TensorBoard logs.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable

import keras

LOSS_TERMS = ("loss", "task_loss", "adv_loss", "memory_adv_loss", "mean_match_loss", "diff_loss", "confusion_loss", "perturbation_loss",
              "l2_loss")
"""Training logs the line shows, in this order, when present (and that :class:`StopOnNonFiniteLoss` checks)."""
DEV_ACCURACY = "val_mean_task_accuracy"


def _print_line(line: str) -> None:
    print(line, file=sys.stdout, flush=True)


class EpochSummary(keras.callbacks.Callback):
    """Prints ``epoch i/N: <loss terms> | dev mean accuracy <a> | <t> s`` at the end of every epoch.

    Only the logs of :data:`LOSS_TERMS` and ``val_mean_task_accuracy`` that are
    present appear; per-task values (``acc_<task>``, ``val_acc_<task>``...)
    never do. Use it with ``fit(..., verbose=0)``.

    Args:
        print_fn: callable taking the line; default: print to stdout and flush.

    Example (not run):
        model.fit(train, epochs=15, validation_data=dev, verbose=0, callbacks=[EpochSummary()])
        # prints: epoch 1/15: loss 0.6102 task_loss 0.5408 adv_loss 0.6931 | dev mean accuracy 0.7712 | 58.3 s
    """

    def __init__(self, print_fn: Callable[[str], None] | None = None):
        super().__init__()
        self.print_fn = print_fn or _print_line
        self._started: float | None = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        seconds = time.perf_counter() - self._started if self._started is not None else None
        self.print_fn(summary_line(epoch + 1, self.params.get("epochs"), logs or {}, seconds))


def summary_line(epoch: int, epochs: int | None, logs: dict[str, Any], seconds: float | None) -> str:
    """The line :class:`EpochSummary` prints for 1-based ``epoch`` of ``epochs`` (None: unknown)."""
    parts = [f"{term} {float(logs[term]):.4g}" for term in LOSS_TERMS if term in logs]
    line = f"epoch {epoch}/{epochs if epochs else '?'}: " + (" ".join(parts) or "no loss logged")
    if DEV_ACCURACY in logs:
        line += f" | dev mean accuracy {float(logs[DEV_ACCURACY]):.4f}"
    if seconds is not None:
        line += f" | {seconds:.1f} s"
    return line


def fit_output(verbose: int | str) -> tuple[int | str, list[keras.callbacks.Callback]]:
    """``fit``'s ``verbose`` and callbacks for a command line's ``--verbose``: 2 means one :class:`EpochSummary`
    line per epoch (Keras silent); any other value is Keras' own (1 progress bar, 0 nothing), with no callback."""
    if verbose == 2:
        return 0, [EpochSummary()]
    return verbose, []
