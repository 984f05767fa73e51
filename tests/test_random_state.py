"""random_state: every seed generator state of a model, read and put back, and the epoch checkpoint that holds it."""

import json

import keras
import numpy as np
import pandas as pd
import pytest

import tf_aspmtl
from tf_aspmtl.data.pipeline import make_eval_dataset, make_training_dataset
from tf_aspmtl.training import fit_with_dev_selection
from tf_aspmtl.training.random_state import random_state, random_state_variables, set_random_state
from tf_aspmtl.training.run_folder import RunFolderError


class TwoDropouts(keras.Model):
    """Dropout at two depths (one inside a nested layer), between weights that ``save_weights`` writes."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(3)
        self.inner = keras.Sequential([keras.layers.Dropout(0.5), keras.layers.Dense(3)])
        self.outer = keras.layers.Dropout(0.5)

    def call(self, x, training=False):
        return self.outer(self.inner(self.dense(x), training=training), training=training)


def _two_dropouts():
    keras.utils.set_random_seed(0)
    model = TwoDropouts()
    model(np.zeros((1, 4), "float32"))
    return model


def test_every_seed_generator_of_the_layer_tree_is_found_in_build_order_and_no_weight():
    model = _two_dropouts()
    found = random_state_variables(model)
    assert [id(v) for v in found] == [id(model.inner.layers[0].seed_generator.state),
                                      id(model.outer.seed_generator.state)]
    assert not {id(v) for v in found} & {id(w) for w in model.weights}
    assert [counter for _, counter in random_state(model)] == [0, 0]


def test_a_restored_model_draws_what_the_original_draws_next():
    x = np.ones((8, 4), "float32")
    original = _two_dropouts()
    for _ in range(3):
        original(x, training=True)
    saved = random_state(original)
    assert [counter for _, counter in saved] == [3, 3]
    expected = original(x, training=True)  # its 4th draw
    unrestored = _two_dropouts()
    unrestored.set_weights(original.get_weights())
    assert not np.array_equal(unrestored(x, training=True), expected)  # a 1st draw: other masks
    restored = _two_dropouts()
    restored.set_weights(original.get_weights())
    set_random_state(restored, saved)
    assert np.array_equal(restored(x, training=True), expected)


def test_a_state_of_another_model_is_refused_and_nothing_changes():
    model = _two_dropouts()
    before = random_state(model)
    with pytest.raises(ValueError, match=r"holds 1 seed generator state\(s\); the model has 2"):
        set_random_state(model, [[5, 7]])
    with pytest.raises(ValueError, match=r"has shape \(3,\)"):
        set_random_state(model, [[5, 7], [5, 7, 9]])
    assert random_state(model) == before


# ------------------------------------------------------------------ in the epoch checkpoint
FRAME = pd.DataFrame({"text": ["good book", "bad film", "great read", "awful plot"] * 4,
                      "task": ["books"] * 8 + ["dvd"] * 8, "label": [1, 0] * 8})


def _tiny_fit(run_dir, epochs, **model_args):
    """A 2-task SP-MTL (dropout 0.5 unless ``model_args`` say otherwise) fitted with dev selection on ``run_dir``
    (4 steps an epoch)."""
    pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(FRAME, max_length=6)
    train, steps = make_training_dataset(FRAME, pre.text_vectorizer, pre.task_names, batch_size=4, max_length=6)
    dev = make_eval_dataset(FRAME, pre.text_vectorizer, pre.task_names)
    keras.utils.set_random_seed(0)
    model = tf_aspmtl.SharedPrivateMTL(pre, embedding_dim=4, hidden_dim=4, word_vectors="random",
                                   **{"dropout": 0.5, **model_args})
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    return fit_with_dev_selection(model, train, steps, dev, run_dir, epochs=epochs, patience=5, tensorboard=False,
                                  verbose=0)


def _as_if_killed(run_dir, **changes) -> dict:
    """state.json as a process killed after its last epoch left it; ``random_state=`` replaces the newest backup's."""
    state = json.loads((run_dir / "state.json").read_text())
    state["finished"] = False
    if "random_state" in changes:
        state["backups"][0]["random_state"] = changes.pop("random_state")
    state.update(changes)
    (run_dir / "state.json").write_text(json.dumps(state))
    return state


@pytest.mark.parametrize("model_args, draws", [
    ({}, [4]),  # the feature dropout's seed generator: a draw a training step
    # VAT's directions: a draw a training step (4) and a dev batch (2: the dev loss has the term too); a Dropout of
    # rate 0 has no seed generator
    pytest.param({"dropout": 0.0, "embedding_perturbation": "virtual"}, [6], marks=pytest.mark.slow),  # 10 s
], ids=["dropout", "vat"])
def test_the_checkpoint_holds_the_random_state_and_a_resumed_fit_draws_as_one_never_stopped(tmp_path, model_args,
                                                                                           draws):
    reference = _tiny_fit(tmp_path / "reference", epochs=3, **model_args)
    _tiny_fit(tmp_path / "resumed", epochs=1, **model_args)
    assert [counter for _, counter in _as_if_killed(tmp_path / "resumed")["backups"][0]["random_state"]] == draws
    resumed = _tiny_fit(tmp_path / "resumed", epochs=3, **model_args)
    assert resumed.resumed_from_epoch == 1 and resumed.history == reference.history


@pytest.mark.slow  # run folders written before the random state was recorded (an earlier version's folders)
def test_a_checkpoint_without_random_state_resumes_with_a_warning(tmp_path, caplog):
    _tiny_fit(tmp_path, epochs=1)
    _as_if_killed(tmp_path, random_state=None)  # as folders written before the random state was kept
    with caplog.at_level("WARNING", logger="tf_aspmtl.training"):
        assert _tiny_fit(tmp_path, epochs=2).resumed_from_epoch == 1
    assert "before checkpoints kept the random state" in caplog.text


def test_a_random_state_that_does_not_fit_the_model_is_refused_by_file(tmp_path):
    _tiny_fit(tmp_path, epochs=1)
    _as_if_killed(tmp_path, random_state=[[1, 2], [3, 4]])
    with pytest.raises(RunFolderError, match=r"state\.json: The saved random state holds 2 seed generator"):
        _tiny_fit(tmp_path, epochs=2)
