"""MultiTaskEnsemble: mean of members' probabilities, member checks, save/load, TF Serving export, and its CLI."""

import json

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

import tf_aspmtl
from experiments import ensemble as ensemble_cli
from tf_aspmtl import MultiTaskEnsemble, serving
from tf_aspmtl.export import exporter
from tests.tiny_fdu import TASKS, texts, write_fdu_folder

MIXED = {  # rows of both tasks, with the inputs that break naive text pipelines
    "text": ["a good novel", "the disc would not play", "", "great film , really", "\u05e1\u05e4\u05e8 \U0001F600",
             "awful awful plot", "unseenword"],
    "task": ["books", "dvd", "dvd", "dvd", "books", "books", "dvd"],
}


def _member(family, vocabulary_seed: int, weight_seed: int, tasks=TASKS, labels=(0, 1), name=None):
    """An untrained tiny LSTM model (quicker to trace than a CNN at this size) whose random weights (scaled up, so
    probabilities spread) stand in for training.

    Its vocabulary comes from rows drawn with ``vocabulary_seed``, so members differ in vocabulary too.
    """
    frame = pd.DataFrame(
        [(task, text, labels[i % 2]) for task in tasks for i, text in enumerate(texts(task, 6, vocabulary_seed))],
        columns=["task", "text", "label"],
    )
    pre = tf_aspmtl.MultiTaskPreprocessor.from_frame(frame, max_length=12, max_tokens=100)
    keras.utils.set_random_seed(weight_seed)
    model = family(pre, hidden_dim=4, embedding_dim=4, encoder="lstm", word_vectors="random", name=name)
    rng = np.random.default_rng(weight_seed)
    for variable in model.trainable_weights:
        variable.assign(rng.normal(0.0, 0.7, variable.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def members():
    return [_member(tf_aspmtl.SharedPrivateMTL, 1, 10, name="sp"),
            _member(tf_aspmtl.AdversarialSharedPrivateMTL, 2, 20, name="asp")]


@pytest.fixture(scope="module")
def ensemble(members):
    return MultiTaskEnsemble(members, name="ens")


def test_probabilities_are_the_mean_of_the_members_predict(ensemble, members):
    got = ensemble.predict(MIXED, batch_size=3, verbose=0)
    each = [m.predict(MIXED, verbose=0) for m in members]
    assert got.shape == (len(MIXED["text"]), 2)
    np.testing.assert_allclose(got, np.mean(each, axis=0), atol=1e-6)
    assert np.abs(each[0] - each[1]).max() > 0.05  # the members disagree, so the mean is a real test
    np.testing.assert_allclose(got.sum(axis=1), 1.0, atol=1e-5)
    direct = ensemble({"text": tf.constant(MIXED["text"]), "task": tf.constant(MIXED["task"])})
    np.testing.assert_allclose(direct["probabilities"], got, atol=1e-6)
    assert direct["task_id"].numpy().tolist() == [TASKS.index(t) for t in MIXED["task"]]
    np.testing.assert_allclose(ensemble.member_probabilities(MIXED), np.stack(each), atol=1e-7)
    # Scoring uses the same probabilities: row-level accuracy from predict.
    labels = [0, 1, 0, 1, 1, 0, 1]
    frame = pd.DataFrame({"text": MIXED["text"], "task": MIXED["task"], "label": labels})
    scores = ensemble.evaluate_frame(frame, members=True)
    hits = got.argmax(axis=1) == np.array(labels)
    for k, task in enumerate(TASKS):
        rows = np.array(MIXED["task"]) == task
        assert scores["per_task"][task]["accuracy"] == pytest.approx(hits[rows].mean())
        assert scores["per_task"][task]["error"] == pytest.approx(100 * (1 - hits[rows].mean()))
        assert scores["members"][1]["per_task"][task]["accuracy"] == pytest.approx(
            np.mean(each[1][rows].argmax(axis=1) == np.array(labels)[rows]))
    metrics = ensemble.evaluate({"text": frame.text, "task": frame.task}, frame.label, verbose=0)
    assert metrics["accuracy"] == pytest.approx(hits.mean())
    assert set(metrics) == {"accuracy", "mean_task_accuracy", "acc_books", "acc_dvd"}


def test_members_with_different_vocabularies_each_tokenise_their_own_way(ensemble, members):
    first, second = (m.preprocessor.text_vectorizer for m in members)
    assert first.get_vocabulary() != second.get_vocabulary()
    ids = [v(tf.constant(["a good novel"])).numpy() for v in (first, second)]
    assert not np.array_equal(*ids)
    one = {"text": ["a good novel"], "task": ["books"]}
    np.testing.assert_allclose(ensemble.predict(one, verbose=0),
                               (members[0].predict(one, verbose=0) + members[1].predict(one, verbose=0)) / 2,
                               atol=1e-6)
    with pytest.raises(ValueError, match="own vocabulary"):
        ensemble({"token_ids": tf.zeros([1, 12], tf.int32), "task_id": tf.zeros([1], tf.int32)})
    with pytest.raises(ValueError, match="unknown task 'cars'"):
        ensemble.predict({"text": ["a"], "task": ["cars"]}, verbose=0)
    with pytest.raises(NotImplementedError, match="fit its members"):
        ensemble.fit(MIXED, [0] * 7)


def test_members_that_differ_are_named(members):
    other_tasks = _member(tf_aspmtl.FullySharedMTL, 3, 30, tasks=["books", "kitchen"], name="kitchen_model")
    with pytest.raises(ValueError, match=r"member 2 \('kitchen_model'\) differs from member 0 \('sp'\): its tasks "
                                         r"are \['books', 'kitchen'\]"):
        MultiTaskEnsemble([*members, other_tasks])
    other_classes = _member(tf_aspmtl.FullySharedMTL, 3, 30, labels=("neg", "pos"), name="string_labels")
    with pytest.raises(ValueError, match=r"member 1 \('string_labels'\) differs .*task 'books' has classes "
                                         r"\['neg', 'pos'\], expected \['0', '1'\]"):
        MultiTaskEnsemble([members[0], other_classes])
    with pytest.raises(ValueError, match=r"member 1 \('sp'\) is the same model object as member 0"):
        MultiTaskEnsemble([members[0], members[0]])
    with pytest.raises(ValueError, match="member 1 .* is a Dense; expected a tf_aspmtl Task"):
        MultiTaskEnsemble([members[0], keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="at least one member"):
        MultiTaskEnsemble([])


def test_save_and_load_round_trip(ensemble, members, tmp_path):
    expected = ensemble.predict(MIXED, verbose=0)
    ensemble.save(tmp_path / "ensemble.keras")
    loaded = keras.models.load_model(tmp_path / "ensemble.keras", safe_mode=True)
    assert isinstance(loaded, MultiTaskEnsemble) and loaded.num_members == 2
    assert [type(m).__name__ for m in loaded.members] == ["SharedPrivateMTL", "AdversarialSharedPrivateMTL"]
    np.testing.assert_allclose(loaded.predict(MIXED, verbose=0), expected, atol=1e-6)

    paths = []
    for i, member in enumerate(members):
        paths.append(tmp_path / f"member{i}.keras")
        member.save(paths[-1])
    from_files = MultiTaskEnsemble.load(paths)
    np.testing.assert_allclose(from_files.predict(MIXED, verbose=0), expected, atol=1e-6)
    with pytest.raises(FileNotFoundError, match="missing.keras"):
        MultiTaskEnsemble.load([paths[0], tmp_path / "missing.keras"])


def test_member_weights_give_the_weighted_mean_everywhere(members, tmp_path):
    weighted = MultiTaskEnsemble(members, member_weights=[3, 1], name="weighted")
    assert weighted.shares == [0.75, 0.25]
    each = [m.predict(MIXED, verbose=0) for m in members]
    expected = 0.75 * each[0] + 0.25 * each[1]
    assert np.abs(expected - np.mean(each, axis=0)).max() > 1e-2  # the weights matter on these rows
    np.testing.assert_allclose(weighted.predict(MIXED, verbose=0), expected, atol=1e-6)
    served = serving.multitask_serving_fn(weighted)(tf.constant(MIXED["text"]), tf.constant(MIXED["task"]))
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-5)
    frame = pd.DataFrame({**MIXED, "label": [0, 1, 0, 1, 1, 0, 0]})
    task_ids = np.array([0 if t == "books" else 1 for t in MIXED["task"]])
    hits = expected.argmax(axis=1) == frame["label"].to_numpy()
    scores = weighted.evaluate_frame(frame)
    assert scores["avg_error"] == pytest.approx(np.mean([100 * (1 - hits[task_ids == k].mean()) for k in (0, 1)]))

    weighted.save(tmp_path / "weighted.keras")
    loaded = keras.models.load_model(tmp_path / "weighted.keras", safe_mode=True)
    assert loaded.member_weights == [0.75, 0.25]
    np.testing.assert_allclose(loaded.predict(MIXED, verbose=0), expected, atol=1e-6)


@pytest.mark.parametrize("weights, match", [([1.0], "1 values for 2 members"), ([1.0, 0.0], r"member_weights\[1\]"),
                                            ([1.0, float("nan")], r"member_weights\[1\]")])
def test_bad_member_weights_are_refused(members, weights, match):
    with pytest.raises(ValueError, match=match):
        MultiTaskEnsemble(members, member_weights=weights)


def test_select_keeps_the_candidates_the_dev_rows_favour(members):
    # Labels that follow member 0's answers: it is right on every row and member 1 is not, so it is picked alone.
    answers = members[0].predict(MIXED, verbose=0).argmax(axis=1)
    assert (members[1].predict(MIXED, verbose=0).argmax(axis=1) != answers).any()
    frame = pd.DataFrame({**MIXED, "label": answers})
    chosen, selection = MultiTaskEnsemble.select(members, frame, name="chosen")
    assert selection.members == [0] and chosen.members == [members[0]] and chosen.name == "chosen"
    assert selection.candidate_scores[0]["error"] == 0.0 < selection.candidate_scores[1]["error"]
    np.testing.assert_allclose(chosen.predict(MIXED, verbose=0), members[0].predict(MIXED, verbose=0), atol=1e-6)


def test_multitask_serving_function_equals_predict(ensemble):
    texts = tf.constant(MIXED["text"])
    outputs = serving.multitask_serving_fn(ensemble)(texts, tf.constant(MIXED["task"]))
    expected = ensemble.predict(MIXED, verbose=0)
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-5)
    assert outputs["label_id"].numpy().tolist() == expected.argmax(axis=1).tolist()


def test_exported_saved_model_gives_the_ensembles_probabilities(ensemble, tmp_path):
    exported = ensemble.export(tmp_path / "serving", tasks=["dvd"], warmup_requests=False, verbose=False)
    assert [(e.name, e.version) for e in exported] == [("dvd", 1)]
    signature = tf.saved_model.load(exported[0].path).signatures[serving.SIGNATURE_NAME]
    assert list(signature.structured_input_signature[1]) == [serving.TEXT_INPUT]
    assert sorted(signature.structured_outputs) == sorted(serving.OUTPUTS)  # what a single model's export returns
    texts = [t for t, task in zip(MIXED["text"], MIXED["task"]) if task == "dvd"] + ["novel plot"]
    outputs = signature(text=tf.constant(texts))
    expected = ensemble.predict({"text": texts, "task": ["dvd"] * len(texts)}, verbose=0)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), expected, atol=1e-5)
    assert outputs["label"].numpy().tolist() == [str(i).encode() for i in expected.argmax(axis=1)]
    info = json.loads((tmp_path / "serving" / "dvd" / "1" / exporter.INFO_FILE).read_text())
    assert info["model"]["class"] == "MultiTaskEnsemble" and info["model"]["num_members"] == 2
    assert [m["class"] for m in info["model"]["members"]] == ["SharedPrivateMTL", "AdversarialSharedPrivateMTL"]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """Two tasks: 210 train lines (the loader holds out the last 200 as dev) and 12 test lines."""
    return write_fdu_folder(tmp_path_factory.mktemp("fdu"))


