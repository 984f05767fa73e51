"""Faults: a run killed with SIGKILL resumes to the numbers of a run never killed; divergence stops loudly."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from tests.tiny_fdu import write_fdu_folder
from tf_aspmtl.training import TrainConfig, run

REPO = Path(__file__).resolve().parents[1]
CONFIG = TrainConfig(tasks=("books", "dvd"), epochs=2, patience=2, hidden_dim=8, embedding_dim=8, max_length=16,
                     batch_size=4, encoder="lstm", embedding="random", dropout=0.5, seed=0, paper_scale=False)
"""ASP-MTL (every kind of state: shared and private encoders, the discriminator, the optimizer's, and the dropout's
random state; LSTM encoders: at these sizes their train step traces about a second sooner than the CNN's) on the tiny
corpus's 10 train rows a task: 5 steps an epoch, so a kill in the middle of one (after step 3) is one."""
VOLATILE = ("wall_time_s", "training_wall_time_s", "processes", "resumed")

KILL_MID_EPOCH_2 = """
import json, os, signal, sys
import keras
from tf_aspmtl.training import TrainConfig, run

class Kill(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 1 and batch == 2:
            os.kill(os.getpid(), signal.SIGKILL)

run(TrainConfig.from_dict(json.loads(sys.argv[1])), sys.argv[2], sys.argv[3], verbose=0, callbacks=[Kill()])
"""
"""A process that runs the library's training and SIGKILLs itself in the middle of epoch 2 (nothing is cleaned up:
no exception handler, no ``finally``, the lock file left behind)."""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fdu_folder(tmp_path_factory.mktemp("fdu"))


def _stable(results: dict) -> dict:
    return {k: v for k, v in results.items() if k not in VOLATILE}


@pytest.fixture(scope="module")
def reference(tmp_path_factory, data_dir):
    return run(CONFIG, tmp_path_factory.mktemp("reference"), data_dir, verbose=0)


def _check_resumed(results, reference):
    assert _stable(results) == _stable(reference)  # every error, epoch and logged loss, bit for bit
    history = results["history"]["books+dvd"]
    assert len(history["loss"]) == len(reference["history"]["books+dvd"]["loss"])  # no epoch twice


# a real process killed mid-epoch (multi-process); the default suite resumes in-process runs interrupted at the same
# points (tests/test_exact_resume.py, tests/test_random_state.py)
@pytest.mark.slow
def test_a_process_killed_mid_epoch_resumes_to_the_same_numbers(tmp_path, data_dir, reference, caplog):
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    killed = subprocess.run([sys.executable, "-c", KILL_MID_EPOCH_2, json.dumps(CONFIG.to_dict()), str(out),
                             str(data_dir)], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr[-2000:])
    assert json.loads((out / "model" / "state.json").read_text())["epochs_done"] == 1
    assert not (out / "model" / "group_results.json").exists()
    with caplog.at_level("INFO", logger="tf_aspmtl.training"):
        results = run(CONFIG, out, data_dir, verbose=0)  # the dead process's lock is taken over
    assert "resuming" in caplog.text and "1 epoch(s) finished" in caplog.text
    _check_resumed(results, reference)
    assert results["processes"] == 2 and results["resumed"] == [{"group": "books+dvd", "from_epoch": 1}]


class Interrupted(BaseException):
    """Stands for a kill: raised through ``fit`` and ``run`` (their state on disk is what a kill leaves)."""


class InterruptAt(keras.callbacks.Callback):
    def __init__(self, point):
        super().__init__()
        self.point = point

    def on_epoch_end(self, epoch, logs=None):
        if self.point == f"epoch-end:{epoch + 1}":  # after the epoch's checkpoint
            raise Interrupted(self.point)

    def hook(self, point):
        if point == self.point:
            raise Interrupted(point)


@pytest.mark.parametrize("point", ["epoch-end:1"] + [pytest.param(point, marks=pytest.mark.slow) for point in (
    "epoch-end:2", "after-training", "during-evaluation")])  # the first point in the default suite (the kill is slow)
def test_a_run_interrupted_at_every_point_resumes_to_the_same_numbers(tmp_path, data_dir, reference, point):
    interrupt = InterruptAt(point)
    with pytest.raises(Interrupted):
        run(CONFIG, tmp_path, data_dir, verbose=0, callbacks=[interrupt], checkpoint_hook=interrupt.hook)
    assert not (tmp_path / "model" / "group_results.json").exists()
    _check_resumed(run(CONFIG, tmp_path, data_dir, verbose=0), reference)


@pytest.mark.slow  # 8 s; the optimizer state across a resume (Adam's) is the default suite's in
# tests/test_random_state.py (a resumed fit ends where one never stopped does)
def test_an_adagrad_run_of_uniform_weights_interrupted_resumes_to_the_same_numbers(tmp_path, data_dir):
    """Adagrad's accumulators are saved and restored with the epoch's checkpoint (they start at 0.1, not 0)."""
    config = TrainConfig.from_dict({**CONFIG.to_dict(), "optimizer": "adagrad", "learning_rate": 0.1,
                                    "initializer": "uniform"})
    reference = run(config, tmp_path / "reference", data_dir, verbose=0)
    interrupt = InterruptAt("epoch-end:1")
    with pytest.raises(Interrupted):
        run(config, tmp_path / "run", data_dir, verbose=0, callbacks=[interrupt])
    results = run(config, tmp_path / "run", data_dir, verbose=0)
    assert results["resumed"] == [{"group": "books+dvd", "from_epoch": 1}]
    _check_resumed(results, reference)
    assert results["config"]["optimizer"] == "adagrad" and results["config"]["initializer"] == "uniform"


def test_diverging_run_fails_loudly_and_claims_nothing(tmp_path, data_dir):
    from tf_aspmtl.training import NonFiniteLossError

    config = TrainConfig(tasks=("books", "dvd"), hidden_dim=4, embedding_dim=4, max_length=8, batch_size=4,
                         encoder="lstm", embedding="random", learning_rate=1e38, paper_scale=False)
    with pytest.raises(NonFiniteLossError, match=r"Training diverged in epoch 1, step .*non-finite loss term\(s\)"):
        run(config, tmp_path / "nan", data_dir, verbose=0)
    assert not (tmp_path / "nan" / "model" / "model.keras").exists()
    assert not (tmp_path / "nan" / "model" / "group_results.json").exists()


def test_bad_numbers_in_a_config_are_refused_by_name(tmp_path):
    for field, value, message in (("learning_rate", float("nan"), "learning_rate must be finite"),
                                  ("learning_rate", 0.0, "learning_rate must be > 0"),
                                  ("adversarial_weight", float("inf"), "adversarial_weight must be finite"),
                                  ("difference_weight", -1.0, "difference_weight must be >= 0"),
                                  ("epochs", 0, "epochs must be >= 1")):
        with pytest.raises(ValueError, match=message):
            TrainConfig.from_dict({field: value})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hidden_dim": "sixteen"}))
    with pytest.raises(ValueError, match="bad.json: TrainConfig.hidden_dim must be an int; got 'sixteen'"):
        TrainConfig.from_json_file(bad)


def test_divergence_in_a_later_epoch_keeps_the_earlier_checkpoint_usable(tmp_path):
    import numpy as np
    import pandas as pd

    import tf_aspmtl
    from tf_aspmtl.data.pipeline import make_eval_dataset, make_training_dataset
    from tf_aspmtl.training import NonFiniteLossError, fit_with_dev_selection

    frame = pd.DataFrame({"text": ["good book", "bad film", "great read", "awful plot"] * 8,
                          "task": ["books"] * 16 + ["dvd"] * 16, "label": [1, 0] * 16})
    pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(frame, max_length=6)

    def model():
        keras.utils.set_random_seed(0)
        m = tf_aspmtl.SharedPrivateMTL(pre, embedding_dim=4, hidden_dim=4, word_vectors="random")
        m.compile(optimizer=keras.optimizers.SGD(0.1))
        return m

    train, steps = make_training_dataset(frame, pre.text_vectorizer, pre.task_names, batch_size=4, max_length=6)
    dev = make_eval_dataset(frame, pre.text_vectorizer, pre.task_names)
    class Explode(keras.callbacks.Callback):  # the weights go non-finite in epoch 2, as in a divergence
        def on_train_batch_begin(self, batch, logs=None):
            if self._epoch == 1 and batch == 1:
                self.model.heads.kernel.assign(np.full(self.model.heads.kernel.shape, np.inf, "float32"))

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch

    explode = Explode()
    with pytest.raises(NonFiniteLossError, match="epoch 2, step"):
        fit_with_dev_selection(model(), train, steps, dev, tmp_path, epochs=3, tensorboard=False, verbose=0,
                               callbacks=[explode])
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["epochs_done"] == 1 and not state["finished"]
    restored = model()
    restored.load_weights(str(tmp_path / state["backup"]))
    probs = restored.predict({"text": ["good book"], "task": ["books"]}, verbose=0)
    assert np.all(np.isfinite(probs)) and np.all(np.isfinite(np.concatenate([w.ravel() for w in restored.get_weights()])))


def _tiny_data():
    """The run-identity tests' 2-task rows: their preprocessor and datasets, built for each run (a training dataset
    object serves one run in a process: iterated again, its shuffle draws other orders, and a fit refuses it)."""
    import pandas as pd

    import tf_aspmtl
    from tf_aspmtl.data.pipeline import make_eval_dataset, make_training_dataset

    frame = pd.DataFrame({"text": ["good book", "bad film", "great read", "awful plot"] * 4,
                          "task": ["books"] * 8 + ["dvd"] * 8, "label": [1, 0] * 8})
    pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(frame, max_length=6)
    train, steps = make_training_dataset(frame, pre.text_vectorizer, pre.task_names, batch_size=4, max_length=6)
    dev = make_eval_dataset(frame, pre.text_vectorizer, pre.task_names)
    return pre, train, steps, dev


def _tiny_run(tmp_path, **model_args):
    """A 2-task SP-MTL of a few weights, its data, and a fit on ``tmp_path`` (for the run-identity tests)."""
    import tf_aspmtl
    from tf_aspmtl.training import fit_with_dev_selection

    pre, train, steps, dev = _tiny_data()
    keras.utils.set_random_seed(0)
    model = tf_aspmtl.SharedPrivateMTL(pre, **{"embedding_dim": 4, "hidden_dim": 4, "word_vectors": "random",
                                               **model_args})
    model.compile(optimizer=keras.optimizers.SGD(0.1))

    def fit(epochs=2, steps_per_epoch=steps):
        return fit_with_dev_selection(model, train, steps_per_epoch, dev, tmp_path, epochs=epochs, patience=5,
                                      tensorboard=False, verbose=0)

    return model, fit


def _as_if_killed_after_epoch_1(run_dir):
    state = json.loads((run_dir / "state.json").read_text())
    state["finished"] = False
    (run_dir / "state.json").write_text(json.dumps(state))


def test_a_run_folder_of_another_model_of_the_same_shapes_is_refused_by_name(tmp_path):
    _, fit = _tiny_run(tmp_path, seed=1)
    fit(epochs=1)
    _as_if_killed_after_epoch_1(tmp_path)
    state = (tmp_path / "state.json").read_text()
    # The same architecture with another seed or dropout: every weight fits, so only the record can tell.
    for args, named in (({"seed": 2}, "config.seed"), ({"seed": 1, "dropout": 0.5}, "config.dropout")):
        _, other = _tiny_run(tmp_path, **args)
        with pytest.raises(ValueError, match=rf"state\.json records another run: {named} differ"):
            other(epochs=2)
        assert (tmp_path / "state.json").read_text() == state  # nothing written
    _, other_steps = _tiny_run(tmp_path, seed=1)
    with pytest.raises(ValueError, match="steps_per_epoch differ"):
        other_steps(epochs=2, steps_per_epoch=3)
    # The same model built again (later in the process, so Keras gives its layers other names) resumes.
    _, same = _tiny_run(tmp_path, seed=1)
    result = same(epochs=2)
    assert result.resumed_from_epoch == 1 and result.epochs_run == 2


@pytest.mark.slow  # run folders written before the record (an earlier version's folders)
def test_a_run_folder_from_before_the_record_resumes_with_a_warning_and_is_recorded_from_then_on(tmp_path, caplog):
    _, fit = _tiny_run(tmp_path, seed=1)
    fit(epochs=1)
    state = json.loads((tmp_path / "state.json").read_text())
    assert "config.seed" in state["run_identity"]
    state["finished"] = False
    del state["run_identity"]  # as written before run folders recorded their run
    (tmp_path / "state.json").write_text(json.dumps(state))
    _, same = _tiny_run(tmp_path, seed=1)
    with caplog.at_level("WARNING", logger="tf_aspmtl.training"):
        assert same(epochs=2).resumed_from_epoch == 1
    assert "without checking" in caplog.text
    assert json.loads((tmp_path / "state.json").read_text())["run_identity"]["config.seed"]
    _, other = _tiny_run(tmp_path, seed=2)
    with pytest.raises(ValueError, match="config.seed differ"):
        other(epochs=3)
