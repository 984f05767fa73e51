"""experiments.best: which seeds it trains, and best.md from the result files alone."""

import json

import pandas as pd
import pytest

from experiments import best


def _result(errors: dict[str, float], wall: float) -> dict:
    return {"per_task": {t: {"test_error": e, "dev_error": 0.0} for t, e in errors.items()},
            "avg_test_error": sum(errors.values()) / len(errors), "avg_dev_error": 0.0, "wall_time_s": wall, "config": {"model": "asp-mtl", "encoder": "lstm-max", "seed": 1},
            "load_average_1m": 1.0}


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setattr(best, "RESULTS", tmp_path / "best")
    monkeypatch.setattr(best, "TABLE2", tmp_path / "table2.csv")
    monkeypatch.setattr(best, "TABLE2_RUNS", tmp_path)
    (tmp_path / "best").mkdir()
    return tmp_path


def _config_file(path, **fields) -> dict:
    from tf_aspmtl.training import TrainConfig

    config = TrainConfig(**fields).to_dict()
    path.write_text(json.dumps({**config, "command": "c", "commit": "abc", "provenance": {"chosen": "x"}}))
    return config


def test_only_missing_seeds_are_trained_and_only_the_first_is_exported(results, monkeypatch):
    config = _config_file(results / "best.json", truncation="head+tail")
    best.result_path(1).write_text(json.dumps({"config": {**config, "seed": 1}}))
    calls = []

    def fake_call(command, cwd):
        calls.append(command)
        seed = int(command[command.index("--seed") + 1])
        best.result_path(seed).write_text(json.dumps({"config": {**config, "seed": seed}}))
        return 0

    monkeypatch.setattr(best.subprocess, "call", fake_call)
    assert best.run_missing(results / "best.json", [0, 1, 2], results / "runs") == 0
    seeds = [c[c.index("--seed") + 1] for c in calls]
    assert seeds == ["0", "2"]
    assert "--export" in calls[0] and "--export" not in calls[1]


def test_results_of_another_configuration_are_refused(results, monkeypatch):
    old = _config_file(results / "old.json", encoder="lstm-max")
    best.result_path(0).write_text(json.dumps({"config": {**old, "seed": 0}}))
    _config_file(results / "best.json", truncation="head+tail")
    monkeypatch.setattr(best.subprocess, "call", lambda *a, **k: pytest.fail("nothing may train"))
    with pytest.raises(SystemExit, match=r"best_seed0.json is a run of another configuration.*encoder.*truncation"):
        best.run_missing(results / "best.json", [0, 1, 2], results / "runs")


def test_report_gives_mean_and_spread_beside_table2(results):
    best.result_path(0).write_text(json.dumps(_result({"books": 10.0, "dvd": 14.0}, 600)))
    best.result_path(1).write_text(json.dumps(_result({"books": 12.0, "dvd": 16.0}, 540)))
    pd.DataFrame([{"task": t, "paper_asp_mtl": p, **{f"{f}_{k}": v for f in ("fs_mtl", "sp_mtl", "asp_mtl")
                                                      for k, v in (("mean", 14.0), ("sd", 0.5))}}
                  for t, p in (("books", 16.0), ("dvd", 14.5), ("average", 13.9))]).to_csv(results / "table2.csv",
                                                                                           index=False)
    md = best.report([0, 1, 2], "cmd")
    assert "| books | 11.0 ± 1.4 | 16.0 | 14.0 ± 0.5 |" in md
    assert "| **average** | 13.00 ± 1.41 | 13.9 |" in md  # (12 + 14) / 2 over the two seeds that exist
    assert "Wall time per run: 10.0, 9.0 min (sum 0.32 h; load average at the end of each run: 1.0, 1.0)." in md
    assert "Serving" not in md and "ensemble" not in md  # no serving or ensemble file: no such paragraph
    assert "settings but `encoder=lstm-max`;" in md  # only what differs from the defaults
    (results / "asp_mtl_seed0.json").write_text(json.dumps({"avg_dev_error": 9.0, "avg_test_error": 13.0}))
    md = best.report([0, 1], "cmd")
    assert "seed 0: dev -9.00, test -1.00." in md  # best seed 0: dev 0.0 (from _result), test 12.0


