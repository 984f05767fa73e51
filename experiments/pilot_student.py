"""The student of a dev-only screen run of the n-gram model, set up again for the pilots under experiments/results.

A pilot trains a fresh student of a screen run under one change: the run's config (``run_args.json``), the features
learnt again from the train split (the same vocabulary, idf and NB ratios as the run's, from the same seed) and the
rows the run's student learnt from (train + its saved pseudo labels, ``model/pseudo_labels.parquet``). Test is
never read.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import pandas as pd

from tf_aspmtl.data.fdu_mtl import load_fdu_mtl
from tf_aspmtl.preprocessing.ngram_preprocessor import NgramPreprocessor
from tf_aspmtl.training.ngram_config import NgramConfig
from tf_aspmtl.training.ngram_run import ngram_preprocessor
from tf_aspmtl.training.ngram_self_training import STUDENT_COLUMNS


def screen_run_config(run_dir: str | Path) -> NgramConfig:
    """The :class:`NgramConfig` a screen run folder was made with (its ``run_args.json``)."""
    args = json.loads((Path(run_dir) / "run_args.json").read_text(encoding="utf-8"))
    args.pop("dev_only")
    args["tasks"] = tuple(args["tasks"].split(","))
    return NgramConfig(**args)


def student_setup(run_dir: str | Path) -> tuple[NgramConfig, pd.DataFrame, pd.DataFrame, NgramPreprocessor,
                                                 pd.DataFrame]:
    """``(config, train, dev, preprocessor, rows)`` of a self-training screen run: its config, the FDU-MTL train
    and dev rows of its tasks, the features learnt from train (after seeding as the run does) and the student's
    rows, train + the run's pseudo-labelled ones."""
    config = screen_run_config(run_dir)
    data = load_fdu_mtl(None, tasks=list(config.tasks), splits=("train", "dev"))
    train, dev = data[data.split == "train"], data[data.split == "dev"]
    keras.utils.set_random_seed(config.seed)
    preprocessor = ngram_preprocessor(config, train)
    pseudo = pd.read_parquet(Path(run_dir) / "model" / "pseudo_labels.parquet")
    rows = pd.concat([train[STUDENT_COLUMNS], pseudo[STUDENT_COLUMNS]], ignore_index=True)
    return config, train, dev, preprocessor, rows
