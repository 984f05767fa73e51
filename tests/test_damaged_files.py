"""Damaged or foreign run files: a flipped bit in a weights file is caught by the SHA-256 recorded when it was
written; a damaged last backup or state gives way to the one before (said, and the run ends with the numbers of one
never damaged); with nothing whole left, or a folder of a newer library, the error names the file and the way out."""

import json
import os
import shutil

import keras
import pytest

from tests.tiny_fdu import write_fdu_folder
from tf_aspmtl.training import RunFolderError, TrainConfig, run

CONFIG = TrainConfig(model="fs-mtl", tasks=("books",), epochs=3, patience=3, hidden_dim=4, max_length=8,
                     encoder="lstm", embedding="random", embedding_dim=4, paper_scale=False)
"""A run of seconds (FS-MTL, an LSTM, one task of the tiny corpus) of three epochs: two backups to choose from."""
VOLATILE = ("wall_time_s", "training_wall_time_s", "processes", "resumed")


class Interrupted(BaseException):
    """Stands for a kill after epoch 2's checkpoint."""


class InterruptAfterEpoch2(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise Interrupted


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fdu_folder(tmp_path_factory.mktemp("fdu"))


def _run(run_dir, data_dir, **kwargs):
    return run(CONFIG, run_dir, data_dir, dev_only=True, verbose=0, **kwargs)


@pytest.fixture(scope="module")
def straight(tmp_path_factory, data_dir):
    """The results and folder of a run never interrupted."""
    run_dir = tmp_path_factory.mktemp("straight") / "run"
    return _run(run_dir, data_dir), run_dir


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory, data_dir):
    """The folder of the same run stopped after epoch 2's checkpoint (tests copy it before they damage it)."""
    run_dir = tmp_path_factory.mktemp("interrupted") / "run"
    with pytest.raises(Interrupted):
        _run(run_dir, data_dir, callbacks=[InterruptAfterEpoch2()])
    return run_dir


def _copy(folder, tmp_path):
    """A copy of a run folder, the best weights a hard link to their epoch's backup as in the original."""
    shutil.copytree(folder, tmp_path / "run")
    model_dir = tmp_path / "run" / "model"
    backup = model_dir / f"epoch-{json.loads((model_dir / 'state.json').read_text())['best_epoch']}.weights.h5"
    if backup.exists():
        (model_dir / "best.weights.h5").unlink()
        os.link(backup, model_dir / "best.weights.h5")
    return tmp_path / "run", model_dir


def flip_a_bit(path, at=0.6):
    """Flips one bit of ``path`` in place, ``at`` of the way in, as a failing disk does: the file keeps its size."""
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x10
    path.write_bytes(bytes(data))


def _same_numbers(results, reference):
    assert {k: v for k, v in results.items() if k not in VOLATILE} == {
        k: v for k, v in reference.items() if k not in VOLATILE}


def test_two_backups_are_kept_while_training_runs(interrupted):
    state = json.loads((interrupted / "model" / "state.json").read_text())
    assert sorted(p.name for p in (interrupted / "model").glob("epoch-*.weights.h5")) == [
        "epoch-1.weights.h5", "epoch-2.weights.h5"]
    assert [b["epoch"] for b in state["backups"]] == [2, 1] and state["format"] == 2


def test_a_finished_run_keeps_only_the_best_epochs_own_backup_a_link_not_a_copy(straight):
    model_dir = straight[1] / "model"
    state = json.loads((model_dir / "state.json").read_text())
    best = state["best"]
    assert best["epoch"] == state["best_epoch"] and state["finished"]
    kept = [best["epoch"]] if best["epoch"] >= 2 else []  # the last two epochs' backups were there at the end
    assert sorted(p.name for p in model_dir.glob("epoch-*.weights.h5")) == [f"epoch-{e}.weights.h5" for e in kept]
    assert [b["epoch"] for b in state["backups"]] == kept
    for epoch in kept:  # the same file under two names
        backup = model_dir / f"epoch-{epoch}.weights.h5"
        assert os.stat(model_dir / "best.weights.h5").st_ino == os.stat(backup).st_ino


def test_backups_a_kill_inside_mark_finished_left_are_removed_by_the_next_process(straight, tmp_path, data_dir):
    run_dir, model_dir = _copy(straight[1], tmp_path)
    stray = model_dir / "epoch-9.weights.h5"
    stray.write_bytes(b"weights of an epoch the finished state no longer names")
    (model_dir / "group_results.json").unlink()  # so the rerun opens the training state again
    _same_numbers(_run(run_dir, data_dir), straight[0])
    assert not stray.exists()


def test_a_flipped_bit_in_the_last_backup_resumes_from_the_one_before_and_ends_as_if_never_damaged(
        interrupted, straight, tmp_path, data_dir, caplog):
    run_dir, model_dir = _copy(interrupted, tmp_path)
    flip_a_bit(model_dir / "epoch-2.weights.h5")
    with caplog.at_level("WARNING", logger="tf_aspmtl.training"):
        resumed = _run(run_dir, data_dir)
    warning = [r.getMessage() for r in caplog.records if "resuming from" in r.getMessage()]
    assert len(warning) == 1 and "\n" not in warning[0]
    assert f"{model_dir / 'epoch-2.weights.h5'} (the backup of epoch 2) is damaged" in warning[0]
    assert "SHA-256" in warning[0] and f"{model_dir / 'epoch-1.weights.h5'}, the backup of epoch 1" in warning[0]
    _same_numbers(resumed, straight[0])
    assert resumed["resumed"] == [{"group": "books", "from_epoch": 1}]


