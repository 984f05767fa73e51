"""Tuners that print one line per trial start and end and write their files whole (a full disk ends the search
with one line naming the file): :class:`SearchTuner` and :class:`HyperbandSearchTuner`."""

from __future__ import annotations

from typing import Any, Mapping

import keras_tuner

from tf_aspmtl.tuning.aspmtl_hypermodel import OBJECTIVE_NAME
from tf_aspmtl.tuning.tuner_files import AtomicTunerFiles


class _Progress:
    """Tuner mixin: one line per trial start and end, naming the tuner (useful with several workers)."""

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        values = {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")}
        print(f"[{self.tuner_id}] trial {trial.trial_id} started: {_short(values)}", flush=True)

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        ended = self.oracle.get_trial(trial.trial_id)
        score = "none" if ended.score is None else f"{ended.score:.4f}"
        print(f"[{self.tuner_id}] trial {trial.trial_id} {ended.status}: {OBJECTIVE_NAME} = {score}", flush=True)


def _short(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


class SearchTuner(_Progress, AtomicTunerFiles, keras_tuner.Tuner):
    """keras-tuner's ``Tuner`` (random search, Bayesian optimisation) with progress lines and whole files."""


class HyperbandSearchTuner(_Progress, AtomicTunerFiles, keras_tuner.Hyperband):
    """keras-tuner's ``Hyperband`` tuner, built around an oracle passed in, with progress lines and whole files."""

    def __init__(self, oracle, hypermodel, **kwargs):
        # keras_tuner.Hyperband.__init__ only creates a HyperbandOracle and calls Tuner.__init__.
        keras_tuner.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)