def test_report_without_results_says_what_to_run(results):
    with pytest.raises(SystemExit, match="python -m experiments.best"):
        best.report([0], "cmd")


def test_report_gives_the_ensemble_apart(results):
    best.result_path(0).write_text(json.dumps(_result({"books": 10.0}, 60)))
    (results / "best" / "ensemble.json").write_text(json.dumps({
        "command": "python -m experiments.ensemble", "members": ["a", "b", "c"], "avg_test_error": 9.5,
        "avg_dev_error": 8.25, "members_mean": {"avg_test_error": 10.5, "avg_dev_error": 9.0}}))
    md = best.report([0], "cmd")
    assert "mean of the 3 models' class probabilities" in md and "Mean test error 9.50 % (dev 8.25 %)" in md
    assert "test 10.50 % on average" in md


def test_ensemble_waits_for_every_seed(results, monkeypatch):
    best.result_path(0).write_text("{}")
    monkeypatch.setattr(best.subprocess, "call", lambda *a, **k: pytest.fail("nothing to ensemble yet"))
    assert best.ensemble([0, 1], results / "runs") is None


def test_report_gives_the_serving_cost_of_the_export(results):
    best.result_path(0).write_text(json.dumps(_result({"books": 10.0}, 60)))
    (results / "best" / "bench_serving.json").write_text(json.dumps(
        {"command": "bench", "p50_ms": 3.456, "batch64_reviews_per_s": 1234.4}))
    assert "p50 3.46 ms for one review, 1234 reviews/s at batch 64." in best.report([0], "cmd")
    (results / "best" / "bench_serving_vs_previous.json").write_text(json.dumps(
        {"command": "bench2", "p50_ms": 1.0, "batch64_reviews_per_s": 3000.0,
         "machine_load_average_1min": {"before": 0.5, "after": 0.7},
         "variants": [{"export_dir": "new/books/1", "p50_ms": 1.0, "batch64_reviews_per_s": 3000.0},
                      {"export_dir": "old/books/1", "p50_ms": 5.0, "batch64_reviews_per_s": 800.0}]}))
    md = best.report([0], "cmd")
    assert "measured in turn in one run (`bench2`; load average before/after 0.5/0.7)" in md
    assert "- `old/books/1`: p50 5.00 ms, 800 reviews/s at batch 64" in md


def test_a_seed_the_screen_trained_on_dev_only_is_adopted_not_retrained(results):
    config = _config_file(results / "best.json", truncation="head+tail")  # provenance: chosen "x"
    screen, runs = results / "screen", results / "runs"
    runs.mkdir()
    for seed, dev_only, fields in [(0, True, {}), (1, False, {}), (2, True, {"dropout": 0.3})]:
        (screen / f"x_seed{seed}" / "model").mkdir(parents=True)
        (screen / f"x_seed{seed}" / "model" / "state.json").write_text("{}")
        (screen / f"x_seed{seed}" / "results.json").write_text(
            json.dumps({"dev_only": dev_only, "config": {**config, **fields, "seed": seed}}))
    assert best.adopt_screen_run(results / "best.json", 0, runs, screen)
    assert (runs / "seed0" / "model" / "state.json").exists() and (screen / "x_seed0").exists()
    assert not best.adopt_screen_run(results / "best.json", 0, runs, screen)  # already there: left alone
    assert not best.adopt_screen_run(results / "best.json", 1, runs, screen)  # read test already: not a screen run
    assert not best.adopt_screen_run(results / "best.json", 2, runs, screen)  # another configuration
    assert not best.adopt_screen_run(results / "best.json", 3, runs, screen)  # no such run
    assert sorted(p.name for p in runs.iterdir()) == ["seed0"]


def test_report_says_which_seeds_were_tested_after_a_dev_only_training(results):
    best.result_path(0).write_text(json.dumps({**_result({"books": 10.0}, 60.0),
                                               "test_read_after_dev_only_training": ["16 tasks"]}))
    best.result_path(1).write_text(json.dumps(_result({"books": 12.0}, 60.0)))
    md = best.report([0, 1], "python -m experiments.tables rebuild")
    assert "Seed(s) 0: trained by the 16-task screen (`--dev-only`" in md


