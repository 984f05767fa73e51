"""Weights and model files that a full disk cannot corrupt: written in memory first, then moved into place whole,
with the SHA-256 of what was written, so a file damaged later (a flipped bit, a cut) is told from a whole one."""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
from pathlib import Path

import keras
from keras.src.saving import saving_lib  # H5IOStore and _save_state: save_weights into a buffer; save_model too

from tf_aspmtl.io_utils import PART_SUFFIX, file_sha256, remove_stale_partial_files, write_bytes_atomic

_LEGACY_PART = re.compile(r"\.(\d+)\.part\.weights\.h5$")
"""Staging files of earlier versions: ``.<name>.<pid>.part.weights.h5``, written by HDF5 in place."""


def weights_bytes(model: keras.Model) -> bytes:
    """The bytes of ``model.save_weights`` (an ``.weights.h5`` file), made in memory: no file system is written.

    HDF5's own handling of a full disk can crash the process, so it never writes to a disk (not even a memory-backed
    one, which can fill too). Keras' weights writer takes an ``io.BytesIO`` (``H5IOStore``); this is
    ``keras.Model.save_weights`` with that buffer instead of a path.
    """
    if not model.built:
        raise ValueError("Cannot save the weights of a model that is not built yet.")
    buffer = io.BytesIO()
    store = saving_lib.H5IOStore(buffer, mode="w")
    try:
        saving_lib._save_state(model, weights_store=store, assets_store=None, inner_path="", visited_saveables=set())
    finally:
        store.close()
    return buffer.getvalue()


def save_weights_atomic(model: keras.Model, path: str | os.PathLike) -> str:
    """``model.save_weights(path)``, with the file complete or absent, never half written; returns its SHA-256.

    The weights go to a scratch file in memory first (:func:`weights_bytes`),
    then their bytes to a temporary file beside ``path``, renamed into place
    when whole.

    Returns:
        The hex SHA-256 of the file written: record it, and :func:`file_sha256` tells later whether the file
        is still what was written.

    Raises:
        tf_aspmtl.io_utils.DiskWriteError: the disk is full (or the file cannot be written); ``path`` is named and
            the file it replaces, if any, is untouched.
    """
    data = weights_bytes(model)
    write_bytes_atomic(Path(path), data)
    return hashlib.sha256(data).hexdigest()


def save_model_atomic(model: keras.Model, path: str | os.PathLike) -> str:
    """``model.save(path)`` (a ``.keras`` file), with the file complete or absent, never half written; returns its
    SHA-256.

    ``model.save`` opens ``path`` for writing first, which empties a good file
    already there, and a full disk then leaves it cut short (and a C library's
    writes to a full disk can crash the process). Here the whole archive is made
    in memory (Keras' ``.keras`` writer takes a file object), then its bytes go
    to a temporary file beside ``path``, renamed into place when whole.

    Raises:
        tf_aspmtl.io_utils.DiskWriteError: the disk is full (or the file cannot be written); ``path`` is named and
            the file it replaces, if any, is untouched.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{path}: a model is saved as a .keras file")
    buffer = io.BytesIO()
    saving_lib.save_model(model, buffer)
    data = buffer.getvalue()
    write_bytes_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


def file_damage(path: Path, sha256: str | None) -> str | None:
    """What is wrong with a weights file, or None: missing, or (``sha256`` given) not the bytes written."""
    if not path.is_file():
        return "it is missing"
    if sha256 is not None and file_sha256(path) != sha256:
        return ("its SHA-256 is not the one recorded when it was written: its bytes changed since (a failing disk or "
                "a bad copy)")
    return None


def copy_file_atomic(source: str | os.PathLike, path: str | os.PathLike) -> None:
    """``path`` becomes a whole copy of the finished file ``source``, never a half-written one.

    A hard link where the file system has them (no bytes written: the best
    epoch's weights are the epoch's backup, which is never rewritten in
    place, only replaced or deleted), else the bytes through
    :func:`~tf_aspmtl.io_utils.write_bytes_atomic`.

    Raises:
        tf_aspmtl.io_utils.DiskWriteError: the copy cannot be written; ``path`` is untouched.
    """
    source, path = Path(source), Path(path)
    staged = path.with_name(f".{path.name}.{secrets.token_hex(4)}{PART_SUFFIX}")
    try:
        os.link(source, staged)
    except OSError:  # no hard links here (or another device): copy the bytes
        write_bytes_atomic(path, source.read_bytes())
        return
    try:
        os.replace(staged, path)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_partial_files(folder: str | os.PathLike) -> list[Path]:
    """Deletes the temporary files that killed or failed writers left in ``folder``; returns them.

    The ``.*.part`` files of :func:`~tf_aspmtl.io_utils.write_atomic` that no
    live process holds (:func:`~tf_aspmtl.io_utils.remove_stale_partial_files`),
    and the HDF5 staging files of earlier versions (``.*.<pid>.part.weights.h5``)
    whose process is gone.
    """
    removed = remove_stale_partial_files(folder)
    for candidate in sorted(Path(folder).glob(".*.part.weights.h5")):
        match = _LEGACY_PART.search(candidate.name)
        if candidate.is_file() and not (match and _pid_alive(int(match.group(1)))):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed
