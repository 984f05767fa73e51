"""Writes one SavedModel (per task, or multi-task) with ``keras.export.ExportArchive``.

``ExportArchive`` rather than ``tf.saved_model.save`` of a ``tf.Module``: the
latter loaded through the TF2 API but failed in ``saved_model_cli run`` (the
TF1 session loader, TF Serving's path) with "Could not find variable".

Only the layers a graph uses are tracked, so a task's SavedModel holds the
vectorizer's lookup table, the embedding, the shared encoder, that task's
private encoder and the heads' variables (one kernel for all tasks, of which
the graph reads its task's slice), and none of the other tasks' encoders nor
the discriminator. A model that computes its own serving probabilities (an
ensemble, see :mod:`tf_aspmtl.serving`) names its layers itself with
``serving_layers``.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

from tf_aspmtl import serving

TEXT_SPEC = tf.TensorSpec([None], tf.string, name=serving.TEXT_INPUT)
TASK_SPEC = tf.TensorSpec([None], tf.string, name=serving.TASK_INPUT)
SIGNATURE = serving.SIGNATURE_NAME


def used_layers(model, task_index: int | None) -> list:
    """The layers the serving graph of task ``task_index`` (None: every task) reads, to track in the archive.

    A classifier's vectorizer (built here if it was never called), embedding,
    heads, shared encoder and that task's private encoder; for a model with
    ``serving_layers``, what that method returns.
    """
    own = getattr(model, "serving_layers", None)
    if callable(own):
        return list(own(task_index))
    vectorizer = model.preprocessor.text_vectorizer
    if not vectorizer.built:  # never called yet (an untrained model): one call builds it
        vectorizer(tf.constant([""]))
    layers = [vectorizer, model.embedding, model.heads]
    if model.shared_encoder is not None:
        layers.append(model.shared_encoder)
    if model.private_encoders:
        layers += model.private_encoders if task_index is None else [model.private_encoders[task_index]]
    return layers


def write_task_saved_model(
    model, task: str, path: str | os.PathLike, chunk_rows: int | None = serving.DEFAULT_CHUNK_ROWS
) -> None:
    """Writes the SavedModel of one task to ``path``.

    Its ``serving_default`` signature takes ``text`` (tf.string [batch]) and
    returns ``probabilities`` (float32 [batch, num_classes(task)]),
    ``label_id`` (int64 [batch]) and ``label`` (tf.string [batch]).

    Args:
        model: a :class:`~tf_aspmtl.models.MultiTaskClassifier` with a preprocessor.
        task: str. Task name.
        path: str or path. Folder to write (must not hold a SavedModel yet).
        chunk_rows: optional int. Rows per length-sorted chunk in the graph
            (see :func:`tf_aspmtl.serving.task_logits`); None runs each batch as one.
    """
    serving.check_servable(model)
    archive = keras.export.ExportArchive()
    for layer in used_layers(model, model.task_id(task)):
        archive.track(layer)
    archive.add_endpoint(SIGNATURE, serving.task_serving_fn(model, task, chunk_rows), input_signature=[TEXT_SPEC])
    archive.write_out(os.fspath(path), verbose=False)


def write_multitask_saved_model(
    model, path: str | os.PathLike, chunk_rows: int | None = serving.DEFAULT_CHUNK_ROWS
) -> None:
    """Writes the multi-task SavedModel to ``path``.

    Its ``serving_default`` signature takes ``text`` and ``task`` (tf.string
    [batch] each; ``task`` holds task names, rows may mix tasks) and returns
    ``probabilities`` (float32 [batch, max classes], 0 on classes a row's task
    lacks), ``label_id`` and ``label``. ``chunk_rows`` as in :func:`write_task_saved_model`.
    """
    serving.check_servable(model)
    archive = keras.export.ExportArchive()
    for layer in used_layers(model, None):
        archive.track(layer)
    archive.add_endpoint(SIGNATURE, serving.multitask_serving_fn(model, chunk_rows), input_signature=[TEXT_SPEC, TASK_SPEC])
    archive.write_out(os.fspath(path), verbose=False)