def test_with_both_backups_damaged_the_error_names_the_last_and_the_way_out(interrupted, tmp_path, data_dir):
    run_dir, model_dir = _copy(interrupted, tmp_path)
    flip_a_bit(model_dir / "epoch-2.weights.h5")
    (model_dir / "epoch-1.weights.h5").unlink()
    with pytest.raises(RunFolderError) as failed:
        _run(run_dir, data_dir)
    error = str(failed.value)
    assert "\n" not in error and str(model_dir / "epoch-2.weights.h5") in error
    assert "(the backup of epoch 2, to resume the run from) is damaged" in error and "SHA-256" in error
    assert "the backup of the epoch before cannot be used either (it is missing)" in error
    assert f"remove {model_dir}" in error


def test_a_flipped_bit_in_the_best_weights_is_named_with_its_role(straight, tmp_path, data_dir):
    run_dir, model_dir = _copy(straight[1], tmp_path)  # the best weights a hard link to their epoch's backup
    (model_dir / "group_results.json").unlink()  # so the rerun loads the best weights again
    best = model_dir / "best.weights.h5"
    flip_a_bit(best)
    with pytest.raises(RunFolderError) as failed:
        _run(run_dir, data_dir)
    error = str(failed.value)
    epoch = json.loads((model_dir / "state.json").read_text())["best_epoch"]
    assert f"{best} (the weights of the best epoch, {epoch}) is damaged" in error and "SHA-256" in error
    assert f"remove {model_dir}" in error


def test_damaged_best_weights_give_way_to_their_epochs_own_backup(straight, tmp_path, data_dir, caplog):
    run_dir, model_dir = _copy(straight[1], tmp_path)
    epoch = json.loads((model_dir / "state.json").read_text())["best_epoch"]
    assert epoch >= 2  # a kept backup (the last two epochs')
    best = model_dir / "best.weights.h5"
    shutil.copyfile(best, tmp_path / "copy")
    os.replace(tmp_path / "copy", best)  # a file of its own, as where the disk has no hard links
    (model_dir / "group_results.json").unlink()
    flip_a_bit(best)
    with caplog.at_level("WARNING", logger="tf_aspmtl.training"):
        again = _run(run_dir, data_dir)
    assert f"{best} (the weights of the best epoch, {epoch}) is damaged" in caplog.text
    assert f"loaded {model_dir / f'epoch-{epoch}.weights.h5'}, the backup of that epoch" in caplog.text
    _same_numbers(again, straight[0])


@pytest.mark.parametrize("damage", ["cut", "schema"])
def test_a_damaged_state_gives_way_to_the_state_before_it(interrupted, straight, tmp_path, data_dir, caplog, damage):
    run_dir, model_dir = _copy(interrupted, tmp_path)
    path = model_dir / "state.json"
    if damage == "cut":
        path.write_bytes(path.read_bytes()[:100])
    else:  # valid JSON, not a state: a history row that is not its epoch
        state = json.loads(path.read_text())
        state["history"][1]["epoch"] = 7
        path.write_text(json.dumps(state))
    with caplog.at_level("WARNING", logger="tf_aspmtl.training"):
        resumed = _run(run_dir, data_dir)
    assert f"{path} is damaged" in caplog.text
    assert "state.previous.json, the state before it (1 epoch(s) done)" in caplog.text
    _same_numbers(resumed, straight[0])


def test_a_state_of_the_wrong_shape_without_an_earlier_one_is_named(interrupted, tmp_path, data_dir):
    run_dir, model_dir = _copy(interrupted, tmp_path)
    (model_dir / "state.previous.json").unlink()
    state = json.loads((model_dir / "state.json").read_text())
    state["epochs_done"] = 5
    (model_dir / "state.json").write_text(json.dumps(state))
    with pytest.raises(RunFolderError, match=r"state\.json \(the training state: epochs done, best epoch, history\) "
                                             r"is damaged: epochs_done \(5\) is not the number of history rows \(2\); "
                                             r"remove .*model"):
        _run(run_dir, data_dir)


@pytest.mark.parametrize("record", ["model/state.json", "run_config.json"])
def test_a_folder_of_a_newer_library_is_refused_by_name(interrupted, tmp_path, data_dir, record):
    run_dir, _ = _copy(interrupted, tmp_path)
    path = run_dir / record
    path.write_text(json.dumps({**json.loads(path.read_text()), "format": 3}))
    with pytest.raises(RunFolderError, match=rf"{path} was written by a newer version of tf_aspmtl \(run folder "
                                             r"format 3; this version reads formats 1 to 2\)"):
        _run(run_dir, data_dir)


def test_a_state_of_the_first_format_resumes(interrupted, straight, tmp_path, data_dir):
    run_dir, model_dir = _copy(interrupted, tmp_path)
    state = json.loads((model_dir / "state.json").read_text())
    for key in ("format", "backups", "best"):  # as earlier versions wrote it: one backup, no checksums
        del state[key]
    (model_dir / "state.json").write_text(json.dumps(state))
    (model_dir / "epoch-1.weights.h5").unlink()
    _same_numbers(_run(run_dir, data_dir), straight[0])
