"""What every results file records about how it was made, and atomic writes."""

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
    """A short description of the machine."""
    return {"platform": platform.platform(), "processor": platform.machine(), "cpu_count": os.cpu_count()}


def command_line(module: str, argv: list[str] | None = None) -> str:
    """``python -m module args...`` as a shell would need it typed."""
    return shlex.join(["python", "-m", module] + list(sys.argv[1:] if argv is None else argv))


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
    """Writes ``payload`` as indented, valid JSON (a NaN or infinity is an error, not a bare ``NaN``), atomically."""
    write_atomic(path, json.dumps(payload, indent=2, sort_keys=False, allow_nan=False) + "\n")
