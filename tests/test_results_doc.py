"""experiments.results_doc: README's headline table from result files alone (docs/RESULTS.md as a whole is checked
against the committed result files by tests/test_tables.py)."""

import json

import pytest

from experiments import best, results_doc
from experiments.markdown_template import TemplateError


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setattr(results_doc, "RESULTS", tmp_path)
    monkeypatch.setattr(best, "RESULTS", tmp_path / "best")
    monkeypatch.setattr(results_doc, "PREVIOUS_BEST_LSTM", tmp_path / "best" / "previous_best_lstm.json")
    (tmp_path / "best").mkdir()
    return tmp_path


def test_the_headline_gives_the_main_job_table2_means_and_the_best_configurations(results):
    (results / "main_job.json").write_text(json.dumps({"wall_time_s": 600.0, "avg_test_error": 14.5}))
    for seed, error in enumerate((10.7, 10.9)):
        best.result_path(seed).write_text(json.dumps({"model": "sp-ngram", "avg_test_error": error}))
    (results / "best" / "previous_best_lstm.json").write_text(json.dumps(
        {"runs": {str(s): {"avg_test_error": e} for s, e in enumerate((13.0, 14.0, 15.0))}}))
    runs = {"fs_mtl": {0: {"avg_test_error": 14.0}, 1: {"avg_test_error": 15.0}}, "single": {},
            "asp_mtl_w2v": {0: {"avg_test_error": 12.0}},  # the protocol before: RESULTS only
            "asp_mtl_w2v_ht": {0: {"avg_test_error": 13.0}, 2: {"avg_test_error": 14.0}}}
    lines = results_doc.headline("cmd", runs).splitlines()
    assert lines[0].startswith("Made by `cmd`;")
    assert lines[4:] == [
        "| the main job: ASP-MTL, seed 0, 10.0 minutes on 2 CPU cores | 14.50 | 13.9 |",  # the paper's printed mean
        "| Table 2, FS-MTL, 2 seeds | 14.50 ± 0.71 | 15.3 |",  # no single-task run: no row
        "| Table 2 under the dev-chosen protocol (word2vec 200-d, up to 30 epochs, head+tail), ASP-MTL, 2 seeds | "
        "13.50 ± 0.71 | 13.9 |",
        "| the best configuration chosen on dev (the shared/private n-gram model), 2 seeds | **10.80 ± 0.14** | – |",
        "| the best LSTM configuration chosen on dev (ASP-MTL, head+tail, confusion, unlabelled rows), 3 seeds | "
        "14.00 ± 1.00 | – |"]
    (results / "main_job.json").unlink()
    with pytest.raises(TemplateError, match=r"readme_headline.md:7: \{\{ main_job.json : wall_time_s / 60 : .1f \}\}: "
                                            r"no file .*main_job.json"):
        results_doc.headline("cmd", runs)


def test_speed_reruns_puts_every_kept_summary_side_by_side(tmp_path, monkeypatch):
    import json

    from experiments import speed_gaps

    def summary(commit, avx512, rate, error):
        return {"commit": commit, "machine": {} if avx512 is None else {"cpu_model": "AMD EPYC", "avx512": avx512},
                "goals": {"asp_epoch_s": ["<=", 25.0]}, "figures": {"asp_epoch_s": rate, "ngram_fast_epochs": 1},
                "details": {"main_job": {"avg_test_error": error}}}

    monkeypatch.setattr(speed_gaps, "RESULTS", tmp_path)
    with pytest.raises(FileNotFoundError, match="no benchmark summary"):
        speed_gaps.speed_reruns()
    (tmp_path / "bench_summary.json").write_text(json.dumps(summary("a" * 40, True, 28.25, 14.861)))
    (tmp_path / "bench_summary_avx512.json").write_text(json.dumps(summary("b" * 40, None, 32.5, 14.94)))
    table = speed_gaps.speed_reruns().splitlines()
    assert table[0] == ("| figure | goal | `bench_summary.json` (aaaaaaa; AMD EPYC, with AVX-512) | "
                        "`bench_summary_avx512.json` (bbbbbbb; CPU flags not recorded) |")
    assert "| `asp_epoch_s` | <= 25.0 | 28.2 | 32.5 |" in table
    assert "| `ngram_fast_epochs` |  | 1 | 1 |" in table
    assert table[-1] == "| the main job's mean test error, % (seed 0) | | 14.86 | 14.94 |"


