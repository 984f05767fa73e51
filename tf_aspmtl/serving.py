"""Serving functions: raw text in, class probabilities, label id and label name out.

Every model kind is a :class:`~tf_aspmtl.models.Task`, and serves a task
through the one method of the Task interface that says how:
``model.serving_function(task_index, chunk_rows)``, which gives that task's
computation from raw texts to probabilities and the layers it reads. A
served model of *one* task (:func:`task_serving_fn`) runs only what that
task uses (for a classifier: the shared encoder, the task's private encoder
and its slice of the heads); :func:`multitask_serving_fn` serves every task
from one graph, with the task given by name per row.

Both return a function of tensors giving a dict with the keys of
:data:`OUTPUTS`, ready to be a SavedModel signature (see the ``export``
package); the function's ``layers`` attribute lists the layers it reads.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from tf_aspmtl.models.task import Task
from tf_aspmtl.preprocessing.task_preprocessor import task_ids_from_names

SIGNATURE_NAME = "serving_default"
"""The signature TF Serving calls when a request names none."""
TEXT_INPUT = "text"
"""Name of the raw-text input of every serving signature: tf.string [batch]."""
TASK_INPUT = "task"
"""Name of the task input of the multi-task signature: tf.string [batch] task names."""
PROBABILITIES = "probabilities"
LABEL_ID = "label_id"
LABEL = "label"
OUTPUTS = (PROBABILITIES, LABEL_ID, LABEL)
"""Output names: probabilities float32 [batch, classes], label_id int64 [batch], label tf.string [batch]."""
DEFAULT_CHUNK_ROWS = 16
"""Rows per length-sorted chunk of a served batch (see :func:`tf_aspmtl.models.length_sorted_chunks.length_sorted_map`)."""


def check_servable(model) -> None:
    """Raises ValueError unless ``model`` is a :class:`~tf_aspmtl.models.Task` (every model kind of the library)."""
    if not isinstance(model, Task):
        raise ValueError(f"Cannot serve a {type(model).__name__}: expected a tf_aspmtl model (a Task: "
                         "MultiTaskClassifier or a family, SharedPrivateNgramClassifier, MultiTaskEnsemble).")


def _apply_temperatures(model: Task, probabilities: tf.Tensor, task_ids: tf.Tensor, calibrated: bool) -> tf.Tensor:
    """``probabilities`` scaled by each row's task's temperature when ``calibrated`` and the model has them
    (:meth:`~tf_aspmtl.models.Task.calibrate_probabilities`); as they are otherwise."""
    if calibrated and model.temperatures is not None:
        return model.calibrate_probabilities(probabilities, task_ids)
    return probabilities


def _one_task_probabilities(model: Task, served, task_index: int, texts: tf.Tensor, calibrated: bool) -> tf.Tensor:
    probabilities = served.probabilities(tf.reshape(texts, [-1]))
    return _apply_temperatures(model, probabilities, tf.fill(tf.shape(probabilities)[:1], task_index), calibrated)


def task_probabilities(model: Task, texts: tf.Tensor, task: str | int,
                       chunk_rows: int | None = DEFAULT_CHUNK_ROWS, calibrated: bool = True) -> tf.Tensor:
    """Probabilities [batch, num_classes(task)] of one task for raw texts [batch] (``model.serving_function``).

    The same probabilities as the task's serving function (:func:`task_serving_fn`) and as
    ``model.predict`` on that task's rows.

    Args:
        model: a :class:`~tf_aspmtl.models.Task`.
        texts: tf.string tensor of raw texts, reshaped to [batch].
        task: str or int. Task name or id.
        chunk_rows: optional int. See :func:`task_serving_fn`.
        calibrated: bool. Scale the probabilities by the task's temperature when the model has them
            (:meth:`~tf_aspmtl.models.Task.calibrate` or ``set_temperatures``), as ``predict`` and the
            exported graphs do; False gives the model's raw probabilities.
    """
    check_servable(model)
    k = model.task_id(task)
    return _one_task_probabilities(model, model.serving_function(k, chunk_rows), k, texts, calibrated)


def _outputs(probabilities: tf.Tensor, names: tf.Tensor) -> dict[str, tf.Tensor]:
    label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
    return {PROBABILITIES: probabilities, LABEL_ID: label_id, LABEL: tf.gather(names, label_id)}


def _unique(layers) -> tuple:
    seen, out = set(), []
    for layer in layers:
        if id(layer) not in seen:
            seen.add(id(layer))
            out.append(layer)
    return tuple(out)


def task_serving_fn(
    model: Task, task: str | int, chunk_rows: int | None = DEFAULT_CHUNK_ROWS, calibrated: bool = True
) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
    """The serving function of one task: ``fn(text) -> {probabilities, label_id, label}``.

    Args:
        model: a :class:`~tf_aspmtl.models.Task`.
        task: str or int. Task name or id.
        chunk_rows: optional int. Rows per length-sorted chunk (for encoders whose cost grows with length);
            None runs each batch as one.
        calibrated: bool. Scale the probabilities by the task's temperature when the model has them
            (:meth:`~tf_aspmtl.models.Task.calibrate`); the label is the same either way.

    Returns:
        A Python function of one tf.string [batch] tensor returning
        ``probabilities`` float32 [batch, num_classes(task)], ``label_id``
        int64 [batch] and ``label`` tf.string [batch] (the class name); its
        ``layers`` attribute lists the layers it reads. Wrap it in a
        ``tf.function`` with a ``[None]`` tf.string signature to export it.

    Example:
    >>> import pandas as pd
    >>> import tf_aspmtl
    >>> train = pd.DataFrame({"text": ["a gripping story", "a dull plot", "sharp photos", "blurry photos"],
    ...                       "task": ["books", "books", "camera", "camera"],
    ...                       "label": ["positive", "negative", "positive", "negative"]})
    >>> pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(train, max_length=8)
    >>> model = tf_aspmtl.AdversarialSharedPrivateMTL(pre, embedding_dim=4, hidden_dim=4, word_vectors="random")
    >>> fn = tf.function(task_serving_fn(model, "books"),
    ...                  input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    >>> fn(tf.constant(["a gripping story"]))["label"]  # this model is untrained: either class
    <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'...'], dtype=object)>
    """
    check_servable(model)
    k = model.task_id(task)
    served = model.serving_function(k, chunk_rows)
    class_names = list(model.class_names[k])

    def serve(text: tf.Tensor) -> dict[str, tf.Tensor]:
        probabilities = _one_task_probabilities(model, served, k, text, calibrated)
        return _outputs(probabilities, tf.constant(class_names, tf.string))

    serve.__name__ = f"serve_{model.task_names[k]}"
    serve.layers = _unique(served.layers)
    return serve


def multitask_serving_fn(
    model: Task, chunk_rows: int | None = DEFAULT_CHUNK_ROWS, calibrated: bool = True
) -> Callable[[tf.Tensor, tf.Tensor], dict[str, tf.Tensor]]:
    """The serving function of all tasks: ``fn(text, task) -> {probabilities, label_id, label}``.

    ``task`` holds each row's task *name* (tf.string [batch]); rows may mix
    tasks. Rows are grouped by task, each group runs through its task's
    serving function, and the results are put back in order.
    ``probabilities`` is [batch, max(num_classes)], 0 on classes a row's task
    does not have. An unknown task name fails the request with an
    InvalidArgument error that lists the known names. The function's
    ``layers`` attribute lists the layers it reads.

    Args:
        model: a :class:`~tf_aspmtl.models.Task`.
        chunk_rows: optional int. See :func:`task_serving_fn`.
        calibrated: bool. See :func:`task_serving_fn`.
    """
    check_servable(model)
    task_names = list(model.task_names)
    num_tasks = len(task_names)
    max_classes = max(model.num_classes)
    padded_names = [list(n) + [""] * (max_classes - len(n)) for n in model.class_names]
    served = [model.serving_function(k, chunk_rows) for k in range(num_tasks)]

    def serve(text: tf.Tensor, task: tf.Tensor) -> dict[str, tf.Tensor]:
        text = tf.reshape(text, [-1])
        task_ids = task_ids_from_names(task_names, task)
        same_length = tf.debugging.assert_equal(
            tf.size(text), tf.size(task_ids), message="'text' and 'task' must have the same length"
        )
        with tf.control_dependencies([same_length]):  # in a graph, checked before the partitions need it
            rows = tf.dynamic_partition(tf.range(tf.size(text)), task_ids, num_tasks)
            texts = tf.dynamic_partition(text, task_ids, num_tasks)
        parts = []
        for k in range(num_tasks):
            probs = served[k].probabilities(texts[k])
            parts.append(tf.pad(probs, [[0, 0], [0, max_classes - model.num_classes[k]]]))
        probabilities = tf.dynamic_stitch(rows, parts)
        probabilities = tf.reshape(probabilities, [-1, max_classes])
        probabilities = _apply_temperatures(model, probabilities, task_ids, calibrated)
        label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        names = tf.constant(padded_names, tf.string)
        label = tf.gather_nd(names, tf.stack([tf.cast(task_ids, tf.int64), label_id], axis=1))
        return {PROBABILITIES: probabilities, LABEL_ID: label_id, LABEL: label}

    serve.__name__ = "serve_multitask"
    serve.layers = _unique(layer for part in served for layer in part.layers)
    return serve
