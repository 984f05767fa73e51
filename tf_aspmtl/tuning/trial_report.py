"""What a finished search says: every trial as a table row, the best trial as a training config, and the outcome."""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any, Mapping

import keras_tuner
import numpy as np
import pandas as pd

from tf_aspmtl.training.train_config import TrainConfig
from tf_aspmtl.tuning.aspmtl_hypermodel import OBJECTIVE, OBJECTIVE_NAME

SEARCH_BUDGET = ("epochs", "patience")
"""The settings of a trial's training length: the winner's config takes the main job's instead."""

HYPERBAND_KEYS = {"tuner/epochs": "epochs", "tuner/initial_epoch": "initial_epoch", "tuner/bracket": "bracket",
                  "tuner/round": "round", "tuner/trial_id": "resumed_from"}
"""Hyperband's bookkeeping values of a trial, and their columns in :func:`trials_frame`."""


def trials_frame(oracle: keras_tuner.Oracle, reference: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Every trial the oracle knows, sorted by id.

    Args:
        oracle: the tuner's oracle (``tuner.oracle``), of a finished or interrupted search.
        reference: optional hyperparameter values (the paper's point, say) whose trial is marked.

    Returns:
        A frame with columns ``trial_id``, ``status``, ``objective`` (``val_mean_task_accuracy`` at the best
        epoch; empty unless COMPLETED), ``dev_error`` (%), ``best_epoch`` (1-based), ``is_reference`` (the
        trial's values equal ``reference``), one column per hyperparameter, Hyperband's columns, every
        ``val_*`` metric at the best epoch, and ``message`` (the last line of a failure).
    """
    rows = []
    for trial_id, trial in sorted(oracle.trials.items()):
        values = dict(trial.hyperparameters.values)
        row: dict[str, Any] = {"trial_id": trial_id, "status": trial.status,
                               "objective": trial.score if trial.status == "COMPLETED" else None}
        row["dev_error"] = None if row["objective"] is None else 100.0 * (1.0 - float(row["objective"]))
        row["best_epoch"] = None if trial.best_step is None or row["objective"] is None else int(trial.best_step) + 1
        searched = {k: v for k, v in values.items() if not k.startswith("tuner/")}
        row["is_reference"] = reference is not None and all(_same(searched.get(k), v) for k, v in reference.items())
        row.update(searched)
        row.update({HYPERBAND_KEYS[k]: v for k, v in values.items() if k in HYPERBAND_KEYS})
        for name in sorted(trial.metrics.metrics):
            if name.startswith("val_"):
                row[name] = trial.metrics.get_last_value(name)
        message = (trial.message or "").strip().splitlines()
        row["message"] = message[-1] if message else ""
        rows.append(row)
    return pd.DataFrame(rows)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-12 * max(1.0, abs(float(b)))
    return a == b


def best_train_config(base: TrainConfig, values: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with a trial's searched ``values`` put in: a JSON-ready :class:`TrainConfig` dict, to train the winner.

    A trial's training length is the search's budget, not the winner's: ``epochs`` and ``patience`` are the main
    job's (:class:`TrainConfig`'s defaults: up to 15 epochs, the epoch chosen on dev), whatever the trials had
    (``base``'s, or Hyperband's ``tuner/epochs``). Every other setting of ``base`` (tasks, model, ``max_length``,
    vectors...) is kept: the hyperparameters were chosen under them.

    Args:
        base: the search's fixed settings.
        values: the trial's ``hyperparameters.values`` (Hyperband's bookkeeping is dropped).

    Raises:
        ValueError: a value names no TrainConfig field.
    """
    known = {f.name for f in fields(TrainConfig)}
    main_job = TrainConfig()
    config = {**base.to_dict(), **{name: getattr(main_job, name) for name in SEARCH_BUDGET}}
    for name, value in values.items():  # to_dict: fields recorded only when set are left out at their default
        if name in HYPERBAND_KEYS:
            continue
        if name not in known:
            raise ValueError(f"Hyperparameter {name!r} is not a TrainConfig field; expected some of {sorted(known)}")
        if isinstance(getattr(base, name), int) and not isinstance(value, bool):
            config[name] = int(value)
        else:  # 6 significant digits: 0.30000000000000004 (a step of 0.1 in float) becomes 0.3
            config[name] = float(f"{float(value):.6g}")
    config["tasks"] = list(config["tasks"])
    return config


def search_summary(frame: pd.DataFrame, settings: Mapping[str, Any], best_config: dict | None) -> dict[str, Any]:
    """The search's outcome: trial counts, the best and the reference trials (with their ranks), and their gap.

    Args:
        frame: :func:`trials_frame` of the search.
        settings: the search's settings; its ``searched`` names the hyperparameter columns reported.
        best_config: :func:`best_train_config` of the best trial (None without a completed trial).
    """
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
    return json_ready(result)


def json_ready(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers and NaN as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
