"""What every results file records about how it was made, and atomic writes.

Paths are recorded relative to the checkout (``runs/x``, not ``/home/me/tf-aspmtl/runs/x``): a command or a path
in a results file names no directory of the machine it was made on, and runs as written from a fresh clone.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from tf_aspmtl.io_utils import write_text_atomic

REPO_ROOT = Path(__file__).resolve().parents[1]
_PACKAGES = ("tensorflow", "tensorflow-text", "keras", "keras-tuner", "pandas", "numpy")


def git_commit() -> str:
    """The repo's HEAD commit, with ``-dirty`` when the tree has uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def versions() -> dict[str, str]:
    """Python and library versions."""
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def machine() -> dict[str, Any]:
    """A short description of the machine: the same seed gives other numbers on another CPU model (float
    arithmetic follows the vector instructions it has), so results say which CPU made them."""
    return {"platform": platform.platform(), "processor": platform.machine(), "cpu_count": os.cpu_count(),
            **cpu_model()}


def cpu_model() -> dict[str, Any]:
    """``{"cpu_model", "avx512"}`` from ``/proc/cpuinfo`` (Linux); empty elsewhere."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    fields = dict(line.split(":", 1) for line in text.splitlines()[:40] if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    return {"cpu_model": fields.get("model name", "unknown"), "avx512": "avx512f" in fields.get("flags", "").split()}


def cpu_kind(machine: dict[str, Any], unrecorded: str = "not recorded") -> str:
    """The CPU kind a results file's ``machine`` record (:func:`machine`) names, e.g. "AMD EPYC, with AVX-512": a
    seed repeats exactly on one kind only. ``unrecorded`` for records made before the CPU was recorded."""
    if "avx512" not in machine:
        return unrecorded
    return f"{machine.get('cpu_model', 'unknown')}, {'with' if machine['avx512'] else 'no'} AVX-512"


def repo_relative(text: str) -> str:
    """``text`` with every absolute path inside the checkout made relative to it (the checkout itself: ``.``).

    Works on a path or on any string holding paths (a command line); paths outside the checkout are left alone.
    """
    root = str(REPO_ROOT)
    text = text.replace(root + os.sep, "")
    return "." if text == root else text.replace(f"={root} ", "=. ").replace(f" {root} ", " . ")


def relative_paths(payload: Any) -> Any:
    """``payload`` (JSON-like) with :func:`repo_relative` applied to every string in it, keys included."""
    if isinstance(payload, str):
        return repo_relative(payload)
    if isinstance(payload, dict):
        return {relative_paths(k): relative_paths(v) for k, v in payload.items()}
    if isinstance(payload, (list, tuple)):
        return [relative_paths(v) for v in payload]
    return payload


def command_line(module: str, argv: list[str] | None = None) -> str:
    """``python -m module args...`` as a shell would need it typed from the checkout (paths in it relative)."""
    args = list(sys.argv[1:] if argv is None else argv)
    return shlex.join(["python", "-m", module] + [repo_relative(str(a)) for a in args])


def provenance(command: str) -> dict[str, Any]:
    """The command, commit, versions and machine of this process."""
    return {
        "command": command,
        "commit": git_commit(),
        "versions": versions(),
        "machine": machine(),
    }


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Writes ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    write_text_atomic(path, text)


def write_json(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Writes ``payload`` as indented, valid JSON (a NaN or infinity is an error, not a bare ``NaN``), atomically;
    paths inside the checkout are recorded relative to it (:func:`relative_paths`)."""
    write_atomic(path, json.dumps(relative_paths(payload), indent=2, sort_keys=False, allow_nan=False) + "\n")
