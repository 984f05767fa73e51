"""A finished fit keeps its best weights and drops the epoch backups it will never read (disk: each backup holds
the model and its optimizer state, 416 MB for the best n-gram model)."""

import json

import keras
import numpy as np

from tf_aspmtl.training.dev_selection import DevSelection


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)
    return model


def _train(run_dir, scores):
    """DevSelection through the epochs of ``scores`` (dev accuracies), the weights moved every epoch; then done."""
    model = _model()
    selection = DevSelection(run_dir, monitor="val_score", patience=2)
    selection.set_model(model)
    assert selection.resume() == 0
    for epoch, score in enumerate(scores):
        model.layers[0].kernel.assign(np.full((3, 1), epoch + 1.0, "float32"))
        selection.on_epoch_end(epoch, {"val_score": score})
        if model.stop_training:
            break
    selection.mark_finished()
    return model, selection


def test_a_run_that_stopped_early_keeps_its_best_weights_and_no_epoch_backup(tmp_path):
    _, selection = _train(tmp_path, [0.9, 0.5, 0.4, 0.3])  # best epoch 1; stops after epoch 3
    assert (selection.best_epoch, selection.epochs_done, selection.stopped_early) == (1, 3, True)
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["finished"] and state["backups"] == [] and state["backup"] is None
    assert sorted(p.name for p in tmp_path.glob("*.h5")) == ["best.weights.h5"]
    # A new process reads the state (no backup is no damage for a finished run) and loads the best weights.
    again = DevSelection(tmp_path, monitor="val_score", patience=2)
    assert again.resume() == 3 and again.finished and again.best_epoch == 1
    model = _model()
    again.load_best_weights(model)
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), np.full((3, 1), 1.0))


def test_a_run_whose_best_epoch_is_among_the_last_keeps_that_backup_only(tmp_path):
    _train(tmp_path, [0.1, 0.2, 0.9])  # best epoch 3, the last
    state = json.loads((tmp_path / "state.json").read_text())
    assert [b["epoch"] for b in state["backups"]] == [3]
    assert sorted(p.name for p in tmp_path.glob("*.h5")) == ["best.weights.h5", "epoch-3.weights.h5"]