@pytest.mark.slow  # the default suite runs the command line with --select-on-dev below; the scores are the library's
@pytest.mark.parametrize("labels", [(0, 1), ("negative", "positive")], ids=["ids", "names"])
def test_cli_scores_the_ensemble_and_each_member(labels, data_dir, tmp_path, monkeypatch):
    # Members trained by experiments.train know FDU-MTL's classes by name; the data has ids 0 and 1.
    from tf_aspmtl.data import load_fdu_mtl

    members = [_member(tf_aspmtl.SharedPrivateMTL, 1, 10, labels=labels, name="sp"),
               _member(tf_aspmtl.AdversarialSharedPrivateMTL, 2, 20, labels=labels, name="asp")]
    paths = []
    for i, member in enumerate(members):
        paths.append(str(tmp_path / f"seed{i}" / "model.keras"))
        (tmp_path / f"seed{i}").mkdir()
        member.save(paths[-1])
    exports = []

    def fake_export(self, directory, verbose=True, **kwargs):  # the real export is tested above
        exports.append((self.num_members, str(directory)))
        return [exporter.ExportedModel(t, 1, f"{directory}/{t}/1", (t,), ()) for t in self.task_names]

    monkeypatch.setattr(MultiTaskEnsemble, "export", fake_export)
    results = tmp_path / "out" / "ensemble.json"
    argv = ["--data-dir", str(data_dir), "--results", str(results), "--export", str(tmp_path / "serving")]
    for path in paths:
        argv += ["--member", path]
    assert ensemble_cli.main(argv) == 0

    report = json.loads(results.read_text())
    assert report["members"] == paths and report["tasks"] == TASKS
    assert report["command"].startswith("python -m experiments.ensemble") and report["commit"]
    assert "tensorflow" in report["versions"] and report["rows"] == {"dev": 400, "test": 24}
    assert exports == [(2, str(tmp_path / "serving"))] and [e["name"] for e in report["export"]] == TASKS
    data = load_fdu_mtl(data_dir, tasks=TASKS, splits=("dev", "test"))
    for split in ("dev", "test"):
        frame = data[data["split"] == split]
        x = {"text": frame["text"].tolist(), "task": frame["task"].tolist()}
        each = [m.predict(x, verbose=0) for m in members]
        for task in TASKS:
            rows = (frame["task"] == task).to_numpy()
            labels = frame["label"].to_numpy()[rows]
            error = 100 * np.mean(np.mean(each, axis=0)[rows].argmax(axis=1) != labels)
            assert report["per_task"][task][f"{split}_error"] == pytest.approx(error)
            for i in range(2):
                own = 100 * np.mean(each[i][rows].argmax(axis=1) != labels)
                assert report["member_results"][i]["per_task"][task][f"{split}_error"] == pytest.approx(own)
        assert report[f"avg_{split}_error"] == pytest.approx(
            np.mean([report["per_task"][t][f"{split}_error"] for t in TASKS]))
    assert [m["class"] for m in report["member_results"]] == ["SharedPrivateMTL", "AdversarialSharedPrivateMTL"]
    md = results.with_suffix(".md").read_text()
    assert "| books |" in md and paths[1] in md and "**average**" in md


