"""Checks every Keras layer of the library should pass, after keras-hub's ``TestCase.run_layer_test``.

``run_layer_test(layer, inputs)`` takes a layer that has been called (or
can be called) on ``inputs`` and checks that

* ``from_config(get_config())`` (through JSON) rebuilds a layer with the
  same config which, given the same weights, gives the same outputs, and
  that the class is registered, so ``keras.layers.deserialize`` finds it;
* calling it inside ``tf.data.Dataset.map`` gives the outputs of calling it
  directly;
* the outputs of the batch are the outputs of its rows, one at a time
  (``batch_consistent=False`` for a layer where they cannot be);
* a tiny ``keras.Model`` around it, saved to ``.keras`` and loaded with
  ``keras.models.load_model(path, safe_mode=True)``, gives the same outputs;
* under the global ``"mixed_float16"`` policy, and with
  ``dtype="mixed_bfloat16"`` on the layer alone, the output and every
  sub-layer have the policy's compute dtype, the variables stay float32, the
  outputs do not overflow and are close to the float32 ones (``mixed_precision=False`` for a
  layer no float policy applies to). The global policy is restored in a
  ``finally``.

``inputs`` is a tensor (the one positional argument) or a dict of tensors
passed as keyword arguments (``{"embedded": x, "mask": mask}``).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import tensorflow as tf


def call_layer(layer, inputs):
    """Calls ``layer`` on a tensor, or on a dict of tensors as keyword arguments."""
    if isinstance(inputs, dict):
        return layer(**inputs)
    return layer(inputs)


def assert_same_outputs(actual, expected, atol=1e-6, rtol=1e-6, what=""):
    """Same dtype and shape; floats equal within the tolerance, anything else exactly (each of a tuple's outputs)."""
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list)) and len(actual) == len(expected), f"{what}: {len(expected)} outputs"
        for k, (a, e) in enumerate(zip(actual, expected)):
            assert_same_outputs(a, e, atol, rtol, f"{what} [output {k}]")
        return
    actual = tf.convert_to_tensor(actual)
    expected = tf.convert_to_tensor(expected)
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype.name} != {expected.dtype.name}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if expected.dtype.is_floating:
        np.testing.assert_allclose(actual.numpy(), expected.numpy(), atol=atol, rtol=rtol, err_msg=what)
    else:
        np.testing.assert_array_equal(actual.numpy(), expected.numpy(), err_msg=what)


def check_config_round_trip(layer, inputs, expected, atol=1e-6, rtol=1e-6):
    config = json.loads(json.dumps(layer.get_config()))  # the config must be JSON-safe
    clone = type(layer).from_config(config)
    call_layer(clone, inputs)  # builds it
    clone.set_weights(layer.get_weights())
    assert json.loads(json.dumps(clone.get_config())) == config
    assert_same_outputs(call_layer(clone, inputs), expected, atol, rtol, "from_config(get_config())")

    registered = keras.saving.get_registered_name(type(layer))
    assert registered.startswith("tf_aspmtl>"), f"{type(layer).__name__} is not registered: {registered}"
    serialized = json.loads(json.dumps(keras.layers.serialize(layer)))
    assert type(keras.saving.deserialize_keras_object(serialized, safe_mode=True)) is type(layer)


def check_tf_data(layer, inputs, expected, atol=1e-6, rtol=1e-6):
    dataset = tf.data.Dataset.from_tensors(inputs).map(lambda x: call_layer(layer, x))
    assert_same_outputs(next(iter(dataset)), expected, atol, rtol, "inside tf.data.Dataset.map")


def _row(t, i):
    """Row ``i`` of a dense or sparse tensor, as a batch of one."""
    if isinstance(t, tf.SparseTensor):
        return tf.sparse.slice(t, [i, 0], [1, t.dense_shape[1]])
    return t[i : i + 1]


def check_batch_consistency(layer, inputs, expected, atol=1e-6, rtol=1e-6):
    rows = [
        call_layer(layer, tf.nest.map_structure(lambda t: _row(t, i), inputs))
        for i in range(int(expected.shape[0]))
    ]
    assert_same_outputs(tf.concat(rows, axis=0), expected, atol, rtol, "batch vs rows one at a time")


def _symbolic(inputs):
    def spec(name, t):
        return keras.Input(shape=tuple(t.shape[1:]), dtype=t.dtype.name, name=name,
                           sparse=isinstance(t, tf.SparseTensor))

    if isinstance(inputs, dict):
        return {name: spec(name, t) for name, t in inputs.items()}
    return spec("inputs", inputs)