def _ngram_config(path, **settings) -> dict:
    config = {"model": "sp-ngram", **settings, "command": "c", "provenance": {"chosen": "s16_ngram"}}
    path.write_text(json.dumps(config))
    return config


def _ngram_result(seed: int, errors: dict[str, float], **settings) -> dict:
    from tf_aspmtl.training import NgramConfig

    config = NgramConfig(seed=seed, **settings)
    return {"model": "sp-ngram", "seed": seed, "tasks": list(config.tasks), "settings": config.settings(),
            "dev_only": False,
            "per_task": {t: {"test_error": e, "dev_error": 1.0} for t, e in errors.items()},
            "avg_test_error": sum(errors.values()) / len(errors), "avg_dev_error": 1.0, "wall_time_s": 30.0,
            "training_wall_time_s": 600.0, "epochs_trained_here": 0}


def test_an_ngram_config_trains_with_experiments_ngram_and_refuses_other_settings(results, monkeypatch):
    _ngram_config(results / "best.json", epochs=40)
    calls = []

    def fake_call(command, cwd):
        calls.append(command)
        seed = int(command[command.index("--seed") + 1])
        best.result_path(seed).write_text(json.dumps(_ngram_result(seed, {"books": 10.0}, epochs=40)))
        return 0

    monkeypatch.setattr(best.subprocess, "call", fake_call)
    assert best.run_missing(results / "best.json", [0, 1], results / "runs") == 0
    assert [c[2] for c in calls] == ["experiments.ngram", "experiments.ngram"]
    assert "--export" in calls[0] and "--config" in calls[1]
    _ngram_config(results / "best.json", epochs=20)
    with pytest.raises(SystemExit, match=r"best_seed0.json is a run of another configuration.*'epochs': \(40, 20\)"):
        best.run_missing(results / "best.json", [0, 1], results / "runs")


def test_an_ngram_screen_run_of_the_same_settings_is_adopted(results, monkeypatch):
    from experiments import ngram, ngram_screens
    from tf_aspmtl.training import claim_ngram_run_folder

    monkeypatch.setattr(ngram_screens, "SCREEN_RESULTS", results / "ngram")
    monkeypatch.setattr(ngram_screens, "SCREEN_RUNS", results / "screen_runs")
    _ngram_config(results / "best.json")
    runs = results / "runs"
    runs.mkdir()
    for seed, epochs in [(0, 20), (1, 40), (2, 20)]:
        folder = ngram_screens.screen_run_dir("sp_ngram", seed)
        (folder / "model").mkdir(parents=True)
        claim_ngram_run_folder(folder, ngram.config_from_flags(["--epochs", str(epochs), "--seed", str(seed)]))
        if seed != 2:  # seed 2's screen did not finish
            ngram_screens.screen_result_path("sp_ngram", seed).parent.mkdir(parents=True, exist_ok=True)
            ngram_screens.screen_result_path("sp_ngram", seed).write_text("{}")
    assert best.adopt_screen_run(results / "best.json", 0, runs, results / "unused")
    assert (runs / "seed0" / "run_args.json").exists() and (runs / "seed0" / "model").exists()
    assert not best.adopt_screen_run(results / "best.json", 1, runs, results / "unused")  # other settings
    assert not best.adopt_screen_run(results / "best.json", 2, runs, results / "unused")  # unfinished
    best.result_path(0).write_text(json.dumps(_ngram_result(0, {"books": 10.0, "dvd": 11.0})))
    ngram_screens.tested_result_path(0).write_text(json.dumps(_ngram_result(0, {"books": 10.0, "dvd": 11.0})))
    md = best.report([0], "cmd")
    assert "a second read, not a new choice; mean test error then and here: seed 0 10.50 / 10.50." in md
    assert "the shared/private n-gram model, `python -m experiments.ngram` with `max_features=200000" in md
    assert "no unlabelled text, no word vectors, no pretraining" in md
    assert "Seed(s) 0: trained by an earlier process" in md and "Training wall time per run" in md


