"""``experiments.profile_main_job``: a run's wall time by part, from the stamps its callback records."""

import pytest

from experiments.profile_main_job import parts


class Stamps:
    def __init__(self):
        self.epochs = [(10.0, 20.0), (20.5, 30.0)]
        self.steps = [13.0, 13.1, 13.3, 13.4, 21.0, 21.1]
        self.dev = [(19.0, 20.0), (29.0, 30.0)]


def test_parts_split_the_run_at_its_stamps():
    got = parts(Stamps(), started=2.0, ended=35.0)
    assert got["before_training_s"] == pytest.approx(8.0) and got["first_step_s"] == pytest.approx(3.0)
    assert got["median_step_ms"] == pytest.approx(100.0)  # gaps 0.1, 0.2, 0.1, 7.6, 0.1: the median
    assert got["epoch_s"] == pytest.approx([10.0, 9.5]) and got["dev_evaluation_s"] == pytest.approx([1.0, 1.0])
    assert got["after_training_s"] == pytest.approx(5.0) and got["total_s"] == pytest.approx(33.0)
    assert got["steps"] == 6
