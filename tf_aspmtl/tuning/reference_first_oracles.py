"""Oracles whose first new point is the search space's defaults (the paper's configuration).

:class:`_ReferenceFirst` over keras-tuner's random-search, Bayesian-optimisation and Hyperband oracles; the
three small variants share this module, as keras-tuner keeps an oracle's variants together.
"""

from __future__ import annotations

import keras_tuner


class _ReferenceFirst:
    """Oracle mixin: the first new point of a search is the space's defaults (the paper's configuration)."""

    def _random_values(self):
        hps = keras_tuner.HyperParameters()
        for hp in self.hyperparameters.space:
            hps.merge([hp])
            if hps.is_active(hp):
                hps.values[hp.name] = hp.default
        if hps.values and not self._duplicate(hps.values):
            return hps.values
        return super()._random_values()


class ReferenceFirstRandomSearchOracle(_ReferenceFirst, keras_tuner.oracles.RandomSearchOracle):
    """Random search whose first trial is the default point."""


class ReferenceFirstBayesianOptimizationOracle(_ReferenceFirst, keras_tuner.oracles.BayesianOptimizationOracle):
    """Bayesian optimisation whose first initial point is the default point."""


class ReferenceFirstHyperbandOracle(_ReferenceFirst, keras_tuner.oracles.HyperbandOracle):
    """Hyperband whose first trial is the default point."""
