"""Exact resumption where runs draw random numbers: the single-task family's groups (each built from the run's seed,
whatever groups the process trained before it) and dropout (its seed generators' states are in the checkpoint)."""

import json
from dataclasses import replace

import h5py
import keras
import numpy as np
import pytest

from tests.tiny_fdu import write_fdu_folder
from tf_aspmtl.training import TrainConfig, run

SINGLE = TrainConfig(model="single", tasks=("books", "dvd"), epochs=2, patience=2, hidden_dim=4, embedding_dim=4,
                     max_length=8, batch_size=4, encoder="cnn", embedding="random", seed=0, paper_scale=False)
"""The single-task family on the tiny corpus's two tasks: two groups, ``model-books`` then ``model-dvd``."""
MULTI = replace(SINGLE, model="asp-mtl", dropout=0.5)
"""One group of both tasks (5 steps an epoch), with dropout: its masks are random numbers a resumed epoch must draw
as the uninterrupted run did."""
VOLATILE = ("wall_time_s", "training_wall_time_s", "processes", "resumed")


class Interrupted(BaseException):
    """Stands for a kill: raised through ``fit`` and ``run`` (their state on disk is what a kill leaves)."""


class InterruptFit(keras.callbacks.Callback):
    """Raises :class:`Interrupted` in the run's ``fit``-th ``fit`` (1-based): at its start, after the end of its
    epoch ``epoch_end`` (after that epoch's checkpoint), or in the middle (batch 2) of its epoch ``mid_epoch``."""

    def __init__(self, fit: int, epoch_end: int | None = None, mid_epoch: int | None = None):
        super().__init__()
        self.fit, self.epoch_end, self.mid_epoch = fit, epoch_end, mid_epoch
        self.fits, self.epoch = 0, 0

    def on_train_begin(self, logs=None):
        self.fits += 1
        if self.fits == self.fit and self.epoch_end is None and self.mid_epoch is None:
            raise Interrupted(f"start of fit {self.fit}")

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.fits == self.fit and self.epoch + 1 == self.mid_epoch and batch == 2:
            raise Interrupted(f"fit {self.fit}, epoch {self.mid_epoch}, batch {batch}")

    def on_epoch_end(self, epoch, logs=None):
        if self.fits == self.fit and epoch + 1 == self.epoch_end:
            raise Interrupted(f"fit {self.fit}, end of epoch {self.epoch_end}")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fdu_folder(tmp_path_factory.mktemp("fdu"))


def _reference(tmp_path_factory, data_dir, config):
    folder = tmp_path_factory.mktemp(config.model)
    return run(config, folder, data_dir, verbose=0), folder


@pytest.fixture(scope="module")
def single_reference(tmp_path_factory, data_dir):
    return _reference(tmp_path_factory, data_dir, SINGLE)


@pytest.fixture(scope="module")
def multi_reference(tmp_path_factory, data_dir):
    return _reference(tmp_path_factory, data_dir, MULTI)


def _stable(results: dict) -> dict:
    return {k: v for k, v in results.items() if k not in VOLATILE}


def _weights(path) -> dict[str, np.ndarray]:
    """Every array of a Keras weights file, by its path in the file."""
    arrays = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: arrays.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return arrays


def _assert_same_weights(group_dir, reference_dir):
    """The best epoch's weights (model and optimizer) of two group folders are equal, bit for bit."""
    ours, theirs = _weights(group_dir / "best.weights.h5"), _weights(reference_dir / "best.weights.h5")
    assert ours.keys() == theirs.keys()
    assert [k for k in ours if not np.array_equal(ours[k], theirs[k])] == []


def _interrupt_then_rerun(config, folder, data_dir, interrupt) -> dict:
    with pytest.raises(Interrupted):
        run(config, folder, data_dir, verbose=0, callbacks=[interrupt])
    return run(config, folder, data_dir, verbose=0)


@pytest.mark.parametrize("interrupt", [InterruptFit(2), pytest.param(InterruptFit(2, epoch_end=1), marks=pytest.mark.slow)],
                         ids=["after-the-first-group", "in-the-second-group"])
def test_a_single_task_run_interrupted_after_its_first_group_resumes_to_the_same_numbers(
        tmp_path, data_dir, single_reference, interrupt):
    reference, reference_dir = single_reference
    with pytest.raises(Interrupted):
        run(SINGLE, tmp_path, data_dir, verbose=0, callbacks=[interrupt])
    assert (tmp_path / "model-books" / "group_results.json").exists()
    assert not (tmp_path / "model-dvd" / "group_results.json").exists()
    resumed = run(SINGLE, tmp_path, data_dir, verbose=0)  # reuses books' results, trains dvd (from the start or epoch 1)
    assert _stable(resumed) == _stable(reference)  # each task's dev and test error, every epoch's logs, bit for bit
    for task in SINGLE.tasks:
        _assert_same_weights(tmp_path / f"model-{task}", reference_dir / f"model-{task}")


# Dropout's random state across a resumed run is the real kill of tests/test_faults.py (dropout 0.5) and, for fit,
# tests/test_random_state.py: slow here (11 s).
@pytest.mark.slow
@pytest.mark.parametrize("interrupt", [InterruptFit(1, epoch_end=1), pytest.param(InterruptFit(1, mid_epoch=2),
                                                                                 marks=pytest.mark.slow)],
                         ids=["after-epoch-1", "mid-epoch-2"])
def test_a_run_with_dropout_interrupted_mid_run_resumes_to_the_same_numbers(tmp_path, data_dir, multi_reference,
                                                                           interrupt):
    reference, reference_dir = multi_reference
    with pytest.raises(Interrupted):
        run(MULTI, tmp_path, data_dir, verbose=0, callbacks=[interrupt])
    state = json.loads((tmp_path / "model" / "state.json").read_text())
    assert state["epochs_done"] == 1
    [[_, draws]] = state["backups"][0]["random_state"]  # the feature dropout's seed generator: a draw a step
    assert draws == 5
    resumed = run(MULTI, tmp_path, data_dir, verbose=0)
    assert resumed["resumed"] == [{"group": "books+dvd", "from_epoch": 1}]
    assert _stable(resumed) == _stable(reference)
    _assert_same_weights(tmp_path / "model", reference_dir / "model")


@pytest.mark.slow  # a check that the seed reset left earlier runs' numbers as they were
def test_the_seed_reset_before_a_group_leaves_a_one_group_run_as_it_was(tmp_path, data_dir, multi_reference,
                                                                        monkeypatch):
    reference, reference_dir = multi_reference  # with the reset before its group
    seeds, set_random_seed = [], keras.utils.set_random_seed

    def first_call_only(seed):  # the run as it was before the reset: seeded once, at its start
        seeds.append(seed)
        if len(seeds) == 1:
            set_random_seed(seed)

    monkeypatch.setattr(keras.utils, "set_random_seed", first_call_only)
    before = run(MULTI, tmp_path, data_dir, verbose=0)
    assert seeds == [MULTI.seed, MULTI.seed]  # the run's seed, then its group's (skipped here)
    assert _stable(before) == _stable(reference)
    _assert_same_weights(tmp_path / "model", reference_dir / "model")
