"""Error (%) of every task of a multi-task model on an evaluation dataset."""

from __future__ import annotations

from typing import TYPE_CHECKING

import tensorflow as tf

if TYPE_CHECKING:
    from tf_aspmtl.models import MultiTaskClassifier


def task_errors(model: MultiTaskClassifier, dataset: tf.data.Dataset) -> dict[str, float]:
    """Error (%) of every task of ``model`` on ``dataset``: ``100 * (1 - acc_<task>)`` of ``model.evaluate``.

    Args:
        model: compiled MultiTaskClassifier (or any Keras model whose
            ``evaluate(..., return_dict=True)`` logs ``acc_<task>`` for each
            name of its ``task_names``).
        dataset: tf.data.Dataset of labelled rows, e.g. from
            :func:`tf_aspmtl.data.pipeline.make_eval_dataset` (or a distributed one).

    Returns:
        dict mapping each task name, in ``model.task_names`` order, to its error in percent (float).
    """
    logs = model.evaluate(dataset, return_dict=True, verbose=0)
    return {t: 100.0 * (1.0 - float(logs[f"acc_{t}"])) for t in model.task_names}
