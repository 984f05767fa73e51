"""What a trained shared/private model's features hold: a fresh probe's reading of the task from frozen features,
their orthogonality, and the words that move them.

* :mod:`~tf_aspmtl.analysis.shared_private_features`: :func:`shared_private_features`, each row's shared and
  private feature and the model's prediction from them;
* :mod:`~tf_aspmtl.analysis.feature_probe`: :func:`feature_statistics` (:func:`probe_accuracy`,
  :func:`mean_abs_cosine`, the model's own discriminator) of one model;
* :mod:`~tf_aspmtl.analysis.occlusion`: :func:`occlusion`, how far each word's removal moves each feature,
  and :func:`plot_occlusion`, a picture of it (matplotlib).

The probe is scikit-learn's logistic regression: ``pip install "tf-aspmtl[analysis]"``.
"""

from tf_aspmtl.analysis.feature_probe import feature_statistics, mean_abs_cosine, probe_accuracy
from tf_aspmtl.analysis.occlusion import occlusion, plot_occlusion
from tf_aspmtl.analysis.shared_private_features import shared_private_features

__all__ = ["feature_statistics", "mean_abs_cosine", "occlusion", "plot_occlusion", "probe_accuracy", "shared_private_features"]
