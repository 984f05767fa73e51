"""experiments.single_task_gap: the per-task choice among protocols and the block's figures, on made-up runs."""

import pytest

from experiments.single_task_gap import MULTI_TASK, SINGLE_PROTOCOLS, per_task_choice, single_task_gap


def _run(per_task):
    dev = [d for d, _ in per_task.values()]
    test = [t for _, t in per_task.values()]
    return {"avg_dev_error": sum(dev) / len(dev), "avg_test_error": sum(test) / len(test),
            "per_task": {task: {"dev_error": d, "test_error": t} for task, (d, t) in per_task.items()}}


def _runs():
    # task -> (dev, test) per setting, one seed
    figures = {"single": {"books": (20.0, 30.0), "baby": (10.0, 12.0)},
               "single_w2v": {"books": (15.0, 18.0), "baby": (10.0, 40.0)},  # baby ties with single: single kept
               "single_w2v_ht": {"books": (18.0, 20.0), "baby": (12.0, 16.0)}}
    figures.update({name: {"books": (12.0, 13.0), "baby": (9.0, 10.0)} for name in MULTI_TASK})
    return {name: {0: _run(per_task)} for name, per_task in figures.items()}


def test_each_task_takes_the_protocol_of_its_lowest_dev_error_and_a_tie_the_earlier_one():
    # books: single_w2v (dev 15) -> test 18; baby: single (dev 10, before single_w2v's 10) -> test 12
    assert per_task_choice(_runs(), 0, SINGLE_PROTOCOLS) == pytest.approx((18.0 + 12.0) / 2)


def test_the_block_gives_each_tasks_gap_to_the_paper_and_the_dev_to_test_optimism():
    text = single_task_gap(_runs())
    # the paper's single-task LSTM: books 20.5, baby 15.3 (experiments/results/paper/table2_error_rates.csv)
    assert "| books | 20.5 | 20.0 | 18.0 | -0.5 |" in text and "| baby | 15.3 | 16.0 | 12.0 | +0.7 |" in text
    assert "On dev our single-task model is at 15.00 %" in text and "3.00 points better than on test" in text
    assert "test 15.00 against 18.00 for the protocol alone" in text  # books 18 (w2v), baby 12 (single)
    assert "Multi-task learning gains 6.50 points here" in text


def test_without_every_setting_the_block_says_so():
    runs = _runs()
    del runs["fs_mtl_w2v_ht"]
    assert single_task_gap(runs).startswith("Not every single-task protocol")