def test_temperatures_give_each_models_range_and_count_below_one(tmp_path, monkeypatch):
    import json

    from experiments import results_doc

    models = {"ngram": {"per_task": {"a": {"temperature": 0.4}, "b": {"temperature": 0.25}, "c": {"temperature": 1.5}}},
              "lstm": {"per_task": {"a": {"temperature": 1.2}}}}
    (tmp_path / "calibration.json").write_text(json.dumps({"models": models}))
    monkeypatch.setattr(results_doc, "RESULTS", tmp_path)
    assert results_doc._temperatures() == {"ngram": "0.25 to 1.50 (2 of 3 tasks below 1)",
                                           "lstm": "1.20 to 1.20 (0 of 1 tasks below 1)"}


def test_protocol_rows_pair_each_setting_with_base_or_with_the_setting_it_changes(results):
    folder = results / "screen"
    folder.mkdir()
    errors = {"base": (20.0, 21.0), "w2v": (19.0, 19.5), "w2v_ht": (18.0, 20.0), "ht": (19.5,)}
    for name, devs in errors.items():
        for seed, dev in enumerate(devs):
            (folder / f"{name}_seed{seed}.json").write_text(json.dumps({"avg_dev_error": dev}))
    rows = results_doc._protocol_rows("screen", {"w2v": "W", "w2v_ht": "W+HT", "ht": "HT", "none": "N"},
                                      {"w2v_ht": "w2v"}).splitlines()
    assert [row.split(" | ")[0] for row in rows] == ["| today's single-task protocol (base)", "| W", "| W+HT", "| HT"]
    assert rows[1].endswith("| 1.25 ± 0.35 (2 of 2 seeds better) |")  # against base: 1.0, 1.5
    assert rows[2].endswith("| 0.25 ± 1.06 (1 of 2 seeds better) |")  # against w2v: 1.0, -0.5
    assert rows[3].endswith("| 0.50 (1 of 1 seeds better) |")


def test_protocol_rows_leave_out_a_pair_run_on_two_cpu_models(results):
    # The fourth screen's dev-chosen protocol (an AMD EPYC) was paired with a base that ran on an Intel Xeon, under a
    # header saying "same seed, same CPU"; a run without a CPU record (before the record existed) is kept.
    folder = results / "screen"
    folder.mkdir()
    amd, intel = {"cpu_model": "AMD EPYC"}, {"cpu_model": "Intel(R) Xeon(R) Processor"}
    runs = {"base": [(20.0, intel), (21.0, intel), (20.5, None)], "w2v": [(19.0, amd), (19.5, intel), (19.0, amd)]}
    for name, seeds in runs.items():
        for seed, (dev, machine) in enumerate(seeds):
            record = {"avg_dev_error": dev, **({"machine": machine} if machine else {})}
            (folder / f"{name}_seed{seed}.json").write_text(json.dumps(record))
    row = results_doc._protocol_rows("screen", {"w2v": "W"}).splitlines()[1]
    assert row.endswith("| 1.50 ± 0.00 (2 of 2 seeds better; 1 seed(s) of base ran on another CPU, left out) |")


def test_lazy_adam_against_adam_compares_the_same_seeds(results):
    # RESULTS.md says "LazyAdam against Keras' Adam, same seeds"; an Adam run of a seed LazyAdam lacks (seed 3, a
    # high error) moved the "gain" although nothing paired with it.
    folder = results / "runs_asp"
    folder.mkdir()
    runs = {("adam", 0): 14.0, ("adam", 1): 15.0, ("adam", 3): 30.0, ("lazy-adam", 0): 13.0, ("lazy-adam", 1): 14.5}
    for (optimizer, seed), error in runs.items():
        (folder / f"{optimizer}_seed{seed}.json").write_text(json.dumps(
            {"config": {"optimizer": optimizer, "max_length": 200, "seed": seed}, "avg_dev_error": error,
             "avg_test_error": error}))
    fixed_files = [results / "speed_asp_mtl_lazy_adam.json", results / "reproduce_asp-mtl.json"]
    for path, seed in zip(fixed_files, (2, 2)):  # the two fixed files: one seed-2 run of each optimiser
        optimizer = "lazy-adam" if "lazy" in path.name else "adam"
        path.write_text(json.dumps({"config": {"optimizer": optimizer, "max_length": 200, "seed": seed},
                                    "avg_dev_error": 12.0, "avg_test_error": 12.0}))
    found = results_doc._lazy_vs_adam()
    assert found["dev"] == pytest.approx(0.5) and found["dev_direction"] == "lower"  # (1.0 + 0.5 + 0.0) / 3
    assert found["every_seed_better"] is False  # seed 2: equal
