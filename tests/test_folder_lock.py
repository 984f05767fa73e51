"""Two writers of one folder: a live holder's lock refuses a second run (its pid named); a dead one's is taken over."""

import os

import pytest

from tests.lock_holder import kill, lock_held_elsewhere
from tf_aspmtl.io_utils import FolderBusyError, folder_lock


def test_a_live_holder_in_another_process_is_refused_by_pid_and_its_lock_is_taken_over_once_it_is_killed(tmp_path):
    with lock_held_elsewhere(tmp_path) as holder:
        with pytest.raises(FolderBusyError, match=rf"being written by process {holder.pid} "):
            with folder_lock(tmp_path):
                pytest.fail("took a lock another live process holds")
        kill(holder)  # SIGKILL: the holder never releases it; the kernel drops its flock, its pid stays in the file
        assert (tmp_path / ".lock").read_text().strip() == str(holder.pid)
        with folder_lock(tmp_path):
            assert (tmp_path / ".lock").read_text().strip() == str(os.getpid())


def test_a_second_holder_in_this_process_is_refused_and_the_lock_is_free_once_released(tmp_path):
    with folder_lock(tmp_path):
        with pytest.raises(FolderBusyError, match=rf"being written by process {os.getpid()}"):
            with folder_lock(tmp_path):
                pass
    with folder_lock(tmp_path):  # released: the next holder gets it
        pass


def test_two_trainings_on_one_run_folder_cannot_both_write_it(tmp_path):
    from tf_aspmtl.training import TrainConfig, run
    from tf_aspmtl.training.fit_with_dev_selection import RUN_LOCK
    from tf_aspmtl.training.run_folder import RUN_IDENTITY

    run_dir = tmp_path / "run"
    config = TrainConfig(tasks=("books", "MR"), encoder="cnn", embedding="random", paper_scale=False)
    with folder_lock(run_dir, RUN_LOCK):  # another live process training in the folder
        with pytest.raises(FolderBusyError, match=rf"is being written by process {os.getpid()} .*another run folder"):
            run(config, run_dir, tmp_path / "no-data-is-read", verbose=0)
    assert not (run_dir / "model").exists() and not (run_dir / RUN_IDENTITY).exists()
