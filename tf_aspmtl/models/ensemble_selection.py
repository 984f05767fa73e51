"""Greedy forward selection of ensemble members on held-out rows (Caruana et al., 2004), with replacement.

Given every candidate model's class probabilities on the same held-out rows
(the dev split: never test), :func:`select_ensemble` starts from the best
single candidate and adds, one step at a time, the candidate (possibly one
already chosen) whose addition lowers the ensemble's objective most; it stops
when no addition lowers it. A candidate picked ``n`` times gets weight ``n``
in the average. The objective is the mean over tasks of the mean negative log
probability of the true class: a proper scoring rule, smooth where the error
rate moves in steps of one row, so a few thousand dev rows select less by
chance. Every task counts equally, as in the benchmark's mean task error.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

PROBABILITY_FLOOR = 1e-12
"""Probabilities below this count as it in the log loss (a confident mistake costs ~27.6 nats, not infinity)."""


@dataclasses.dataclass(frozen=True)
class EnsembleSelection:
    """What :func:`select_ensemble` chose.

    Attributes:
        counts: tuple of int, one per candidate. How many times each was picked
            (its weight in the average; 0 = left out).
        steps: tuple of dict, one per step: ``candidate`` (index added),
            ``log_loss`` and ``error`` (mean over tasks, error in %) of the
            ensemble after the step.
        candidate_scores: tuple of dict, one per candidate: its own
            ``log_loss`` and ``error`` on the rows.
    """

    counts: tuple[int, ...]
    steps: tuple[dict[str, Any], ...]
    candidate_scores: tuple[dict[str, float], ...]

    @property
    def members(self) -> list[int]:
        """Indices of the chosen candidates, in candidate order."""
        return [i for i, n in enumerate(self.counts) if n]

    @property
    def weights(self) -> list[int]:
        """The chosen candidates' counts, in the order of :attr:`members`."""
        return [n for n in self.counts if n]

    def to_dict(self) -> dict[str, Any]:
        return {"counts": list(self.counts), "members": self.members, "weights": self.weights,
                "steps": [dict(s) for s in self.steps], "candidate_scores": [dict(s) for s in self.candidate_scores]}


def _check(probabilities: np.ndarray, task_ids: np.ndarray, labels: np.ndarray) -> None:
    if probabilities.ndim != 3 or probabilities.shape[0] < 1 or probabilities.shape[1] < 1:
        raise ValueError("probabilities must be [candidates, rows, classes] with at least one candidate and row; "
                         f"got shape {probabilities.shape}")
    rows = probabilities.shape[1]
    if task_ids.shape != (rows,) or labels.shape != (rows,):
        raise ValueError(f"task_ids and labels must be [rows] = [{rows}]; got {task_ids.shape} and {labels.shape}")
    if not np.all(np.isfinite(probabilities)) or np.any(probabilities < 0):
        bad = np.argwhere(~np.isfinite(probabilities) | (probabilities < 0))[0]
        raise ValueError(f"probabilities must be finite and >= 0; candidate {bad[0]}, row {bad[1]} has "
                         f"{probabilities[tuple(bad)]!r}")
    if labels.min() < 0 or labels.max() >= probabilities.shape[2]:
        row = int(np.argmax((labels < 0) | (labels >= probabilities.shape[2])))
        raise ValueError(f"labels must be class ids in [0, {probabilities.shape[2]}); row {row} has {labels[row]}")


def _row_weights(task_ids: np.ndarray) -> np.ndarray:
    """Weights that turn a sum over rows into the mean over tasks of per-task means."""
    tasks, inverse, sizes = np.unique(task_ids, return_inverse=True, return_counts=True)
    return 1.0 / (len(tasks) * sizes[inverse])


def select_ensemble(probabilities: Sequence | np.ndarray, task_ids: Sequence[int] | np.ndarray,
                    labels: Sequence[int] | np.ndarray, max_steps: int = 20,
                    tolerance: float = 0.0) -> EnsembleSelection:
    """Chooses ensemble members and their weights on held-out rows by greedy forward selection.

    Args:
        probabilities: float [candidates, rows, classes]. Each candidate's
            class probabilities for the same rows (rows of a task with fewer
            classes may carry zeros in the others).
        task_ids: int [rows]. Each row's task (the objective averages per task).
        labels: int [rows]. Each row's true class id.
        max_steps: int >= 1. Most picks (the ensemble's largest total weight).
        tolerance: float >= 0. An addition must lower the objective by more
            than this to be taken.

    Returns:
        :class:`EnsembleSelection`. Ties go to the lower candidate index, so
        the result is deterministic and an exact duplicate of a candidate is
        never picked in its place.

    Raises:
        ValueError: shapes disagree, a probability is negative or not finite,
            a label is out of range, or ``max_steps``/``tolerance`` are invalid.

    Example:
    >>> p = np.array([[[0.9, 0.1], [0.4, 0.6]], [[0.6, 0.4], [0.1, 0.9]]])
    >>> select_ensemble(p, task_ids=[0, 0], labels=[0, 1]).counts
    (1, 1)
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    task_ids, labels = np.asarray(task_ids), np.asarray(labels)
    if not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
        raise ValueError(f"max_steps must be an int >= 1; got {max_steps!r}")
    if not np.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be finite and >= 0; got {tolerance!r}")
    _check(probabilities, task_ids, labels)
    rows = np.arange(probabilities.shape[1])
    row_weights = _row_weights(task_ids)
    true_class = probabilities[:, rows, labels]  # [candidates, rows]

    def log_loss(p_true: np.ndarray) -> np.ndarray:
        return -(np.log(np.maximum(p_true, PROBABILITY_FLOOR)) * row_weights).sum(axis=-1)

    def error(p: np.ndarray) -> float:
        return 100.0 * float(((np.argmax(p, axis=-1) != labels) * row_weights).sum())

    candidate_scores = tuple({"log_loss": float(loss), "error": error(p)}
                             for loss, p in zip(log_loss(true_class), probabilities))
    counts = np.zeros(len(probabilities), dtype=int)
    sum_true = np.zeros(len(rows))
    sum_probabilities = np.zeros(probabilities.shape[1:])
    steps: list[dict[str, Any]] = []
    current = np.inf
    for step in range(max_steps):
        losses = log_loss((sum_true + true_class) / (step + 1))
        best = int(np.argmin(losses))  # the first of equal losses
        if steps and not losses[best] < current - tolerance:
            break
        counts[best] += 1
        sum_true += true_class[best]
        sum_probabilities += probabilities[best]
        current = float(losses[best])
        steps.append({"candidate": best, "log_loss": current, "error": error(sum_probabilities)})
    return EnsembleSelection(tuple(int(n) for n in counts), tuple(steps), candidate_scores)
