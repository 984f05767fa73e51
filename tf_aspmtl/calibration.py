"""Temperature scaling of class probabilities (Guo et al., ICML 2017), one temperature per task, and its measures.

A temperature ``T > 0`` turns probabilities ``p`` into ``softmax(log p / T)``:
the same as dividing the logits by ``T``, so it never changes which class is
most probable, only how sure the model says it is. ``T`` is fitted on held-out
rows (dev, never test) by minimising their log loss.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

PROBABILITY_FLOOR = 1e-12
"""Probabilities below this count as it (a class with probability 0 keeps probability 0 after scaling)."""
ECE_BINS = 15


def scale_probabilities(probabilities, temperatures) -> tf.Tensor:
    """``softmax(log p / T)`` per row, in the graph; classes with probability 0 (a task's padding) stay 0.

    Args:
        probabilities: float [batch, classes].
        temperatures: float [batch] (each row's task's temperature) or a scalar.
    """
    probabilities = tf.convert_to_tensor(probabilities)
    temperatures = tf.cast(temperatures, probabilities.dtype)
    if temperatures.shape.rank == 1:
        temperatures = temperatures[:, None]
    logits = tf.math.log(tf.maximum(probabilities, PROBABILITY_FLOOR)) / temperatures
    scaled = tf.nn.softmax(tf.where(probabilities > 0, logits, -1e9 * tf.ones_like(logits)))
    return tf.where(probabilities > 0, scaled, tf.zeros_like(scaled))


def _scaled_log_likelihood(log_p: np.ndarray, labels: np.ndarray, temperatures: np.ndarray) -> np.ndarray:
    """Mean log probability of the true class after scaling, for each temperature: [len(temperatures)].

    ``log_p`` is -inf where the probability is 0 (it stays 0 after scaling, as in :func:`scale_probabilities`); every
    row's true class has a probability."""
    z = log_p[None, :, :] / temperatures[:, None, None]
    z = z - z.max(axis=2, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=2))
    return (np.take_along_axis(z, labels[None, :, None], axis=2)[:, :, 0] - log_norm).mean(axis=1)


def fit_temperature(probabilities: np.ndarray, labels: Sequence[int]) -> float:
    """The temperature that minimises the log loss of ``probabilities`` [rows, classes] against class ids ``labels``.

    A search over ``log T`` (a grid from T = 0.05 to 20, then three finer grids around the best point); the loss
    is one-dimensional and smooth, so this finds its minimum to about 0.1 %. As in :func:`scale_probabilities`, a
    probability of 0 stays 0: rows whose own class has probability 0 do not depend on T and take no part (T = 1
    when no row is left).

    Raises:
        ValueError: no rows, or a label outside the columns.
    """
    p = np.asarray(probabilities, np.float64)
    y = np.asarray(labels, np.int64)
    if p.ndim != 2 or not len(p) or len(p) != len(y):
        raise ValueError(f"fit_temperature needs probabilities [rows, classes] and one label per row; got "
                         f"{p.shape} and {y.shape}")
    if y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(f"labels must be class ids in [0, {p.shape[1]}); got {y.min()}..{y.max()}")
    # As scale_probabilities: a probability of 0 (a task's padding class, a float32 softmax that underflowed) stays
    # 0 at any temperature, so it is no class of the row; a row whose own class has probability 0 keeps it at 0
    # whatever T is (a constant loss) and takes no part.
    positive = p > 0
    rows = positive[np.arange(len(p)), y]
    if not rows.any():
        return 1.0
    log_p = np.where(positive, np.log(np.maximum(p, PROBABILITY_FLOOR)), -np.inf)[rows]
    y = y[rows]
    lowest, highest = np.log(0.05), np.log(20.0)
    low, high = lowest, highest
    best = 0.0
    for _ in range(4):
        grid = np.linspace(low, high, 41)
        best = grid[int(np.argmax(_scaled_log_likelihood(log_p, y, np.exp(grid))))]
        step = grid[1] - grid[0]
        low, high = max(best - step, lowest), min(best + step, highest)  # the finer grids stay in [0.05, 20]
    return float(np.exp(best))


def expected_calibration_error(probabilities: np.ndarray, labels: Sequence[int], bins: int = ECE_BINS) -> float:
    """ECE (%) with ``bins`` equal-width bins of the top probability: the rows-weighted mean gap between each bin's
    mean confidence and its accuracy."""
    p = np.asarray(probabilities, np.float64)
    y = np.asarray(labels)
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    gap = 0.0
    for b in range(bins):
        rows = which == b
        if rows.any():
            gap += rows.sum() * abs(confidence[rows].mean() - correct[rows].mean())
    return 100.0 * gap / len(p)


def calibration_error_floor(probabilities: np.ndarray, bins: int = ECE_BINS, draws: int = 200,
                            seed: int = 0) -> float:
    """The ECE (%) a perfectly calibrated model would still show on these rows: its mean over ``draws`` label sets
    drawn from ``probabilities`` themselves (so every stated probability is right by construction).

    With a few hundred rows per task and 15 bins, :func:`expected_calibration_error` measures its own sampling
    noise as well as miscalibration; this floor says how far below it no temperature can go on so few rows.
    """
    p = np.asarray(probabilities, np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"calibration_error_floor needs [rows, classes] probabilities; got shape {p.shape}")
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    floors = []
    for _ in range(draws):
        drawn = (rng.random((len(p), 1)) > cumulative).sum(axis=1)
        floors.append(expected_calibration_error(p, np.minimum(drawn, p.shape[1] - 1), bins))
    return float(np.mean(floors))


def log_loss(probabilities: np.ndarray, labels: Sequence[int]) -> float:
    """Mean negative log probability of the true class (nats)."""
    p = np.asarray(probabilities, np.float64)
    y = np.asarray(labels)
    return float(-np.mean(np.log(np.maximum(p[np.arange(len(p)), y], PROBABILITY_FLOOR))))


def reliability(probabilities: np.ndarray, labels: Sequence[int], bins: int = ECE_BINS) -> list[dict[str, float]]:
    """The reliability diagram's bins: ``{"low", "high", "rows", "confidence", "accuracy"}`` for each non-empty bin."""
    p = np.asarray(probabilities, np.float64)
    confidence = p.max(axis=1)
    correct = p.argmax(axis=1) == np.asarray(labels)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    return [{"low": b / bins, "high": (b + 1) / bins, "rows": int((which == b).sum()),
             "confidence": float(confidence[which == b].mean()), "accuracy": float(correct[which == b].mean())}
            for b in range(bins) if (which == b).any()]
