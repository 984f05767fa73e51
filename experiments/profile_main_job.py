"""Where a main-job run's time goes outside the steady training steps (issue 22: ``main_job_s``).

    python -m experiments.profile_main_job --epochs 1 --output experiments/results/speed_equality/main_job_parts.json

Runs the main job's configuration (``python -m experiments.train``'s defaults: paper-scale ASP-MTL, 16 tasks, the
same thread pools) for ``--epochs`` epochs, dev only, in a temporary run folder, and times its parts: everything
before the first epoch (data, vocabulary, word vectors, model), the first step (which traces the training
function), the other steps (their median), each epoch's dev evaluation, and everything after training (the dev
errors, the saved model). Wall times of one process; say in ``--note`` what else ran.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from experiments.cli_types import int_at_least
from experiments.provenance import command_line, provenance, write_json


def _clock():
    import keras

    class Clock(keras.callbacks.Callback):
        """Wall-clock stamps of every training step, epoch and dev evaluation."""

        def __init__(self):
            super().__init__()
            self.steps: list[float] = []
            self.epochs: list[tuple[float, float]] = []
            self.dev: list[tuple[float, float]] = []

        def on_epoch_begin(self, epoch, logs=None):
            self.epochs.append((time.perf_counter(), float("nan")))

        def on_train_batch_end(self, batch, logs=None):
            self.steps.append(time.perf_counter())

        def on_test_begin(self, logs=None):
            self.dev.append((time.perf_counter(), float("nan")))

        def on_test_end(self, logs=None):
            self.dev[-1] = (self.dev[-1][0], time.perf_counter())

        def on_epoch_end(self, epoch, logs=None):
            self.epochs[-1] = (self.epochs[-1][0], time.perf_counter())

    return Clock()


def parts(clock, started: float, ended: float) -> dict[str, Any]:
    """The run's wall time by part, from ``clock``'s stamps (seconds, steps in ms)."""
    first_epoch_start = clock.epochs[0][0]
    gaps = sorted(b - a for a, b in zip(clock.steps, clock.steps[1:]))
    return {
        "before_training_s": first_epoch_start - started,
        "first_step_s": clock.steps[0] - first_epoch_start,
        "median_step_ms": 1e3 * gaps[len(gaps) // 2] if gaps else None,
        "steps": len(clock.steps),
        "epoch_s": [end - start for start, end in clock.epochs],
        "dev_evaluation_s": [end - start for start, end in clock.dev],
        "after_training_s": ended - clock.epochs[-1][1],
        "total_s": ended - started,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int_at_least(1), default=1, help="epochs to train (default 1)")
    p.add_argument("--data-dir", help="FDU-MTL folder (else $TF_ASPMTL_FDU_MTL, else ../shared/data/fdu-mtl)")
    p.add_argument("--output", required=True, help="JSON file to write")
    p.add_argument("--note", default="", help="what else ran on the machine")
    args = p.parse_args(argv)
    started = time.perf_counter()
    from tf_aspmtl.runtime import DEFAULT_THREADS, configure_cpu_threads

    configure_cpu_threads(*DEFAULT_THREADS)
    from tf_aspmtl.training import TrainConfig, run

    clock = _clock()
    with tempfile.TemporaryDirectory(prefix="tf_aspmtl_profile_main_job_") as run_dir:
        run(TrainConfig(epochs=args.epochs), Path(run_dir), args.data_dir, dev_only=True, verbose=0,
            callbacks=[clock])
        ended = time.perf_counter()
    record = {**provenance(command_line("experiments.profile_main_job", argv)), "note": args.note,
              "threads": list(DEFAULT_THREADS), **parts(clock, started, ended)}
    write_json(args.output, record)
    print({k: v for k, v in record.items() if k.endswith("_s") or k.endswith("_ms")})
    return record


if __name__ == "__main__":
    main()