def test_what_a_configuration_learns_from_is_said():
    lstm = {"config": {"embedding": "glove+word2vec", "unlabeled_fraction": 0.25, "lm_pretrain_epochs": 0}}
    said = best.data_used(lstm)
    assert "GloVe 6B vectors" in said and "word2vec" in said and "unlabelled reviews in the adversary" in said
    assert best.data_used({"config": {"embedding": "random"}}) == "the labelled train rows only"


def test_the_ngram_command_reads_the_config_file_and_its_flags_win(tmp_path, capsys):
    from experiments import ngram

    config = tmp_path / "best.json"
    config.write_text(json.dumps({"model": "sp-ngram", "epochs": 40, "tasks": ["books", "dvd"], "provenance": {}}))
    args, run = ngram.parse_args(["--config", str(config), "--output-dir", "x", "--patience", "7"])
    assert (run.epochs, run.patience, run.tasks, run.ngrams, run.seed) == (40, 7, ("books", "dvd"), 2, 0)
    assert args.output_dir == "x" and not args.dev_only
    lstm = tmp_path / "lstm.json"
    lstm.write_text(json.dumps({"model": "asp-mtl"}))
    with pytest.raises(SystemExit):
        ngram.parse_args(["--config", str(lstm), "--output-dir", "x"])
    assert "'model' is 'asp-mtl'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        ngram.parse_args(["--output-dir", "x", "--epochs", "0"])
    assert "command line: NgramConfig.epochs must be >= 1; got 0" in capsys.readouterr().err


def test_a_dev_only_self_training_ngram_screen_run_is_not_adopted(results, monkeypatch):
    """Its student may have learnt from unlabelled repeats of test texts: the tested run trains afresh."""
    from experiments import ngram, ngram_screens
    from tf_aspmtl.training import claim_ngram_run_folder

    monkeypatch.setattr(ngram_screens, "SCREEN_RESULTS", results / "ngram")
    monkeypatch.setattr(ngram_screens, "SCREEN_RUNS", results / "screen_runs")
    monkeypatch.setattr(ngram_screens, "SCREEN_SETTINGS", {"self09": ["--self-training-threshold", "0.9"]})
    config = _ngram_config(results / "best.json", self_training_threshold=0.9)
    config["provenance"]["chosen"] = "s16_ngram_self09"
    (results / "best.json").write_text(json.dumps(config))
    folder = ngram_screens.screen_run_dir("self09", 0)
    claim_ngram_run_folder(folder, ngram.config_from_flags(ngram_screens.SCREEN_SETTINGS["self09"]), dev_only=True)
    ngram_screens.screen_result_path("self09", 0).parent.mkdir(parents=True, exist_ok=True)
    ngram_screens.screen_result_path("self09", 0).write_text("{}")
    assert not best.adopt_screen_run(results / "best.json", 0, results / "runs", results / "unused")
    assert not (results / "runs" / "seed0").exists()


def test_a_failed_ensemble_or_serving_measurement_fails_the_command(results, monkeypatch):
    # Every seed trained, the export there: the serving benchmark and the ensemble failed (their processes exited 1),
    # and experiments.best still exited 0 (best.md written without them): a queue took it for done.
    config = _config_file(results / "best.json")
    runs = results / "runs"
    for seed in (0, 1):
        best.result_path(seed).write_text(json.dumps({**_result({"books": 10.0}, 60), "config": {**config, "seed": seed}}))
        (runs / f"seed{seed}" / "model").mkdir(parents=True)
        (runs / f"seed{seed}" / "model" / "model.keras").write_text("")
    (runs / "export" / "books" / "1").mkdir(parents=True)
    monkeypatch.setattr(best, "REPORT", results / "best.md")
    calls = []
    monkeypatch.setattr(best.subprocess, "call", lambda command, cwd: calls.append(command[2]) or 1)
    code = best.main(["--config", str(results / "best.json"), "--seeds", "0", "1", "--runs-dir", str(runs),
                      "--screen-runs-dir", str(results / "screen")])
    assert calls == ["experiments.bench_serving", "experiments.ensemble"]
    assert code == 1
    assert (results / "best.md").exists()  # the page is still written from the results there are
