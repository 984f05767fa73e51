"""Writes that never leave a half-written file behind."""

from __future__ import annotations

import json
import os
import pathlib
import tempfile
from typing import Any


def write_bytes_atomic(path: pathlib.Path, data: bytes) -> None:
    """Writes `data` to a temporary file beside `path`, then renames it.

    Args:
        path: pathlib.Path. Final file.
        data: bytes. Content.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """UTF-8 ``text`` to ``path`` through a temporary file and a rename (parent folders created)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, payload: Any) -> None:
    """``payload`` as indented JSON (a NaN or infinity is an error, not a bare ``NaN``), through a temporary
    file and a rename."""
    write_text_atomic(path, json.dumps(payload, indent=2, allow_nan=False) + "\n")
