"""A full disk for the tests: a size-limited tmpfs where this process may mount one, and a filler file."""

import contextlib
import subprocess
import uuid


@contextlib.contextmanager
def small_disk(path, kilobytes):
    """A size-limited tmpfs at ``path`` when this process may mount one; else ``path`` as it is (None mounted)."""
    path.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", str(path)],
                             capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(folder):
    """Fills the disk of ``folder`` (a real ENOSPC at the next write that needs a new block); returns the filler
    file."""
    filler = folder / f"filler-{uuid.uuid4().hex}"
    with open(filler, "wb") as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * (1 << 16))
                handle.flush()
    return filler
