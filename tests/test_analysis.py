"""tf_aspmtl.analysis (features, probe, occlusion) on tiny models, and experiments.analysis end to end on two tiny
same-seed SP-MTL / ASP-MTL pairs and a tiny FDU-MTL-shaped folder."""

import json
import math

import keras
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import tf_aspmtl
from experiments import analysis
from tf_aspmtl.analysis import feature_statistics, occlusion, probe_accuracy, shared_private_features
from tests.tiny_fdu import TASKS, texts, write_fdu_folder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Two tasks: 210 train lines (the loader holds out the last 200 as dev, so 10 train rows) and 12 test lines."""
    return write_fdu_folder(tmp_path_factory.mktemp("fdu"))


def _model(family, seed: int, weight_seed: int):
    """An untrained tiny model; its weights stand in for training (same-seed pairs would start equal)."""
    frame = pd.DataFrame([(task, text, i % 2) for task in TASKS for i, text in enumerate(texts(task, 10, seed))],
                         columns=["task", "text", "label"])
    pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(frame, max_length=12, max_tokens=100)
    keras.utils.set_random_seed(weight_seed)
    return family(pre, hidden_dim=4, embedding_dim=4, encoder="cnn", word_vectors="random")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    out = []
    for seed in (0, 1):
        paths = []
        for name, family, offset in (("sp", tf_aspmtl.SharedPrivateMTL, 0),
                                     ("asp", tf_aspmtl.AdversarialSharedPrivateMTL, 100)):
            path = folder / f"{name}_seed{seed}.keras"
            _model(family, seed, seed + offset).save(path)
            paths.append(str(path))
        out.append((seed, *paths))
    return out


@pytest.fixture(scope="module")
def run(pairs, data_dir, tmp_path_factory):
    prefix = tmp_path_factory.mktemp("out") / "analysis"
    argv = ["--data-dir", str(data_dir), "--output", str(prefix), "--examples", "1"]
    for seed, sp, asp in pairs:
        argv += ["--pair", str(seed), sp, asp]
    assert analysis.main(argv) == 0
    return prefix, json.loads(prefix.with_suffix(".json").read_text()), prefix.with_suffix(".md").read_text()


def test_json_has_every_seed_paths_and_provenance(run, pairs):
    _, report, _ = run
    assert [p["seed"] for p in report["pairs"]] == [0, 1]
    for p, (seed, sp, asp) in zip(report["pairs"], pairs):
        assert (p["sp-mtl"]["path"], p["asp-mtl"]["path"]) == (sp, asp)
        assert p["sp-mtl"]["class"] == "SharedPrivateMTL" and p["asp-mtl"]["class"] == "AdversarialSharedPrivateMTL"
        assert "discriminator_accuracy" not in p["sp-mtl"] and 0 <= p["asp-mtl"]["discriminator_accuracy"] <= 1
        for name in ("sp-mtl", "asp-mtl"):
            for key in ("probe_task_accuracy_shared", "probe_task_accuracy_private"):
                assert 0 <= p[name][key] <= 1
    assert report["models"] == [{"seed": s, "sp-mtl": sp, "asp-mtl": asp} for s, sp, asp in pairs]
    assert report["probe"]["train_rows"] == 20 and report["probe"]["test_rows"] == 24
    assert report["qualitative_seed"] == 0 and "experiments.analysis" in report["command"]
    assert "--pair 1" in report["command"] and report["commit"] and report["versions"]["tensorflow"]


def test_aggregates_are_the_mean_and_sd_of_the_per_seed_values(run):
    _, report, _ = run
    checked = 0
    for name in ("sp-mtl", "asp-mtl"):
        for key, agg in report["aggregate"][name].items():
            values = [p[name][key] for p in report["pairs"]]
            assert agg["n"] == 2
            assert agg["mean"] == pytest.approx(sum(values) / 2)
            assert agg["sd"] == pytest.approx(abs(values[0] - values[1]) / math.sqrt(2))
            checked += 1
    assert "discriminator_accuracy" in report["aggregate"]["asp-mtl"]
    assert "discriminator_accuracy" not in report["aggregate"]["sp-mtl"]
    assert checked == 4 + 5


def test_paired_differences_have_a_t_interval_over_two_seeds(run):
    _, report, _ = run
    diffs = report["paired_differences"]
    assert set(diffs) == {"test_error", "probe_task_accuracy_shared", "probe_task_accuracy_private",
                          "mean_abs_cosine_shared_private"}
    for key, d in diffs.items():
        per_seed = [p["asp-mtl"][key] - p["sp-mtl"][key] for p in report["pairs"]]
        assert d["per_seed"] == pytest.approx(per_seed) and d["n"] == 2 and d["over"] == "seeds"
        mean, sd = np.mean(per_seed), np.std(per_seed, ddof=1)
        half = stats.t.ppf(0.975, 1) * sd / math.sqrt(2)
        assert d["mean"] == pytest.approx(mean)
        assert d["ci95"] == pytest.approx([mean - half, mean + half], abs=1e-12)


def test_markdown_has_per_seed_rows_aggregates_and_a_computed_verdict(run):
    _, report, md = run
    for seed in (0, 1):
        assert f"| {seed} | SP-MTL |" in md and f"| {seed} | ASP-MTL |" in md
    assert "| mean ± sd (n = 2) | SP-MTL |" in md and "| mean ± sd (n = 2) | ASP-MTL |" in md
    assert "| seed 0 | seed 1 | mean | 95 % t-interval |" in md
    lo, hi = report["paired_differences"]["probe_task_accuracy_shared"]["ci95"]
    word = "includes" if lo <= 0 <= hi else "excludes"
    assert f"95 % t-interval over n = 2 seeds [{100 * lo:+.1f}, {100 * hi:+.1f}] pp, which {word} 0" in md
    assert "adversarial and difference terms (lambda = 0.05, gamma = 0.01; SP-MTL: lambda = 0, gamma = 0)" in md


def _fake_pair(seed, sp_probe, asp_probe, sp_cos, asp_cos):
    sp = {"class": "SharedPrivateMTL", "adversarial_weight": 0.0, "difference_weight": 0.01, "test_error": 15.0,
          "probe_task_accuracy_shared": sp_probe, "mean_abs_cosine_shared_private": sp_cos}
    asp = {**sp, "class": "AdversarialSharedPrivateMTL", "adversarial_weight": 0.05,
           "probe_task_accuracy_shared": asp_probe, "mean_abs_cosine_shared_private": asp_cos,
           "discriminator_accuracy": 0.1}
    return {"seed": seed, "sp-mtl": sp, "asp-mtl": asp,
            "asp_minus_sp": {k: asp[k] - sp[k] for k in ("test_error", "probe_task_accuracy_shared",
                                                         "mean_abs_cosine_shared_private")}}


def test_verdict_reads_the_direction_off_the_paired_interval():
    pairs = [_fake_pair(0, 0.30, 0.20, 0.08, 0.08), _fake_pair(1, 0.32, 0.21, 0.07, 0.09),
             _fake_pair(2, 0.31, 0.19, 0.09, 0.07)]
    aggregate, differences = analysis.summarise(pairs)
    report = {"pairs": pairs, "aggregate": aggregate, "paired_differences": differences, "chance": 1 / 16}
    text = " ".join(analysis.verdict(report))
    assert "ASP-MTL's adversarial term (lambda = 0.05) lowered the shared space's task readability" in text
    assert "-11.0 pp on average, 95 % t-interval over n = 3 seeds" in text and "which excludes 0" in text
    assert "did not measurably change mean |cos(shared, private)|" in text and "which includes 0" in text
    assert "discriminator reads the task from its shared features at 10.0 ± 0.0 % (n = 3 seeds" in text
    one = {**report, "pairs": pairs[:1], "paired_differences": analysis.summarise(pairs[:1])[1]}
    assert "With one pair there is no interval over seeds" in " ".join(analysis.verdict(one))


def test_qualitative_part_and_replot(run, pairs, data_dir, tmp_path):
    _, report, md = run
    assert set(report["disagreements"]) == {"asp_right", "sp_right"}
    assert "Qualitative part, on the first pair only (seed 0):" in md
    models = {name: keras.models.load_model(path, safe_mode=True)
              for name, path in zip(("sp-mtl", "asp-mtl"), pairs[0][1:])}
    test = tf_aspmtl.data.load_fdu_mtl(data_dir, tasks=TASKS, splits=("test",))
    truth = test["label"].to_numpy()
    png = tmp_path / "a_words.png"
    found = analysis.qualitative(models, {"sp-mtl": 1 - truth, "asp-mtl": truth}, test, 2, png)
    assert found["disagreements"] == {"asp_right": len(test), "sp_right": 0}
    assert [e["model"] for e in found["examples"]] == ["sp-mtl", "asp-mtl"] * 2 and png.exists()
    shortest = min(test["text"], key=len)
    assert found["examples"][0]["words"] == shortest.split()
    assert len(found["examples"][0]["shared_occlusion"]) == len(shortest.split())
    (tmp_path / "a.json").write_text(json.dumps(found))
    png.unlink()
    assert analysis.main(["--replot", "--output", str(tmp_path / "a")]) == 0
    assert png.exists()


def test_predictions_from_the_features_match_predict(pairs, data_dir):
    model = keras.models.load_model(pairs[0][2], safe_mode=True)
    test = tf_aspmtl.data.load_fdu_mtl(data_dir, tasks=TASKS, splits=("test",)).sample(frac=1, random_state=0)
    found = shared_private_features(model, test, batch_size=5)  # batches that cut across a task's rows
    assert len(found["shared"]) == len(found["private"]) == len(test)
    probs = model.predict({"text": test["text"].tolist(), "task": test["task"].tolist()}, verbose=0)
    np.testing.assert_array_equal(found["prediction"], probs.argmax(axis=1))
    # Rows are found by position: index labels may repeat (a pd.concat without ignore_index).
    doubled = pd.concat([test, test])
    twice = shared_private_features(model, doubled, batch_size=5)
    assert len(twice["shared"]) == len(doubled)
    np.testing.assert_allclose(twice["shared"], np.concatenate([found["shared"]] * 2), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(twice["prediction"], np.concatenate([found["prediction"]] * 2))
    with pytest.raises(ValueError, match=r"task\(s\) \['music'\]"):
        shared_private_features(model, test.assign(task="music"))


def test_feature_statistics_read_the_probe_the_discriminator_and_the_cosine(pairs, data_dir):
    sp, asp = (keras.models.load_model(path, safe_mode=True) for path in pairs[0][1:])
    data = tf_aspmtl.data.load_fdu_mtl(data_dir, tasks=TASKS, splits=("train", "test"))
    train, test = data[data["split"] == "train"], data[data["split"] == "test"]
    for model, adversary in ((sp, False), (asp, True)):
        entry, predicted = feature_statistics(model, train, test)
        assert entry["class"] == type(model).__name__ and len(predicted) == len(test)
        assert entry["test_error"] == pytest.approx(100 * np.mean(predicted != test["label"].to_numpy()))
        assert 0 <= entry["probe_task_accuracy_shared"] <= 1 and 0 <= entry["mean_abs_cosine_shared_private"] <= 1
        assert ("discriminator_accuracy" in entry) == adversary
    # The probe reads a feature that holds the task perfectly, and cannot read one that holds none of it.
    y = np.array([0, 1] * 20)
    assert probe_accuracy(np.eye(2)[y], y, np.eye(2)[y], y) == 1.0
    assert probe_accuracy(np.ones((40, 2)), y, np.ones((40, 2)), y) == 0.5


def test_occlusion_moves_each_feature_by_one_distance_per_kept_word(pairs):
    model = keras.models.load_model(pairs[0][2], safe_mode=True)
    text = "good novel really good"
    words, shared, private = occlusion(model, text, "books")
    vocabulary = model.preprocessor.text_vectorizer.get_vocabulary()
    assert len(words) == len(shared) == len(private) == 4 and set(words) <= set(vocabulary)
    assert (shared >= 0).all() and (private >= 0).all() and shared.max() > 0
    empty = occlusion(model, "", "books")
    assert empty[0] == [] and len(empty[1]) == len(empty[2]) == 0


def test_each_pair_needs_its_own_seed(capsys):
    _, given = analysis.parse_args(["--pair", "0", "a.keras", "b.keras", "--pair", "1", "c", "d"])
    assert given == [(0, "a.keras", "b.keras"), (1, "c", "d")]
    with pytest.raises(SystemExit):
        analysis.parse_args(["--pair", "0", "a", "b", "--pair", "0", "c", "d"])
    assert "each --pair needs its own seed; got seeds [0, 0]" in capsys.readouterr().err
