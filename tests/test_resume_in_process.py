"""fit_with_dev_selection called again in the same process (after an error): a dataset object it already trained
from is refused, since iterating it again draws other shuffles; a dataset built again resumes exactly."""

import json
import warnings

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tf_aspmtl
from tf_aspmtl.data.pipeline import make_eval_dataset, make_training_dataset
from tf_aspmtl.training import fit_with_dev_selection

FRAME = pd.DataFrame({"text": ["good book", "bad film", "great read", "awful plot", "fine", "dull"] * 4,
                      "task": ["books"] * 12 + ["dvd"] * 12, "label": [1, 0] * 12})


def _orders(dataset, batches):
    return [b.numpy().tolist() for b in dataset.take(batches)]


def test_a_shuffled_dataset_object_iterated_again_draws_other_orders_and_a_rebuilt_one_the_same():
    def build():
        return tf.data.Dataset.range(10).shuffle(10, seed=1, reshuffle_each_iteration=True).repeat().batch(5)

    first = _orders(build(), 6)
    reused = build()
    _orders(reused, 2)  # one pass, as an epoch of a first call
    assert _orders(reused.skip(2), 4) != first[2:]  # the second call's skip lands on other orders
    assert _orders(build().skip(2), 4) == first[2:]


def _model_and_data():
    pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(FRAME, max_length=4)
    train, steps = make_training_dataset(FRAME, pre.text_vectorizer, pre.task_names, batch_size=4, max_length=4)
    dev = make_eval_dataset(FRAME, pre.text_vectorizer, pre.task_names)
    keras.utils.set_random_seed(0)
    model = tf_aspmtl.SharedPrivateMTL(pre, embedding_dim=4, hidden_dim=4, word_vectors="random")
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    return model, train, steps, dev


def _fit(model, train, steps, dev, run_dir, epochs):
    return fit_with_dev_selection(model, train, steps, dev, run_dir, epochs=epochs, patience=5, tensorboard=False,
                                  verbose=0)


def _as_if_stopped(run_dir):
    state = json.loads((run_dir / "state.json").read_text())
    state["finished"] = False
    (run_dir / "state.json").write_text(json.dumps(state))


def test_a_second_call_or_a_new_run_on_the_dataset_object_already_trained_from_is_refused_and_a_rebuilt_one_resumes(
        tmp_path):
    model, train, steps, dev = _model_and_data()
    _fit(model, train, steps, dev, tmp_path / "run", epochs=1)
    _as_if_stopped(tmp_path / "run")
    before = (tmp_path / "run" / "state.json").read_text()
    with pytest.raises(ValueError, match=r"run: this training dataset was already trained from .* Build the dataset again"):
        _fit(model, train, steps, dev, tmp_path / "run", epochs=2)
    assert (tmp_path / "run" / "state.json").read_text() == before  # nothing trained, nothing written
    # A new run in another folder from that dataset object is refused too (its seed's order would not be what it
    # saw); its folder gets no state.
    other, _, _, _ = _model_and_data()
    with pytest.raises(ValueError, match=r"second: this training dataset was already trained from"):
        _fit(other, train, steps, dev, tmp_path / "second", epochs=1)
    assert not (tmp_path / "second" / "state.json").exists()
    assert (tmp_path / "run" / "state.json").read_text() == before
    # Built again, it resumes (that the numbers then equal a run never stopped: tests/test_random_state.py, whose
    # resumed fits each build their dataset).
    model, rebuilt, steps, dev = _model_and_data()
    assert _fit(model, rebuilt, steps, dev, tmp_path / "run", epochs=2).resumed_from_epoch == 1


def test_a_finished_run_loads_its_best_weights_from_the_same_dataset_object_and_quietly(tmp_path):
    model, train, steps, dev = _model_and_data()
    first = _fit(model, train, steps, dev, tmp_path, epochs=2)
    again = _fit(model, train, steps, dev, tmp_path, epochs=2)  # nothing to train: the object is not read
    assert again.best_epoch == first.best_epoch and again.history == first.history
    fresh, _, _, _ = _model_and_data()  # a new process's model: its optimizer has no slots for the file's state
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _fit(fresh, train, steps, dev, tmp_path, epochs=2).best_epoch == first.best_epoch
    assert not [w for w in caught if "Skipping variable loading" in str(w.message)]
    assert all(np.array_equal(a, b) for a, b in zip(fresh.get_weights(), model.get_weights()))


