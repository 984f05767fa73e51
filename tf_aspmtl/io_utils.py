"""Writes that never leave a half-written file behind, and folder locks that keep two writers apart."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import pathlib
import tempfile
from contextlib import contextmanager, suppress
from typing import Any, BinaryIO, Callable, Iterator

logger = logging.getLogger(__name__)


class DiskWriteError(OSError):
    """A file could not be written (a full disk, a quota, a read-only file system); it names the file and what to do.

    Whatever was complete before is untouched: writes go to a temporary file that is renamed only when whole.
    """


def disk_write_error(path: str | os.PathLike, error: OSError) -> DiskWriteError:
    """The :class:`DiskWriteError` of writing ``path`` that failed with ``error``."""
    reason = os.strerror(error.errno) if error.errno else str(error)
    return DiskWriteError(error.errno, f"could not write {os.fspath(path)} (errno {error.errno}, {reason}); nothing "
                                       "already complete was changed: free space on that disk (or fix the folder), "
                                       "then run the same command again to resume")


def file_sha256(path: str | os.PathLike) -> str:
    """The hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def current_umask() -> int:
    """The process's umask, read without changing it (Linux: ``Umask:`` of ``/proc/self/status``).

    Where that line cannot be read (another system, an old kernel), ``os.umask`` sets it and sets it back; for
    that moment it is ``0o077``, so a file another thread creates meanwhile is its owner's alone, never open to
    all (as a umask of 0 would leave it).
    """
    try:
        with open("/proc/self/status", encoding="utf-8", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o077)  # the fallback's moment: closed to all but the owner, not open to all
    os.umask(umask)
    return umask


PART_SUFFIX = ".part"
"""Suffix of the temporary files of :func:`write_atomic` (``.<name>.<random>.part``, beside the final file)."""


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> None:
    """Calls ``write(handle)`` on a temporary file beside ``path``, then renames it to ``path``.

    The file is complete or absent, never half written. While ``write`` runs,
    the temporary file is held with an exclusive ``flock``, so
    :func:`remove_stale_partial_files` can tell the file of a live writer
    (locked) from one a killed or failed writer left behind (unlocked).

    Args:
        path: the final file.
        write: writes the content to the binary handle it is given (only Python I/O on it: a C library that
            writes to a full disk may crash the process).

    Raises:
        DiskWriteError: the disk is full or the file cannot be written (the temporary file is removed).
    """
    path = pathlib.Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=PART_SUFFIX)
    except OSError as error:
        raise disk_write_error(path, error) from error
    try:
        with os.fdopen(fd, "wb") as handle:
            with suppress(OSError):  # a file system without locks: written all the same, just never cleaned
                fcntl.flock(handle, fcntl.LOCK_EX)  # a fresh file: nobody else holds it
            write(handle)
            handle.flush()
            os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600; give the file a normal file's mode
            os.replace(tmp, path)
    except BaseException as error:
        pathlib.Path(tmp).unlink(missing_ok=True)
        if isinstance(error, OSError) and not isinstance(error, DiskWriteError):
            raise disk_write_error(path, error) from error
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file and a rename (:func:`write_atomic`).

    Raises:
        DiskWriteError: the disk is full or the file cannot be written (the temporary file is removed).
    """
    write_atomic(path, lambda handle: handle.write(data))


def remove_stale_partial_files(folder: str | os.PathLike) -> list[pathlib.Path]:
    """Deletes the temporary files of :func:`write_atomic` that no live process is writing; returns them.

    A writer holds its temporary file's ``flock`` until the rename, and the
    kernel drops the lock when the writer dies, so the files of live writers
    (in this or another process) are left alone: safe to call on a folder
    that others are writing, such as a shared cache.

    Args:
        folder: the folder (its files only, not its sub-folders); a missing folder has none.
    """
    removed = []
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        return removed
    for candidate in sorted(folder.glob(".*")):
        if not candidate.name.endswith(PART_SUFFIX):
            continue
        try:
            with open(candidate, "rb") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if os.path.samestat(os.fstat(handle.fileno()), os.stat(candidate)):  # not renamed meanwhile
                    candidate.unlink()
                    removed.append(candidate)
        except OSError:
            continue  # being written (locked), renamed in the meantime, not a file, or no locks on this disk
    return removed


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """UTF-8 ``text`` to ``path`` through a temporary file and a rename (parent folders created)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, payload: Any) -> None:
    """``payload`` as indented JSON (a NaN or infinity is an error, not a bare ``NaN``), through a temporary
    file and a rename."""
    write_text_atomic(path, json.dumps(payload, indent=2, allow_nan=False) + "\n")


class FolderBusyError(RuntimeError):
    """Another process holds a folder's lock (it is writing the folder)."""


@contextmanager
def folder_lock(folder: str | os.PathLike, lock_name: str = ".lock", wait: bool = False,
                what: str = "folder") -> Iterator[None]:
    """Holds ``<folder>/<lock_name>`` (an exclusive ``flock``, the holder's pid written in it) for the block.

    The kernel releases the lock when its holder exits, killed or not, so the
    lock of a dead process is taken over at once; two live writers of one
    folder cannot both hold it.

    Args:
        folder: the folder (created if missing).
        lock_name: the lock file's name inside it.
        wait: wait for the holder to finish (saying so once) instead of raising.
        what: what the folder is, for the messages ("run folder", "export base"...).

    Raises:
        FolderBusyError: (``wait=False``) another live process holds it; the message names its pid.
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / lock_name
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            if not wait:
                raise FolderBusyError(f"{folder} is being written by process {owner} (it holds {path}); wait for it "
                                      f"to finish or give this one another {what}") from None
            logger.warning("%s %s is being written by process %s; waiting for it to finish", what, folder, owner)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
