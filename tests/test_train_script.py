"""The main job: its command line end to end on a tiny FDU-MTL-shaped folder, and the run folder's record."""

import json

import pytest

from experiments import train
from tests.tiny_fdu import write_fdu_folder
from tf_aspmtl.training import QUICK, DevSelection, TrainConfig, build_model, fdu_preprocessor, run
from tf_aspmtl.training import fdu_mtl_run as run_module
from tf_aspmtl.training.run_folder import RUN_IDENTITY, claim_run_folder

TINY = ["--quick", "--model", "fs-mtl", "--tasks", "books,dvd", "--epochs", "1", "--hidden-dim", "4", "--max-length",
        "8", "--encoder", "cnn", "--embedding", "random", "--embedding-dim", "8", "--verbose", "0"]
"""A main job of seconds: FS-MTL (one encoder: the quickest graph to trace) on the tiny corpus."""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fdu_folder(tmp_path_factory.mktemp("fdu"))


def _quick(**fields) -> TrainConfig:
    return TrainConfig.from_dict({**QUICK, "paper_scale": False, "tasks": ("books", "MR"), **fields})


def test_train_writes_results_with_provenance_exports_and_refuses_another_run_on_its_folder(tmp_path, data_dir,
                                                                                               capsys):
    out, exports = tmp_path / "run", tmp_path / "exports"
    extra = tmp_path / "copy" / "asp.json"
    argv = [*TINY, "--data-dir", str(data_dir), "--output-dir", str(out), "--results", str(extra),
            "--export", str(exports)]
    assert train.main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert json.loads(extra.read_text()) == results
    assert set(results["per_task"]) == {"books", "dvd"}
    for r in results["per_task"].values():
        assert 0.0 <= r["dev_error"] <= 100.0 and 0.0 <= r["test_error"] <= 100.0
    mean_test = (results["per_task"]["books"]["test_error"] + results["per_task"]["dvd"]["test_error"]) / 2
    assert results["avg_test_error"] == pytest.approx(mean_test)
    for key in ("config", "command", "commit", "versions", "wall_time_s", "avg_dev_error"):
        assert key in results
    assert results["config"]["hidden_dim"] == 4 and results["short_run"] is True
    assert "experiments.train" in results["command"] and "--tasks books,dvd" in results["command"]
    assert "| books |" in (out / "results.md").read_text()
    assert (out / "model" / "model.keras").exists()
    assert list((out / "model" / "logs").rglob("events.out.tfevents.*")), "no TensorBoard logs"
    for task in ("books", "dvd"):
        assert (exports / task / "1" / "saved_model.pb").exists()
    assert (exports / "models.config").exists()
    printed = capsys.readouterr().out
    assert "To serve it with TensorFlow Serving" in printed and f"-v {exports}:/models" in printed

    # The folder now holds this run: another configuration on it is refused before anything is read or written.
    before = (out / "results.json").read_text()
    changed = argv[:]
    changed[changed.index("--hidden-dim") + 1] = "5"
    assert train.main(changed) == 2
    error = capsys.readouterr().err
    assert "'hidden_dim': (4, 5)" in error and "--output-dir" in error
    assert (out / "results.json").read_text() == before and json.loads(extra.read_text()) == results


@pytest.mark.parametrize("flags, message", [
    (["--learning-rate", "nan"], "TrainConfig.learning_rate (--learning-rate) must be finite"),
    (["--learning-rate", "0"], "TrainConfig.learning_rate (--learning-rate) must be > 0"),
    (["--adversarial-weight", "inf"], "TrainConfig.adversarial_weight (--adversarial-weight) must be finite"),
    (["--difference-weight", "-1"], "TrainConfig.difference_weight (--difference-weight) must be >= 0"),
    (["--epochs", "0"], "TrainConfig.epochs (--epochs) must be >= 1"),
])
def test_bad_numbers_are_refused_naming_the_flag(flags, message, capsys):
    assert train.main(flags) == 2
    assert message in capsys.readouterr().err


def test_wrongly_typed_config_value_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hidden_dim": "sixteen"}))
    assert train.main(["--config", str(bad)]) == 2
    assert "bad.json: TrainConfig.hidden_dim must be an int; got 'sixteen'" in capsys.readouterr().err


def test_a_run_folder_refuses_another_configuration(tmp_path, capsys):
    config = _quick()
    legacy = tmp_path / "legacy"
    (legacy / "model").mkdir(parents=True)  # a folder from before the record: claimed as it is
    claim_run_folder(legacy, config, dev_only=False)
    assert json.loads((legacy / RUN_IDENTITY).read_text())["config"]["tasks"] == ["books", "MR"]
    claim_run_folder(legacy, config, dev_only=False)  # the same run again: fine
    with pytest.raises(ValueError, match=r"legacy holds a run of another configuration .*'dev_only': \(False, True\)"):
        claim_run_folder(legacy, config, dev_only=True)
    other = _quick(truncation="head+tail")
    with pytest.raises(ValueError, match=r"'truncation': \('head', 'head\+tail'\)"):
        claim_run_folder(legacy, other, dev_only=False)
    assert train.main(["--quick", "--tasks", "books,MR", "--truncation", "tail", "--output-dir", str(legacy)]) == 2
    assert "--output-dir" in capsys.readouterr().err