def check_keras_file_round_trip(layer, inputs, expected, directory, atol=1e-6, rtol=1e-6):
    symbolic = _symbolic(inputs)
    model = keras.Model(symbolic, call_layer(layer, symbolic))
    assert_same_outputs(model(inputs), expected, atol, rtol, "inside a keras.Model")
    path = Path(directory) / f"{layer.name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    assert type(loaded.get_layer(layer.name)) is type(layer)
    assert_same_outputs(loaded(inputs), expected, atol, rtol, ".keras save and load_model(safe_mode=True)")


def _check_policy(layer, inputs, expected, weights, policy, compute_dtype, atol, output_fn):
    out = call_layer(layer, inputs)
    assert layer.compute_dtype == compute_dtype, f"{policy}: compute_dtype {layer.compute_dtype}"
    for sub in layer._flatten_layers(include_self=True, recursive=True):
        assert sub.compute_dtype == compute_dtype, f"{policy}: sub-layer {sub.name} computes in {sub.compute_dtype}"
    for variable in layer.weights:
        assert variable.dtype == "float32", f"{policy}: variable {variable.path} is {variable.dtype}"
    assert out.dtype == compute_dtype, f"{policy}: output dtype {out.dtype.name}, compute dtype {compute_dtype}"
    # With the float32 layer's weights it is the same function, rounded: no overflow, close outputs.
    layer.set_weights(weights)
    out = tf.cast(call_layer(layer, inputs), tf.float32)
    finite = np.isfinite(expected.numpy())
    assert np.isfinite(out.numpy())[finite].all(), f"{policy}: overflow to inf or nan"
    out, expected = output_fn(out), output_fn(expected)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=atol, rtol=atol, err_msg=policy)


def check_mixed_precision(layer, inputs, expected, atol=5e-2, output_fn: Callable | None = None):
    """Global "mixed_float16", then dtype="mixed_bfloat16" on the layer alone under a float32 global policy."""
    output_fn = output_fn or (lambda x: x)
    expected = tf.cast(expected, tf.float32)
    weights = layer.get_weights()
    config = layer.get_config()
    config.pop("dtype", None)  # takes the global policy
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        mixed = type(layer).from_config(config)
        _check_policy(mixed, inputs, expected, weights, "global mixed_float16", "float16", atol, output_fn)
    finally:
        keras.config.set_dtype_policy(previous)
    # The layer's own policy, which its sub-layers must follow although the global one is float32.
    mixed = type(layer).from_config({**config, "dtype": "mixed_bfloat16"})
    _check_policy(mixed, inputs, expected, weights, "layer dtype mixed_bfloat16", "bfloat16", atol, output_fn)


def run_layer_test(
    layer,
    inputs,
    *,
    batch_consistent: bool = True,
    mixed_precision: bool = True,
    atol: float = 1e-6,
    rtol: float = 1e-6,
    mixed_atol: float = 5e-2,
    mixed_output_fn: Callable | None = None,
    directory: str | Path | None = None,
):
    """Runs every check above on ``layer`` and ``inputs``; returns the layer's outputs.

    Args:
        layer: a Keras layer (built or not) whose dtype policy is float32.
        inputs: a tensor, or a dict of tensors passed as keyword arguments.
        batch_consistent: whether a row's output may be compared with its
            row in the batch's output (False if it depends on the other
            rows, e.g. on the longest text).
        mixed_precision: whether a float dtype policy applies to the layer.
        atol, rtol: tolerance of the float32 comparisons.
        mixed_atol: absolute and relative tolerance of mixed precision
            against float32.
        mixed_output_fn: applied to both outputs before that comparison
            (e.g. ``tf.nn.softmax`` for logits whose masked entries differ).
        directory: where to write the ``.keras`` file (a temporary folder
            by default).
    """
    assert keras.config.dtype_policy().name == "float32", "run the harness under the float32 global policy"
    expected = call_layer(layer, inputs)
    check_config_round_trip(layer, inputs, expected, atol, rtol)
    check_tf_data(layer, inputs, expected, atol, rtol)
    if batch_consistent:
        check_batch_consistency(layer, inputs, expected, atol, rtol)
    if directory is None:
        with tempfile.TemporaryDirectory() as tmp:
            check_keras_file_round_trip(layer, inputs, expected, tmp, atol, rtol)
    else:
        check_keras_file_round_trip(layer, inputs, expected, directory, atol, rtol)
    if mixed_precision:
        check_mixed_precision(layer, inputs, expected, mixed_atol, mixed_output_fn)
    return expected
