"""Weights files that a full disk cannot corrupt: written in memory first, then moved into place whole."""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

import keras

from tf_aspmtl.io_utils import write_bytes_atomic

PART_SUFFIX = ".part"
"""Suffix of the temporary files of :func:`tf_aspmtl.io_utils.write_bytes_atomic` (``.<name>.<random>.part``)."""


def _scratch_dir() -> str | None:
    """A memory-backed folder for scratch files when the machine has one (``/dev/shm``), else the temp folder."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def save_weights_atomic(model: keras.Model, path: str | os.PathLike) -> None:
    """``model.save_weights(path)``, with the file complete or absent, never half written.

    The weights go to a scratch file in memory first (HDF5's own handling of a
    full disk can crash the process), then their bytes to a temporary file
    beside ``path``, renamed into place when whole.

    Raises:
        tf_aspmtl.io_utils.DiskWriteError: the disk is full (or the file cannot be written); ``path`` is named and
            the file it replaces, if any, is untouched.
    """
    path = Path(path)
    with tempfile.TemporaryDirectory(dir=_scratch_dir(), prefix="tf_aspmtl-weights-") as scratch:
        staged = Path(scratch) / "staged.weights.h5"
        model.save_weights(str(staged))
        data = staged.read_bytes()
    write_bytes_atomic(path, data)


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


def remove_partial_files(folder: str | os.PathLike) -> list[Path]:
    """Deletes the temporary files a killed or failed writer left in ``folder`` (``.*.part`` and the weights
    staging files of earlier versions, ``.*.part.weights.h5``); returns them. Call it only while holding the
    folder's lock, when no other writer can be mid-write."""
    removed = []
    for candidate in sorted(Path(folder).glob(".*")):
        if candidate.is_file() and (candidate.name.endswith(PART_SUFFIX) or candidate.name.endswith(".part.weights.h5")):
            candidate.unlink(missing_ok=True)
            removed.append(candidate)
    return removed