def test_cli_names_a_missing_member(tmp_path, capsys):
    code = ensemble_cli.main(["--member", str(tmp_path / "nope.keras"), "--results", str(tmp_path / "r.json")])
    assert code == 2 and "nope.keras" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_cli_chooses_members_on_dev_and_reads_test_after(data_dir, tmp_path, monkeypatch):
    from tf_aspmtl.data import load_fdu_mtl
    from tf_aspmtl.models import multitask_ensemble as ensemble_selection  # where the ensemble finds select_ensemble

    labels = ("negative", "positive")
    candidates = [_member(tf_aspmtl.SharedPrivateMTL, 1, 10, labels=labels, name="sp"),
                  _member(tf_aspmtl.AdversarialSharedPrivateMTL, 2, 20, labels=labels, name="asp"),
                  _member(tf_aspmtl.AdversarialSharedPrivateMTL, 3, 30, labels=labels, name="asp2")]
    paths = []
    for i, candidate in enumerate(candidates):
        paths.append(str(tmp_path / f"c{i}.keras"))
        candidate.save(paths[-1])
    seen = []  # (what was read, rows): selection must see dev rows, and come before test is read
    select = ensemble_selection.select_ensemble
    monkeypatch.setattr(ensemble_selection, "select_ensemble",
                        lambda p, task_ids, *a, **k: seen.append(("select", len(task_ids))) or select(p, task_ids, *a, **k))
    from tf_aspmtl.training import ensemble_run

    load = ensemble_run.ensemble_split
    monkeypatch.setattr(ensemble_run, "ensemble_split",
                        lambda model, split, data: seen.append(("load", split)) or load(model, split, data))

    exports = []

    def fake_export(self, directory, verbose=True, **kwargs):  # the real export is tested above
        exports.append((self.num_members, str(directory)))
        return [exporter.ExportedModel(t, 1, f"{directory}/{t}/1", (t,), ()) for t in self.task_names]

    monkeypatch.setattr(MultiTaskEnsemble, "export", fake_export)
    results = tmp_path / "selected.json"
    argv = ["--data-dir", str(data_dir), "--results", str(results), "--select-on-dev", "--max-steps", "5",
            "--export", str(tmp_path / "serving")]
    for path in paths:
        argv += ["--candidate", path]
    assert ensemble_cli.main(argv) == 0

    assert seen[:2] == [("load", "dev"), ("select", 400)] and ("load", "test") in seen[2:]
    report = json.loads(results.read_text())
    assert report["command"].startswith("python -m experiments.ensemble") and report["commit"]
    assert report["rows"] == {"dev": 400, "test": 24} and report["tasks"] == TASKS
    assert [e["name"] for e in report["export"]] == TASKS and exports[0][1] == str(tmp_path / "serving")
    chosen = report["selection"]
    assert chosen["candidates"] == paths and 1 <= sum(chosen["counts"]) <= 5
    assert report["members"] == [paths[i] for i in chosen["members"]]
    assert report["weights"] == pytest.approx([n / sum(chosen["weights"]) for n in chosen["weights"]])
    # The reported test error is the weighted ensemble's.
    test = load_fdu_mtl(data_dir, tasks=TASKS, splits=("test",))
    x = {"text": test["text"].tolist(), "task": test["task"].tolist()}
    mixed = sum(w * candidates[i].predict(x, verbose=0) for i, w in zip(chosen["members"], report["weights"]))
    for task in TASKS:
        rows = (test["task"] == task).to_numpy()
        error = 100 * np.mean(mixed[rows].argmax(axis=1) != test["label"].to_numpy()[rows])
        assert report["per_task"][task]["test_error"] == pytest.approx(error)
    md = results.with_suffix(".md").read_text()
    assert "chosen among 3 candidates on dev alone" in md and "| dev error % |" in md


@pytest.mark.parametrize("argv", [["--select-on-dev", "--member", "a.keras"], ["--select-on-dev"],
                                  ["--candidate", "a.keras"], ["--select-on-dev", "--candidate", "a.keras",
                                                               "--max-steps", "0"]])
def test_cli_refuses_a_muddled_selection_request(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        ensemble_cli.parse_args(argv)
    assert exit_info.value.code == 2 and "error:" in capsys.readouterr().err

