"""experiments.bench_ngram: runs, times every variant on the same batches and writes its figures (tiny sizes)."""

import json

import pytest

from experiments import bench_ngram


def test_it_times_each_variant_and_writes_the_ratio(tmp_path):
    out = tmp_path / "bench.json"
    results = bench_ngram.main(["--tasks", "books", "--max-features", "500", "--steps", "6", "--warmup", "2",
                                "--rounds", "1", "--note", "test", "--output", str(out)])
    written = json.loads(out.read_text())
    assert set(written["ms_per_step"]) == set(bench_ngram.VARIANTS) and written["steps_timed"] == 4
    assert all(v > 0 for v in written["ms_per_step"].values())
    assert written["note"] == "test" and written["command"].startswith("python -m experiments.bench_ngram")
    assert results["rounds"]["adam"] == written["rounds"]["adam"]


def test_bad_arguments_are_named(capsys):
    with pytest.raises(SystemExit):
        bench_ngram.parse_args(["--variants", "sgd"])
    assert "unknown variant(s) ['sgd']" in capsys.readouterr().err