def test_a_finished_folder_from_before_the_record_is_checked_against_its_results(tmp_path):
    config = _quick()
    older = {k: v for k, v in config.to_dict().items() if k != "embedding_perturbation"}  # a field added later
    for name in ("same", "other"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps({"config": older, "dev_only": None}))
    claim_run_folder(tmp_path / "same", config, dev_only=False)
    assert (tmp_path / "same" / RUN_IDENTITY).exists()
    longer = _quick(max_length=400)
    with pytest.raises(ValueError, match=r"'max_length': \(\d+, 400\)"):
        claim_run_folder(tmp_path / "other", longer, dev_only=False)
    assert not (tmp_path / "other" / RUN_IDENTITY).exists()


def test_unknown_task_is_named():
    with pytest.raises(ValueError, match=r"Unknown task\(s\) \['cars'\]"):
        train.resolve_config(train.parse_args(["--tasks", "books,cars"]))


def test_config_file_overrides_defaults_and_rejects_unknown_fields(tmp_path):
    good = tmp_path / "best.json"
    good.write_text(json.dumps({"adversarial_weight": 0.3, "difference_weight": 0.02,
                                "provenance": {"command": "python -m experiments.tune", "commit": "abc"}}))
    config = train.resolve_config(train.parse_args(["--config", str(good), "--difference-weight", "0.5"]))
    assert config.adversarial_weight == 0.3 and config.difference_weight == 0.5
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"lambda": 0.3}))
    with pytest.raises(ValueError, match=r"bad.json: unknown field\(s\) \['lambda'\]"):
        train.resolve_config(train.parse_args(["--config", str(bad)]))


def test_optimizer_defaults_to_lazy_adam_and_is_a_flag():
    from tf_aspmtl.optimizers import LazyAdam

    assert train.resolve_config(train.parse_args([])).optimizer == "lazy-adam"
    config = train.resolve_config(train.parse_args(["--optimizer", "adam", "--tasks", "books,MR"]))
    assert config.optimizer == "adam"
    from tf_aspmtl.preprocessing import TextVectorizer

    vectorizer = TextVectorizer(max_length=8, max_tokens=50)
    vectorizer.adapt(["a good book", "a bad film"])
    config = train.resolve_config(train.parse_args(["--tasks", "books,MR"]))
    model = build_model(config, fdu_preprocessor(vectorizer, ["books", "MR"]))
    assert isinstance(model.optimizer, LazyAdam)


def test_truncation_flag_reaches_the_config_and_the_preprocessor():
    import pandas as pd

    from tf_aspmtl.preprocessing import MultiTaskPreprocessor

    assert train.resolve_config(train.parse_args([])).truncation == "head"
    config = train.resolve_config(train.parse_args(["--truncation", "head+tail"]))
    assert config.truncation == "head+tail"
    with pytest.raises(SystemExit):
        train.parse_args(["--truncation", "middle"])
    frame = pd.DataFrame({"text": ["a b c d e", "e d"], "task": ["books", "books"], "label": [0, 1]})
    pre = MultiTaskPreprocessor.from_frame(frame, max_length=2, truncation="tail")
    assert pre.text_vectorizer.truncation == "tail"
    assert MultiTaskPreprocessor.from_config(pre.get_config()).text_vectorizer.truncation == "tail"


def test_dev_only_never_reads_the_test_split(tmp_path, data_dir, monkeypatch):
    import tf_aspmtl.data.fdu_mtl as fdu

    real = fdu.load_fdu_mtl
    asked = []

    def spy(*args, **kwargs):
        asked.append(tuple(kwargs.get("splits", ())))
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "load_fdu_mtl", spy)
    out = tmp_path / "run"
    config = _quick(model="fs-mtl", tasks=("books", "dvd"), epochs=1, hidden_dim=4, max_length=8, encoder="cnn",
                    embedding="random")
    results = run(config, out, data_dir, dev_only=True, verbose=0)
    assert asked and all("test" not in splits for splits in asked)
    assert results["dev_only"] is True and results["avg_test_error"] is None
    assert all(r["test_error"] is None for r in results["per_task"].values())

    # The same configuration without --dev-only on that folder: no epoch is trained again, test is read once.
    asked.clear()
    trained = []
    real_end = DevSelection.on_epoch_end

    def recorded_end(self, epoch, logs=None):
        trained.append(epoch)
        return real_end(self, epoch, logs)

    monkeypatch.setattr(DevSelection, "on_epoch_end", recorded_end)
    tested = run(config, out, data_dir, verbose=0)
    assert any("test" in splits for splits in asked)
    assert tested["dev_only"] is False and tested["test_read_after_dev_only_training"] == ["books+dvd"]
    assert tested["history"] == results["history"] and trained == []  # the dev-only run's epochs, none trained
    assert all(0 <= r["test_error"] <= 100 for r in tested["per_task"].values())
    assert {t: r["dev_error"] for t, r in tested["per_task"].items()} == {
        t: r["dev_error"] for t, r in results["per_task"].items()}
    # ... but never back: a folder whose run read test is not reused by a --dev-only run.
    with pytest.raises(ValueError, match=r"'dev_only': \(False, True\)"):
        run(config, out, data_dir, dev_only=True, verbose=0)


