"""The serving helpers of raw text: ``task_probabilities`` applies the task's temperature as the served graph and
``predict`` do, and the multi-task graph names a 'text'/'task' length mismatch in either direction."""

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tf_aspmtl
from tf_aspmtl.serving import multitask_serving_fn, task_probabilities, task_serving_fn

TRAIN = pd.DataFrame({"text": ["a gripping story", "a dull plot", "sharp photos", "blurry photos"],
                      "task": ["books", "books", "camera", "camera"],
                      "label": ["positive", "negative", "positive", "negative"]})
TEXTS = ["a gripping story", "blurry", "a dull plot about photos"]
TEMPERATURES = [2.0, 0.5]
STRINGS = tf.TensorSpec([None], tf.string)


@pytest.fixture(scope="module")
def model():
    """An untrained two-task model (random weights) whose temperatures are set: books 2, camera 0.5."""
    keras.utils.set_random_seed(0)
    preprocessor = tf_aspmtl.MultiTaskPreprocessor.from_frame(TRAIN, max_length=8)
    m = tf_aspmtl.AdversarialSharedPrivateMTL(preprocessor, embedding_dim=4, hidden_dim=4, word_vectors="random")
    m.set_temperatures(TEMPERATURES)
    return m


@pytest.mark.parametrize("task", ["camera", 0])
def test_task_probabilities_apply_the_temperature_as_serving_and_predict_do(model, task):
    k = model.task_id(task)
    served = tf.function(task_serving_fn(model, task), input_signature=[STRINGS])(tf.constant(TEXTS))
    predicted = model.predict({"text": TEXTS, "task": [model.task_names[k]] * len(TEXTS)}, verbose=0)
    raw = model.predict({"text": TEXTS, "task": [model.task_names[k]] * len(TEXTS)}, verbose=0, calibrated=False)
    assert not np.allclose(predicted, raw, atol=1e-4)  # the temperatures make a difference here

    probabilities = task_probabilities(model, tf.constant(TEXTS), task)
    np.testing.assert_allclose(probabilities, served["probabilities"], atol=1e-6)
    np.testing.assert_allclose(probabilities, predicted[:, :model.num_classes[k]], atol=1e-6)
    in_graph = tf.function(lambda t: task_probabilities(model, t, task), input_signature=[STRINGS])
    np.testing.assert_allclose(in_graph(tf.constant(TEXTS)), probabilities, atol=1e-6)

    uncalibrated = task_probabilities(model, tf.constant(TEXTS), task, calibrated=False)
    np.testing.assert_allclose(uncalibrated, raw[:, :model.num_classes[k]], atol=1e-6)
    unscaled_serving = task_serving_fn(model, task, calibrated=False)(tf.constant(TEXTS))
    np.testing.assert_allclose(uncalibrated, unscaled_serving["probabilities"], atol=1e-6)


def test_multitask_rows_equal_each_tasks_calibrated_probabilities(model):
    serve = tf.function(multitask_serving_fn(model), input_signature=[STRINGS, STRINGS])
    tasks = ["camera", "books", "camera"]
    out = serve(tf.constant(TEXTS), tf.constant(tasks))
    for row, (text, task) in enumerate(zip(TEXTS, tasks)):
        np.testing.assert_allclose(out["probabilities"][row], task_probabilities(model, tf.constant([text]), task)[0],
                                   atol=1e-6)


def test_multitask_graph_checks_the_lengths_before_partitioning(model):
    """Unless the partitions wait for the length check, which op fails first is a race: a mismatch can surface as
    DynamicPartition's "data.shape must start with partitions.shape" instead of the named message."""
    graph = tf.function(multitask_serving_fn(model)).get_concrete_function(STRINGS, STRINGS).graph
    partitions = [op for op in graph.get_operations() if op.type == "DynamicPartition"]
    assert len(partitions) == 2
    for op in partitions:
        checks = [a for a in _ancestors(op) if a.type == "Assert" and a.name.startswith("assert_equal")]
        assert checks, f"{op.name} may run before the 'text'/'task' length check (not one of its dependencies)"


def _ancestors(op: tf.Operation) -> set[tf.Operation]:
    """Every op ``op`` waits for: its inputs' ops and control inputs, transitively."""
    seen, stack = set(), [op]
    while stack:
        current = stack.pop()
        for parent in [t.op for t in current.inputs] + list(current.control_inputs):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


@pytest.mark.parametrize("num_texts, num_tasks", [(2, 3), (3, 2)])
def test_multitask_graph_names_a_length_mismatch_in_either_direction(model, num_texts, num_tasks):
    serve = tf.function(multitask_serving_fn(model), input_signature=[STRINGS, STRINGS])
    texts = tf.constant(["a gripping story"] * num_texts, tf.string)
    tasks = tf.constant(["books"] * num_tasks, tf.string)
    for _ in range(10):  # the ops' order was a race: every call must name the mismatch
        # The graph's message quotes 'text' and 'task' with escaped quotes.
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"text\W+ and \W+task\W+ must have the same length"):
            serve(texts, tasks)
