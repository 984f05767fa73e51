"""An oracle whose files (``oracle.json``, each trial's ``trial.json``) a full disk or a kill cannot leave half
written: keras-tuner writes them in place."""

from __future__ import annotations

import json
import os
import sys
import threading

from tf_aspmtl.io_utils import DiskWriteError, write_text_atomic


def _write_whole(path: str, text: str) -> None:
    """``write_text_atomic``; in a thread other than the main one (keras-tuner's distributed chief writes from its
    gRPC server thread, where an exception would fail one request and leave the chief serving), a full disk ends
    the process with the one-line error instead, exit code 1: every file is whole, and the same command resumes."""
    try:
        write_text_atomic(path, text)
    except DiskWriteError as err:
        if threading.current_thread() is threading.main_thread():
            raise
        print(f"keras-tuner chief: error: {err}", file=sys.stderr, flush=True)
        os._exit(1)


class AtomicOracleFiles:
    """Oracle mixin: ``oracle.json`` and ``trial.json`` written through a temporary file and a rename.

    keras-tuner truncates a project's files and writes them in place, so a
    full disk or a kill mid-write leaves an empty or cut file where a complete
    one was, and the project no longer reloads. Here each file is complete
    (the old or the new one) or, on a full disk,
    :class:`~tf_aspmtl.io_utils.DiskWriteError` names it and changes nothing.
    A distributed chief, which writes from its server thread, exits with that
    one line (code 1) instead. On reload, a trial recorded as running that the oracle's own file does
    not list (the oracle's write failed after the trial's) is run again, as
    an interrupted trial is.
    """

    def save(self):
        _write_whole(self._get_oracle_fname(), json.dumps(self.get_state()))

    def _save_trial(self, trial):
        _write_whole(os.path.join(self._get_trial_dir(trial.trial_id), "trial.json"), json.dumps(trial.get_state()))

    def reload(self):
        super().reload()  # the trials the oracle's file lists as running are queued to run again
        for trial_id, trial in sorted(self.trials.items()):
            if trial.status == "RUNNING" and trial_id not in self._retry_queue:
                self._retry_queue.append(trial_id)
