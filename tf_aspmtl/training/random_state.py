"""The random state a model carries from one training step to the next, as numbers an epoch checkpoint can hold.

Keras 3 layers that draw random numbers (``Dropout``, and the model's VAT
directions) own a :class:`keras.random.SeedGenerator`: its ``state``
variable, ``[seed, counter]``, advances at every draw. ``save_weights``
does not write it (``layer.weights`` leaves random seeds out), so a model
rebuilt from a checkpoint starts its counters at 0 again and draws other
dropout masks than the run that was never stopped. :func:`random_state`
reads every such state of a model and :func:`set_random_state` puts it back.
"""

from __future__ import annotations

import keras
import numpy as np


def random_state_variables(model: keras.Model) -> list[keras.Variable]:
    """The state variables of every ``SeedGenerator`` that ``model``, its layers and theirs track, in a stable order.

    Keras' own walk finds them: ``model.variables`` is every variable of the
    layer tree, random seeds included, and ``model.weights`` the same
    without random seeds (and without metric state, which neither holds); the
    difference is the seed generators' states, in the order their layers
    were built, which is the same whenever the same model is built.
    """
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def random_state(model: keras.Model) -> list[list[int]]:
    """Every seed generator state of ``model`` (:func:`random_state_variables`), each ``[seed, counter]``."""
    return [[int(x) for x in np.asarray(keras.ops.convert_to_numpy(v.value)).ravel()]
            for v in random_state_variables(model)]


def set_random_state(model: keras.Model, state: list[list[int]]) -> None:
    """Puts ``state`` (what :func:`random_state` returned for the same model) back into ``model``'s seed generators.

    Raises:
        ValueError: ``state`` does not fit the model (another number of seed
            generators, or of values in one); nothing is changed.
    """
    variables = random_state_variables(model)
    if len(state) != len(variables):
        raise ValueError(f"The saved random state holds {len(state)} seed generator state(s); the model has "
                         f"{len(variables)} ({[v.path for v in variables]})")
    values = [np.asarray(s, dtype=v.dtype) for s, v in zip(state, variables)]
    for value, variable in zip(values, variables):
        if value.shape != tuple(variable.shape):
            raise ValueError(f"The saved random state of {variable.path} has shape {value.shape}; the model's "
                             f"{tuple(variable.shape)}")
    for value, variable in zip(values, variables):
        variable.assign(value)
