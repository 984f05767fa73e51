"""Keras Tuner searches of the loss weights and sizes of any model family.

* :mod:`~tf_aspmtl.tuning.aspmtl_hypermodel`: :class:`ASPMTLHyperModel`, its
  search space (``searched_hyperparameters``, ``default_values``) and the
  objective, :data:`OBJECTIVE` (mean dev accuracy over the tasks, maximised);
* :mod:`~tf_aspmtl.tuning.reference_first_oracles`: random-search,
  Bayesian-optimisation and Hyperband oracles whose first trial is the
  default (paper) point;
* :mod:`~tf_aspmtl.tuning.search_tuners`: :class:`SearchTuner` and
  :class:`HyperbandSearchTuner`, which print a line per trial;
* :mod:`~tf_aspmtl.tuning.build_tuner`: :func:`build_tuner`, a tuner of
  one of :data:`TUNERS` around a hypermodel.
"""

from __future__ import annotations

from tf_aspmtl.tuning.aspmtl_hypermodel import (
    COMMON,
    LOSS_WEIGHTS,
    OBJECTIVE,
    OBJECTIVE_NAME,
    PAPER_LOSS_WEIGHTS,
    ASPMTLHyperModel,
    default_values,
    searched_hyperparameters,
)
from tf_aspmtl.tuning.build_tuner import TUNERS, build_tuner
from tf_aspmtl.tuning.reference_first_oracles import (
    ReferenceFirstBayesianOptimizationOracle,
    ReferenceFirstHyperbandOracle,
    ReferenceFirstRandomSearchOracle,
    _ReferenceFirst,
)
from tf_aspmtl.tuning.search_tuners import HyperbandSearchTuner, SearchTuner, _Progress, _short

# The single module tf_aspmtl/tuning.py also exposed what it imported; kept so that
# ``tf_aspmtl.tuning.<name>`` still resolves for any code that reached a name through it.
from typing import Any, Mapping, Sequence  # noqa: E402, F401, I001

import keras  # noqa: E402, F401
import keras_tuner  # noqa: E402, F401
import numpy as np  # noqa: E402, F401

from tf_aspmtl.layers.encoders import ENCODERS  # noqa: E402, F401
from tf_aspmtl.losses import DIFFERENCE_NORMALIZATIONS  # noqa: E402, F401
from tf_aspmtl.models import MODEL_FAMILIES, MultiTaskClassifier, get_model_family  # noqa: E402, F401
from tf_aspmtl.models.multitask_classifier import ADVERSARIAL_OBJECTIVES  # noqa: E402, F401
from tf_aspmtl.optimizers import OPTIMIZERS, get_optimizer  # noqa: E402, F401

__all__ = [
    "COMMON",
    "LOSS_WEIGHTS",
    "OBJECTIVE",
    "OBJECTIVE_NAME",
    "PAPER_LOSS_WEIGHTS",
    "TUNERS",
    "ASPMTLHyperModel",
    "HyperbandSearchTuner",
    "ReferenceFirstBayesianOptimizationOracle",
    "ReferenceFirstHyperbandOracle",
    "ReferenceFirstRandomSearchOracle",
    "SearchTuner",
    "build_tuner",
    "default_values",
    "searched_hyperparameters",
]
