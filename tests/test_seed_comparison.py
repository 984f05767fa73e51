"""tf_aspmtl.analysis.seed_comparison: paired comparisons over seeds, checked against SciPy's and pandas' own."""

import math

import numpy as np
import pytest
from scipy import stats

from tf_aspmtl.analysis import compare_runs, error_table, mean_sd, summarize_differences, t_interval95


def _run(errors: dict[str, float], dev: float) -> dict:
    return {"per_task": {t: {"test_error": e} for t, e in errors.items()},
            "avg_test_error": sum(errors.values()) / len(errors), "avg_dev_error": dev}


A = {0: _run({"books": 10.0, "dvd": 14.0}, 12.0), 1: _run({"books": 11.0, "dvd": 13.5}, 12.5),
     2: _run({"books": 9.0, "dvd": 15.0}, 11.0)}
B = {0: _run({"books": 12.0, "dvd": 14.5}, 13.0), 1: _run({"books": 11.5, "dvd": 15.0}, 12.0),
     3: _run({"books": 1.0, "dvd": 1.0}, 1.0)}


def test_compare_runs_pairs_seed_and_task_and_its_interval_is_a_t_interval_over_the_seeds_means():
    result = compare_runs(A, B)
    assert result["seeds"] == [0, 1] and result["pairs"] == 4  # seed 2 and 3 have no partner
    a = [10.0, 14.0, 11.0, 13.5]
    b = [12.0, 14.5, 11.5, 15.0]
    per_seed = [np.mean(np.subtract(a[:2], b[:2])), np.mean(np.subtract(a[2:], b[2:]))]
    assert result["per_seed_mean_over_tasks"] == pytest.approx([-1.25, -1.0]) == per_seed
    # The tasks of one seed share one model: the interval is over the 2 seeds' means (1 df), not the 4 pairs.
    interval = stats.ttest_1samp(per_seed, 0.0).confidence_interval(0.95)
    assert result["ci95"] == pytest.approx([interval.low, interval.high])
    pooled = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert result["ci95"][1] - result["ci95"][0] > pooled.high - pooled.low
    assert result["mean"] == pytest.approx(np.mean(np.subtract(a, b))) == pytest.approx(np.mean(per_seed))
    assert result["dev_per_seed"] == pytest.approx([-1.0, 0.5])
    assert (result["a_better_pairs"], result["b_better_pairs"]) == (4, 0)


def test_three_seeds_interval_matches_scipy_over_the_seeds_means():
    a = {**A, 2: _run({"books": 9.0, "dvd": 15.0}, 11.0)}
    b = {**B, 2: _run({"books": 8.0, "dvd": 17.0}, 11.5)}
    result = compare_runs(a, b)
    per_seed = [-1.25, -1.0, -0.5]
    interval = stats.ttest_1samp(per_seed, 0.0).confidence_interval(0.95)
    assert result["pairs"] == 6 and result["per_seed_mean_over_tasks"] == pytest.approx(per_seed)
    assert result["ci95"] == pytest.approx([interval.low, interval.high])


def test_one_seed_gives_no_interval():
    result = compare_runs({0: A[0]}, {0: B[0]})
    assert result["seeds"] == [0] and result["pairs"] == 2 and result["mean"] == pytest.approx(-1.25)
    assert all(math.isnan(x) for x in result["ci95"])  # many tasks, one model: no claim
    alone = summarize_differences([-2.0, -0.5, -1.0], [0])
    assert alone["per_seed_mean_over_tasks"] == pytest.approx([-7 / 6]) and math.isnan(alone["ci95"][0])


def test_unequal_pairs_per_seed_weigh_each_seed_alike():
    result = summarize_differences([-3.0, -1.0, 2.0], [0, 1], [-2.0, 2.0])
    assert result["mean"] == pytest.approx(0.0) and result["pairs"] == 3
    interval = stats.ttest_1samp([-2.0, 2.0], 0.0).confidence_interval(0.95)
    assert result["ci95"] == pytest.approx([interval.low, interval.high])
    with pytest.raises(ValueError, match="per_seed"):
        summarize_differences([-3.0, -1.0], [0, 1])
    with pytest.raises(ValueError, match="1 values for 2 seeds"):
        summarize_differences([-3.0, -1.0], [0, 1], [-2.0])


def test_compare_runs_without_a_common_seed_or_with_missing_tasks():
    assert compare_runs(A, {5: B[0]}) is None
    with pytest.raises(ValueError, match=r"seed 0: .*\['dvd'\]"):
        compare_runs(A, {0: _run({"books": 1.0}, 1.0)})


def test_one_value_has_no_spread_and_no_interval():
    assert mean_sd([3.0])[0] == 3.0 and math.isnan(mean_sd([3.0])[1])
    assert all(math.isnan(x) for x in t_interval95([1.0]))
    with pytest.raises(ValueError, match="at least one"):
        mean_sd([])


def test_error_table_mean_sd_and_seeds_per_task_and_average():
    frame = error_table({"a": A, "b": B}, ["a", "b", "missing"]).set_index("task")
    assert list(frame.index) == ["books", "dvd", "average"]
    assert frame.loc["books", "a_mean"] == pytest.approx(10.0)
    assert frame.loc["dvd", "a_sd"] == pytest.approx(round(float(np.std([14.0, 13.5, 15.0], ddof=1)), 4))
    assert frame.loc["average", "b_seeds"] == 3 and frame.loc["average", "missing_seeds"] == 0
    assert error_table({"a": A}, ["nothing"]) is None


def test_compare_runs_refuses_runs_over_other_tasks_in_either_direction_or_between_seeds():
    # The second configuration with a task more: its avg_dev_error (in dev_per_seed) averaged other tasks than the
    # test differences did, and the comparison was returned as if paired.
    wider = {s: _run({**{t: v["test_error"] for t, v in r["per_task"].items()}, "music": 20.0}, r["avg_dev_error"])
             for s, r in B.items()}
    with pytest.raises(ValueError, match="music"):
        compare_runs(A, wider)
    # One seed's runs on fewer tasks than the other seed's: per-seed means over other task sets, pooled.
    mixed_a = {0: A[0], 1: _run({"books": 11.0}, 12.5)}
    mixed_b = {0: B[0], 1: _run({"books": 11.5}, 12.0)}
    with pytest.raises(ValueError, match="seed 1"):
        compare_runs(mixed_a, mixed_b)


def test_error_table_refuses_runs_over_other_tasks():
    # A run without a task of the rows was a KeyError; one with a task more put other tasks in its "average" row.
    fewer = {0: _run({"books": 10.0}, 12.0)}
    more = {0: _run({"books": 10.0, "dvd": 14.0, "music": 20.0}, 12.0)}
    for other in (fewer, more):
        with pytest.raises(ValueError, match="tasks"):
            error_table({"a": A, "b": other}, ["a", "b"])
