"""The per-task NB probe of issue 24 (experiments/lead_nb_per_task.py): its options and its settings."""

import json

import numpy as np
import pytest
import scipy.sparse as sp

from experiments import lead_nb_per_task


@pytest.mark.parametrize("argv, message", [
    (["--c-grid", "1,x"], "--c-grid must be comma-separated numbers"),
    (["--c-grid", "0"], "every C must be > 0"),
    (["--max-features", "0"], "every C must be > 0, and --max-features"),
])
def test_bad_options_are_named_not_a_traceback(argv, message, capsys):
    with pytest.raises(SystemExit):
        lead_nb_per_task.main(argv)
    assert message in capsys.readouterr().err


def test_ratios_favour_the_class_a_column_appears_in():
    present = sp.csr_matrix(np.array([[1, 0, 1], [1, 0, 1], [0, 1, 1], [0, 1, 1]], dtype=float))
    ratios = lead_nb_per_task.nb_ratios(present, np.array([1, 1, 0, 0]))
    assert ratios[0] > 0 > ratios[1] and ratios[2] == pytest.approx(0.0)


def test_the_private_block_holds_only_the_rows_task_scaled_by_its_ratios():
    x = sp.csr_matrix(np.array([[1.0, 2.0], [3.0, 4.0]]))
    out = lead_nb_per_task.augmented(x, np.array(["a", "b"]), ["a", "b"], np.array([1.0, 10.0]),
                                     {"a": np.array([2.0, 0.5]), "b": np.array([-1.0, 1.0])}).toarray()
    np.testing.assert_array_equal(out, [[1, 20, 2, 1, 0, 0, 1, 0], [3, 40, 0, 0, -3, 4, 0, 1]])


def test_with_one_task_its_own_ratios_are_the_global_ones(tmp_path):
    out = tmp_path / "lead.json"
    lead_nb_per_task.main(["--tasks", "MR", "--c-grid", "1", "--max-features", "5000", "--ngrams", "1",
                           "--output", str(out)])
    result = json.loads(out.read_text())
    errors = {f["setting"]: f["dev_error"] for f in result["fits"]}
    assert errors["task"] == errors["global"] == errors["halfway"] < 40.0  # MR is the hardest task; chance is 50
    assert result["command"].startswith("python -m experiments.lead_nb_per_task --tasks MR")
