"""The Keras Tuner hypermodel, the tuners built around it, a search's trial report, the FDU-MTL search and its
resumption, and experiments.tune end to end."""

import json
from dataclasses import replace

import keras_tuner
import numpy as np
import pandas as pd
import pytest

from experiments import tune
from tf_aspmtl.preprocessing import MultiTaskPreprocessor
from tf_aspmtl.training import TrainConfig
from tf_aspmtl.tuning import (
    OBJECTIVE,
    ASPMTLHyperModel,
    best_train_config,
    build_tuner,
    default_values,
    search_summary,
    searched_hyperparameters,
    trials_frame,
)

TASKS = ["books", "MR"]


def _hypermodel(vocabulary_size=50, **kwargs):
    kwargs.setdefault("embedding_dim", 8)
    kwargs.setdefault("encoder", "lstm")  # at these sizes quicker to trace than the CNN
    return ASPMTLHyperModel(TASKS, vocabulary_size=vocabulary_size, **kwargs)


def test_default_build_is_the_papers_configuration():
    hp = keras_tuner.HyperParameters()
    model = _hypermodel().build(hp)
    assert (model.objective.adversarial_weight, model.objective.difference_weight) == (0.05, 0.01)
    assert (model.backbone.hidden_dim, model.dropout) == (100, 0.0)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    space = {p.name: p for p in hp.space}
    assert set(space) == {"adversarial_weight", "difference_weight", "learning_rate", "hidden_dim", "dropout"}
    for name in ("adversarial_weight", "difference_weight"):
        assert (space[name].min_value, space[name].max_value, space[name].sampling) == (1e-3, 1.0, "log")
    assert space["learning_rate"].sampling == "log"
    assert (OBJECTIVE.name, OBJECTIVE.direction) == ("val_mean_task_accuracy", "max")


def test_build_uses_the_trial_values_and_families_without_loss_weights_do_not_search_them():
    hp = keras_tuner.HyperParameters()
    for name, value in {"adversarial_weight": 0.3, "difference_weight": 0.002, "hidden_dim": 25,
                        "dropout": 0.2, "learning_rate": 0.004}.items():
        hp.Fixed(name, value)
    model = _hypermodel().build(hp)
    assert (model.objective.adversarial_weight, model.objective.difference_weight, model.backbone.hidden_dim,
            model.dropout) == (0.3, 0.002, 25, 0.2)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.004)

    fs_hp = keras_tuner.HyperParameters()
    fs = _hypermodel(family="fs-mtl").build(fs_hp)
    assert {p.name for p in fs_hp.space} == set(searched_hyperparameters("fs-mtl")) == {
        "learning_rate", "hidden_dim", "dropout"}
    assert fs.discriminator is None and not fs.private_encoders


