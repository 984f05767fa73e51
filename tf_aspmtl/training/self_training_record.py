"""The main job's self-training record: the unlabelled rows its teachers may label, and what each group's teacher did."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pandas as pd

from tf_aspmtl.training.held_out_duplicates import held_out_duplicates

if TYPE_CHECKING:
    from tf_aspmtl.training.train_config import TrainConfig

logger = logging.getLogger("tf_aspmtl.training")


def self_training_rows(data: pd.DataFrame, held_out: pd.DataFrame, config: TrainConfig,
                       tasks: list[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The unlabelled rows a teacher may label (never dev or test rows, nor repeats of their texts) and the record."""
    candidates = data[data["split"] == "unlabeled"]
    repeats = held_out_duplicates(candidates, held_out)
    to_label = candidates[~repeats]
    info = {
        "threshold": config.self_training_threshold, "max_per_task": config.self_training_max_per_task,
        "balanced": True, "unlabeled_rows": {t: int((to_label["task"] == t).sum()) for t in tasks},
        "dropped_repeats_of_dev_or_test": {t: int((candidates["task"] == t)[repeats].sum()) for t in tasks},
        "teacher_dev_error": {}, "pseudo_labels": {}, "teachers": {},
    }
    logger.info("self-training: %d unlabelled rows to label (%d dropped: they repeat a held-out text: of dev, and of "
                "test when the run reads it)",
                len(to_label), int(repeats.sum()))
    return to_label, info


def record_self_training(info: dict[str, Any], label: str, group: dict[str, Any]) -> None:
    """Adds one group's teacher and pseudo-label counts to the run's ``self_training`` record."""
    teacher = group["teacher"]
    info["teacher_dev_error"].update(teacher["dev_error"])
    info["pseudo_labels"].update(group["pseudo_labels"])
    info["teachers"][label] = {k: teacher[k] for k in ("best_epoch", "training_wall_time_s", "processes")}
    errors = list(info["teacher_dev_error"].values())
    info["avg_teacher_dev_error"] = sum(errors) / len(errors)
    info["teacher_training_wall_time_s"] = sum(t["training_wall_time_s"] for t in info["teachers"].values())
