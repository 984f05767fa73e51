"""Keras Tuner searches of the loss weights and sizes of any model family.

* :mod:`~tf_aspmtl.tuning.aspmtl_hypermodel`: :class:`ASPMTLHyperModel`, its
  search space (``searched_hyperparameters``, ``default_values``) and the
  objective, :data:`OBJECTIVE` (mean dev accuracy over the tasks, maximised);
* :mod:`~tf_aspmtl.tuning.reference_first_oracles`: random-search,
  Bayesian-optimisation and Hyperband oracles whose first trial is the
  default (paper) point;
* :mod:`~tf_aspmtl.tuning.search_tuners`: :class:`SearchTuner` and
  :class:`HyperbandSearchTuner`, which print a line per trial;
* :mod:`~tf_aspmtl.tuning.oracle_files`, :mod:`~tf_aspmtl.tuning.tuner_files`
  and :mod:`~tf_aspmtl.tuning.best_epoch_weights`: the oracle's and tuner's
  files (``oracle.json``, ``trial.json``, each trial's checkpoint) written
  whole, a full disk ending the search in one line;
* :mod:`~tf_aspmtl.tuning.build_tuner`: :func:`build_tuner`, a tuner of
  one of :data:`TUNERS` around a hypermodel;
* :mod:`~tf_aspmtl.tuning.fdu_mtl_search`: :func:`search_fdu_mtl`, a
  resumable, distributable search on FDU-MTL's train and dev splits (its
  chief holds the project's lock: a second one is refused);
* :mod:`~tf_aspmtl.tuning.trial_report`: a finished search's trials as a
  table (:func:`trials_frame`), its best trial as a training config
  (:func:`best_train_config`) and its outcome (:func:`search_summary`);
* :mod:`~tf_aspmtl.tuning.search_files`: those written to files
  (:func:`write_search_files`), with a plot of dev accuracy against lambda and
  gamma (:func:`plot_trials`).
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
from tf_aspmtl.tuning.fdu_mtl_search import FduMtlSearch, distributed_role, search_fdu_mtl
from tf_aspmtl.tuning.reference_first_oracles import (
    ReferenceFirstBayesianOptimizationOracle,
    ReferenceFirstHyperbandOracle,
    ReferenceFirstRandomSearchOracle,
)
from tf_aspmtl.tuning.search_files import SearchFiles, plot_trials, write_search_files
from tf_aspmtl.tuning.search_tuners import HyperbandSearchTuner, SearchTuner
from tf_aspmtl.tuning.trial_report import best_train_config, search_summary, trials_frame

__all__ = [
    "COMMON",
    "LOSS_WEIGHTS",
    "OBJECTIVE",
    "OBJECTIVE_NAME",
    "PAPER_LOSS_WEIGHTS",
    "TUNERS",
    "ASPMTLHyperModel",
    "FduMtlSearch",
    "HyperbandSearchTuner",
    "ReferenceFirstBayesianOptimizationOracle",
    "ReferenceFirstHyperbandOracle",
    "ReferenceFirstRandomSearchOracle",
    "SearchFiles",
    "SearchTuner",
    "best_train_config",
    "build_tuner",
    "default_values",
    "plot_trials",
    "distributed_role",
    "search_fdu_mtl",
    "search_summary",
    "searched_hyperparameters",
    "trials_frame",
    "write_search_files",
]