def test_word_vectors_are_loaded_into_every_build():
    vectors = np.random.default_rng(0).normal(size=(50, 8)).astype("float32")
    model = _hypermodel(word_vectors=vectors).build(keras_tuner.HyperParameters())
    np.testing.assert_allclose(model.embedding.embeddings.numpy(), vectors)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"family": "asp"}, r"Unknown model family 'asp'"),
        ({"family": "single"}, r"'single' takes exactly one task"),
        ({"encoder": "gru"}, r"Unknown encoder 'gru'"),
        ({"word_vectors": np.zeros((49, 8))}, r"word_vectors has shape \(49, 8\); expected .* \(50, 8\)"),
        ({"adversarial_objective": "minimax"}, r"Unknown adversarial_objective 'minimax'"),
        ({"difference_normalization": "frobenius"}, r"Unknown difference_normalization 'frobenius'"),
        ({"vocabulary_size": 1}, r"vocabulary_size must be >= 2"),
    ],
)
def test_arguments_that_are_not_searched_are_checked_at_once(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _hypermodel(**kwargs)


def _frame(rows=48):
    rng = np.random.default_rng(0)
    label = rng.integers(0, 2, rows)
    text = [f"{['awful', 'great'][y]} {rng.choice(['plot', 'book', 'disc', 'film'])}" for y in label]
    return pd.DataFrame({"text": text, "task": [TASKS[i % 2] for i in range(rows)],
                         "label": [["neg", "pos"][y] for y in label]})


def test_preprocessor_vocabulary_must_match():
    pre = MultiTaskPreprocessor.from_frame(_frame(), max_length=8)
    with pytest.raises(ValueError, match="preprocessor's vocabulary has"):
        ASPMTLHyperModel(pre, vocabulary_size=pre.vocabulary_size + 1)
    with pytest.raises(ValueError, match="no vocabulary yet"):
        ASPMTLHyperModel(MultiTaskPreprocessor(TASKS, {t: ["neg", "pos"] for t in TASKS}))


def test_search_takes_the_preprocessor_raw_rows_and_raw_labels_and_reports_its_trials(tmp_path):
    # What fit takes, the tuner takes: the preprocessor, then raw rows and labels, dev as validation_data.
    train, dev = _frame(), _frame(16)
    hypermodel = ASPMTLHyperModel(MultiTaskPreprocessor.from_frame(train, max_length=8), embedding_dim=4,
                                  encoder="lstm", seed=0)
    fixed = keras_tuner.HyperParameters()
    fixed.Fixed("hidden_dim", 4)
    tuner = build_tuner("random", hypermodel, max_trials=1, directory=str(tmp_path), project_name="raw",
                        hyperparameters=fixed, seed=0)
    tuner.search({"text": train.text, "task": train.task}, train.label, epochs=1, batch_size=8,
                 validation_data=({"text": dev.text, "task": dev.task}, dev.label), verbose=0)
    best = tuner.oracle.get_best_trials(1)[0]
    assert best.status == "COMPLETED" and 0.0 <= best.score <= 1.0
    model = tuner.get_best_models(1)[0]
    assert model.predict({"text": ["great disc"], "task": ["MR"]}, verbose=0).shape == (1, 2)

    frame = trials_frame(tuner.oracle, reference=default_values(hypermodel, fixed))
    assert len(frame) == 1 and frame.loc[0, "status"] == "COMPLETED" and frame.loc[0, "best_epoch"] == 1
    assert bool(frame.loc[0, "is_reference"]) and frame.loc[0, "objective"] == pytest.approx(best.score)
    assert frame.loc[0, "dev_error"] == pytest.approx(100 * (1 - best.score))
    assert {"adversarial_weight", "difference_weight", "learning_rate", "dropout", "val_acc_books"} <= set(frame)
    base = TrainConfig(tasks=tuple(TASKS), encoder="cnn", embedding="random", max_length=8, epochs=5)
    config = best_train_config(base, best.hyperparameters.values)
    # The winner trains as the main job does (up to 15 epochs, patience 3), not for the trials' budget of 5.
    assert (config["epochs"], config["patience"]) == (15, 3) and (TrainConfig().epochs, TrainConfig().patience) == (15, 3)
    assert config["hidden_dim"] == 4 and config["tasks"] == TASKS and config["max_length"] == 8
    # Hyperband's bookkeeping (its epochs too) is dropped; a float step's noise is rounded away.
    assert best_train_config(base, {"tuner/epochs": 2, "tuner/bracket": 0, "dropout": 0.30000000000000004}) == \
        {**base.to_dict(), "tasks": TASKS, "epochs": 15, "patience": 3, "dropout": 0.3}
    assert TrainConfig.from_dict(config).adversarial_weight == pytest.approx(0.05)  # the paper's point came first
    with pytest.raises(ValueError, match="'lambda' is not a TrainConfig field"):
        best_train_config(base, {"lambda": 0.1})
    summary = search_summary(frame, {"searched": ["adversarial_weight", "difference_weight"]}, config)
    assert summary["best"]["rank"] == 1 and summary["reference"]["trial_id"] == summary["best"]["trial_id"]
    assert summary["best_minus_reference_dev_accuracy_points"] == 0.0 and summary["trials"]["COMPLETED"] == 1
    assert set(summary["best"]["hyperparameters"]) == {"adversarial_weight", "difference_weight"}


def test_fit_forwards_everything_and_needs_dev_data():
    class Model:
        def fit(self, *args, **kwargs):
            self.got = (args, kwargs)
            return "history"

    hypermodel, model, hp = _hypermodel(), Model(), keras_tuner.HyperParameters()
    with pytest.raises(ValueError, match="pass the dev split"):
        hypermodel.fit(hp, model, "train", epochs=1)
    assert hypermodel.fit(hp, model, "train", epochs=3, validation_data="dev", callbacks=["stop"]) == "history"
    assert model.got == (("train",), {"epochs": 3, "validation_data": "dev", "callbacks": ["stop"]})


@pytest.mark.parametrize("kind", ["random", "bayesian", "hyperband"])
def test_every_tuner_starts_with_the_papers_point(kind, tmp_path):
    fixed = keras_tuner.HyperParameters()
    fixed.Fixed("hidden_dim", 8)
    hypermodel = _hypermodel()
    tuner = build_tuner(kind, hypermodel, max_trials=5, directory=str(tmp_path), project_name=kind,
                        max_epochs=2, hyperparameters=fixed, seed=1)
    first = tuner.oracle.create_trial("tuner0").hyperparameters.values
    second = tuner.oracle.create_trial("tuner1").hyperparameters.values
    expected = default_values(hypermodel, fixed)
    assert {k: first[k] for k in expected} == expected
    assert expected["adversarial_weight"] == 0.05 and expected["difference_weight"] == 0.01
    assert {k: second[k] for k in expected} != expected
    assert tuner.oracle.objective.name == "val_mean_task_accuracy" and tuner.oracle.objective.direction == "max"


def test_unknown_tuner_and_bad_fixed_values_are_named():
    with pytest.raises(ValueError, match=r"Unknown tuner 'grid'"):
        build_tuner("grid", _hypermodel(), max_trials=1, directory="x", project_name="y")
    with pytest.raises(ValueError, match=r"--fix 'lambda=0.1': expected NAME=VALUE with NAME one of"):
        tune.parse_fixed(["lambda=0.1"], "asp-mtl")
    with pytest.raises(ValueError, match="NAME one of"):
        tune.parse_fixed(["adversarial_weight=0.1"], "fs-mtl")
    assert tune.parse_fixed(["hidden_dim=50", "dropout=0.1"], "asp-mtl") == {"hidden_dim": 50, "dropout": 0.1}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from tests.tiny_fdu import write_fdu_folder

    return write_fdu_folder(tmp_path_factory.mktemp("fdu"))


SEARCH = TrainConfig(tasks=("books", "dvd"), encoder="lstm", embedding="random", embedding_dim=4, max_length=8,
                     batch_size=8, epochs=1)
"""A search of seconds on the tiny corpus: ASP-MTL with LSTM encoders (at these sizes quicker to trace than CNNs),
one epoch a trial."""


def _search(tmp_path, data_dir, project, trials=2, config=SEARCH):
    from tf_aspmtl.tuning.fdu_mtl_search import search_fdu_mtl

    settings = {"model": config.model, "epochs": config.epochs, "trials": trials}
    return search_fdu_mtl(config, "random", trials, tmp_path / "kt", project, settings, {"hidden_dim": 4},
                          data_dir=data_dir, verbose=0)


def _objectives(search):
    trials = search.tuner.oracle.trials
    return {trial_id: (trial.status, trial.score) for trial_id, trial in sorted(trials.items())}


@pytest.mark.slow  # three searches, one interrupted mid-trial
def test_interrupted_search_resumes_with_the_same_arguments(tmp_path, data_dir, monkeypatch, capsys):
    real_fit = ASPMTLHyperModel.fit
    calls = []

    def interrupted_fit(self, *a, **k):  # Ctrl-C during the second trial
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_fit(self, *a, **k)

    monkeypatch.setattr(ASPMTLHyperModel, "fit", interrupted_fit)
    with pytest.raises(KeyboardInterrupt):
        _search(tmp_path, data_dir, "search")
    assert "[tuner0] trial 0 COMPLETED" in capsys.readouterr().out
    project = tmp_path / "kt" / "search"
    trial0 = json.loads((project / "trial_0" / "trial.json").read_text())

    monkeypatch.setattr(ASPMTLHyperModel, "fit", real_fit)
    resumed = _search(tmp_path, data_dir, "search")
    second_run = capsys.readouterr().out
    assert "trial 0 started" not in second_run  # the finished trial is kept...
    assert "[tuner0] trial 1 started" in second_run  # ...the interrupted one runs again
    assert json.loads((project / "trial_0" / "trial.json").read_text())["score"] == trial0["score"]
    assert [status for status, _ in _objectives(resumed).values()] == ["COMPLETED", "COMPLETED"]
    with pytest.raises(ValueError, match=r"started with other settings \{'epochs': \(1, 2\)\}"):
        _search(tmp_path, data_dir, "search", config=replace(SEARCH, epochs=2))

    # Every trial scores as in a search that was never interrupted (same seed, same data order per trial).
    assert _objectives(_search(tmp_path, data_dir, "straight")) == _objectives(resumed)


@pytest.mark.slow  # the search itself is the default suite's (above); this runs it again through the command line
def test_the_tune_command_line_writes_its_outputs_and_names_a_bad_option(tmp_path, data_dir, capsys):
    results = tmp_path / "results" / "tune_test"
    args = ["--tuner", "random", "--trials", "1", "--tasks", "books,dvd", "--epochs", "1", "--directory",
            str(tmp_path / "kt"), "--project-name", "search", "--encoder", "lstm", "--embedding", "random",
            "--embedding-dim", "4", "--max-length", "8", "--batch-size", "8", "--fix", "hidden_dim=4", "--verbose",
            "0", "--data-dir", str(data_dir), "--results", str(results)]
    assert tune.main(args) == 0
    frame = pd.read_csv(results.with_suffix(".csv"), dtype={"trial_id": str})
    assert list(frame["trial_id"]) == ["0"] and frame.loc[0, "status"] == "COMPLETED"
    assert bool(frame.loc[0, "is_reference"]) and 0 <= frame.loc[0, "objective"] <= 1
    assert results.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    config = TrainConfig.from_json_file(results.with_suffix(".best.json"))
    assert config.hidden_dim == 4 and config.tasks == ("books", "dvd") and config.max_length == 8
    assert config.adversarial_weight == pytest.approx(0.05)  # the one trial is the paper's point
    summary = json.loads(results.with_suffix(".json").read_text())
    assert summary["reference"]["trial_id"] == "0" and summary["best"]["rank"] == 1
    assert "experiments.tune" in summary["command"] and "commit" in summary and "versions" in summary
    for name in ("trials.csv", "trials.png", "best_config.json", "summary.json"):
        assert (tmp_path / "kt" / "search" / name).exists()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        tune.main(args[:-2] + ["--tuner", "grid"])
    assert "invalid choice: 'grid'" in capsys.readouterr().err


def test_a_project_resumes_only_with_the_settings_it_was_started_with(tmp_path):
    from tf_aspmtl.tuning.fdu_mtl_search import SEARCH_SETTINGS, check_resumable, search_fdu_mtl

    settings = {"model": "asp-mtl", "epochs": 1, "trials": 2}
    check_resumable(tmp_path, settings)
    assert json.loads((tmp_path / SEARCH_SETTINGS).read_text()) == settings
    check_resumable(tmp_path, {**settings, "trials": 5})  # more trials extend a search
    with pytest.raises(ValueError, match=r"started with other settings \{'epochs': \(1, 2\)\}"):
        check_resumable(tmp_path, {**settings, "trials": 5, "epochs": 2})
    (tmp_path / SEARCH_SETTINGS).write_text('{"model": "asp')  # cut short: said, naming the file, not a JSONDecodeError
    with pytest.raises(ValueError, match=r"search_settings.json \(the settings this search was started with\) cannot"):
        check_resumable(tmp_path, settings)
    (tmp_path / SEARCH_SETTINGS).write_text(json.dumps(settings))
    with pytest.raises(ValueError, match=r"fixed hyperparameter\(s\) \['adversarial_weight'\] are not searched"):
        search_fdu_mtl(TrainConfig(model="fs-mtl"), "random", 1, tmp_path, "p", settings, {"adversarial_weight": 0.1})


def test_a_base_config_reaches_every_build_and_the_trial_values_still_win():
    base = TrainConfig(gradient_reversal_scale=0.5, embedding_perturbation="virtual", perturbation_weight=2.0)
    hp = keras_tuner.HyperParameters()
    hp.Fixed("adversarial_weight", 0.3)
    built = _hypermodel(base_config=base).build(hp).objective.get_config()
    default = _hypermodel().build(keras_tuner.HyperParameters()).objective.get_config()
    for name, value in (("gradient_reversal_scale", 0.5), ("embedding_perturbation", "virtual"),
                        ("perturbation_weight", 2.0)):
        assert built[name] == value and default[name] != value, name
    assert built["adversarial_weight"] == 0.3
