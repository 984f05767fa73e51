"""Export trained tf_aspmtl models for TensorFlow Serving.

``export_model(model, "exports")`` (or ``python -m export --model model.keras
--output exports``) writes, per task, ``exports/<task>/<version>/``: a
SavedModel whose ``serving_default`` signature takes raw texts (``text``:
tf.string [batch]) and returns ``probabilities`` (float32 [batch, classes]),
``label_id`` (int64 [batch]) and ``label`` (tf.string [batch]), with
tokenisation and vocabulary lookup in the graph; ``multitask=True`` adds one
SavedModel with inputs ``text`` and ``task``. ``exports/models.config`` lists
them for ``tensorflow_model_server --model_config_file``.

Modules, one job each: :mod:`tf_aspmtl.export.exporter` (the whole export),
:mod:`tf_aspmtl.export.archive` (one SavedModel),
:mod:`tf_aspmtl.export.versions` (version numbers, atomic publishing, stale
staging folders), :mod:`tf_aspmtl.export.model_config` (``models.config``),
:mod:`tf_aspmtl.export.ops` (op types, TF Serving compatibility),
:mod:`tf_aspmtl.export.verify` (load back and compare),
:mod:`tf_aspmtl.export.warmup` (TF Serving warm-up requests) and
:mod:`tf_aspmtl.export.clients` (REST and gRPC requests). The command line
(``python -m export``) and the ``saved_model_cli`` wrapper with TF Text ops
(``python -m export.saved_model_cli``) live in the top-level ``export`` package.

This ``__init__`` imports none of the submodules (so none of TensorFlow);
:func:`export_model`, :class:`ExportedModel` and :func:`load_trained_model`
are imported from :mod:`tf_aspmtl.export.exporter` on first use.
"""

from __future__ import annotations

__all__ = ["export_model", "ExportedModel", "load_trained_model"]


def __getattr__(name: str):
    if name in __all__:
        from tf_aspmtl.export import exporter

        return getattr(exporter, name)
    raise AttributeError(f"module 'tf_aspmtl.export' has no attribute {name!r}")
