"""Another live process that holds a folder's lock (:func:`tf_aspmtl.io_utils.folder_lock`), for the tests of
two writers of one folder."""

import contextlib
import signal
import subprocess
import sys
from pathlib import Path

IO_UTILS = Path(__file__).resolve().parents[1] / "tf_aspmtl" / "io_utils.py"

_HOLD = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("io_utils", sys.argv[1])
io_utils = importlib.util.module_from_spec(spec)
spec.loader.exec_module(io_utils)  # the module alone: no TensorFlow to import, so the holder starts at once
with io_utils.folder_lock(sys.argv[2], sys.argv[3]):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes its end (or kills this process)
"""


@contextlib.contextmanager
def lock_held_elsewhere(folder, lock_name: str = ".lock"):
    """A child process holding ``<folder>/<lock_name>`` through ``folder_lock`` for the block; yields its Popen.

    On leaving, the child is told to let go (or is gone already, if the test killed it).
    """
    child = subprocess.Popen([sys.executable, "-c", _HOLD, str(IO_UTILS), str(folder), lock_name],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        if line.strip() != "held":
            raise RuntimeError(f"the lock holder did not take {folder}/{lock_name} (it said {line!r})")
        yield child
    finally:
        with contextlib.suppress(OSError):
            child.stdin.close()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def kill(child: subprocess.Popen) -> None:
    """SIGKILLs ``child`` (no cleanup of its own runs: the kernel alone drops its lock) and waits for it to go."""
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
