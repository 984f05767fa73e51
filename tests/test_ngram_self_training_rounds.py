"""Self-training in rounds for the n-gram model (``self_training_rounds``, issue 24): each later round's teacher is
the previous round's student, and it labels the unlabelled reviews again."""

from dataclasses import replace

import keras
import numpy as np
import pandas as pd
import pytest

from tests.tiny_fdu import TASKS, write_folder_with_planted_dev_copies
from tf_aspmtl.data import load_fdu_mtl
from tf_aspmtl.training import NgramConfig, run_ngram
from tf_aspmtl.training.held_out_duplicates import _text_key
from tf_aspmtl.training.teacher_pseudo_labels import PSEUDO_LABELS, TEACHER_DIR

ONE = NgramConfig(tasks=tuple(TASKS), epochs=3, batch_size=8, learning_rate=0.1, self_training_threshold=0.6)
"""As tests/test_ngram_levers.py's self-training run: seconds, and a teacher sure of some unlabelled rows."""
TWO = replace(ONE, self_training_rounds=2)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = write_folder_with_planted_dev_copies(tmp_path_factory.mktemp("fdu"))
    root = tmp_path_factory.mktemp("rounds")
    one = run_ngram(ONE, root / "one", folder, dev_only=True, verbose=0)
    two = run_ngram(TWO, root / "two", folder, dev_only=True, verbose=0)
    return folder, root, one, two


def test_the_second_rounds_teacher_is_the_one_round_runs_reported_model(runs):
    _, root, one, two = runs
    [second] = two["self_training"]["later_rounds"]
    assert second["round"] == 2 and two["self_training"]["rounds"] == 2
    # trained afresh from the same seed and rows, it is that model: same dev errors, same best weights
    assert second["teacher_dev_error"] == {t: one["per_task"][t]["dev_error"] for t in TASKS}
    assert second["teacher_best_epoch"] == one["best_epoch"]
    reported = keras.models.load_model(root / "one" / "model" / "model.keras", compile=False)
    teacher = keras.models.load_model(root / "two" / "model" / "model.keras", compile=False)
    teacher.load_weights(root / "two" / "model" / "round2" / TEACHER_DIR / "best.weights.h5")
    for a, b in zip(reported.get_weights(), teacher.get_weights()):
        np.testing.assert_array_equal(a, b)
    # the first round is the one-round run's
    first = {k: v for k, v in two["self_training"].items() if k not in ("rounds", "later_rounds")}
    bookkeeping = ("teacher_processes", "teacher_training_wall_time_s")
    assert {k: v for k, v in first.items() if k not in bookkeeping} == \
        {k: v for k, v in one["self_training"].items() if k not in bookkeeping}
    # the run's training time holds both of its teachers' (its own clocks: another run's would compare noise)
    assert two["training_wall_time_s"] > two["self_training"]["teacher_training_wall_time_s"] + \
        second["teacher_training_wall_time_s"]


def test_the_reported_model_learns_from_train_and_the_last_rounds_labels_of_unlabelled_rows_only(runs):
    folder, root, _, two = runs
    pseudo = pd.read_parquet(root / "two" / "model" / "round2" / PSEUDO_LABELS)
    assert len(pseudo) > 0, "the tiny second teacher should be sure of some rows (else this test proves little)"
    unlabeled = load_fdu_mtl(folder, tasks=TASKS, splits=("unlabeled",))
    held = load_fdu_mtl(folder, tasks=TASKS, splits=("train", "dev", "test"))
    assert set(zip(pseudo["task"], pseudo["text"])) <= set(zip(unlabeled["task"], unlabeled["text"]))
    assert not {_text_key(t) for t in pseudo["text"]} & {_text_key(t) for t in held["text"]}
    [second] = two["self_training"]["later_rounds"]
    assert second["student_train_rows"] == 20 + len(pseudo)
    assert second["pseudo_labelled_rows"] == {t: int((pseudo["task"] == t).sum()) for t in TASKS}
    assert two["settings"]["self_training_rounds"] == 2


def test_a_finished_run_in_rounds_trains_and_labels_nothing_again(runs):
    folder, root, _, two = runs
    again = run_ngram(TWO, root / "two", folder, dev_only=True, verbose=0)
    assert again["epochs_trained_here"] == 0 and again["per_task"] == two["per_task"]
    assert again["self_training"]["later_rounds"][0]["pseudo_labels"] == \
        two["self_training"]["later_rounds"][0]["pseudo_labels"]


@pytest.mark.parametrize("values, message", [
    ({"self_training_rounds": 0}, "self_training_rounds must be an int >= 1"),
    ({"self_training_rounds": True}, "self_training_rounds must be an int >= 1"),
    ({"self_training_rounds": 2, "self_training_threshold": 0.0}, "self_training_rounds 2 needs self-training"),
    ({"self_training_rounds": 2, "student_features": "train+pseudo"}, "with student_features 'train'"),
])
def test_bad_rounds_are_refused_with_the_field_named(values, message):
    with pytest.raises(ValueError, match=message):
        replace(ONE, **values)


def test_one_round_is_left_out_of_the_record():
    assert "self_training_rounds" not in ONE.settings()  # run folders and results of one round stay as they were
    assert TWO.settings()["self_training_rounds"] == 2
