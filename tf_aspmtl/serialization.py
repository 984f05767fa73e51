"""Config helpers shared by the serialisable layers and models that hold other Keras objects."""

from __future__ import annotations

from typing import Any, Mapping

import keras


def deserialize_fields(config: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """A copy of ``config`` whose fields ``names`` (serialised Keras objects, or None) are objects again.

    What a ``from_config`` of a layer or model holding sub-layers (a preprocessor, a backbone...) does before
    calling the constructor.

    Example:
    >>> config = {"units": 2, "inner": keras.saving.serialize_keras_object(keras.layers.Dense(3))}
    >>> type(deserialize_fields(config, "inner")["inner"]).__name__
    'Dense'
    """
    out = dict(config)
    for name in names:
        if out.get(name) is not None:
            out[name] = keras.saving.deserialize_keras_object(out[name])
    return out
