"""The training benchmark runs end to end and writes the record the README quotes (tiny sizes).

The benchmark (one process per model) and the profile (a traced training
run) are benchmarks: they are marked slow (``pytest -m slow``); the parsing
and summary helpers run by default.
"""

import json
import math

import pytest

from experiments import bench


@pytest.mark.slow
def test_bench_writes_ratios_for_every_model(tmp_path):
    out = tmp_path / "bench.json"
    argv = ["--models", "plain,asp-mtl", "--batch-sizes", "8", "--tasks", "books,MR", "--steps", "3",
            "--warmup", "2", "--hidden-dim", "4", "--max-length", "16", "--max-tokens", "500",
            "--no-epoch", "--repeats", "1", "--output", str(out)]
    assert bench.main(argv) == 0
    result = json.loads(out.read_text())
    names = [r["name"] for r in result["models"]]
    assert names == ["plain", "asp-mtl"]
    for r in result["models"]:
        for key in ("examples_per_s", "tokens_per_s", "ratio_to_plain_keras", "peak_rss_mb"):
            assert math.isfinite(r[key]) and r[key] > 0, (r["name"], key, r[key])
        assert r["padding_ratio"] >= 1.0  # padded tokens over real tokens
    assert "commit" in result and "experiments.bench" in result["command"]


@pytest.mark.slow
def test_profile_names_where_a_step_goes(tmp_path):
    from experiments import profile_train

    out = tmp_path / "profile.json"
    argv = ["--tasks", "books,MR", "--steps", "3", "--warmup", "2", "--hidden-dim", "4", "--max-length", "16",
            "--max-tokens", "500", "--logdir", str(tmp_path / "trace"), "--output", str(out)]
    assert profile_train.main(argv) == 0
    result = json.loads(out.read_text())
    summary = result["summary"]
    assert set(summary["by_part_ms"]) == {"forward", "backward", "optimizer"}
    op_types = {op["op_type"] for op in summary["top_ops"]}
    assert {"BlockLSTM", "BlockLSTMGrad"} <= op_types
    assert all(math.isfinite(ms) and ms > 0 for ms in summary["by_part_ms"].values())
    assert "| backward |" in out.with_suffix(".md").read_text()


def test_part_of_step_reads_the_name_scope():
    from experiments.profile_train import OP_EVENT, part_of_step

    assert part_of_step("StatefulPartitionedCall/adam/Sqrt_1") == "optimizer"
    assert part_of_step("StatefulPartitionedCall/lazy_adam/Sub") == "optimizer"
    # a process's later optimizers are "adam_1", ... (the profile of a test that ran after others' optimizers)
    assert part_of_step("StatefulPartitionedCall/adam_3/Sqrt_1") == "optimizer"
    assert part_of_step("StatefulPartitionedCall/lazy_adam_12/Sub") == "optimizer"
    assert part_of_step("StatefulPartitionedCall/asp/padam_1/MatMul") == "forward"
    assert part_of_step("StatefulPartitionedCall/gradient_tape/asp/shared/BlockLSTMGrad") == "backward"
    assert part_of_step("StatefulPartitionedCall/asp/shared/BlockLSTM") == "forward"
    assert OP_EVENT.match("a/b/BlockLSTM:BlockLSTM")["type"] == "BlockLSTM"
    assert OP_EVENT.match("ExecutorState::Process") is None


@pytest.mark.parametrize("argv, message", [
    (["--models", "asp"], "--models: unknown ['asp']"),
    (["--batch-sizes", "16,x"], "--batch-sizes must be comma-separated integers"),
    (["--warmup", "0"], "--warmup must be >= 1"),
    (["--tasks", "2"], "argument --tasks: unknown task(s) ['2']"),
    (["--tasks", "books,books"], "argument --tasks: task(s) listed twice: ['books']"),
])
def test_bad_benchmark_options_are_named_not_a_traceback(argv, message, capsys):
    from experiments import bench

    with pytest.raises(SystemExit):
        bench.main(argv)
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--tasks", "2"], "argument --tasks: unknown task(s) ['2']"),
    (["--steps", "0"], "argument --steps: must be >= 1; got 0"),
    (["--batch-size", "x"], "argument --batch-size: 'x' is not an integer"),
    (["--tasks", "books,dvd,MR", "--model-tasks", "2"], "--model-tasks 2 is fewer than the 3 tasks of --tasks"),
    (["--model", "sp-ngram", "--model-tasks", "16"], "--model-tasks is for the LSTM models"),
])
def test_bad_profile_options_are_named_not_a_traceback(argv, message, capsys):
    from experiments import profile_train

    with pytest.raises(SystemExit):
        profile_train.main(argv)
    assert message in capsys.readouterr().err


def test_a_table_without_the_plain_keras_anchor_shows_no_ratio():
    from experiments import bench

    record = {"name": "asp-mtl", "batch_size": 16, "examples_per_s": 500.0, "tokens_per_s": 9e4,
              "ratio_to_plain_keras": None, "peak_rss_mb": 900.0, "padding_ratio": 1.1}
    assert "| asp-mtl | 16 | 500 | 90000 | – |" in bench.table({"models": [record]})


def test_adam_layout_bench_times_both_layouts_of_the_same_variables(tmp_path, capsys):
    from experiments import bench_adam_layout

    two, three = bench_adam_layout.dense_variable_shapes(2), bench_adam_layout.dense_variable_shapes(3)
    assert len(three) > len(two) and (1000, 50) not in three  # per-task variables; not the embedding
    out = tmp_path / "layout.json"
    assert bench_adam_layout.main(["--model-tasks", "2,3", "--steps", "2", "--repeats", "1", "--output", str(out)]) == 0
    result = json.loads(out.read_text())["results"]
    assert result["3"]["variables"] == len(three)
    assert result["3"]["elements"] == sum(math.prod(s) for s in three)
    assert all(len(t) == 1 and t[0] > 0 for r in result.values() for t in r["ms_per_step"].values())
    with pytest.raises(SystemExit):
        bench_adam_layout.main(["--model-tasks", "16,1"])
    assert "--model-tasks: must be >= 2; got 1" in capsys.readouterr().err
