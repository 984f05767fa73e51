"""A full disk for the tests: a size-limited tmpfs where this process may mount one, a filler file, and (where no
tmpfs can be mounted) the error a full disk gives, injected at the lowest write of the library's atomic writes."""

import contextlib
import errno
import io
import os
import subprocess
import uuid
from pathlib import Path

NO_TMPFS = "TF_ASPMTL_TESTS_NO_TMPFS"
"""Set (to anything) to make :func:`small_disk` mount nothing, so the tests take their fallback path (as they do
where this process may not mount: without root)."""


@contextlib.contextmanager
def small_disk(path, kilobytes):
    """A size-limited tmpfs at ``path`` when this process may mount one; else ``path`` as it is (None mounted)."""
    path.mkdir(parents=True)
    mounted = not os.environ.get(NO_TMPFS) and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", str(path)], capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(folder):
    """Fills the disk of ``folder`` (a real ENOSPC at the next write that needs a new block); returns the filler
    file."""
    filler = folder / f"filler-{uuid.uuid4().hex}"
    with open(filler, "wb", buffering=0) as handle:  # unbuffered: no bytes left over for close to write
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * (1 << 16))
    return filler


class _FullDiskFile(io.FileIO):
    """A file whose every write fails as on a full disk (the bytes never reach it)."""

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def no_space_under(monkeypatch, folder, only: str | None = None):
    """From now on (until ``monkeypatch`` is undone) every file opened for writing with ``os.fdopen`` under
    ``folder`` gets ENOSPC from its raw writes, as on a full disk: the lowest write of
    :func:`tf_aspmtl.io_utils.write_atomic` (its temporary file is made by ``mkstemp``, then written through
    ``os.fdopen``). Other files, and writes elsewhere, are untouched; with ``only`` (a file name), only the
    temporary files of that final file fail (``.<only>.<random>.part``)."""
    folder = Path(folder).resolve()
    real_fdopen = os.fdopen

    def fdopen(fd, mode="r", *args, **kwargs):
        where = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if ("w" in mode and "b" in mode and where.is_relative_to(folder)
                and (only is None or where.name.startswith(f".{only}."))):
            return io.BufferedWriter(_FullDiskFile(fd, "wb", closefd=True))
        return real_fdopen(fd, mode, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", fdopen)
