"""Keras' TensorBoard callback, whose failed writes (a full disk) end the run with one line naming the file."""

from __future__ import annotations

import errno
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import keras
import tensorflow as tf

from tf_aspmtl.io_utils import DiskWriteError, disk_write_error

_DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO)
"""The errors of a disk, not of the program, that TensorFlow's file writers report only as text."""


def tensorflow_disk_error(error: tf.errors.OpError, path: str) -> DiskWriteError | None:
    """The :class:`DiskWriteError` of a TensorFlow file writer's ``error`` (a summary writer, ``tf.io.gfile``), or
    None if it is not a disk's.

    TensorFlow names the file and the system's message (``<file>; No space left on device``) but gives no
    errno; the file is ``path`` when the message names none.
    """
    message = str(error.message if hasattr(error, "message") else error)
    for code in _DISK_ERRNOS:
        reason = os.strerror(code)
        if reason in message:
            named = re.search(r"(\S+); " + re.escape(reason), message)
            return disk_write_error(named.group(1) if named else path, OSError(code, reason))
    return None


def remove_empty_event_files(log_dir: str | os.PathLike) -> list[Path]:
    """Deletes the empty events files under ``log_dir`` (a writer that found the disk full at its first write
    leaves one; it holds no event); returns them. Call it while no other process writes the logs."""
    removed = []
    for path in sorted(Path(log_dir).rglob("events.out.tfevents.*")):
        if path.is_file() and path.stat().st_size == 0:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


class TensorBoardLogs(keras.callbacks.TensorBoard):
    """``keras.callbacks.TensorBoard`` whose writes, when the disk is full, raise a one-line
    :class:`~tf_aspmtl.io_utils.DiskWriteError` naming the events file and what to do.

    TensorFlow's summary writers report a full disk as a multi-line
    ``ResourceExhaustedError`` (at a flush, often when the writers close at the
    end of training). Every hook that writes is wrapped; the logs are
    append-only records, so the events already written stay readable.
    """

    @contextmanager
    def _disk_errors(self) -> Iterator[None]:
        try:
            yield
        except tf.errors.OpError as error:
            disk = tensorflow_disk_error(error, str(self.log_dir))
            if disk is None:
                raise
            raise disk from None
        except OSError as error:
            if isinstance(error, DiskWriteError) or error.errno not in _DISK_ERRNOS:
                raise
            raise disk_write_error(error.filename or self.log_dir, error) from None

    def on_train_begin(self, logs=None):
        with self._disk_errors():
            super().on_train_begin(logs)

    def on_train_end(self, logs=None):
        with self._disk_errors():
            super().on_train_end(logs)

    def on_test_end(self, logs=None):
        with self._disk_errors():
            super().on_test_end(logs)

    def on_train_batch_end(self, batch, logs=None):
        with self._disk_errors():
            super().on_train_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        with self._disk_errors():
            super().on_epoch_end(epoch, logs)
