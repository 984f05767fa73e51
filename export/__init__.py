"""Export trained tf_aspmtl models for TensorFlow Serving.

``python -m export --model model.keras --output exports`` writes, per task,
``exports/<task>/<version>/``: a SavedModel whose ``serving_default``
signature takes raw texts (``text``: tf.string [batch]) and returns
``probabilities`` (float32 [batch, classes]), ``label_id`` (int64 [batch])
and ``label`` (tf.string [batch]), with tokenisation and vocabulary lookup
in the graph; ``--multitask`` adds one SavedModel with inputs ``text`` and
``task``. ``exports/models.config`` lists them for ``tensorflow_model_server
--model_config_file``.

Modules, one job each: :mod:`export.exporter` (the whole export),
:mod:`export.archive` (one SavedModel), :mod:`export.versions` (version
numbers, atomic publishing), :mod:`export.model_config` (``models.config``),
:mod:`export.ops` (op types, TF Serving compatibility), :mod:`export.verify`
(load back and compare), :mod:`export.warmup` (TF Serving warm-up requests),
:mod:`export.clients` (REST and gRPC requests) and
:mod:`export.saved_model_cli` (``saved_model_cli`` with TF Text ops).

Importing this package imports no TensorFlow; the submodules do.
"""

from __future__ import annotations

__all__ = ["export_model", "ExportedModel", "load_trained_model"]


def __getattr__(name: str):
    if name in __all__:
        from export import exporter

        return getattr(exporter, name)
    raise AttributeError(f"module 'export' has no attribute {name!r}")
