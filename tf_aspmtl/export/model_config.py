"""``models.config``: TF Serving's ``model_config_list`` for every model exported under a base folder.

``tensorflow_model_server --model_config_file=/models/models.config`` serves
every model the file lists, each from ``base_path`` (the latest version by
default). The file is rewritten, atomically, after each export and lists
every model folder under the base that holds at least one complete version,
so a later export of some tasks keeps the others served.
"""

from __future__ import annotations

import os

from tf_aspmtl.export.versions import existing_versions
from tf_aspmtl.io_utils import write_text_atomic

CONFIG_FILE = "models.config"
DEFAULT_SERVING_BASE = "/models"
"""Where the base folder is mounted in the TF Serving container (``-v BASE:/models``)."""


def servable_models(base: str | os.PathLike) -> list[str]:
    """Names of the model folders under ``base`` with at least one version holding ``saved_model.pb``."""
    base = os.fspath(base)
    if not os.path.isdir(base):
        return []
    names = []
    for name in sorted(os.listdir(base)):
        model_dir = os.path.join(base, name)
        if name.startswith(".") or not os.path.isdir(model_dir):
            continue
        if any(os.path.isfile(os.path.join(model_dir, str(v), "saved_model.pb")) for v in existing_versions(model_dir)):
            names.append(name)
    return names


def _quote(text: str) -> str:
    """A protobuf text-format string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def model_config_text(model_names: list[str], serving_base: str = DEFAULT_SERVING_BASE) -> str:
    """The ``model_config_list`` text for ``model_names``, each at ``<serving_base>/<name>``.

    Args:
        model_names: list of str. Model names (and folder names under the base).
        serving_base: str. The base folder as the *server* sees it.

    Example:
    >>> print(model_config_text(["books"]))
    model_config_list {
      config {
        name: "books"
        base_path: "/models/books"
        model_platform: "tensorflow"
      }
    }
    """
    if not model_names:
        raise ValueError("models.config needs at least one model")
    lines = ["model_config_list {"]
    for name in model_names:
        lines += [
            "  config {",
            f"    name: {_quote(name)}",
            f"    base_path: {_quote(serving_base.rstrip('/') + '/' + name)}",
            '    model_platform: "tensorflow"',
            "  }",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_model_config(base: str | os.PathLike, serving_base: str = DEFAULT_SERVING_BASE) -> str:
    """Writes ``<base>/models.config`` for every servable model under ``base``, atomically.

    Args:
        base: str or path. The export base folder.
        serving_base: str. The same folder as TF Serving sees it (``/models`` in the container).

    Returns:
        The path written.
    """
    base = os.fspath(base)
    path = os.path.join(base, CONFIG_FILE)
    write_text_atomic(path, model_config_text(servable_models(base), serving_base))
    return path
