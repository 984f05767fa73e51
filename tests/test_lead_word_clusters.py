"""The word-cluster probe of issue 24 (experiments/lead_word_clusters.py): its options, its features, its settings."""

import json

import pytest

from experiments import lead_word_clusters


@pytest.mark.parametrize("argv, message", [
    (["--c-grid", "1,x"], "--c-grid must be comma-separated numbers"),
    (["--c-grid", "0"], "every C must be > 0"),
    (["--block-weight", "0"], "--block-weight must be > 0"),
    (["--clusters", "1"], "--clusters >= 2"),
    (["--dim", "0"], "--dim and --cluster-ngrams must be >= 1"),
])
def test_bad_options_are_named_not_a_traceback(argv, message, capsys):
    with pytest.raises(SystemExit):
        lead_word_clusters.main(argv)
    assert message in capsys.readouterr().err


def test_words_become_their_cluster_ids_and_unknown_words_unk():
    assert lead_word_clusters.cluster_texts(["good film", "bad zzz"], {"good": 3, "film": 0, "bad": 3}) == [
        "c3 c0", "c3 unk"]


def test_both_settings_learn_and_the_cluster_block_adds_columns(tmp_path, monkeypatch):
    monkeypatch.setattr(lead_word_clusters, "CACHE", tmp_path / "cache")
    out = tmp_path / "lead.json"
    lead_word_clusters.main(["--tasks", "MR", "--c-grid", "1", "--max-features", "3000", "--ngrams", "1",
                             "--dim", "8", "--clusters", "10", "--cluster-ngrams", "1", "--output", str(out)])
    result = json.loads(out.read_text())
    fits = {f["setting"]: f for f in result["fits"]}
    # 10 cluster ids and "unk" (a train word seen once has no vector), at most
    assert fits["words"]["columns"] < fits["words+clusters"]["columns"] <= fits["words"]["columns"] + 11
    assert all(f["dev_error"] < 45.0 for f in fits.values())  # MR is the hardest task; chance is 50
    assert result["command"].startswith("python -m experiments.lead_word_clusters --tasks MR")
