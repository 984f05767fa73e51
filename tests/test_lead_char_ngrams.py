"""The character n-gram probe of issue 24 (experiments/lead_char_ngrams.py): its options and its two settings."""

import json

import pytest

from experiments import lead_char_ngrams


@pytest.mark.parametrize("argv, message", [
    (["--c-grid", "1,x"], "--c-grid must be comma-separated numbers"),
    (["--c-grid", "0"], "every C must be > 0"),
    (["--block-weight", "0"], "--block-weight must be > 0"),
    (["--char-max-features", "0"], "--char-max-features must be >= 1"),
    (["--char-min", "4", "--char-max", "2"], "need 1 <= --char-min <= --char-max"),
])
def test_bad_options_are_named_not_a_traceback(argv, message, capsys):
    with pytest.raises(SystemExit):
        lead_char_ngrams.main(argv)
    assert message in capsys.readouterr().err


def test_the_character_block_adds_columns_and_both_settings_learn(tmp_path):
    out = tmp_path / "lead.json"
    lead_char_ngrams.main(["--tasks", "MR", "--c-grid", "1", "--max-features", "3000", "--ngrams", "1",
                           "--char-min", "3", "--char-max", "3", "--char-max-features", "2000", "--output", str(out)])
    result = json.loads(out.read_text())
    fits = {f["setting"]: f for f in result["fits"]}
    assert fits["words+chars"]["columns"] == fits["words"]["columns"] + 2000
    assert all(f["dev_error"] < 40.0 for f in fits.values())  # MR is the hardest task; chance is 50
    assert result["command"].startswith("python -m experiments.lead_char_ngrams --tasks MR")
