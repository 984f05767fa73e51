"""copy_file_atomic: the best epoch's weights file is a whole copy of its backup, linked or copied."""

import os

import pytest

from tf_aspmtl.io_utils import DiskWriteError
from tf_aspmtl.training.checkpoint_io import copy_file_atomic


def test_the_copy_outlives_its_source_and_replaces_an_older_copy(tmp_path):
    source, best = tmp_path / "epoch-3.weights.h5", tmp_path / "best.weights.h5"
    best.write_bytes(b"epoch 1")
    source.write_bytes(b"epoch 3")
    copy_file_atomic(source, best)
    source.unlink()  # the next epoch deletes its predecessor's backup
    assert best.read_bytes() == b"epoch 3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.weights.h5"]


def test_without_hard_links_the_bytes_are_copied(tmp_path, monkeypatch):
    def no_links(*args):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    source, best = tmp_path / "epoch-1.weights.h5", tmp_path / "best.weights.h5"
    source.write_bytes(b"weights")
    copy_file_atomic(source, best)
    assert best.read_bytes() == b"weights" and os.stat(best).st_ino != os.stat(source).st_ino


def test_a_failed_copy_leaves_the_older_copy_whole(tmp_path, monkeypatch):
    def no_links(*args):
        raise OSError(1, "Operation not permitted")

    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "link", no_links)
    monkeypatch.setattr(os, "replace", full)
    source, best = tmp_path / "epoch-2.weights.h5", tmp_path / "best.weights.h5"
    best.write_bytes(b"epoch 1")
    source.write_bytes(b"epoch 2")
    with pytest.raises(DiskWriteError, match="best.weights.h5"):
        copy_file_atomic(source, best)
    assert best.read_bytes() == b"epoch 1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.weights.h5", "epoch-2.weights.h5"]


def test_only_the_partial_files_of_dead_writers_are_removed(tmp_path):
    import fcntl
    import subprocess
    import sys

    from tf_aspmtl.io_utils import write_atomic
    from tf_aspmtl.training.checkpoint_io import remove_partial_files

    seen = []

    def write(handle):  # mid-write, the writer's own temporary file is live: a cleaner leaves it
        seen.append(remove_partial_files(tmp_path))
        handle.write(b"whole")

    write_atomic(tmp_path / "state.json", write)
    assert seen == [[]] and (tmp_path / "state.json").read_bytes() == b"whole"
    dead = tmp_path / ".state.json.abc123.part"  # left by a killed writer: nobody holds its lock
    dead.write_bytes(b"half")
    live = tmp_path / ".results.json.def456.part"
    holder = open(live, "wb")
    fcntl.flock(holder, fcntl.LOCK_EX)  # a writer in another process holds it (flock locks differ per open file)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    legacy_dead = tmp_path / f".epoch-1.weights.h5.{gone.pid}.part.weights.h5"  # earlier versions' HDF5 staging
    legacy_live = tmp_path / f".epoch-2.weights.h5.{os.getpid()}.part.weights.h5"
    for path in (legacy_dead, legacy_live):
        path.write_bytes(b"half")
    assert sorted(remove_partial_files(tmp_path)) == sorted([dead, legacy_dead])
    assert live.exists() and legacy_live.exists()
    holder.close()
    assert remove_partial_files(tmp_path) == [live]


def test_weights_made_in_memory_load_back_with_the_optimizer_state(tmp_path, monkeypatch):
    import keras
    import numpy as np
    import tempfile

    from tf_aspmtl.training.checkpoint_io import save_weights_atomic

    def no_scratch_files(*args, **kwargs):
        raise AssertionError("weights_bytes made a scratch file")

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), verbose=0)
    monkeypatch.setattr(tempfile, "TemporaryDirectory", no_scratch_files)
    monkeypatch.setattr(tempfile, "mkdtemp", no_scratch_files)
    digest = save_weights_atomic(model, tmp_path / "m.weights.h5")
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    other.compile(optimizer="adam", loss="mse")
    other.fit(np.zeros((4, 3)), np.ones((4, 2)), verbose=0)
    other.load_weights(tmp_path / "m.weights.h5")
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), other.get_weights()))
    assert all(np.array_equal(a, b) for a, b in zip(model.optimizer.variables, other.optimizer.variables))
    assert len(digest) == 64
