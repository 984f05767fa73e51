"""A tuner project on a full disk, half-written, or wanted by two chiefs: one line naming the file (the stopped trial
run again by the same command), keras-tuner's files always whole, and a second chief refused by name while the
tuners of a distributed search keep working.

The full disk is a size-limited tmpfs where the tests may mount one (root), else an ENOSPC injected into the write."""

import errno
import fcntl
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from experiments import launch, tune
from tests.full_disk import fill, small_disk
from tests.tiny_fdu import write_fdu_folder
from tf_aspmtl.io_utils import DiskWriteError, FolderBusyError, disk_write_error
from tf_aspmtl.training import TrainConfig
from tf_aspmtl.tuning import best_epoch_weights
from tf_aspmtl.tuning.fdu_mtl_search import project_lock, search_fdu_mtl

REPO = Path(__file__).resolve().parents[1]
SEARCH = TrainConfig(model="fs-mtl", tasks=("books", "dvd"), encoder="lstm", embedding="random", embedding_dim=4, max_length=8,
                     batch_size=8, epochs=1)
"""A search of seconds on the tiny corpus: FS-MTL (one encoder, the quickest to build) with an LSTM, one epoch a
trial."""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fdu_folder(tmp_path_factory.mktemp("fdu"))


def _search(directory, data_dir, project="search", trials=1):
    settings = {"model": SEARCH.model, "epochs": SEARCH.epochs, "trials": trials}
    return search_fdu_mtl(SEARCH, "random", trials, directory, project, settings, {"hidden_dim": 4},
                          data_dir=data_dir, verbose=0)


# a full disk at a training checkpoint is the default suite's (tests/test_disk_full.py); this is a tuner trial's
@pytest.mark.slow
def test_a_full_disk_in_a_trial_stops_the_search_in_one_line_and_the_same_search_then_runs_the_trial_again(
        data_dir, tmp_path, monkeypatch):
    directory = tmp_path / "disk"
    with small_disk(directory, 4096) as mounted:
        real_end = best_epoch_weights.BestEpochWeights.on_epoch_end

        def full_before_the_checkpoint(self, epoch, logs=None):
            if mounted:
                fill(directory)
            else:  # no tmpfs here: the checkpoint's write gets the errno of a full disk
                monkeypatch.setattr(best_epoch_weights, "save_weights_atomic", _weights_on_a_full_disk)
            return real_end(self, epoch, logs)

        monkeypatch.setattr(best_epoch_weights.BestEpochWeights, "on_epoch_end", full_before_the_checkpoint)
        with pytest.raises(DiskWriteError) as failed:
            _search(directory, data_dir)
        message = str(failed.value)
        project = directory / "search"
        assert "\n" not in message and f"could not write {project / 'trial_0' / 'checkpoint.weights.h5'}" in message
        assert f"errno {errno.ENOSPC}" in message and "run the same command again" in message
        trial = json.loads((project / "trial_0" / "trial.json").read_text())  # whole, and still to be run
        assert trial["status"] == "RUNNING" and json.loads((project / "oracle.json").read_text())["ongoing_trials"]
        assert not list(project.rglob("*.part")) and not (project / "trial_0" / "checkpoint.weights.h5").exists()
        for filler in directory.glob("filler-*"):
            filler.unlink()
        monkeypatch.undo()
        resumed = _search(directory, data_dir).tuner.oracle.trials
        assert resumed["0"].status == "COMPLETED" and (project / "trial_0" / "checkpoint.weights.h5").exists()
    # A trial run again scores as in a search never stopped: tests/test_tuning.py (interrupted searches).


def _weights_on_a_full_disk(model, path):
    raise disk_write_error(path, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))


def test_a_second_chief_is_refused_by_name_and_a_worker_takes_no_lock(tmp_path, capsys):
    args = ["--tasks", "books,dvd", "--directory", str(tmp_path), "--project-name", "search", "--trials", "1",
            "--epochs", "1", "--embedding", "random"]
    with project_lock(tmp_path, "search", "chief"):  # a live chief (flock locks differ per open file)
        assert tune.main(args) == 2  # refused before any data is read
        error = capsys.readouterr().err
        assert "experiments.tune: error:" in error and f"being written by process {os.getpid()}" in error
        assert ".search.lock" in error and "another tuner project" in error and "\n" not in error.strip()
        with pytest.raises(FolderBusyError):
            with project_lock(tmp_path, "search", "single"):
                pass
        with project_lock(tmp_path, "search", "worker"):  # a worker runs trials while the chief holds the project
            pass
    with project_lock(tmp_path, "search", "single"):  # released: the next one gets it
        pass


