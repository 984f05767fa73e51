"""Writes one SavedModel (per task, or multi-task): one traced signature, the variables and tables it reads.

The serving function is traced once, and the SavedModel's root holds only
the layers that trace uses (the serving function's ``layers``, from the
model's ``serving_function``): their variables (the LSTMs' too, which the
graph reads as constants), the variables the trace captures, and their
lookup tables. So a classifier's task SavedModel holds the
vectorizer's tables, the embedding, the shared encoder, that task's private
encoder and the heads' variables, and none of the other tasks' encoders nor
the discriminator.

Not ``keras.export.ExportArchive``: it traces an endpoint twice (once to
list its variables, again inside ``tf.saved_model.save``, whose save context
is part of the trace cache's key), a second or more a task for an LSTM
model. The variables are held by the root, not left to the function's
captures: untracked, the TF1 session loader (``saved_model_cli run``, TF
Serving's path) fails with "Could not find variable".
"""

from __future__ import annotations

import os

import tensorflow as tf
from tensorflow.saved_model.experimental import TrackableResource

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
    with frozen_lstm_weights(model):  # traced (and saved) with the LSTMs' weights as constants
        _save(serving.task_serving_fn(model, task, chunk_rows, calibrated), [TEXT_SPEC], path)


def write_multitask_saved_model(
    model, path: str | os.PathLike, chunk_rows: int | None = serving.DEFAULT_CHUNK_ROWS, calibrated: bool = True
) -> None:
    """Writes the multi-task SavedModel to ``path``.

    Its ``serving_default`` signature takes ``text`` and ``task`` (tf.string
    [batch] each; ``task`` holds task names, rows may mix tasks) and returns
    ``probabilities`` (float32 [batch, max classes], 0 on classes a row's task
    lacks), ``label_id`` and ``label``. ``chunk_rows`` as in :func:`write_task_saved_model`.
    """
    with frozen_lstm_weights(model):  # traced (and saved) with the LSTMs' weights as constants
        _save(serving.multitask_serving_fn(model, chunk_rows, calibrated), [TEXT_SPEC, TASK_SPEC], path)


def _save(serve, input_signature: list[tf.TensorSpec], path: str | os.PathLike) -> None:
    """Traces ``serve`` once for ``input_signature`` and saves it as the only signature, with what it reads."""
    traced = tf.function(serve, autograph=False).get_concrete_function(*input_signature)
    root = tf.__internal__.tracking.AutoTrackable()  # as ExportArchive's root: loaded, ``.variables`` lists them
    root.variables = [v for layer in serve.layers for v in layer.variables]  # LSTM weights too (read as constants)
    root.variables_read = list(traced.variables)  # what the graph reads, whatever holds it
    root.tables = _tables(serve.layers)
    tf.saved_model.save(root, os.fspath(path), signatures={SIGNATURE: traced})


def _tables(layers) -> list[TrackableResource]:
    """The lookup tables (and other resources) held by ``layers`` and their sublayers, each once."""
    found = []
    for layer in layers:
        for item in tf.train.TrackableView(layer).descendants():
            if isinstance(item, TrackableResource) and all(item is not seen for seen in found):
                found.append(item)
    return found
