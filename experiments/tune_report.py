"""What ``experiments.tune`` writes after a search: the trials table, the plot, the best config.

* ``trials_frame(oracle)``: one row per trial (id, status, objective, the
  hyperparameters, every dev metric at the trial's best epoch);
* ``plot_trials(frame, path)``: dev accuracy against lambda and gamma (or
  against the trial number for families without them), paper point starred;
* ``best_train_config(...)``: the best trial's values as an
  ``tf_aspmtl.training.TrainConfig`` JSON (``python -m experiments.train --config``);
* ``summary(...)``: the search, its best and reference trials, and provenance.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Mapping

import keras_tuner
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import LogLocator, NullFormatter  # noqa: E402
import pandas as pd  # noqa: E402

from tf_aspmtl.training import TrainConfig  # noqa: E402
from tf_aspmtl.tuning import OBJECTIVE, OBJECTIVE_NAME, PAPER_LOSS_WEIGHTS  # noqa: E402
from tf_aspmtl.io_utils import write_bytes_atomic, write_text_atomic  # noqa: E402

WEIGHT_RANGE = (7e-4, 1.4)  # axis limits around the searched 1e-3 .. 1
HYPERBAND_KEYS = {"tuner/epochs": "epochs", "tuner/initial_epoch": "initial_epoch", "tuner/bracket": "bracket",
                  "tuner/round": "round", "tuner/trial_id": "resumed_from"}


def trials_frame(oracle: keras_tuner.Oracle, reference: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Every trial the oracle knows, sorted by id.

    Columns: ``trial_id``, ``status``, ``objective`` (``val_mean_task_accuracy``
    at the best epoch; empty unless COMPLETED), ``dev_error`` (%),
    ``best_epoch`` (1-based), ``is_reference`` (the trial's values equal
    ``reference``), one column per hyperparameter, every ``val_*`` metric
    at the best epoch, and ``message`` (first line of a failure).
    """
    rows = []
    for trial_id, trial in sorted(oracle.trials.items()):
        values = dict(trial.hyperparameters.values)
        row: dict[str, Any] = {
            "trial_id": trial_id,
            "status": trial.status,
            "objective": trial.score if trial.status == "COMPLETED" else None,
        }
        row["dev_error"] = None if row["objective"] is None else 100.0 * (1.0 - float(row["objective"]))
        row["best_epoch"] = None if trial.best_step is None or row["objective"] is None else int(trial.best_step) + 1
        searched = {k: v for k, v in values.items() if not k.startswith("tuner/")}
        row["is_reference"] = reference is not None and all(
            _same(searched.get(k), v) for k, v in reference.items()
        )
        row.update(searched)
        row.update({HYPERBAND_KEYS[k]: v for k, v in values.items() if k in HYPERBAND_KEYS})
        for name in sorted(trial.metrics.metrics):
            if name.startswith("val_"):
                row[name] = trial.metrics.get_last_value(name)
        message = (trial.message or "").strip().splitlines()
        row["message"] = message[-1] if message else ""
        rows.append(row)
    return pd.DataFrame(rows)


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(b)))
    return a == b


