"""The serving benchmark runs on an export and writes the figures the issue asks for."""

import json

from experiments import bench_serving
from tests.test_export_fixtures import load_signature

pytest_plugins = ["tests.test_export_fixtures"]


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