def test_a_dev_only_self_training_folder_is_never_promoted_to_a_tested_run(tmp_path):
    config = _quick(self_training_threshold=0.9)
    claim_run_folder(tmp_path, config, dev_only=True)
    with pytest.raises(ValueError, match=r"'dev_only': \(True, False\)"):
        claim_run_folder(tmp_path, config, dev_only=False)


def test_serving_instructions_mount_the_export_folder_as_given():
    from pathlib import Path

    from experiments.train import serving_instructions
    from tf_aspmtl.training import TrainConfig

    config = TrainConfig(tasks=("books",))
    assert "-v /srv/exports:/models" in serving_instructions(Path("runs/x"), "/srv/exports", config)
    assert "-v $PWD/exports:/models" in serving_instructions(Path("runs/x"), None, config)
    from tf_aspmtl.export.ops import TF_SERVING_VERSION  # the image README runs, both ports
    assert f"-p 8500:8500 -v /srv/exports:/models tensorflow/serving:{TF_SERVING_VERSION} " in serving_instructions(
        Path("runs/x"), "/srv/exports", config)


@pytest.mark.slow  # two processes (TensorFlow's thread pools are fixed at start-up, so each run needs its own)
def test_deterministic_runs_repeat_bit_for_bit(tmp_path, data_dir):
    import subprocess
    import sys
    from pathlib import Path

    volatile = ("wall_time_s", "training_wall_time_s", "command", "load_average_1m")
    runs = []
    for name in ("a", "b"):
        argv = [*TINY, "--deterministic", "--data-dir", str(data_dir), "--output-dir", str(tmp_path / name)]
        done = subprocess.run([sys.executable, "-m", "experiments.train", *argv], cwd=Path(__file__).parents[1],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        results = json.loads((tmp_path / name / "results.json").read_text())
        runs.append({k: v for k, v in results.items() if k not in volatile})
    assert runs[0]["deterministic"] is True and runs[0]["threads"] == {"intra_op": 1, "inter_op": 2}
    assert runs[0] == runs[1]


def test_a_shared_mean_projection_run_refreshes_the_means_over_the_train_rows_once_trained(tmp_path, data_dir):
    import keras
    import numpy as np
    import tensorflow as tf

    from tf_aspmtl.data import load_fdu_mtl

    config = _quick(model="sp-mtl", tasks=("books", "dvd"), epochs=1, hidden_dim=4, max_length=8, encoder="cnn",
                    embedding="random", shared_mean_projection=True)
    results = run(config, tmp_path / "run", data_dir, dev_only=True, verbose=0)
    train_rows = load_fdu_mtl(data_dir, tasks=["books", "dvd"], splits=("train",))["task"].value_counts()
    assert results["shared_means"]["books+dvd"]["rows"] == {t: int(train_rows[t]) for t in ("books", "dvd")}
    # Run again (as after a kill between the group's results and the run's file): the finished group is reused and
    # the record is the same, its shared means included (they were missing from a reused group's record).
    volatile = ("wall_time_s", "training_wall_time_s", "processes", "resumed")
    again = run(config, tmp_path / "run", data_dir, dev_only=True, verbose=0)
    assert {k: v for k, v in again.items() if k not in volatile} == {k: v for k, v in results.items()
                                                                      if k not in volatile}
    # The saved model holds the refreshed means: over the train rows both tasks' projected shared means agree.
    model = keras.models.load_model(tmp_path / "run" / "model" / "model.keras")
    train = load_fdu_mtl(data_dir, tasks=["books", "dvd"], splits=("train",))
    out = model({"text": tf.constant(list(train["text"])), "task": tf.constant(list(train["task"]))})["shared"].numpy()
    ids = train["task"].map({"books": 0, "dvd": 1}).to_numpy()
    np.testing.assert_allclose(out[ids == 0].mean(0), out[ids == 1].mean(0), atol=1e-5)
    assert "shared_means" not in run(_quick(model="sp-mtl", tasks=("books", "dvd"), epochs=1, hidden_dim=4,
                                            max_length=8, encoder="cnn", embedding="random"),
                                     tmp_path / "plain", data_dir, dev_only=True, verbose=0)


def test_a_data_folder_not_found_is_one_line_naming_it(tmp_path, capsys):
    # It was a 15-line traceback ending in the FileNotFoundError.
    from experiments import ngram, train

    missing = tmp_path / "no-such-folder"
    assert train.main(["--quick", "--data-dir", str(missing), "--output-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("experiments.train: error: FDU-MTL folder") and str(missing) in err
    assert "does not exist" in err and "Traceback" not in err and err.endswith("(--data-dir)")
    with pytest.raises(SystemExit, match=r"^error: FDU-MTL folder .*no-such-folder.* does not exist"):
        ngram.main(["--data-dir", str(missing), "--output-dir", str(tmp_path / "ngram")])
