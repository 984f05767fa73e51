"""Files written whole or not at all: a Keras model and a parquet frame made in memory, then renamed into place (a
full disk keeps the file they replace, and says which file in one DiskWriteError); the mode a new file gets."""

import os
import stat
import threading

import pandas as pd
import pytest

from tests.full_disk import fill, no_space_under, small_disk
from tf_aspmtl.io_utils import DiskWriteError, current_umask, write_bytes_atomic


@pytest.fixture
def full_folder(tmp_path, monkeypatch):
    """A folder whose disk is full once the returned ``fill_up()`` is called: a size-limited tmpfs filled, or
    (where none can be mounted) the folder's writes failing with ENOSPC at their lowest write."""
    with small_disk(tmp_path / "disk", 1024) as mounted:
        folder = tmp_path / "disk"

        def fill_up():
            if mounted:
                fill(folder)
            else:
                no_space_under(monkeypatch, folder)

        yield folder, fill_up


def _keras_model():
    from tests.plain_keras_run import plain_model

    model = plain_model()
    model.build((None, 3))
    return model


def _assert_one_line_naming(error: DiskWriteError, path) -> None:
    message = str(error)
    assert "\n" not in message and f"could not write {path} " in message and "No space left on device" in message


def test_a_model_saved_onto_a_full_disk_keeps_the_one_it_replaces(full_folder):
    import keras

    from tf_aspmtl.training.checkpoint_io import save_model_atomic

    folder, fill_up = full_folder
    path = folder / "model.keras"
    model = _keras_model()
    save_model_atomic(model, path)
    before = path.read_bytes()
    fill_up()
    with pytest.raises(DiskWriteError) as failed:
        save_model_atomic(model, path)
    _assert_one_line_naming(failed.value, path)
    assert path.read_bytes() == before and not [p for p in folder.iterdir() if p.name.endswith(".part")]
    assert [w.shape for w in keras.models.load_model(path, compile=False).weights] == [w.shape for w in model.weights]


def test_a_parquet_frame_written_onto_a_full_disk_keeps_the_one_it_replaces(full_folder):
    from tf_aspmtl.training.teacher_pseudo_labels import _write_parquet_atomic

    folder, fill_up = full_folder
    path = folder / "pseudo_labels.parquet"
    first = pd.DataFrame({"text": ["good", "bad"], "task": ["books"] * 2, "label": [1, 0], "confidence": [0.9] * 2})
    _write_parquet_atomic(first, path)
    fill_up()
    with pytest.raises(DiskWriteError) as failed:
        _write_parquet_atomic(pd.concat([first] * 2000, ignore_index=True), path)
    _assert_one_line_naming(failed.value, path)
    pd.testing.assert_frame_equal(pd.read_parquet(path), first)
    assert not [p for p in folder.iterdir() if p.name.endswith(".part")]


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077, 0o002])
def test_a_written_file_has_the_mode_the_umask_gives(tmp_path, umask):
    previous = os.umask(umask)
    try:
        assert current_umask() == umask
        write_bytes_atomic(tmp_path / "f", b"x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(tmp_path / "f").st_mode) == 0o666 & ~umask


def test_a_write_never_changes_the_process_umask_meanwhile(tmp_path, monkeypatch):
    # The umask is the process's, shared by its threads: set to 0 for a moment, a file another thread makes then
    # is open to all. Every value the umask takes during the writes is seen here.
    real_umask, taken = os.umask, []

    def umask(mask):
        taken.append(mask)
        return real_umask(mask)

    previous = real_umask(0o027)
    monkeypatch.setattr(os, "umask", umask)
    try:
        writers = [threading.Thread(target=write_bytes_atomic, args=(tmp_path / f"f{i}", b"x")) for i in range(4)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
    finally:
        real_umask(previous)
    assert all(mask == 0o027 for mask in taken), [oct(m) for m in taken]
    assert {stat.S_IMODE(os.stat(tmp_path / f"f{i}").st_mode) for i in range(4)} == {0o640}
