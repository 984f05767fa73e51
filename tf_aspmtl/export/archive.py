"""Writes one SavedModel (per task, or multi-task) with ``keras.export.ExportArchive``.

``ExportArchive`` rather than ``tf.saved_model.save`` of a ``tf.Module``: the
latter loaded through the TF2 API but failed in ``saved_model_cli run`` (the
TF1 session loader, TF Serving's path) with "Could not find variable".

Only the layers a graph reads are tracked (the serving function's
``layers``, from the model's ``serving_function``), so a classifier's task
SavedModel holds the vectorizer's lookup table, the embedding, the shared
encoder, that task's private encoder and the heads' variables, and none of
the other tasks' encoders nor the discriminator.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from tf_aspmtl import serving
from tf_aspmtl.layers.fused_lstm import frozen_lstm_weights

TEXT_SPEC = tf.TensorSpec([None], tf.string, name=serving.TEXT_INPUT)
TASK_SPEC = tf.TensorSpec([None], tf.string, name=serving.TASK_INPUT)
SIGNATURE = serving.SIGNATURE_NAME


def write_task_saved_model(
    model, task: str, path: str | os.PathLike, chunk_rows: int | None = serving.DEFAULT_CHUNK_ROWS,
    calibrated: bool = True,
) -> None:
    """Writes the SavedModel of one task to ``path``.

    Its ``serving_default`` signature takes ``text`` (tf.string [batch]) and
    returns ``probabilities`` (float32 [batch, num_classes(task)]),
    ``label_id`` (int64 [batch]) and ``label`` (tf.string [batch]).

    Args:
        model: a :class:`~tf_aspmtl.models.Task`.
        task: str. Task name.
        path: str or path. Folder to write (must not hold a SavedModel yet).
        chunk_rows: optional int. Rows per length-sorted chunk in the graph
            (see :func:`tf_aspmtl.serving.task_serving_fn`); None runs each batch as one.
    """
    serve = serving.task_serving_fn(model, task, chunk_rows, calibrated)
    archive = keras.export.ExportArchive()
    for layer in serve.layers:
        archive.track(layer)
    with frozen_lstm_weights(model):  # traced (and saved) with the LSTMs' weights as constants
        archive.add_endpoint(SIGNATURE, serve, input_signature=[TEXT_SPEC])
        archive.write_out(os.fspath(path), verbose=False)


def write_multitask_saved_model(
    model, path: str | os.PathLike, chunk_rows: int | None = serving.DEFAULT_CHUNK_ROWS, calibrated: bool = True
) -> None:
    """Writes the multi-task SavedModel to ``path``.

    Its ``serving_default`` signature takes ``text`` and ``task`` (tf.string
    [batch] each; ``task`` holds task names, rows may mix tasks) and returns
    ``probabilities`` (float32 [batch, max classes], 0 on classes a row's task
    lacks), ``label_id`` and ``label``. ``chunk_rows`` as in :func:`write_task_saved_model`.
    """
    serve = serving.multitask_serving_fn(model, chunk_rows, calibrated)
    archive = keras.export.ExportArchive()
    for layer in serve.layers:
        archive.track(layer)
    with frozen_lstm_weights(model):  # traced (and saved) with the LSTMs' weights as constants
        archive.add_endpoint(SIGNATURE, serve, input_signature=[TEXT_SPEC, TASK_SPEC])
        archive.write_out(os.fspath(path), verbose=False)
