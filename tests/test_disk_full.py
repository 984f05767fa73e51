"""A full disk while a run writes: one line naming the file and what to do, nothing complete damaged, and the rerun
after space is freed ends with the numbers of a run that never failed."""

import errno
import json
import shutil

import pytest

from tests.full_disk import fill, no_space_under, small_disk
from tests.tiny_fdu import write_fdu_folder
from tf_aspmtl.io_utils import DiskWriteError
from tf_aspmtl.training import RunFolderError, TrainConfig, dev_selection, run

CONFIG = TrainConfig(model="fs-mtl", tasks=("books",), epochs=2, patience=3, hidden_dim=4, max_length=8, encoder="lstm",
                     embedding="random", embedding_dim=4, paper_scale=False)
"""A run of seconds: FS-MTL (one encoder), an LSTM (at these sizes quicker to trace than the CNN), one task of the
tiny corpus, two epochs."""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fdu_folder(tmp_path_factory.mktemp("fdu"))


def _run(run_dir, data_dir):
    return run(CONFIG, run_dir, data_dir, dev_only=True, verbose=0)


def test_a_full_disk_at_a_checkpoint_fails_in_one_line_and_the_rerun_ends_as_if_it_never_had(tmp_path, data_dir,
                                                                                               finished_run,
                                                                                               monkeypatch):
    with small_disk(tmp_path / "disk", 64 * 1024) as mounted:
        run_dir = tmp_path / "disk" / "run"
        real_end = dev_selection.DevSelection.on_epoch_end
        filled = []

        def full_at_epoch_2(self, epoch, logs=None):
            if epoch == 1 and not filled:
                if mounted:
                    filled.append(fill(run_dir))
                else:  # no tmpfs here: the run folder's writes get the errno a full disk gives, at their lowest
                    filled.append(None)
                    no_space_under(monkeypatch, run_dir)
            return real_end(self, epoch, logs)

        monkeypatch.setattr(dev_selection.DevSelection, "on_epoch_end", full_at_epoch_2)
        with pytest.raises(DiskWriteError) as failed:
            _run(run_dir, data_dir)
        error = str(failed.value)
        assert "\n" not in error and "could not write" in error and f"errno {errno.ENOSPC}" in error
        assert "run the same command again" in error and str(run_dir / "model") in error
        assert json.loads((run_dir / "model" / "state.json").read_text())["epochs_done"] == 1  # epoch 1 intact
        assert not list((run_dir / "model").glob(".*part*"))  # no half-written file left
        if filled[0] is not None:
            filled[0].unlink()
        monkeypatch.undo()
        resumed = _run(run_dir, data_dir)
    straight, _ = finished_run
    assert resumed["per_task"] == straight["per_task"] and resumed["history"] == straight["history"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, data_dir):
    """A finished run's results and folder (tests copy it before they change anything)."""
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    return _run(run_dir, data_dir), run_dir


@pytest.mark.parametrize("damaged", ["best.weights.h5", "state.json"])
def test_a_damaged_run_file_is_named_with_its_role_and_the_way_out(finished_run, tmp_path, data_dir, damaged):
    run_dir = tmp_path / "run"
    shutil.copytree(finished_run[1], run_dir)
    (run_dir / "model" / "group_results.json").unlink()  # so the rerun reads the model folder again
    path = run_dir / "model" / damaged
    # cut short, as a failing disk or a bad copy leaves it, with the copies a run would otherwise fall back on
    # (tests/test_damaged_files.py): the state before it, or the best epoch's backup (in a run folder the same file,
    # a hard link; copytree made it a copy)
    state = json.loads((run_dir / "model" / "state.json").read_text())
    others = {"state.json": ["state.previous.json"], "best.weights.h5": [f"epoch-{state['best_epoch']}.weights.h5"]}
    for cut in [path] + [run_dir / "model" / name for name in others[damaged]]:
        if cut.exists():
            data = cut.read_bytes()
            cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(RunFolderError) as failed:
        _run(run_dir, data_dir)
    error = str(failed.value)
    assert str(path) in error and "damaged" in error and f"remove {run_dir / 'model'}" in error


