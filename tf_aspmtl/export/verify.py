"""Checks a freshly written SavedModel before it is published.

The staged SavedModel is loaded back and run on :data:`PROBE_TEXTS` (plain
reviews and the inputs that break naive text pipelines); its probabilities
must be finite, sum to 1 and equal the Keras model's to ``atol``. A version
that fails is never renamed into place.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from tf_aspmtl import serving

PROBE_TEXTS: tuple[bytes, ...] = (
    b"a gripping , well written story .",
    b"Terrible. Don't buy it!!!",
    b"",
    b" \t\n ",
    "Great product \U0001F600\U0001F44D".encode(),
    "\u05d6\u05d4 \u05de\u05d5\u05e6\u05e8 \u05de\u05e2\u05d5\u05dc\u05d4 "  # Hebrew, then Arabic
    "\u0647\u0630\u0627 \u0631\u0627\u0626\u0639".encode(),
    b"ctrl\x00\x07\x1b[0m chars\x7f",
    b"bad \xff\xfe utf-8 \xc3\x28",
)


def _check_probabilities(probabilities: np.ndarray, where: str) -> None:
    if not np.all(np.isfinite(probabilities)):
        raise ValueError(f"{where}: non-finite probabilities {probabilities}")
    if not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5):
        raise ValueError(f"{where}: probabilities do not sum to 1: {probabilities.sum(axis=1)}")


def keras_probabilities(model, texts, task: str, calibrated: bool = True) -> np.ndarray:
    """The Keras model's probabilities [n, num_classes(task)] for raw texts (bytes allowed) of one task."""
    k = model.task_names.index(task)
    rows = {"text": list(texts), "task": [task] * len(texts)}
    return model.predict(rows, verbose=0, calibrated=calibrated)[:, : model.num_classes[k]]


def verify_task_export(model, task: str, path: str | os.PathLike, atol: float = 1e-5, calibrated: bool = True) -> None:
    """Loads the SavedModel at ``path`` and checks it against ``model`` on :data:`PROBE_TEXTS`.

    Raises:
        ValueError: naming the folder and what differs.
    """
    where = os.fspath(path)
    outputs = tf.saved_model.load(where).signatures[serving.SIGNATURE_NAME](
        **{serving.TEXT_INPUT: tf.constant(PROBE_TEXTS)}
    )
    got = outputs[serving.PROBABILITIES].numpy()
    _check_probabilities(got, where)
    expected = keras_probabilities(model, PROBE_TEXTS, task, calibrated)
    if got.shape != expected.shape or not np.allclose(got, expected, atol=atol, rtol=0):
        raise ValueError(
            f"{where}: exported probabilities differ from the Keras model's for task {task!r} "
            f"(max abs difference {np.max(np.abs(got - expected)) if got.shape == expected.shape else got.shape})"
        )
    labels = outputs[serving.LABEL].numpy()
    names = np.array([n.encode() for n in model.class_names[model.task_names.index(task)]], dtype=object)
    if not np.array_equal(labels, names[outputs[serving.LABEL_ID].numpy()]):
        raise ValueError(f"{where}: 'label' does not name the class of 'label_id'")


def verify_multitask_export(model, path: str | os.PathLike, atol: float = 1e-5, calibrated: bool = True) -> None:
    """Loads the multi-task SavedModel at ``path`` and checks every task against ``model`` on mixed rows."""
    where = os.fspath(path)
    signature = tf.saved_model.load(where).signatures[serving.SIGNATURE_NAME]
    texts = [t for t in PROBE_TEXTS for _ in model.task_names]
    tasks = [name for _ in PROBE_TEXTS for name in model.task_names]
    got = signature(
        **{serving.TEXT_INPUT: tf.constant(texts), serving.TASK_INPUT: tf.constant(tasks)}
    )[serving.PROBABILITIES].numpy()
    _check_probabilities(got, where)
    for k, task in enumerate(model.task_names):
        rows = got[k :: len(model.task_names)]
        expected = keras_probabilities(model, PROBE_TEXTS, task, calibrated)
        classes = model.num_classes[k]
        if not np.allclose(rows[:, :classes], expected, atol=atol, rtol=0) or np.any(rows[:, classes:] != 0):
            raise ValueError(f"{where}: exported probabilities differ from the Keras model's for task {task!r}")
