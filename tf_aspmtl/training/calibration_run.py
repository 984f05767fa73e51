"""Per-task temperature scaling of a trained FDU-MTL model, scored on test: ECE and log loss before and after."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from tf_aspmtl.calibration import calibration_error_floor, expected_calibration_error, log_loss, reliability
from tf_aspmtl.data.fdu_mtl import load_fdu_mtl
from tf_aspmtl.models.task import Task


def run_calibration(path: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Loads a ``.keras`` model, fits its temperatures on FDU-MTL's dev split and scores them on test.

    Args:
        path: the trained model.
        data_dir: the FDU-MTL folder (default: :func:`tf_aspmtl.data.load_fdu_mtl`'s).

    Returns:
        :func:`calibrate_and_score`'s figures, with ``path``.
    """
    model = Task.load(path)
    data = load_fdu_mtl(data_dir, tasks=model.task_names, splits=("dev", "test"))
    return {"path": str(path), **calibrate_and_score(model, data[data["split"] == "dev"], data[data["split"] == "test"])}


def _rows(model: Task, frame: pd.DataFrame) -> tuple[dict[str, list], list]:
    """Raw rows and raw labels (FDU-MTL's label i is the task's class i)."""
    labels = [model.preprocessor.classes(t)[int(v)] for t, v in zip(frame["task"], frame["label"])]
    return {"text": frame["text"].astype(str).tolist(), "task": frame["task"].tolist()}, labels


def calibrate_and_score(model: Task, dev: pd.DataFrame, test: pd.DataFrame) -> dict[str, Any]:
    """Fits ``model``'s temperatures on ``dev``, then scores ``test`` before and after.

    Args:
        model: a trained model; its temperatures are set.
        dev, test: FDU-MTL rows (``text``, ``task``, ``label``: the task's class index).

    Returns:
        Mean and per-task ECE (%) and log loss before and after, the ECE a perfectly calibrated model would
        show on the same rows (``ece_floor_after``: :func:`~tf_aspmtl.calibration.calibration_error_floor`), the
        three ECE figures over all test rows at once (``ece_before_all_rows``, ``ece_after_all_rows``,
        ``ece_floor_after_all_rows``),
        each task's temperature, the number of predicted labels the temperatures changed (none may) and both
        reliability diagrams' bins.
    """
    model.calibrate(*_rows(model, dev))
    x, labels = _rows(model, test)
    ids = model.task_ids(x["task"])
    y = model.encode_labels(x["task"], labels)
    before = model.predict(x, calibrated=False, verbose=0)
    after = model.predict(x, verbose=0)
    per_task = {}
    for k, task in enumerate(model.task_names):
        rows = ids == k
        per_task[task] = {
            "temperature": model.temperatures[k],
            "ece_before": expected_calibration_error(before[rows], y[rows]),
            "ece_after": expected_calibration_error(after[rows], y[rows]),
            "log_loss_before": log_loss(before[rows], y[rows]),
            "log_loss_after": log_loss(after[rows], y[rows]),
            "ece_floor_after": calibration_error_floor(after[rows]),
        }
    mean = lambda key: float(np.mean([r[key] for r in per_task.values()]))  # noqa: E731
    return {
        "ece_before_mean": mean("ece_before"), "ece_after_mean": mean("ece_after"),
        "ece_floor_after_mean": mean("ece_floor_after"),
        "log_loss_before_mean": mean("log_loss_before"), "log_loss_after_mean": mean("log_loss_after"),
        # The same measures over every test row at once (6,400 for FDU-MTL): a floor 1/4 of a task's, so the gap
        # between a model and perfect calibration shows above the sampling noise of 400 rows.
        "ece_before_all_rows": expected_calibration_error(before, y), "ece_after_all_rows":
            expected_calibration_error(after, y), "ece_floor_after_all_rows": calibration_error_floor(after),
        "labels_changed": int((before.argmax(1) != after.argmax(1)).sum()), "test_rows": int(len(y)),
        "per_task": per_task,
        "reliability_before": reliability(before, y), "reliability_after": reliability(after, y),
    }


def plot_reliability(models: dict[str, dict[str, Any]], path: str | os.PathLike) -> None:
    """Reliability diagrams before and after, one panel per model (name -> :func:`calibrate_and_score`'s figures)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 4.5), squeeze=False)
    for ax, (name, r) in zip(axes[0], models.items()):
        for key, style in (("reliability_before", "o-"), ("reliability_after", "s-")):
            bins = r[key]
            ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], style,
                    label=f"{key.split('_')[1]} (ECE {r['ece_' + key.split('_')[1] + '_mean']:.2f} %)")
        ax.plot([0.5, 1], [0.5, 1], "k:", label="perfect")
        ax.set(title=f"{name}: test, all tasks", xlabel="confidence (top probability)", ylabel="accuracy",
               xlim=(0.45, 1.0), ylim=(0.45, 1.0))
        ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
