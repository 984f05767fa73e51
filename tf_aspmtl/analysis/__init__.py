"""What a trained shared/private model's features hold: a fresh probe's reading of the task from frozen features,
their orthogonality, and the words that move them.

* :mod:`~tf_aspmtl.analysis.shared_private_features`: :func:`shared_private_features`, each row's shared and
  private feature and the model's prediction from them;
* :mod:`~tf_aspmtl.analysis.feature_probe`: :func:`feature_statistics` (:func:`probe_accuracy`,
  :func:`mean_abs_cosine`, the model's own discriminator) of one model;
* :mod:`~tf_aspmtl.analysis.seed_comparison`: :func:`compare_runs` (two configurations over seeds, paired per
  seed and task, with a 95 % t-interval over the seeds' mean differences), :func:`error_table` (mean ± sd over seeds per task), :func:`mean_sd`,
  :func:`t_interval95`;
* :mod:`~tf_aspmtl.analysis.occlusion`: :func:`occlusion`, how far each word's removal moves each feature,
  and :func:`plot_occlusion`, a picture of it (matplotlib).

The probe is scikit-learn's logistic regression and the interval SciPy's t quantile: ``pip install "tf-aspmtl[analysis]"``.
"""

from tf_aspmtl.analysis.feature_probe import feature_statistics, mean_abs_cosine, probe_accuracy
from tf_aspmtl.analysis.occlusion import occlusion, plot_occlusion
from tf_aspmtl.analysis.seed_comparison import (
    compare_runs,
    error_table,
    mean_sd,
    summarize_differences,
    t_interval95,
)
from tf_aspmtl.analysis.shared_private_features import shared_private_features

__all__ = ["compare_runs", "error_table", "feature_statistics", "mean_abs_cosine", "mean_sd", "occlusion",
           "plot_occlusion", "probe_accuracy", "shared_private_features", "summarize_differences", "t_interval95"]
