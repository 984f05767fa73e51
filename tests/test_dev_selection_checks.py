"""What a resumed fit compares with its folder beyond the model (patience, mode, optionally the compile config),
and how many processes it says trained the run."""

import json

import pytest

from tests.plain_keras_run import MONITOR, as_if_killed, plain_data, plain_model
from tf_aspmtl.training import RunFolderError, fit_with_dev_selection
from tf_aspmtl.training.dev_selection import DevSelection
from tf_aspmtl.training.model_fingerprint import COMPILE_CONFIG


def _fit(run_dir, model=None, epochs=1, patience=2, **options):
    train, steps, dev = plain_data()
    return fit_with_dev_selection(model or plain_model(), train, steps, dev, run_dir, epochs=epochs,
                                  patience=patience, monitor=MONITOR, tensorboard=False, verbose=0, **options)


def test_processes_count_only_the_calls_that_trained_an_epoch(tmp_path):
    assert _fit(tmp_path).processes == 1
    again = _fit(tmp_path)  # finished: loads the best weights, trains nothing
    assert again.processes == 1 and again.resumed_from_epoch == again.epochs_run == 1
    as_if_killed(tmp_path)
    resumed = _fit(tmp_path, epochs=2)  # trains epoch 2: a second process of the run
    assert resumed.processes == 2 and resumed.epochs_run == 2
    assert _fit(tmp_path, epochs=2).processes == 2
    assert json.loads((tmp_path / "state.json").read_text())["processes"] == 2


def test_a_folder_that_selected_with_another_patience_or_mode_is_refused_by_name(tmp_path):
    _fit(tmp_path, patience=2)
    as_if_killed(tmp_path)
    with pytest.raises(RunFolderError, match=r"state.json records a run that selected epochs otherwise .*"
                                             r"'patience': \(2, 3\)"):
        _fit(tmp_path, epochs=2, patience=3)
    with pytest.raises(RunFolderError, match=r"'mode': \('max', 'min'\)"):
        DevSelection(tmp_path, monitor=MONITOR, patience=2, mode="min").resume()
    assert _fit(tmp_path, epochs=2, patience=2).epochs_run == 2  # the same settings resume


def test_a_recorded_compile_config_refuses_another_learning_rate_and_an_unrecorded_one_resumes(tmp_path):
    _fit(tmp_path / "recorded", plain_model(learning_rate=0.05), record_compile_config=True)
    as_if_killed(tmp_path / "recorded")
    with pytest.raises(ValueError, match=rf"records another run: {COMPILE_CONFIG} differ"):
        _fit(tmp_path / "recorded", plain_model(learning_rate=0.01), epochs=2, record_compile_config=True)
    # The same training in a fresh process's model (its optimizer named adam_<n>, not adam), run otherwise (eagerly
    # here; jit_compile="auto" resolves by the machine's devices), resumes.
    assert _fit(tmp_path / "recorded", plain_model(learning_rate=0.05, run_eagerly=True), epochs=2,
                record_compile_config=True).resumed_from_epoch == 1

    # A folder written without the record (before it existed) resumes, and records it from then on.
    _fit(tmp_path / "before", plain_model(learning_rate=0.05))
    state = json.loads((tmp_path / "before" / "state.json").read_text())
    assert COMPILE_CONFIG not in state["run_identity"]  # what the runs that do not ask for it record, unchanged
    as_if_killed(tmp_path / "before")
    _fit(tmp_path / "before", plain_model(learning_rate=0.05), epochs=2, record_compile_config=True)
    assert COMPILE_CONFIG in json.loads((tmp_path / "before" / "state.json").read_text())["run_identity"]


def test_a_finished_folder_of_another_epoch_count_is_refused_by_name(tmp_path):
    # A run finished after its 1 epoch is no 3-epoch run: reporting it as one would be another run's numbers.
    _fit(tmp_path / "fewer", epochs=1, patience=5)
    with pytest.raises(RunFolderError, match=r"'epochs': \(1, 3\)"):
        _fit(tmp_path / "fewer", epochs=3, patience=5)
    # A run that trained 2 epochs may have selected its second: no 1-epoch run could have.
    _fit(tmp_path / "more", epochs=2, patience=5)
    with pytest.raises(RunFolderError, match=r"'epochs': \(2, 1\)"):
        _fit(tmp_path / "more", epochs=1, patience=5)
    assert _fit(tmp_path / "more", epochs=2, patience=5).epochs_run == 2  # the same count reuses it
