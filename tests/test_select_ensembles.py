"""experiments.select_ensembles: the summary of the per-seed ensembles, from their result files alone."""

import json

from experiments import select_ensembles


def test_summary_reports_each_seed_and_the_paired_difference(tmp_path):
    selected, best = tmp_path / "ensemble_selection", tmp_path / "best"
    selected.mkdir()
    best.mkdir()
    assert select_ensembles.summary(selected, best) is None
    for seed, (dev, test, single) in enumerate([(11.0, 12.5, 13.5), (11.5, 13.0, 13.5)]):
        members = [{"path": f"runs/tables/asp_mtl_confusion_seed{seed}/model/model.keras", "weight": 2 / 3},
                   {"path": f"runs/tables/s16_head_tail_seed{seed}/model/model.keras", "weight": 1 / 3}]
        (selected / f"seed{seed}.json").write_text(json.dumps(
            {"avg_dev_error": dev, "avg_test_error": test, "member_results": members, "members": ["a", "b"]}))
        (best / f"best_seed{seed}.json").write_text(json.dumps({"avg_test_error": single}))
    md = select_ensembles.summary(selected, best)
    assert "| 0 | asp_mtl_confusion_seed0 (0.67), s16_head_tail_seed0 (0.33) | 11.00 | 12.50 | 13.50 | -1.00 |" in md
    assert "| 1 |" in md and "**12.75 ± 0.35 %**" in md and "-0.75 points on average (per seed -1.00 / -0.50)" in md
    (selected / "bench_serving.json").write_text(json.dumps({
        "command": "python -m experiments.bench_serving ...", "machine_load_average_1min": {"before": 2.1, "after": 2.3},
        "p50_ms": 9.0, "batch64_reviews_per_s": 500.0,
        "variants": [{"export_dir": "/x/export-seed0/books/1", "p50_ms": 9.0, "batch64_reviews_per_s": 500.0},
                     {"export_dir": "/x/export/books/1", "p50_ms": 3.0, "batch64_reviews_per_s": 1500.0}]}))
    md = select_ensembles.summary(selected, best)
    assert "- `/x/export/books/1`: p50 3.00 ms, 1500 reviews/s at batch 64" in md and "2.1/2.3" in md


def test_summary_names_every_configuration_of_the_pool(tmp_path):
    (tmp_path / "seed0.json").write_text(json.dumps({
        "avg_dev_error": 1.0, "avg_test_error": 2.0, "members": ["a", "b"],
        "member_results": [{"path": "runs/main-job/model/model.keras", "weight": 0.5},
                           {"path": "runs/tables/sp_mtl_rerun_seed0/model/model.keras", "weight": 0.5}]}))
    md = select_ensembles.summary(tmp_path, tmp_path / "nobest")
    assert all(name in md for name in select_ensembles.POOL) and "main-job (0.50)" in md and "| – | – |" in md


def test_members_are_named_by_their_run_folder():
    assert select_ensembles.run_name("runs/tables/asp_mtl_confusion_seed0/model/model.keras") == "asp_mtl_confusion_seed0"
    assert select_ensembles.run_name("runs/ngram/seed1/model/model_fdu_class_names.keras") == "ngram/seed1"
