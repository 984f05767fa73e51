"""Two writers of one folder: a live holder's lock refuses a second run (its pid named); a dead one's is taken over."""

import subprocess
import sys

import pytest

from tf_aspmtl.io_utils import FolderBusyError, folder_lock


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_second_holder_is_refused_naming_the_first_and_a_dead_ones_lock_is_taken_over(tmp_path):
    (tmp_path / ".lock").write_text(f"{dead_pid()}\n")  # left by a killed process: no flock is held any more
    with folder_lock(tmp_path):
        with pytest.raises(FolderBusyError, match=rf"being written by process {__import__('os').getpid()}"):
            with folder_lock(tmp_path):
                pass
    with folder_lock(tmp_path):  # released: the next holder gets it
        pass


def test_two_trainings_on_one_run_folder_cannot_both_write_it(tmp_path):
    import os

    from tf_aspmtl.training import TrainConfig, run
    from tf_aspmtl.training.fit_with_dev_selection import RUN_LOCK
    from tf_aspmtl.training.run_folder import RUN_IDENTITY

    run_dir = tmp_path / "run"
    config = TrainConfig(tasks=("books", "MR"), encoder="cnn", embedding="random", paper_scale=False)
    with folder_lock(run_dir, RUN_LOCK):  # another live process training in the folder
        with pytest.raises(FolderBusyError, match=rf"is being written by process {os.getpid()} .*another run folder"):
            run(config, run_dir, tmp_path / "no-data-is-read", verbose=0)
    assert not (run_dir / "model").exists() and not (run_dir / RUN_IDENTITY).exists()
