"""What model a run folder holds, as short hashes that a resumed run compares with its own model."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import keras


def _strip_layer_names(value: Any) -> Any:
    """``value`` without the ``name`` of any layer or model config in it.

    Keras numbers the names it makes up (``dense``, ``dense_1``, ``input_layer_1``...) in the order a process
    builds layers, so the same model built second in a process has other names; they say nothing about the model.
    A layer's config is told apart from other dicts with a ``name`` (a dtype policy's, which does matter) by its
    ``trainable`` key, or, for an ``InputLayer`` (whose config has none), by the ``class_name`` of the serialized
    layer that holds it. The layers of a functional model's config are named in its graph (each layer's entry,
    the ``keras_history`` of its inputs, ``input_layers`` and ``output_layers``): there each name becomes the
    layer's position in ``layers`` (:func:`_number_functional_layers`), so the graph is kept, its names not.
    """
    if isinstance(value, dict):
        value = _number_functional_layers(value)
        drop_name = "trainable" in value
        stripped = {k: _strip_layer_names(v) for k, v in value.items() if not (drop_name and k == "name")}
        if stripped.get("class_name") == "InputLayer" and isinstance(stripped.get("config"), dict):
            stripped["config"] = {k: v for k, v in stripped["config"].items() if k != "name"}
        return stripped
    if isinstance(value, (list, tuple)):
        return [_strip_layer_names(v) for v in value]
    return value


def _number_functional_layers(config: dict) -> dict:
    """A functional model's ``config`` with each of its layers' names replaced by ``"#<position in layers>"``
    wherever its graph names them; any other dict as it is. A nested model's graph is its own (its call renames
    its layers)."""
    layers = config.get("layers")
    if not (isinstance(layers, list) and "input_layers" in config and "output_layers" in config):
        return config
    numbers = {entry["name"]: f"#{i}" for i, entry in enumerate(layers)
               if isinstance(entry, dict) and isinstance(entry.get("name"), str)}

    def reference(value: Any) -> Any:
        """``[layer name, node index, tensor index]`` with the layer's number; a nest of them, each so."""
        if isinstance(value, (list, tuple)) and len(value) == 3 and isinstance(value[0], str) and all(
                isinstance(v, int) for v in value[1:]):
            return [numbers.get(value[0], value[0]), *value[1:]]
        if isinstance(value, (list, tuple)):
            return [reference(v) for v in value]
        if isinstance(value, dict):
            return {k: reference(v) for k, v in value.items()}
        return value

    def histories(value: Any) -> Any:
        """An ``inbound_nodes`` nest with every ``keras_history`` (the layer that made an input) renamed."""
        if isinstance(value, dict):
            return {k: reference(v) if k == "keras_history" else histories(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [histories(v) for v in value]
        return value

    entries = []
    for entry in layers:
        if isinstance(entry, dict) and entry.get("name") in numbers:
            entry = {**entry, "name": numbers[entry["name"]]}
            if "inbound_nodes" in entry:
                entry["inbound_nodes"] = histories(entry["inbound_nodes"])
        entries.append(entry)
    return {**config, "layers": entries, "input_layers": reference(config["input_layers"]),
            "output_layers": reference(config["output_layers"])}


def _strip_build_configs(value: Any) -> Any:
    """``value`` without the ``build_config`` of any serialized object in it.

    Keras records in a layer's ``build_config`` the input shape of the call
    that built it, batch size included: a
    :class:`~tf_aspmtl.preprocessing.TextVectorizer` first called on a task's
    1,400 training rows has ``{"input_shape": [1400]}``. A vectorizer shared
    by the models a process trains one after another (the single-task family's
    groups) is built by the first of them, so the same model had another hash
    in a process that started at a later group (a resumed run) and its folder
    was refused. What the weights are is in ``weight_shapes``; a build
    shape says nothing more about the model.
    """
    if isinstance(value, dict):
        serialized = "class_name" in value and "config" in value
        return {k: _strip_build_configs(v) for k, v in value.items() if not (serialized and k == "build_config")}
    if isinstance(value, (list, tuple)):
        return [_strip_build_configs(v) for v in value]
    return value


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def model_fingerprint(model: keras.Model, keep_build_configs: bool = False) -> dict[str, str]:
    """Short hashes of what defines ``model``: each field of its config, and its weight shapes.

    Two models built from the same arguments have the same fingerprint in any
    process; a different hidden size, seed, encoder, task list, vocabulary...
    changes the hash of that config field, so a resumed run can name what
    differs. ``weight_shapes`` is there for models whose config does not say
    everything (a subclass without ``get_config``); it alone would not tell
    apart two models of the same shapes, such as two seeds.

    Args:
        model: a built Keras model (its weights exist).
        keep_build_configs: bool. Hash the layers' ``build_config`` too, as
            versions before build configs were left out did (they depend on
            the batch that first called a layer): the record of a folder
            such a version wrote, which
            :class:`~tf_aspmtl.training.dev_selection.DevSelection` still accepts.

    Returns:
        dict from ``config.<field>`` (one per field of ``model.get_config()``,
        layer names and build configs left out) and ``weight_shapes`` to a
        16-hex-digit hash.
    """
    fingerprint: dict[str, str] = {}
    try:
        config = model.get_config()
    except NotImplementedError:
        config = None
    if isinstance(config, dict):
        config = _strip_layer_names(config if keep_build_configs else _strip_build_configs(config))
        for key, value in config.items():
            fingerprint[f"config.{key}"] = _digest(value)
    fingerprint["weight_shapes"] = _digest([list(v.shape) for v in model.weights])
    return fingerprint


COMPILE_CONFIG = "compile_config"
"""The field of a run identity that holds :func:`compile_fingerprint`'s hash."""


COMPILED_TRAINING = ("optimizer", "loss", "loss_weights", "metrics", "weighted_metrics")
"""The fields of ``model.get_compile_config()`` that say what the training is. How it runs is left out:
``jit_compile`` (Keras resolves ``"auto"`` by the machine's devices, so a run moved to another machine would be
refused), ``run_eagerly`` and ``steps_per_execution``."""


def compile_fingerprint(model: keras.Model) -> dict[str, str]:
    """``{"compile_config": <16-hex-digit hash>}`` of :data:`COMPILED_TRAINING` in ``model.get_compile_config()``:
    the optimizer with its learning rate and other settings, the loss and metrics (None if not compiled).

    The optimizer's ``name`` is left out: Keras numbers it (``adam``, ``adam_1``...) in the order a process makes
    optimizers, which says nothing about the training.
    """
    config = model.get_compile_config() if getattr(model, "compiled", False) else None
    if isinstance(config, dict):
        config = {k: config.get(k) for k in COMPILED_TRAINING}
        optimizer = config["optimizer"]
        if isinstance(optimizer, dict) and isinstance(optimizer.get("config"), dict):
            config["optimizer"] = {**optimizer,
                                   "config": {k: v for k, v in optimizer["config"].items() if k != "name"}}
    return {COMPILE_CONFIG: _digest(config)}


def fingerprint_differences(recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    """Names of the fields whose hashes differ, or that only one of the two fingerprints has."""
    return sorted(k for k in set(recorded) | set(current) if recorded.get(k) != current.get(k))
