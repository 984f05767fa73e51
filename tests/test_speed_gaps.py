"""experiments.speed_gaps: the missed speed goals' figures, from profile files (tiny hand-made ones here)."""

import json

import pytest

from experiments import speed_gaps


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setattr(speed_gaps, "RESULTS", tmp_path)
    monkeypatch.setattr(speed_gaps, "PROFILES", tmp_path / "speed_equality")
    for tasks, optimizer in ((2, 30.0), (16, 70.0)):
        _write(tmp_path / f"speed_equality/profile_asp_mtl_tasks{tasks}.json", {"config": {"steps": 10}, "summary": {
            "op_ms_total": 500.0, "by_part_ms": {"forward": 150.0, "backward": 280.0, "optimizer": optimizer},
            "top_ops": [{"op_type": "BlockLSTMGrad", "ms": 250.0}, {"op_type": "BlockLSTM", "ms": 150.0},
                        {"op_type": "Sub", "ms": 20.0}]}})
    for kind, ops in (("lstm", [("BlockLSTM", 1.5), ("ConcatV2", 0.5)]),
                      ("ngram", [("StaticRegexReplace", 0.1), ("StringNGrams", 0.05), ("GatherV2", 0.05)])):
        _write(tmp_path / f"speed_equality/profile_serving_{kind}.json", {"batch_sizes": [
            {"batch_size": b, "op_ms_per_call": 2.0 * b if kind == "lstm" else 0.25 * b, "wall_ms_per_call": 1.0 * b,
             "top_ops": [{"op_type": t, "ms_per_call": ms * b} for t, ms in ops]} for b in (1, 64)]})
    _write(tmp_path / "bench_train.json", {"models": [
        {"name": n, "batch_size": b, "examples_per_s": 100.0 * b + (5 if n == "plain" else 0)}
        for n in ("plain", "asp-mtl") for b in (16, 64)]})
    _write(tmp_path / "speed_equality/lstm_backward.json", {"rows": [
        {"steps": steps, "lstms": count, "ms": {"BlockLSTMGrad": steps * count, "batched, graph ops": steps + count,
                                               "batched, XLA": 1.0 * count}}
        for steps in (40, 120) for count in (1, 2)]})
    for seed, (before, after) in enumerate(((13.0, 13.5), (12.0, 12.1), (14.0, 14.0))):
        _write(tmp_path / f"lazy_absent_tasks/before_seed{seed}.json", {"avg_dev_error": before})
        _write(tmp_path / f"lazy_absent_tasks/after_seed{seed}.json", {"avg_dev_error": after})
    return tmp_path


def test_the_figures_are_per_step_and_per_call_shares_of_the_named_ops(results):
    gaps = speed_gaps.speed_gaps()
    assert gaps["train_op_ms"] == 50.0 and gaps["train_lstm_ms"] == 40.0 and gaps["train_lstm_pct"] == 80.0
    assert (gaps["optimizer_ms_2"], gaps["optimizer_ms_16"], gaps["forward_backward_ms_16"]) == (3.0, 7.0, 43.0)
    assert gaps["lstm_serving_share_b1"] == 0.75 and gaps["lstm_serving_op_ms_b64"] == 128.0
    assert gaps["ngram_serving_share_b64"] == pytest.approx(0.6)  # regex + n-grams, not the gather
    assert (gaps["asp_b64_per_s"], gaps["plain_b16_per_s"]) == (6400.0, 1605.0)
    assert gaps["absent_tasks_dev_cost"] == {"mean": pytest.approx(0.2), "seeds": 3, "worse_on_every_seed": False}
    # the LSTM backward benchmark's row of 120 steps only, by backward pass and LSTMs at once
    assert (gaps["lstm_backward_block_2x_ms"], gaps["lstm_backward_graph_1x_ms"], gaps["lstm_backward_xla_2x_ms"]) == (
        240, 121, 2.0)


def test_a_missing_batch_size_is_an_error_not_a_figure(results):
    path = results / "speed_equality/profile_serving_lstm.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({"batch_sizes": data["batch_sizes"][:1]}))
    with pytest.raises(ValueError):
        speed_gaps.speed_gaps()
