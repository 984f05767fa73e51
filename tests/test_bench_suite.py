"""The benchmark suite of issue 22: its options, its scikit-learn anchor, and (slow) one whole quick run."""

import json

import pytest

from experiments import bench_suite

KEYS = ("asp_over_plain_b16", "asp_16_over_2_tasks", "flop_share", "asp_epoch_s", "main_job_s", "ngram_train_s",
        "ngram_dev_error", "sklearn_train_s", "sklearn_dev_error", "serving_lstm_p50_ms", "serving_lstm_b64_per_s",
        "serving_ngram_p50_ms", "serving_ngram_b64_per_s")


@pytest.mark.parametrize("argv, message", [
    (["--sklearn-c", "1,x"], "--sklearn-c must be comma-separated numbers"),
    (["--sklearn-c", "0"], "every C > 0"),
    (["--steps", "0"], "--steps, --serving-calls and --serving-rounds must be >= 1"),
    (["--serving-rounds", "0"], "--steps, --serving-calls and --serving-rounds must be >= 1"),
])
def test_bad_options_are_named_not_a_traceback(argv, message, capsys):
    with pytest.raises(SystemExit):
        bench_suite.main(argv)
    assert message in capsys.readouterr().err


def test_the_scikit_learn_anchor_chooses_c_on_dev_and_learns_the_task():
    anchor = bench_suite.sklearn_anchor([0.01, 10.0], tasks=["MR", "camera_photo"])
    assert [f["C"] for f in anchor["fits"]] == [0.01, 10.0]
    assert anchor["dev_error"] == min(f["dev_error"] for f in anchor["fits"])
    assert anchor["dev_error"] < 30.0  # far better than chance on two sentiment tasks


@pytest.mark.parametrize("keep", [False, True])
def test_the_scratch_folder_is_removed_also_when_a_step_fails_unless_kept(tmp_path, monkeypatch, capsys, keep):
    work = tmp_path / "scratch"

    def fail(args, c_grid, folder, made_by, load_before):
        (folder / "main_job").mkdir()
        (folder / "main_job" / "epoch-1.weights.h5").write_bytes(b"x" * 1000)
        raise SystemExit("bench_suite: main job failed (exit 1)")

    monkeypatch.setattr(bench_suite.tempfile, "mkdtemp", lambda prefix: work.mkdir() or str(work))
    monkeypatch.setattr(bench_suite, "measure_suite", fail)
    with pytest.raises(SystemExit, match="main job failed"):
        bench_suite.main(["--quick", "--output", str(tmp_path / "summary.json")] + (["--keep-work"] if keep else []))
    assert work.exists() == keep
    assert (f"the scratch folder is kept: {work}" in capsys.readouterr().out) == keep


@pytest.mark.slow
def test_a_quick_run_writes_every_figure(tmp_path):
    out = tmp_path / "summary.json"
    bench_suite.main(["--quick", "--output", str(out), "--note", "test"])
    result = json.loads(out.read_text())
    assert set(KEYS) <= set(result["figures"]) and result["quick"] is True
    assert all(result["figures"][k] is not None for k in KEYS if k != "asp_epoch_s")
    assert "| `main_job_s` |" in out.with_suffix(".md").read_text()


def test_the_fast_ngram_run_trains_to_the_first_epoch_at_or_below_the_anchor():
    # Two tasks, three epochs: mean dev errors 25, 12.5 and 10 %.
    history = {"val_acc_a": [0.7, 0.9, 0.9], "val_acc_b": [0.8, 0.85, 0.9], "accuracy": [0.0, 0.0, 0.0]}
    assert bench_suite.first_epoch_at_or_below(history, 12.5) == 2
    assert bench_suite.first_epoch_at_or_below(history, 30.0) == 1
    assert bench_suite.first_epoch_at_or_below(history, 9.0) is None
    with pytest.raises(ValueError, match="val_acc_"):
        bench_suite.first_epoch_at_or_below({"accuracy": [0.5]}, 10.0)


def test_a_quick_run_without_output_leaves_the_committed_summary_alone(monkeypatch):
    # --quick (a smoke test, "not figures") wrote its figures over experiments/results/bench_summary.json and .md,
    # from which README's speed lines and RESULTS.md are built.
    written = []
    monkeypatch.setattr(bench_suite, "measure_suite", lambda args, *rest: written.append(args.output))
    bench_suite.main(["--quick"])
    assert written and bench_suite.Path(written[0]).resolve() != bench_suite.DEFAULT_OUTPUT.resolve()
    assert bench_suite.REPO_ROOT / "experiments" / "results" not in bench_suite.Path(written[0]).resolve().parents
    bench_suite.main([])
    assert bench_suite.Path(written[1]) == bench_suite.DEFAULT_OUTPUT  # a full run: the summary, as before
