"""Oracles whose first new point is the search space's defaults (the paper's configuration), and whose files are
written whole (:class:`~tf_aspmtl.tuning.oracle_files.AtomicOracleFiles`).

:class:`_ReferenceFirst` over keras-tuner's random-search, Bayesian-optimisation and Hyperband oracles; the
three small variants share this module, as keras-tuner keeps an oracle's variants together.
"""

from __future__ import annotations

import keras_tuner

from tf_aspmtl.tuning.oracle_files import AtomicOracleFiles


class _ReferenceFirst:
    """Oracle mixin: the first new point of a search is the space's defaults (the paper's configuration).

    Args:
        reference_first: bool. False: keras-tuner's own first point (the oracle then differs from keras-tuner's
            only in how it writes its files).
    """

    def __init__(self, *args, reference_first: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.reference_first = reference_first

    def _random_values(self):
        if not self.reference_first:
            return super()._random_values()
        hps = keras_tuner.HyperParameters()
        for hp in self.hyperparameters.space:
            hps.merge([hp])
            if hps.is_active(hp):
                hps.values[hp.name] = hp.default
        if hps.values and not self._duplicate(hps.values):
            return hps.values
        return super()._random_values()


class ReferenceFirstRandomSearchOracle(_ReferenceFirst, AtomicOracleFiles, keras_tuner.oracles.RandomSearchOracle):
    """Random search whose first trial is the default point."""


class ReferenceFirstBayesianOptimizationOracle(_ReferenceFirst, AtomicOracleFiles,
                                               keras_tuner.oracles.BayesianOptimizationOracle):
    """Bayesian optimisation whose first initial point is the default point."""


class ReferenceFirstHyperbandOracle(_ReferenceFirst, AtomicOracleFiles, keras_tuner.oracles.HyperbandOracle):
    """Hyperband whose first trial is the default point."""
