"""The serving benchmark runs on an export and writes the figures the issue asks for.

The benchmark runs are marked slow (``pytest -m slow``); the check that
task names reach the multi-task export (a few calls) runs by default.
"""

import json

import pytest

from experiments import bench_serving
from tests.test_export_fixtures import load_signature

pytest_plugins = ["tests.test_export_fixtures"]


@pytest.mark.slow
def test_bench_serving_writes_latency_and_throughput(export_base, tmp_path):
    output = tmp_path / "bench_serving.json"
    result = bench_serving.main([
        "--export-dir", str(export_base / "books" / "1"), "--single-calls", "20", "--warmup", "2",
        "--batches", "2", "--output", str(output),
    ])
    written = json.loads(output.read_text())
    assert written == json.loads(json.dumps(result))
    for key in ("p50_ms", "p99_ms", "batch64_reviews_per_s"):
        assert written[key] > 0
    assert written["p50_ms"] <= written["p99_ms"]
    assert written["reviews"]["tasks"] == ["books"] and written["reviews"]["count"] == 400
    assert written["exported_model"]["model"]["hidden_dim"] == 8
    for key in ("command", "commit", "versions", "machine"):
        assert written[key]
    assert written["command"].startswith("python -m experiments.bench_serving --export-dir")


def test_measure_feeds_task_names_to_the_multitask_export(export_base):
    signature = load_signature(export_base, "multitask")
    figures = bench_serving.measure(signature, ["good", "bad", "ok"], ["books", "MR", "MR"], single_calls=3, warmup=1,
                                    batch_size=2, batches=2)
    assert figures["p50_ms"] > 0 and figures["batch2_reviews_per_s"] > 0


@pytest.mark.slow
def test_variants_side_by_side_each_in_its_own_process(export_base, trained_model, tmp_path):
    from tf_aspmtl.export import exporter

    whole = exporter.export_model(trained_model, tmp_path / "whole", tasks=["books"], chunk_rows=None,
                                  check=False, warmup_requests=False)[0]
    output = tmp_path / "variants.json"
    result = bench_serving.main([
        "--export-dir", str(export_base / "books" / "1"), "--compare-export-dir", whole.path,
        "--threads", "1,2", "--single-calls", "3", "--warmup", "1", "--batches", "1", "--rounds", "1",
        "--output", str(output),
    ])
    variants = result["variants"]
    assert [(v["chunk_rows"], v["threads"]) for v in variants] == [(16, "1,2"), (None, "1,2")]
    assert all(v["batch64_reviews_per_s"] > 0 and v["p50_ms"] > 0 for v in variants)
    assert result["tf_threads"]["spec"] == "1,2"


@pytest.mark.slow
def test_rounds_of_one_variant_keep_its_best_round(export_base, tmp_path):
    result = bench_serving.main([
        "--export-dir", str(export_base / "books" / "1"), "--single-calls", "3", "--warmup", "1", "--batches", "1",
        "--rounds", "2", "--output", str(tmp_path / "rounds.json"),
    ])
    [variant] = result["variants"]
    rates = variant["batch64_reviews_per_s_all_rounds"]
    assert len(rates) == 2 and result["batch64_reviews_per_s"] == max(rates)


def test_rounds_flag_is_checked(export_base, tmp_path):
    with pytest.raises(SystemExit, match="--rounds 0"):
        bench_serving.main(["--export-dir", str(export_base / "books" / "1"), "--rounds", "0",
                            "--output", str(tmp_path / "x.json")])


def test_threads_flag_is_checked():
    with pytest.raises(SystemExit, match="INTRA,INTER"):
        bench_serving.parse_threads("two")


@pytest.mark.parametrize("flag", ["--single-calls", "--batches", "--batch-size"])
def test_counts_below_one_are_refused_by_name(flag, capsys):
    # --single-calls 0 or --batches 0 ran the whole benchmark, then ended in an IndexError or ZeroDivisionError
    # (no results file); --batch-size 0 timed empty calls and reported 0 reviews/s.
    with pytest.raises(SystemExit):
        bench_serving.build_parser().parse_args(["--export-dir", "x", flag, "0"])
    assert flag in capsys.readouterr().err
