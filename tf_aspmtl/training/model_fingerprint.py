"""What model a run folder holds, as short hashes that a resumed run compares with its own model."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import keras


def _strip_layer_names(value: Any) -> Any:
    """``value`` without the ``name`` of any layer or model config in it.

    Keras numbers the names it makes up (``dense``, ``dense_1``...) in the
    order a process builds layers, so the same model built second in a process
    has other names; they say nothing about the model. A layer's config is
    told apart from other dicts with a ``name`` (a dtype policy's, which does
    matter) by its ``trainable`` key.
    """
    if isinstance(value, dict):
        drop_name = "trainable" in value
        return {k: _strip_layer_names(v) for k, v in value.items() if not (drop_name and k == "name")}
    if isinstance(value, (list, tuple)):
        return [_strip_layer_names(v) for v in value]
    return value


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def model_fingerprint(model: keras.Model) -> dict[str, str]:
    """Short hashes of what defines ``model``: each field of its config, and its weight shapes.

    Two models built from the same arguments have the same fingerprint in any
    process; a different hidden size, seed, encoder, task list, vocabulary...
    changes the hash of that config field, so a resumed run can name what
    differs. ``weight_shapes`` is there for models whose config does not say
    everything (a subclass without ``get_config``); it alone would not tell
    apart two models of the same shapes, such as two seeds.

    Args:
        model: a built Keras model (its weights exist).

    Returns:
        dict from ``config.<field>`` (one per field of ``model.get_config()``,
        layer names left out) and ``weight_shapes`` to a 16-hex-digit hash.
    """
    fingerprint: dict[str, str] = {}
    try:
        config = model.get_config()
    except NotImplementedError:
        config = None
    if isinstance(config, dict):
        for key, value in _strip_layer_names(config).items():
            fingerprint[f"config.{key}"] = _digest(value)
    fingerprint["weight_shapes"] = _digest([list(v.shape) for v in model.weights])
    return fingerprint


def fingerprint_differences(recorded: dict[str, str], current: dict[str, str]) -> list[str]:
    """Names of the fields whose hashes differ, or that only one of the two fingerprints has."""
    return sorted(k for k in set(recorded) | set(current) if recorded.get(k) != current.get(k))
