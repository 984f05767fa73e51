"""An n-gram run's folder: held by one process for the whole run, and its model file kept whole on a full disk."""

import pytest

from tests.full_disk import no_space_under
from tests.lock_holder import lock_held_elsewhere
from tests.tiny_fdu import write_fdu_folder
from tf_aspmtl.io_utils import DiskWriteError, FolderBusyError
from tf_aspmtl.training import NgramConfig, run_ngram
from tf_aspmtl.training.fit_with_dev_selection import RUN_LOCK
from tf_aspmtl.training.run_folder import NGRAM_RUN_IDENTITY

CONFIG = NgramConfig(tasks=("books", "dvd"), max_features=60, epochs=1, batch_size=8)


def test_a_run_refuses_a_folder_another_process_holds_before_it_writes_anything(tmp_path):
    run_dir = tmp_path / "run"
    with lock_held_elsewhere(run_dir, RUN_LOCK) as holder:
        with pytest.raises(FolderBusyError, match=rf"{run_dir} is being written by process {holder.pid} "):
            run_ngram(CONFIG, run_dir, tmp_path / "no-data-is-read", verbose=0)
    assert sorted(p.name for p in run_dir.iterdir()) == [RUN_LOCK]  # no record, no model folder
    assert not (run_dir / NGRAM_RUN_IDENTITY).exists()


@pytest.mark.slow  # test_atomic_writes covers the atomic model file in the default run
def test_a_finished_runs_rerun_onto_a_full_disk_keeps_its_model_file(tmp_path, monkeypatch):
    (tmp_path / "fdu").mkdir()
    data = write_fdu_folder(tmp_path / "fdu")
    run_dir = tmp_path / "run"
    first = run_ngram(CONFIG, run_dir, data, dev_only=True, verbose=0)
    path = run_dir / "model" / "model.keras"
    before = path.read_bytes()
    no_space_under(monkeypatch, run_dir, only="model.keras")  # the rerun saves the model again: the disk is full
    with pytest.raises(DiskWriteError) as failed:
        run_ngram(CONFIG, run_dir, data, dev_only=True, verbose=0)
    assert f"could not write {path} " in str(failed.value) and "\n" not in str(failed.value)
    assert path.read_bytes() == before and not list((run_dir / "model").glob(".*.part"))
    monkeypatch.undo()
    again = run_ngram(CONFIG, run_dir, data, dev_only=True, verbose=0)
    assert again["per_task"] == first["per_task"] and again["processes"] == first["processes"] == 1
