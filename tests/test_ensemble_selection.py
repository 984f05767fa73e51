"""select_ensemble: greedy forward selection with replacement on held-out rows, per-task log loss."""

import numpy as np
import pytest

from tf_aspmtl.training import EnsembleSelection, select_ensemble


def _probabilities(p_first_class):
    """[candidates, rows, 2] from each candidate's probability of class 0 per row."""
    p = np.asarray(p_first_class, dtype=float)
    return np.stack([p, 1.0 - p], axis=-1)


def test_a_candidate_right_everywhere_is_chosen_alone():
    p = _probabilities([[0.2, 0.8, 0.3], [0.9, 0.1, 0.8], [0.6, 0.5, 0.4]])  # labels 0, 1, 0: candidate 1 is best
    selection = select_ensemble(p, task_ids=[0, 0, 0], labels=[0, 1, 0])
    assert selection.members == [1] and selection.counts == (0, 1, 0)
    assert selection.steps[0]["error"] == 0.0
    assert selection.steps[0]["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.9, 0.8])))


def test_complementary_candidates_are_averaged():
    # Each candidate is wrong on the row the other gets right, mirror images; their mean is right on both and
    # a 2:1 mix is worse than 1:1 (log loss 0.439 vs 0.431).
    p = _probabilities([[0.9, 0.6], [0.4, 0.1]])
    selection = select_ensemble(p, task_ids=[0, 0], labels=[0, 1])
    assert selection.counts == (1, 1)
    assert [s["candidate"] for s in selection.steps] == [0, 1]
    assert selection.steps[-1]["error"] == 0.0 and selection.candidate_scores[0]["error"] == 50.0
    assert selection.steps[1]["log_loss"] < selection.steps[0]["log_loss"]


def test_picks_with_replacement_give_weights():
    # Candidate 0 is sharp but all but certain of its one mistake; candidate 1 is vague. Mean log losses of the
    # mixes (c0:c1): 1:0 1.765, 0:1 0.556, 1:1 0.537, 1:2 0.524, 1:3 0.526. So: c1, then c0, then c1 again.
    p = _probabilities([[0.95, 0.95, 0.95, 0.999], [0.6, 0.6, 0.6, 0.5]])
    selection = select_ensemble(p, task_ids=[0, 0, 0, 0], labels=[0, 0, 0, 1])
    assert [s["candidate"] for s in selection.steps] == [1, 0, 1]
    assert selection.counts == (1, 2) and selection.weights == [1, 2]
    losses = [s["log_loss"] for s in selection.steps]
    assert losses == sorted(losses, reverse=True)


def test_every_task_counts_equally_whatever_its_rows():
    # Task 0 has 4 rows where candidate 0 is better; task 1 has 1 row where candidate 1 is.
    # Averaged over rows candidate 0 wins; averaged over tasks (the benchmark's mean), candidate 1 does.
    p = _probabilities([[0.9, 0.9, 0.9, 0.9, 0.5], [0.8, 0.8, 0.8, 0.8, 0.7]])
    labels, task_ids = [0, 0, 0, 0, 0], [0, 0, 0, 0, 1]
    per_row = -np.log(p[:, :, 0]).mean(axis=1)
    assert per_row[0] < per_row[1]
    selection = select_ensemble(p, task_ids, labels, max_steps=1)
    assert selection.members == [1]
    assert selection.candidate_scores[1]["log_loss"] == pytest.approx(
        np.mean([-np.log(0.8), -np.log(0.7)]))


def test_an_exact_duplicate_never_takes_the_first_ones_place():
    base = _probabilities([[0.7, 0.2, 0.6], [0.4, 0.3, 0.9]])
    p = np.concatenate([base, base[:1]])  # candidate 2 copies candidate 0
    selection = select_ensemble(p, task_ids=[0, 1, 1], labels=[0, 1, 0], max_steps=10)
    assert selection.counts[2] == 0 and sum(selection.counts) == len(selection.steps)


def test_stops_at_max_steps_and_when_nothing_helps():
    p = _probabilities([[0.9, 0.6], [0.4, 0.1]])
    assert len(select_ensemble(p, [0, 0], [0, 1], max_steps=1).steps) == 1
    one = _probabilities([[0.9, 0.2]])  # a single candidate: picking it again changes nothing
    assert select_ensemble(one, [0, 0], [0, 1]).counts == (1,)


def test_zero_probability_of_the_true_class_is_a_finite_cost():
    p = _probabilities([[1.0, 1.0], [0.5, 0.5]])
    selection = select_ensemble(p, [0, 0], [0, 1])
    assert np.isfinite(selection.candidate_scores[0]["log_loss"]) and selection.members[0] == 1


def test_to_dict_is_json_ready():
    selection = select_ensemble(_probabilities([[0.9, 0.6], [0.4, 0.1]]), [0, 0], [0, 1])
    assert isinstance(selection, EnsembleSelection)
    d = selection.to_dict()
    assert d["counts"] == [1, 1] and d["members"] == [0, 1] and d["weights"] == [1, 1] and len(d["steps"]) == 2


@pytest.mark.parametrize("kwargs, match", [
    ({"probabilities": np.ones((2, 3))}, r"\[candidates, rows, classes\]"),
    ({"labels": [0, 1]}, r"task_ids and labels must be \[rows\] = \[3\]"),
    ({"labels": [0, 2, 1]}, r"row 1 has 2"),
    ({"probabilities": np.full((1, 3, 2), np.nan)}, r"candidate 0, row 0"),
    ({"max_steps": 0}, "max_steps"),
    ({"tolerance": -1.0}, "tolerance"),
])
def test_bad_input_is_refused_with_what_is_wrong(kwargs, match):
    args = {"probabilities": np.full((1, 3, 2), 0.5), "task_ids": [0, 0, 1], "labels": [0, 1, 1], **kwargs}
    with pytest.raises(ValueError, match=match):
        select_ensemble(**args)
