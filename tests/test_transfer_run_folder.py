"""A transfer run's folder: it records the source model's bytes and every setting, refuses a rerun of other ones by
name (never resuming the old run under new settings), is held by one process, and keeps its model file whole."""

import json
import shutil

import keras
import pytest

from tests.full_disk import no_space_under
from tests.lock_holder import lock_held_elsewhere
from tests.tiny_fdu import texts, write_fdu_folder
from tf_aspmtl.io_utils import DiskWriteError, FolderBusyError, file_sha256
from tf_aspmtl.training import NgramConfig, RunFolderError, run_transfer
from tf_aspmtl.training.fit_with_dev_selection import RUN_LOCK
from tf_aspmtl.training.run_folder import TRANSFER_RUN_IDENTITY

SETTINGS = {"epochs": 1, "batch_size": 16, "verbose": 0}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """(FDU-MTL folder of books, dvd and the held-out music; a source model file: an n-gram model of books and
    dvd, untrained: what a transfer copies is its features and kernel, whatever their values)."""
    from tf_aspmtl.data import load_fdu_mtl
    from tf_aspmtl.training.checkpoint_io import save_model_atomic
    from tf_aspmtl.training.ngram_run import compiled_ngram_model, ngram_preprocessor

    root = tmp_path_factory.mktemp("transfer")
    (root / "fdu").mkdir()
    data = write_fdu_folder(root / "fdu")
    for split, n in (("train", 210), ("test", 12)):
        lines = [f"{i % 2}\t{t}" for i, t in enumerate(texts("music", n, 9))]
        (data / f"music.task.{split}").write_text("\n".join(lines))
    config = NgramConfig(tasks=("books", "dvd"), max_features=60)
    train = load_fdu_mtl(data, tasks=list(config.tasks), splits=("train",))
    source = root / "source.keras"
    save_model_atomic(compiled_ngram_model(config, ngram_preprocessor(config, train)), source)
    return data, source


def test_a_rerun_with_other_settings_or_another_source_model_is_refused_by_name(corpus, tmp_path, monkeypatch):
    data, source = corpus
    run_dir = tmp_path / "run"
    first = run_transfer(source, "music", run_dir, data_dir=data, **SETTINGS)
    record = json.loads((run_dir / TRANSFER_RUN_IDENTITY).read_text())
    assert record["source_sha256"] == first["source_sha256"] == file_sha256(source)
    assert (record["learning_rate"], record["seed"], record["source_model"]) == (1e-3, 0, str(source))
    state = (run_dir / "model" / "state.json").read_bytes()
    for field, value in (("learning_rate", 0.01), ("seed", 1), ("patience", 5), ("epochs", 2), ("batch_size", 8)):
        held = first["config"][field]
        with pytest.raises(RunFolderError, match=rf"holds another transfer run .*'{field}': \({held!r}, {value!r}\)"):
            run_transfer(source, "music", run_dir, data_dir=data, **{**SETTINGS, field: value})
    shutil.copy(source, tmp_path / "copy.keras")
    other = keras.models.load_model(source, compile=False)  # another source model: other shared weights
    other.shared_kernel.assign(other.shared_kernel + 1.0)
    other.save(tmp_path / "other.keras")
    with pytest.raises(RunFolderError, match=r"'source_sha256': .*the source model file is not the one that run"):
        run_transfer(tmp_path / "other.keras", "music", run_dir, data_dir=data, **SETTINGS)
    assert (run_dir / "model" / "state.json").read_bytes() == state  # nothing resumed, trained or recorded

    # The same bytes by another path are the same run: it is reused, trained by one process still.
    again = run_transfer(tmp_path / "copy.keras", "music", run_dir, data_dir=data, **SETTINGS)
    assert again["per_task"] == first["per_task"] and again["processes"] == first["processes"] == 1

    # Its rerun saves the model again: on a full disk, the file it would replace is kept and named.
    path = run_dir / "model" / "model.keras"
    before = path.read_bytes()
    no_space_under(monkeypatch, run_dir, only="model.keras")
    with pytest.raises(DiskWriteError, match=rf"could not write {path} "):
        run_transfer(source, "music", run_dir, data_dir=data, **SETTINGS)
    assert path.read_bytes() == before


@pytest.mark.slow  # the library-level refusal above runs by default
def test_the_command_line_refuses_a_new_learning_rate_or_seed_for_a_finished_runs_folder(corpus, tmp_path, capsys):
    from experiments import transfer

    data, source = corpus
    out = tmp_path / "music-bc"
    args = ["--source-model", str(source), "--task", "music", "--epochs", "1", "--data-dir", str(data),
            "--output-dir", str(out), "--verbose", "0"]
    assert transfer.main(args) == 0
    results = (out / "results.json").read_text()
    capsys.readouterr()
    assert transfer.main([*args, "--learning-rate", "0.01"]) == 2
    assert "'learning_rate': (0.001, 0.01)" in capsys.readouterr().err
    # A folder from before transfer runs were recorded: its results.json says which run it holds.
    (out / TRANSFER_RUN_IDENTITY).unlink()
    assert transfer.main([*args, "--seed", "3"]) == 2
    assert "'seed': (0, 3)" in capsys.readouterr().err and not (out / TRANSFER_RUN_IDENTITY).exists()
    assert json.loads((out / "results.json").read_text()) == json.loads(results)  # the old run's numbers kept
    assert transfer.main(args) == 0 and json.loads((out / TRANSFER_RUN_IDENTITY).read_text())["seed"] == 0


def test_a_transfer_run_refuses_a_folder_another_process_holds(corpus, tmp_path):
    data, source = corpus
    run_dir = tmp_path / "run"
    with lock_held_elsewhere(run_dir, RUN_LOCK) as holder:
        with pytest.raises(FolderBusyError, match=rf"{run_dir} is being written by process {holder.pid} "):
            run_transfer(source, "music", run_dir, data_dir=data, **SETTINGS)
    assert sorted(p.name for p in run_dir.iterdir()) == [RUN_LOCK]  # not claimed, nothing trained
