"""The training state of a run folder (``state.json``): read, and checked against what a state must hold (the
weights files it names are checked against their SHA-256 by
:func:`tf_aspmtl.training.checkpoint_io.file_damage`)."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

from tf_aspmtl.training.run_folder import RunFolderError, check_format

STATE_ROLE = "the training state: epochs done, best epoch, history"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class DamagedRunFileError(RunFolderError):
    """A file of a run folder is damaged: unreadable, not what it should hold, or not the bytes recorded for it.

    Attributes:
        path: the file.
        problem: what is wrong with it, in a few words.
    """

    def __init__(self, message: str, path: Path, problem: str):
        super().__init__(message)
        self.path, self.problem = path, problem


def _file_record_problem(record: Any, what: str, epochs_done: int) -> str | None:
    if not isinstance(record, dict):
        return f"{what} is not an object"
    name, epoch, sha = record.get("file"), record.get("epoch"), record.get("sha256")
    if not isinstance(name, str) or not name or os.sep in name or name.startswith("."):
        return f"{what}.file is not the name of a file of the folder"
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 1 <= epoch <= epochs_done:
        return f"{what}.epoch is not an epoch from 1 to {epochs_done}"
    if sha is not None and not (isinstance(sha, str) and _SHA256.match(sha)):
        return f"{what}.sha256 is not a SHA-256"
    return None


def state_problem(state: Any) -> str | None:
    """What makes ``state`` (a parsed ``state.json``) unusable, or None. Format 1 (no ``format``) is the state of
    earlier versions: one backup, no checksums."""
    if not isinstance(state, dict):
        return "it is not a JSON object"
    history = state.get("history")
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
        return "history is not a list of objects"
    for i, row in enumerate(history):
        if row.get("epoch") != i + 1:
            return f"history row {i} is not epoch {i + 1}"
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in row.values()):
            return f"history row {i} holds a value that is not a number"
    if state.get("epochs_done", len(history)) != len(history):
        return f"epochs_done ({state.get('epochs_done')}) is not the number of history rows ({len(history)})"
    if not isinstance(state.get("monitor"), str):
        return "monitor is not a string"
    for key in ("finished", "stopped_early"):
        if not isinstance(state.get(key, False), bool):
            return f"{key} is not true or false"
    wall = state.get("wall_time_s", 0.0)
    if isinstance(wall, bool) or not isinstance(wall, (int, float)) or not math.isfinite(wall) or wall < 0:
        return "wall_time_s is not a number of seconds"
    processes = state.get("processes", 1)
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 0:
        return "processes is not a count"
    found = state.get("format")
    if found is not None and (isinstance(found, bool) or not isinstance(found, int) or found < 2):
        return "format is not a run folder format (2 or more)"
    backup = state.get("backup")
    if backup is not None and (not isinstance(backup, str) or os.sep in backup or not backup):
        return "backup is not the name of a file of the folder"
    if state.get("format") is None:
        return None
    backups = state.get("backups")
    # A finished run keeps only the best epoch's own backup, if it was still kept (DevSelection.mark_finished).
    if not isinstance(backups, list) or (history and not backups and not state.get("finished", False)):
        return "backups is not a list of the epochs' backups"
    for i, record in enumerate(backups):
        problem = _file_record_problem(record, f"backups[{i}]", len(history))
        if problem:
            return problem
    if backups and backup != backups[0]["file"]:
        return "backup is not the newest of backups"
    if state.get("best") is not None:
        return _file_record_problem(state["best"], "best", len(history))
    return None


def read_training_state(path: Path, run_dir: Path) -> dict[str, Any]:
    """The training state in ``path``, checked.

    Raises:
        RunFolderError: the state was written by a newer version of the library (its format named).
        DamagedRunFileError: the file cannot be read, is not JSON, or does not hold what a state holds (the
            problem named, and how to recover).
    """
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        problem = f"it cannot be read ({err})"
    else:
        if isinstance(state, dict):
            check_format(state.get("format"), path, run_dir)  # a newer layout is refused, not called damaged
        problem = state_problem(state)
    if problem is not None:
        raise DamagedRunFileError(
            f"{path} ({STATE_ROLE}) is damaged: {problem}; remove {run_dir} (or choose another folder) to train "
            "this run again", path, problem)
    return state
