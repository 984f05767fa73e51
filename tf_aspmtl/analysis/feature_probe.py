"""How well a fresh classifier reads the task from a model's frozen shared (and private) features.

A task-invariant shared space, what ASP-MTL's adversary aims at, gives a probe little better than chance; a
task-specific private space reads well.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from tf_aspmtl.analysis.shared_private_features import shared_private_features
from tf_aspmtl.models.multitask_classifier import MultiTaskClassifier


def probe_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                   seed: int = 0) -> float:
    """Test accuracy of a logistic-regression probe fitted on standardised ``train_x`` to ``train_y``.

    Args:
        train_x, test_x: features [rows, dim].
        train_y, test_y: the class of each row (for example its task id).
        seed: the probe's ``random_state``.
    """
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        raise ImportError('the probe needs scikit-learn: pip install "tf-aspmtl[analysis]"') from None
    scaler = StandardScaler().fit(train_x)
    probe = LogisticRegression(max_iter=2000, random_state=seed).fit(scaler.transform(train_x), train_y)
    return float(probe.score(scaler.transform(test_x), test_y))


def mean_abs_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over rows of |cos(a_i, b_i)| (0: every pair orthogonal)."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return float(np.mean(np.abs(np.sum(a * b, axis=1))))


def feature_statistics(model: MultiTaskClassifier, train: pd.DataFrame, test: pd.DataFrame, probe_seed: int = 0,
                       name: str = "model") -> tuple[dict[str, Any], np.ndarray]:
    """What one model's frozen features hold, on labelled rows; and its predicted class of each test row.

    Args:
        model: a trained :class:`~tf_aspmtl.MultiTaskClassifier`.
        train: rows (``text``, ``task``) the probes fit on: train rows only, never the rows they are scored on.
        test: rows (``text``, ``task``, integer class id ``label``) everything is scored on.
        probe_seed: every probe's ``random_state``.
        name: the model's name in the progress lines.

    Returns:
        ``({"class", "adversarial_weight", "difference_weight", "test_error" (%), "probe_task_accuracy_shared",
        "probe_task_accuracy_private" and "mean_abs_cosine_shared_private" (with private encoders),
        "discriminator_accuracy" (with a discriminator)}, predictions [test rows])``. The probes read the task
        id from the features; the discriminator's accuracy is its own reading of the same.
    """
    task_index = {t: i for i, t in enumerate(model.task_names)}
    y_train, y_test = train["task"].map(task_index).to_numpy(), test["task"].map(task_index).to_numpy()
    train_f = shared_private_features(model, train, name=f"{name}, train rows")
    test_f = shared_private_features(model, test, name=f"{name}, test rows")
    entry: dict[str, Any] = {"class": type(model).__name__, "adversarial_weight": model.objective.adversarial_weight,
                             "difference_weight": model.objective.difference_weight}
    entry["test_error"] = float(100 * np.mean(test_f["prediction"] != test["label"].to_numpy()))
    entry["probe_task_accuracy_shared"] = probe_accuracy(train_f["shared"], y_train, test_f["shared"], y_test,
                                                         probe_seed)
    if "private" in test_f:
        entry["probe_task_accuracy_private"] = probe_accuracy(train_f["private"], y_train, test_f["private"], y_test,
                                                              probe_seed)
        entry["mean_abs_cosine_shared_private"] = mean_abs_cosine(test_f["shared"], test_f["private"])
    if model.discriminator is not None:
        logits = model.discriminator(tf.constant(test_f["shared"])).numpy()
        entry["discriminator_accuracy"] = float(np.mean(logits.argmax(axis=1) == y_test))
    return entry, test_f["prediction"]
