"""The tuner of a search over :class:`~tf_aspmtl.tuning.ASPMTLHyperModel`.

:func:`build_tuner` makes a random-search, Bayesian-optimisation or Hyperband
tuner whose first trial is the default (paper) point, so every search
measures the paper's configuration under the same conditions as the rest.
"""

from __future__ import annotations

import keras_tuner

from tf_aspmtl.tuning.aspmtl_hypermodel import OBJECTIVE, ASPMTLHyperModel
from tf_aspmtl.tuning.reference_first_oracles import (
    ReferenceFirstBayesianOptimizationOracle,
    ReferenceFirstHyperbandOracle,
    ReferenceFirstRandomSearchOracle,
)
from tf_aspmtl.tuning.search_tuners import HyperbandSearchTuner, SearchTuner

TUNERS = ("random", "bayesian", "hyperband")


def build_tuner(
    kind: str,
    hypermodel: ASPMTLHyperModel,
    max_trials: int,
    directory: str,
    project_name: str,
    max_epochs: int = 3,
    hyperparameters: keras_tuner.HyperParameters | None = None,
    seed: int | None = 0,
    reference_first: bool = True,
    overwrite: bool = False,
    num_initial_points: int | None = None,
    hyperband_factor: int = 3,
    **tuner_kwargs,
) -> keras_tuner.Tuner:
    """A tuner over ``hypermodel`` maximising :data:`OBJECTIVE`.

    Args:
        kind: str. ``"random"``, ``"bayesian"`` or ``"hyperband"``.
        hypermodel: the :class:`ASPMTLHyperModel`.
        max_trials: int. Trials in all (for Hyperband, a cap on the trials its
            brackets would run).
        directory, project_name: str. Where keras-tuner keeps the search; an
            existing project is resumed unless ``overwrite``.
        max_epochs: int. Hyperband's largest budget per model (the others
            take ``epochs`` from ``search``).
        hyperparameters: optional ``HyperParameters``, e.g. with ``hp.Fixed``
            entries to keep some of the space fixed.
        seed: optional int. The oracle's random seed.
        reference_first: bool. Make the first trial the default point (the paper's).
        overwrite: bool. Start afresh, deleting an existing project.
        num_initial_points: optional int. Random points before Bayesian optimisation starts.
        hyperband_factor: int. Hyperband's reduction factor.
        **tuner_kwargs: passed to the tuner (e.g. ``distribution_strategy``).
    """
    if kind not in TUNERS:
        raise ValueError(f"Unknown tuner {kind!r}; expected one of {list(TUNERS)}")
    if max_trials < 1:
        raise ValueError(f"max_trials must be >= 1; got {max_trials}")
    common = dict(objective=OBJECTIVE, hyperparameters=hyperparameters, seed=seed, reference_first=reference_first)
    if kind == "random":
        oracle = ReferenceFirstRandomSearchOracle(max_trials=max_trials, **common)
    elif kind == "bayesian":
        oracle = ReferenceFirstBayesianOptimizationOracle(max_trials=max_trials, num_initial_points=num_initial_points,
                                                          **common)
    else:
        oracle = ReferenceFirstHyperbandOracle(max_epochs=max_epochs, factor=hyperband_factor, **common)
        oracle.max_trials = max_trials  # the oracle stops creating trials past this many
    tuner_cls = HyperbandSearchTuner if kind == "hyperband" else SearchTuner
    return tuner_cls(
        oracle=oracle, hypermodel=hypermodel, directory=directory, project_name=project_name,
        overwrite=overwrite, **tuner_kwargs,
    )
