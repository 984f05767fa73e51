"""Serving functions: raw text in, class probabilities, label id and label name out.

:class:`~tf_aspmtl.models.MultiTaskClassifier` picks each row's private
encoder in the graph (``tf.switch_case`` for a one-task batch,
``tf.dynamic_partition`` otherwise). A served model for *one* task needs
none of that: :func:`task_serving_fn` is a plain function of that task's
encoders and its slice of the heads (``kernel[k][:, :C_k]``,
``bias[k][:C_k]``), so the exported graph runs only what the task uses.
:func:`multitask_serving_fn` serves every task from one graph, with the task
given by name per row.

Both return a dict of tensors with the keys of :data:`OUTPUTS`, ready to be a
SavedModel signature (see the ``export`` package).

Other servable objects: anything with ``task_names``, ``num_classes``,
``class_names``, ``task_id`` and a method
``serving_probabilities(texts, task_index, chunk_rows)`` (probabilities
[batch, num_classes(task)] of raw texts of one task) is served the same way,
with the same signature and outputs; :func:`task_probabilities` calls that
method instead of the classifier's arithmetic. To be exported it also lists
the layers its graph uses, ``serving_layers(task_index or None)`` (see
:func:`tf_aspmtl.export.archive.used_layers`), and may describe itself with
``serving_info(is_multitask)``. :class:`~tf_aspmtl.models.MultiTaskEnsemble`
and :class:`~tf_aspmtl.models.SharedPrivateNgramClassifier` are such objects.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from tf_aspmtl.preprocessing.multitask_preprocessor import task_ids_from_names

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


def check_servable(model) -> None:
    """Raises ValueError unless ``model`` can be served from raw text.

    Args:
        model: a :class:`~tf_aspmtl.models.MultiTaskClassifier`, or an object
            with its own ``serving_probabilities`` (see the module docstring).
    """
    if callable(getattr(model, "serving_probabilities", None)):
        for attribute in ("task_names", "num_classes", "class_names", "task_id"):
            if not hasattr(model, attribute):
                raise ValueError(f"Cannot serve a {type(model).__name__}: it has no {attribute!r}.")
        return
    for attribute in ("preprocessor", "embedding", "heads", "task_names", "num_classes", "class_names"):
        if not hasattr(model, attribute):
            raise ValueError(
                f"Cannot serve a {type(model).__name__}: it has no {attribute!r}; "
                "expected a tf_aspmtl MultiTaskClassifier (or one of its families)."
            )
    if model.preprocessor is None:
        raise ValueError(
            f"Model {model.name!r} has no preprocessor, so it cannot take raw text; "
            "build it from a MultiTaskPreprocessor to serve it."
        )


DEFAULT_CHUNK_ROWS = 16
"""Rows per length-sorted chunk of a served batch (see :func:`task_logits`)."""


def task_logits(model, texts: tf.Tensor, task: str | int, chunk_rows: int | None = DEFAULT_CHUNK_ROWS) -> tf.Tensor:
    """Logits [batch, num_classes(task)] of one task for raw texts [batch].

    The same arithmetic as ``model(..., training=False)`` for rows of that
    task, without the task dispatch: shared encoder (if any), the task's
    private encoder (if any), then the task's head.

    A recurrent encoder runs every row of a batch to the batch's longest
    text, so a batch mixing a 20-token and a 200-token review pays 200 steps
    for both. With ``chunk_rows``, the rows are sorted by length and run in
    chunks of ``chunk_rows``, each only as far as its own longest text;
    the logits are put back in the request's order. Each row's logits are
    the same either way (an encoder reads a row's real tokens only).

    Args:
        model: a :class:`~tf_aspmtl.models.MultiTaskClassifier` with a preprocessor.
        texts: tf.string [batch]. Raw texts.
        task: str or int. Task name or id.
        chunk_rows: optional int >= 1. Rows per length-sorted chunk; None runs the batch as one.
    """
    texts = tf.reshape(texts, [-1])
    if chunk_rows is None:
        return model.task_logits(model.preprocessor.text_vectorizer(texts), task)
    if int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows must be >= 1 or None; got {chunk_rows}")
    return _length_sorted_logits(model, model.preprocessor.text_vectorizer(texts), model.task_id(task), int(chunk_rows))


def _length_sorted_logits(model, ids: tf.Tensor, k: int, chunk_rows: int) -> tf.Tensor:
    """``model.task_logits(ids, k)``, computed chunk by chunk of rows sorted by length."""
    classes = model.num_classes[k]
    lengths = tf.reduce_sum(tf.cast(ids != 0, tf.int32), axis=1)
    order = tf.argsort(lengths, direction="DESCENDING", stable=True)
    ids = tf.gather(ids, order)
    lengths = tf.gather(lengths, order)
    rows = tf.shape(ids)[0]
    chunks = (rows + chunk_rows - 1) // chunk_rows

    def body(i, logits):
        start = i * chunk_rows
        end = tf.minimum(start + chunk_rows, rows)
        width = tf.maximum(lengths[start], 1)  # rows are sorted: the chunk's first is its longest
        return i + 1, logits.write(i, model.task_logits(ids[start:end, :width], k))

    parts = tf.TensorArray(tf.float32, size=chunks, infer_shape=False, element_shape=[None, classes])
    _, parts = tf.while_loop(lambda i, _: i < chunks, body, [tf.constant(0), parts], parallel_iterations=2)
    sorted_logits = tf.cond(
        rows > 0, lambda: parts.concat(), lambda: tf.zeros([0, classes], tf.float32)
    )
    return tf.scatter_nd(order[:, None], sorted_logits, [rows, classes])


def task_probabilities(
    model, texts: tf.Tensor, task: str | int, chunk_rows: int | None = DEFAULT_CHUNK_ROWS
) -> tf.Tensor:
    """Probabilities [batch, num_classes(task)] of one task for raw texts [batch].

    ``softmax(task_logits(...))`` for a classifier; a model with its own
    ``serving_probabilities(texts, task_index, chunk_rows)`` (an ensemble)
    computes them itself.

    Args:
        model: a servable model (see :func:`check_servable`).
        texts: tf.string [batch]. Raw texts.
        task: str or int. Task name or id.
        chunk_rows: optional int. See :func:`task_logits`.
    """
    own = getattr(model, "serving_probabilities", None)
    if callable(own):
        return own(tf.reshape(texts, [-1]), model.task_id(task), chunk_rows)
    return tf.nn.softmax(task_logits(model, texts, task, chunk_rows))


def _outputs(probabilities: tf.Tensor, names: tf.Tensor) -> dict[str, tf.Tensor]:
    label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
    return {PROBABILITIES: probabilities, LABEL_ID: label_id, LABEL: tf.gather(names, label_id)}


def task_serving_fn(
    model, task: str | int, chunk_rows: int | None = DEFAULT_CHUNK_ROWS
) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
    """The serving function of one task: ``fn(text) -> {probabilities, label_id, label}``.

    Args:
        model: a :class:`~tf_aspmtl.models.MultiTaskClassifier` with a preprocessor.
        task: str or int. Task name or id.
        chunk_rows: optional int. See :func:`task_logits`.

    Returns:
        A Python function of one tf.string [batch] tensor returning
        ``probabilities`` float32 [batch, num_classes(task)], ``label_id``
        int64 [batch] and ``label`` tf.string [batch] (the class name).
        Wrap it in a ``tf.function`` with a ``[None]`` tf.string signature to export it.

    Example:
    >>> fn = tf.function(task_serving_fn(model, "books"),
    ...                  input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    >>> fn(tf.constant(["a gripping story"]))["label"]
    <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'1'], dtype=object)>
    """
    check_servable(model)
    k = model.task_id(task)
    class_names = list(model.class_names[k])

    def serve(text: tf.Tensor) -> dict[str, tf.Tensor]:
        probabilities = task_probabilities(model, text, k, chunk_rows)
        return _outputs(probabilities, tf.constant(class_names, tf.string))

    serve.__name__ = f"serve_{model.task_names[k]}"
    return serve


def multitask_serving_fn(
    model, chunk_rows: int | None = DEFAULT_CHUNK_ROWS
) -> Callable[[tf.Tensor, tf.Tensor], dict[str, tf.Tensor]]:
    """The serving function of all tasks: ``fn(text, task) -> {probabilities, label_id, label}``.

    ``task`` holds each row's task *name* (tf.string [batch]); rows may mix
    tasks. Rows are grouped by task, each group runs through
    :func:`task_logits` of its task, and the results are put back in order.
    ``probabilities`` is [batch, max(num_classes)], 0 on classes a row's task
    does not have. An unknown task name fails the request with an
    InvalidArgument error that lists the known names.

    Args:
        model: a :class:`~tf_aspmtl.models.MultiTaskClassifier` with a preprocessor.
        chunk_rows: optional int. See :func:`task_logits`.
    """
    check_servable(model)
    task_names = list(model.task_names)
    num_tasks = len(task_names)
    max_classes = max(model.num_classes)
    padded_names = [list(n) + [""] * (max_classes - len(n)) for n in model.class_names]

    def serve(text: tf.Tensor, task: tf.Tensor) -> dict[str, tf.Tensor]:
        text = tf.reshape(text, [-1])
        task_ids = task_ids_from_names(task_names, task)
        tf.debugging.assert_equal(
            tf.size(text), tf.size(task_ids), message="'text' and 'task' must have the same length"
        )
        rows = tf.dynamic_partition(tf.range(tf.size(text)), task_ids, num_tasks)
        texts = tf.dynamic_partition(text, task_ids, num_tasks)
        parts = []
        for k in range(num_tasks):
            probs = task_probabilities(model, texts[k], k, chunk_rows)
            parts.append(tf.pad(probs, [[0, 0], [0, max_classes - model.num_classes[k]]]))
        probabilities = tf.dynamic_stitch(rows, parts)
        probabilities = tf.reshape(probabilities, [-1, max_classes])
        label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        names = tf.constant(padded_names, tf.string)
        label = tf.gather_nd(names, tf.stack([tf.cast(task_ids, tf.int64), label_id], axis=1))
        return {PROBABILITIES: probabilities, LABEL_ID: label_id, LABEL: label}

    serve.__name__ = "serve_multitask"
    return serve
