"""Version folders that TF Serving can watch: never overwritten, published atomically.

TF Serving watches ``<base>/<model_name>/`` and serves the children whose
names are integers (by default the largest). An export therefore:

- never writes into an existing version folder;
- picks the next free number by default;
- writes into a hidden temporary folder beside the version
  (``<base>/<model_name>/.tmp-<version>-...``, which TF Serving ignores: its
  name is not an integer) and renames it to ``<version>`` when complete, so
  the server never sees a half-written version. A rename within one folder is
  atomic on POSIX file systems.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from typing import Iterable, Iterator

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def check_model_name(name: str) -> str:
    """Returns ``name`` if it is usable as a TF Serving model name and folder, else raises ValueError.

    Names appear in URLs (``/v1/models/<name>:predict``) and paths, so they
    are limited to letters, digits, ``_``, ``.`` and ``-``.
    """
    if not isinstance(name, str) or not _MODEL_NAME.match(name):
        raise ValueError(
            f"Bad model name {name!r}: use letters, digits, '_', '.' and '-' (starting with a letter or digit)"
        )
    return name


def existing_versions(model_dir: str | os.PathLike) -> list[int]:
    """Sorted version numbers under ``model_dir`` (integer-named folders); [] if it does not exist."""
    model_dir = os.fspath(model_dir)
    if not os.path.isdir(model_dir):
        return []
    return sorted(
        int(entry) for entry in os.listdir(model_dir)
        if entry.isdigit() and os.path.isdir(os.path.join(model_dir, entry))
    )


def choose_version(base: str | os.PathLike, model_names: Iterable[str], requested: int | None = None) -> int:
    """The version number one export run uses for all its models.

    Args:
        base: str or path. The folder holding one folder per model.
        model_names: iterable of str. The models this run writes.
        requested: int or None. An explicit version; None picks
            ``1 + the largest version any of these models has`` (1 for a new base),
            so one run's models share a number.

    Raises:
        ValueError: ``requested`` is not a positive integer.
        FileExistsError: ``requested`` already exists for one of the models.
    """
    base = os.fspath(base)
    names = list(model_names)
    if requested is None:
        return 1 + max((v for name in names for v in existing_versions(os.path.join(base, name))), default=0)
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
        raise ValueError(f"Version must be a positive integer; got {requested!r}")
    for name in names:
        path = os.path.join(base, name, str(requested))
        if os.path.exists(path):
            raise FileExistsError(
                f"Version {requested} of model {name!r} already exists at {path!r}; exports never overwrite. "
                "Leave out --version to use the next free number."
            )
    return requested


@contextmanager
def staged_version(base: str | os.PathLike, model_name: str, version: int) -> Iterator[str]:
    """Yields a temporary folder to write version ``version`` into; publishes it on success.

    On leaving the block without an exception the folder is renamed to
    ``<base>/<model_name>/<version>``; on an exception it is deleted and the
    version is never visible.

    Raises:
        FileExistsError: the version appeared meanwhile (for example another export).
    """
    model_dir = os.path.join(os.fspath(base), check_model_name(model_name))
    final = os.path.join(model_dir, str(version))
    os.makedirs(model_dir, exist_ok=True)
    if os.path.exists(final):
        raise FileExistsError(f"{final!r} already exists; exports never overwrite a version")
    staging = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=model_dir)
    try:
        yield staging
        if os.path.exists(final):  # os.rename would silently replace an empty folder
            raise FileExistsError(f"{final!r} appeared while exporting; exports never overwrite a version")
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