def write_csv_atomic(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """``frame.to_csv(path, index=False)`` through a temporary file and a rename."""
    write_text_atomic(path, frame.to_csv(index=False))


def write_json_atomic(path: str | os.PathLike, payload: Any) -> None:
    """``payload`` as indented JSON, through a temporary file and a rename."""
    write_text_atomic(path, json.dumps(payload, indent=2) + "\n")



def plot_trials(frame: pd.DataFrame, path: str | os.PathLike, title: str = "") -> None:
    """A PNG of dev accuracy against lambda and gamma (log scales), written atomically.

    Left: the (lambda, gamma) plane, colour = mean dev accuracy; the paper's
    point is a star, the best trial is ringed. Middle and right: dev accuracy
    against lambda and against gamma. Families without lambda and gamma get
    dev accuracy against the trial number.
    """
    done = frame[frame["status"] == "COMPLETED"].dropna(subset=["objective"])
    has_weights = {"adversarial_weight", "difference_weight"} <= set(frame.columns)
    if has_weights:
        fig, axes = plt.subplots(1, 3, figsize=(15, 5), constrained_layout=True)
        plane, by_lambda, by_gamma = axes
        acc = 100.0 * done["objective"].astype(float)
        sc = plane.scatter(done["adversarial_weight"], done["difference_weight"], c=acc, cmap="viridis", s=60,
                           edgecolors="k", linewidths=0.4)
        fig.colorbar(sc, ax=plane, label="mean dev accuracy (%)")
        plane.scatter([PAPER_LOSS_WEIGHTS["adversarial_weight"]], [PAPER_LOSS_WEIGHTS["difference_weight"]],
                      marker="*", s=320, facecolors="none", edgecolors="red", linewidths=1.5,
                      label="paper: lambda 0.05, gamma 0.01")
        if len(done):
            best = done.loc[done["objective"].astype(float).idxmax()]
            plane.scatter([best["adversarial_weight"]], [best["difference_weight"]], s=260, facecolors="none",
                          edgecolors="orange", linewidths=2, label=f"best: trial {best['trial_id']}")
        plane.set(xscale="log", yscale="log", xlabel="lambda (adversarial_weight)", xlim=WEIGHT_RANGE,
                  ylim=WEIGHT_RANGE, ylabel="gamma (difference_weight)", title="trials in the (lambda, gamma) plane")
        _decades(plane.xaxis)
        _decades(plane.yaxis)
        plane.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8)
        for ax, column, name, paper in (
            (by_lambda, "adversarial_weight", "lambda", PAPER_LOSS_WEIGHTS["adversarial_weight"]),
            (by_gamma, "difference_weight", "gamma", PAPER_LOSS_WEIGHTS["difference_weight"]),
        ):
            ref = done[done.get("is_reference", False) == True]  # noqa: E712
            ax.scatter(done[column], acc, s=40, edgecolors="k", linewidths=0.4)
            if len(ref):
                ax.scatter(ref[column], 100.0 * ref["objective"].astype(float), marker="*", s=300, color="red",
                           label="paper's point")
                ax.legend(loc="best", fontsize=8)
            ax.axvline(paper, color="red", lw=0.8, ls=":")
            ax.set(xscale="log", xlabel=f"{name} ({column})", ylabel="mean dev accuracy (%)", xlim=WEIGHT_RANGE,
                   title=f"dev accuracy against {name}")
            _decades(ax.xaxis)
    else:
        fig, ax = plt.subplots(figsize=(7, 4.6), constrained_layout=True)
        ax.plot(range(len(done)), 100.0 * done["objective"].astype(float), "o")
        ax.set(xlabel="trial", ylabel="mean dev accuracy (%)", title="dev accuracy by trial")
        ax.set_xticks(range(len(done)), done["trial_id"], rotation=90)
    if title:
        fig.suptitle(title, fontsize=9)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, buffer.getvalue())
    plt.close(fig)


def _decades(axis) -> None:
    axis.set_major_locator(LogLocator(base=10))
    axis.set_minor_formatter(NullFormatter())


def best_train_config(base: TrainConfig, values: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with the searched ``values`` put in: a JSON-ready ``TrainConfig`` (``--config`` file)."""
    known = {f.name for f in fields(TrainConfig)}
    config = asdict(base)
    for name, value in values.items():
        if name in HYPERBAND_KEYS:
            if name == "tuner/epochs":
                config["epochs"] = int(value)
            continue
        if name not in known:
            raise ValueError(f"Hyperparameter {name!r} is not a TrainConfig field; expected some of {sorted(known)}")
        if isinstance(getattr(base, name), int) and not isinstance(value, bool):
            config[name] = int(value)
        else:  # 6 significant digits: 0.30000000000000004 (a step of 0.1 in float) becomes 0.3
            config[name] = float(f"{float(value):.6g}")
    config["tasks"] = list(config["tasks"])
    return config


def summary(frame: pd.DataFrame, settings: Mapping[str, Any], best_config: dict | None) -> dict[str, Any]:
    """The search's outcome: trial counts, best and reference trials, and how they compare."""
    done = frame[frame["status"] == "COMPLETED"].dropna(subset=["objective"]).copy()
    done["objective"] = done["objective"].astype(float)
    done = done.sort_values("objective", ascending=False)
    hp_columns = [c for c in frame.columns if c in settings.get("searched", [])]

    def describe(row) -> dict[str, Any]:
        out = {"trial_id": row["trial_id"], OBJECTIVE_NAME: row["objective"], "dev_error": row["dev_error"],
               "best_epoch": row["best_epoch"], "hyperparameters": {c: row[c] for c in hp_columns}}
        out["dev_accuracy_per_task"] = {c[len("val_acc_"):]: row[c] for c in frame.columns if c.startswith("val_acc_")}
        out["rank"] = int(list(done["trial_id"]).index(row["trial_id"])) + 1
        return out

    best = describe(done.iloc[0]) if len(done) else None
    refs = done[done["is_reference"] == True]  # noqa: E712
    reference = describe(refs.iloc[0]) if len(refs) else None
    result: dict[str, Any] = {
        "objective": {"name": OBJECTIVE.name, "direction": OBJECTIVE.direction,
                      "data": "dev split (last 200 rows of each .task.train file); the test split is never read"},
        "settings": dict(settings),
        "trials": {"total": int(len(frame)), **{str(k): int(v) for k, v in frame["status"].value_counts().items()}},
        "best": best,
        "reference": reference,
        "best_config": best_config,
    }
    if best and reference:
        result["best_minus_reference_dev_accuracy_points"] = 100.0 * (best[OBJECTIVE_NAME] - reference[OBJECTIVE_NAME])
    return result
