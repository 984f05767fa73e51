"""Command line of the TF Serving export; the export itself is :mod:`tf_aspmtl.export`.

``python -m export --model model.keras --output exports`` writes, per task,
``exports/<task>/<version>/``: a SavedModel whose ``serving_default``
signature takes raw texts (``text``: tf.string [batch]) and returns
``probabilities`` (float32 [batch, classes]), ``label_id`` (int64 [batch])
and ``label`` (tf.string [batch]), with tokenisation and vocabulary lookup
in the graph; ``--multitask`` adds one SavedModel with inputs ``text`` and
``task``. ``exports/models.config`` lists them for ``tensorflow_model_server
--model_config_file``.

Modules: :mod:`export.__main__` (the command line, which calls
:func:`tf_aspmtl.export.export_model`) and :mod:`export.saved_model_cli`
(``saved_model_cli`` with TF Text ops). The library code (exporter, archive,
versions, model_config, ops, verify, warmup, clients) moved to
:mod:`tf_aspmtl.export`, which ``pip install .`` installs; for older code,
``export.export_model`` and the like, and ``from export import clients``,
still resolve to it.

Importing this package imports neither TensorFlow nor tf_aspmtl (the
``saved_model_cli`` wrapper runs where tf_aspmtl is absent); the names below
are resolved on first use.
"""

from __future__ import annotations

import importlib

__all__ = ["export_model", "ExportedModel", "load_trained_model"]

_LIBRARY_MODULES = ("archive", "clients", "exporter", "model_config", "ops", "verify", "versions", "warmup")


def __getattr__(name: str):
    if name in __all__:
        from tf_aspmtl.export import exporter

        return getattr(exporter, name)
    if name in _LIBRARY_MODULES:  # `from export import clients`, as before the move
        return importlib.import_module(f"tf_aspmtl.export.{name}")
    raise AttributeError(f"module 'export' has no attribute {name!r}")
