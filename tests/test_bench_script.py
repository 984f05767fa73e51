"""The training benchmark runs end to end and writes the record the README quotes (tiny sizes)."""

import json

from experiments import bench


def test_bench_writes_ratios_for_every_model(tmp_path):
    out = tmp_path / "bench.json"
    argv = ["--models", "plain,asp-mtl", "--batch-sizes", "8", "--tasks", "books,MR", "--steps", "3",
            "--warmup", "2", "--hidden-dim", "4", "--max-length", "16", "--max-tokens", "500",
            "--no-epoch", "--repeats", "1", "--output", str(out)]
    assert bench.main(argv) == 0
    result = json.loads(out.read_text())
    names = [r["name"] for r in result["models"]]
    assert names == ["plain", "asp-mtl"]
    plain, asp = result["models"]
    assert plain["ratio_to_plain_keras"] == 1.0
    assert asp["ratio_to_plain_keras"] == asp["examples_per_s"] / plain["examples_per_s"]
    for r in result["models"]:
        assert r["examples_per_s"] > 0 and r["peak_rss_mb"] > 0 and r["padding_ratio"] >= 1.0
    assert "commit" in result and "experiments.bench" in result["command"]
