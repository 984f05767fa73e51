"""Weight initialisation schemes: today's Keras defaults, or the paper's uniform [-0.1, 0.1].

A scheme names how every weight matrix of a model starts: the LSTM kernels
(input and recurrent), the CNN filters, the task heads' and the
discriminator's kernels, and a random word embedding. Biases keep their
initialisers under every scheme (zeros; the LSTM forget gate's 1).

* ``"default"``: each layer's Keras default (Glorot uniform kernels, an
  orthogonal recurrent kernel, embeddings uniform in [-0.05, 0.05]).
* ``"uniform"``: every one of them uniform in [-0.1, 0.1], as Liu, Qiu and
  Huang (2017) state ("other parameters are initialized by randomly sampling
  from uniform distribution in [-0.1, 0.1]").

Layers take Keras initializer identifiers (a name, a config dict or an
``Initializer``); :func:`weight_initializer` gives the identifier a scheme
uses for a weight. The uniform one is an unseeded config, so every weight
made from it gets its own draw from Keras' global seed
(``keras.utils.set_random_seed``), and a layer's config stays JSON.
"""

from __future__ import annotations

from typing import Any

import keras

WEIGHT_INITIALIZERS = ("default", "uniform")
"""Names of the schemes (``TrainConfig.initializer``, the families' ``initializer`` argument)."""
UNIFORM_LIMIT = 0.1
"""``"uniform"`` draws every weight matrix from U(-UNIFORM_LIMIT, UNIFORM_LIMIT)."""


def check_weight_initializer(scheme: str) -> str:
    """``scheme`` if it is one of :data:`WEIGHT_INITIALIZERS`; a ValueError naming the choices otherwise."""
    if scheme not in WEIGHT_INITIALIZERS:
        raise ValueError(f"Unknown initializer {scheme!r}; expected one of {list(WEIGHT_INITIALIZERS)}")
    return scheme


def weight_initializer(scheme: str, default: Any) -> Any:
    """The Keras initializer identifier a weight gets under ``scheme``.

    Args:
        scheme: str. One of :data:`WEIGHT_INITIALIZERS`.
        default: the weight's identifier under ``"default"`` (e.g. ``"glorot_uniform"``), returned as it is
            so that the default scheme makes exactly the weights (and random draws) it always made.

    Example:
    >>> weight_initializer("uniform", "orthogonal")["config"]
    {'minval': -0.1, 'maxval': 0.1, 'seed': None}
    """
    if check_weight_initializer(scheme) == "default":
        return default
    return {"module": "keras.initializers", "class_name": "RandomUniform",
            "config": {"minval": -UNIFORM_LIMIT, "maxval": UNIFORM_LIMIT, "seed": None}, "registered_name": None}


def initializer_identifier(identifier: Any) -> str | dict:
    """A layer's initializer argument as a JSON-safe identifier that builds a fresh initializer at each use.

    A name or a config dict is kept as it is (Keras builds the initializer when the weight is made); an
    ``Initializer`` is turned into its config, so two weights made from it do not share one seed.
    """
    if isinstance(identifier, keras.initializers.Initializer):
        return keras.initializers.serialize(identifier)
    if isinstance(identifier, (str, dict)):
        return identifier
    raise ValueError(f"An initializer must be a Keras initializer name, config dict or Initializer; "
                     f"got {identifier!r}")