def test_a_damaged_results_file_of_a_finished_group_is_rebuilt_from_the_trained_model(finished_run, tmp_path,
                                                                                       data_dir):
    first, finished_dir = finished_run
    run_dir = tmp_path / "run"
    shutil.copytree(finished_dir, run_dir)
    done = run_dir / "model" / "group_results.json"
    done.write_text(done.read_text()[:40])  # cut short
    again = _run(run_dir, data_dir)
    assert again["per_task"] == first["per_task"] and json.loads(done.read_text())["per_task"] == first["per_task"]


def test_an_export_onto_a_full_disk_publishes_nothing_and_says_so_in_one_line(finished_run, tmp_path, capsys):
    from export.__main__ import main as export_main

    with small_disk(tmp_path / "disk", 64) as mounted:
        if not mounted:
            pytest.skip("cannot mount a size-limited tmpfs here (needs root); the checkpoint test injects ENOSPC")
        base = tmp_path / "disk" / "serving"
        code = export_main(["--model", str(finished_run[1] / "model" / "model.keras"), "--output", str(base)])
        error = capsys.readouterr().err
        assert code == 2 and "could not write version 1" in error and "nothing of this export was published" in error
        assert "Traceback" not in error
        assert not [p for p in base.rglob("*") if p.is_dir() and p.name.isdigit()]  # no version published
        assert not [p for p in base.rglob(".tmp-*")]  # and no staging folder left


@pytest.mark.slow  # a full disk at a checkpoint is the default suite's (above); this is the TensorBoard writer's
def test_a_full_disk_under_the_tensorboard_logs_fails_in_one_line_and_the_rerun_ends_as_if_it_never_had(
        tmp_path, data_dir, finished_run, monkeypatch):
    import keras
    import tensorflow as tf

    class Interrupted(BaseException):
        pass

    class InterruptAfterEpoch1(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise Interrupted

    run_dir = tmp_path / "run"
    logs = run_dir / "model" / "logs"
    with small_disk(logs, 64) as mounted:  # the logs on a disk of their own: only their writes find it full
        with pytest.raises(Interrupted):  # epoch 1 done and checkpointed, its events logged
            run(CONFIG, run_dir, data_dir, dev_only=True, verbose=0, callbacks=[InterruptAfterEpoch1()])
        filled = []

        def full_disk(self, logs_=None):  # before TensorBoard opens this process's events files
            filled.append(fill(logs))

        def no_space(self, logs_=None):  # no tmpfs here: the error TensorFlow's summary writer gives
            raise tf.errors.ResourceExhaustedError(
                None, None, f"{logs}/train/events.out.tfevents.1.host.1.0.v2; No space left on device\n\tFailed "
                            "to flush 1 events")

        if mounted:
            monkeypatch.setattr(dev_selection.DevSelection, "on_train_begin", full_disk, raising=False)
        else:
            monkeypatch.setattr(keras.callbacks.TensorBoard, "on_train_begin", no_space)
        with pytest.raises(DiskWriteError) as failed:
            _run(run_dir, data_dir)
        error = str(failed.value)
        assert "\n" not in error and f"could not write {logs / 'train'}/events.out.tfevents." in error
        assert f"errno {errno.ENOSPC}, No space left on device" in error and "run the same command again" in error
        assert json.loads((run_dir / "model" / "state.json").read_text())["epochs_done"] == 1  # epoch 1 intact
        for filler in filled:
            filler.unlink()
        monkeypatch.undo()
        resumed = _run(run_dir, data_dir)
        assert not [p for p in logs.rglob("events.out.tfevents.*") if p.stat().st_size == 0]  # the failed one removed
    straight, _ = finished_run
    assert resumed["per_task"] == straight["per_task"] and resumed["history"] == straight["history"]
