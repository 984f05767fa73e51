"""Training: the main job's run (:func:`run`), the n-gram model's (:func:`run_ngram`), dev-based selection with
exact resumption, a loud stop on divergence, one short line per epoch, language-model pretraining, self-training,
ensemble selection on dev."""

from tf_aspmtl.training.calibration_run import calibrate_and_score, plot_reliability, run_calibration
from tf_aspmtl.training.apply_pretrained_encoders import apply_pretrained_encoders, directions_for_encoder
from tf_aspmtl.training.dev_selection import DevSelection
from tf_aspmtl.training.epoch_summary import EpochSummary, fit_output
from tf_aspmtl.models.ensemble_selection import EnsembleSelection, select_ensemble
from tf_aspmtl.training.ensemble_run import ensemble_split, run_ensemble, score_ensemble
from tf_aspmtl.training.fit_with_dev_selection import MONITOR, SelectionResult, fit_with_dev_selection
from tf_aspmtl.training.held_out_duplicates import held_out_duplicates
from tf_aspmtl.training.non_finite_loss import NonFiniteLossError, StopOnNonFiniteLoss
from tf_aspmtl.training.pretrain_language_model import load_pretrained_language_model, pretrain_language_model
from tf_aspmtl.training.pretrain_language_model_cached import pretrain_language_model_cached
from tf_aspmtl.training.pseudo_label import PSEUDO_LABEL_COLUMNS, pseudo_label, with_pseudo_labels
from tf_aspmtl.training.fdu_mtl_run import fdu_preprocessor, run
from tf_aspmtl.training.ngram_config import NGRAM_LEVERS, NGRAM_MODEL, NGRAM_SETTINGS, NgramConfig
from tf_aspmtl.training.ngram_run import ngram_rows_dataset, run_ngram
from tf_aspmtl.training.ngram_self_training import ngram_self_training
from tf_aspmtl.training.run_folder import (
    NGRAM_RUN_IDENTITY,
    RUN_IDENTITY,
    TRANSFER_RUN_IDENTITY,
    RunFolderError,
    claim_ngram_run_folder,
    claim_run_folder,
    claim_transfer_run_folder,
)
from tf_aspmtl.training.run_report import results_markdown
from tf_aspmtl.training.shared_means import refresh_shared_means
from tf_aspmtl.training.task_errors import task_errors
from tf_aspmtl.training.teacher_pseudo_labels import (
    PSEUDO_LABELS,
    TEACHER_DIR,
    TEACHER_DONE,
    teacher_pseudo_labels,
)
from tf_aspmtl.training.train_config import FDU_MTL_CLASS_NAMES, QUICK, TrainConfig, build_model
from tf_aspmtl.training.transfer_run import run_transfer

__all__ = [
    "calibrate_and_score",
    "plot_reliability",
    "run_calibration",
    "FDU_MTL_CLASS_NAMES",
    "QUICK",
    "TrainConfig",
    "build_model",
    "MONITOR",
    "DevSelection",
    "EpochSummary",
    "fit_output",
    "EnsembleSelection",
    "select_ensemble",
    "ensemble_split",
    "run_ensemble",
    "score_ensemble",
    "NonFiniteLossError",
    "SelectionResult",
    "StopOnNonFiniteLoss",
    "fit_with_dev_selection",
    "apply_pretrained_encoders",
    "directions_for_encoder",
    "load_pretrained_language_model",
    "pretrain_language_model",
    "pretrain_language_model_cached",
    "PSEUDO_LABEL_COLUMNS",
    "pseudo_label",
    "with_pseudo_labels",
    "task_errors",
    "PSEUDO_LABELS",
    "TEACHER_DIR",
    "TEACHER_DONE",
    "held_out_duplicates",
    "teacher_pseudo_labels",
    "run",
    "run_transfer",
    "fdu_preprocessor",
    "NGRAM_MODEL",
    "NGRAM_SETTINGS",
    "NGRAM_LEVERS",
    "NgramConfig",
    "ngram_rows_dataset",
    "run_ngram",
    "ngram_self_training",
    "NGRAM_RUN_IDENTITY",
    "RUN_IDENTITY",
    "TRANSFER_RUN_IDENTITY",
    "claim_ngram_run_folder",
    "claim_run_folder",
    "claim_transfer_run_folder",
    "RunFolderError",
    "refresh_shared_means",
    "results_markdown",
]