def test_a_trial_recorded_as_running_that_the_oracle_never_recorded_is_run_again(tmp_path):
    from tf_aspmtl.tuning import ASPMTLHyperModel, build_tuner

    hypermodel = ASPMTLHyperModel(["books", "dvd"], vocabulary_size=20, embedding_dim=4, encoder="lstm")

    def tuner():
        return build_tuner("random", hypermodel, max_trials=2, directory=str(tmp_path), project_name="p")

    first = tuner()
    first.save()
    before = (tmp_path / "p" / "oracle.json").read_text()
    trial = first.oracle.create_trial("tuner0")  # writes trial_0/trial.json, then oracle.json
    assert json.loads((tmp_path / "p" / "trial_0" / "trial.json").read_text())["status"] == "RUNNING"
    (tmp_path / "p" / "oracle.json").write_text(before)  # as if the oracle's write had failed after the trial's
    reloaded = tuner().oracle
    assert reloaded._retry_queue == [trial.trial_id]
    assert reloaded.create_trial("tuner0").trial_id == trial.trial_id  # the same trial, not a new one


@pytest.mark.slow  # three processes, TensorFlow imported in each
def test_a_distributed_search_refuses_a_second_chief_and_its_tuner_finishes_every_trial(data_dir, tmp_path):
    args = ["--tuner", "random", "--trials", "2", "--tasks", "books,dvd", "--epochs", "1", "--directory",
            str(tmp_path), "--project-name", "dist", "--encoder", "lstm", "--embedding", "random",
            "--embedding-dim", "4", "--max-length", "8", "--batch-size", "8", "--fix", "hidden_dim=4",
            "--data-dir", str(data_dir), "--verbose", "0"]
    (_, argv, chief_env), (_, _, tuner_env) = launch.tune_commands(1, args)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KERASTUNER_")}
    chief = subprocess.Popen(argv, cwd=REPO, env={**env, **chief_env}, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        lock = tmp_path / ".dist.lock"
        deadline = time.time() + 180
        while not (lock.exists() and lock.read_text().strip() == str(chief.pid)):  # the chief takes the project
            # (its pid is written once it holds the lock; probing the lock itself could deny it to the chief)
            assert chief.poll() is None and time.time() < deadline, chief.communicate()[0][-3000:]
            time.sleep(0.5)
        second = subprocess.run(argv, cwd=REPO, env={**env, **launch.tune_commands(1, args)[0][2]},
                                capture_output=True, text=True, timeout=300)
        assert second.returncode == 2, second.stderr[-3000:]
        assert f"is being written by process {chief.pid}" in second.stderr
        tuner = subprocess.run(argv, cwd=REPO, env={**env, **tuner_env}, capture_output=True, text=True, timeout=300)
        assert tuner.returncode == 0, tuner.stdout[-3000:] + tuner.stderr[-3000:]
        out, _ = chief.communicate(timeout=120)
        assert chief.returncode == 0, out[-3000:]
    finally:
        if chief.poll() is None:
            chief.kill()
    started = sorted(line.split()[2] for line in tuner.stdout.splitlines() if " started: " in line)
    assert started == ["0", "1"]  # every trial run once, by the tuner, while the chief held the project
    trials = {t.name: json.loads((t / "trial.json").read_text())["status"] for t in (tmp_path / "dist").glob("trial_*")}
    assert trials == {"trial_0": "COMPLETED", "trial_1": "COMPLETED"}
    assert not _held(lock)


def _held(lock: Path) -> bool:
    """Whether a live process holds ``lock``'s flock."""
    if not lock.exists():
        return False
    with open(lock) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def test_a_full_disk_in_the_distributed_chiefs_server_thread_ends_the_chief_in_one_line(tmp_path, monkeypatch,
                                                                                        capsys):
    import threading

    from tf_aspmtl.tuning import oracle_files

    exits = []
    monkeypatch.setattr(oracle_files, "write_text_atomic",
                        lambda path, text: (_ for _ in ()).throw(disk_write_error(path, OSError(errno.ENOSPC, "full"))))
    monkeypatch.setattr(oracle_files.os, "_exit", exits.append)
    # keras-tuner's chief saves from its gRPC server thread: there the error ends the process (code 1) in one line
    worker = threading.Thread(target=oracle_files._write_whole, args=(str(tmp_path / "oracle.json"), "{}"))
    worker.start()
    worker.join()
    assert exits == [1]
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "oracle.json" in err and "errno 28" in err
    with pytest.raises(DiskWriteError):  # in the main thread (a single search) it is raised, as everywhere
        oracle_files._write_whole(str(tmp_path / "oracle.json"), "{}")
