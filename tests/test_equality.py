"""experiments.equality: two results files are the same only if every shared figure and epoch value is."""

from experiments.equality import compare


def _results(dev, test, history):
    return {"per_task": {"books": {"dev_error": dev, "test_error": test, "best_epoch": 2}},
            "history": {"loss": history}, "avg_dev_error": dev, "avg_test_error": test}


def test_a_dev_only_run_equals_a_tested_one_on_what_both_have():
    assert compare(_results(10.0, 11.0, [0.5, 0.4]), _results(10.0, None, [0.5, 0.4]))["same"]


def test_any_per_task_or_epoch_difference_is_a_difference():
    differs = compare(_results(10.0, 11.0, [0.5, 0.4]), _results(10.5, 11.0, [0.5, 0.4]))
    assert not differs["same"] and differs["tasks_differing"] == ["books"] and differs["largest_error_difference"] == 0.5
    drift = compare(_results(10.0, 11.0, [0.5, 0.4]), _results(10.0, 11.0, [0.5, 0.4 + 3e-8]))
    assert not drift["same"] and 0 < drift["largest_history_difference"] < 1e-7
    missing = compare(_results(10.0, 11.0, [0.5]), {**_results(10.0, 11.0, [0.5]), "per_task": {}})
    assert missing["tasks_differing"] == ["books"] and not missing["same"]
