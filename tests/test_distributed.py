"""Training and tuning across processes on this machine.

* experiments.train under MultiWorkerMirroredStrategy with two worker
  processes (TF_CONFIG on 127.0.0.1) against the same run in one process;
* experiments.ngram (the shared/private n-gram model) the same way;
* a Keras Tuner search with one chief and two tuner processes (KERASTUNER_*),
  every trial recorded exactly once.

The tests that start real processes (TensorFlow imports included) take
about half a minute to a minute each on 2 cores: they are marked slow and run with
``pytest -m slow``. The in-process checks of the same code run by default.
"""

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from experiments import launch, ngram, train
from tf_aspmtl import distribute as distributed
from tf_aspmtl.tuning import distributed_role
from tf_aspmtl.data import resolve_fdu_mtl_dir

REPO = Path(__file__).resolve().parents[1]
TASKS = ("books", "MR")


@pytest.fixture(scope="module")
def tiny_fdu_mtl(tmp_path_factory):
    """A copy of two FDU-MTL tasks cut short: 296 train lines (96 train + 200 dev rows), 100 test lines, 200
    unlabelled lines."""
    source = resolve_fdu_mtl_dir(None)
    folder = tmp_path_factory.mktemp("fdu-mtl-tiny")
    for task in TASKS:
        for suffix, lines in ((".task.train", 296), (".task.test", 100), (".task.unlabel", 200)):
            data = (source / f"{task}{suffix}").read_bytes().split(b"\n")[:lines]
            (folder / f"{task}{suffix}").write_bytes(b"\n".join(data) + b"\n")
    return folder


def _train_args(data_dir, out, model="asp-mtl"):
    return [
        "--model", model, "--tasks", ",".join(TASKS), "--epochs", "2", "--hidden-dim", "8",
        "--max-length", "16", "--encoder", "cnn", "--batch-size", "16", "--embedding", "random",
        "--learning-rate", "0.01", "--data-dir", str(data_dir), "--output-dir", str(out), "--verbose", "0",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["asp-mtl", "wide-deep"])  # wide-deep: sparse n-gram features in every batch
def test_multi_worker_training_matches_one_process(tiny_fdu_mtl, tmp_path, model):
    procs = launch.run_processes(
        launch.train_commands(2, _train_args(tiny_fdu_mtl, tmp_path / "mw", model)), timeout=240, echo=False,
        cwd=str(REPO),
    )
    logs = {p.name: "".join(p.lines) for p in procs}
    assert [p.popen.returncode for p in procs] == [0, 0], logs["worker-0"][-3000:] + logs["worker-1"][-3000:]
    assert "num_workers = 2" in logs["worker-0"]

    chief = json.loads((tmp_path / "mw" / "results.json").read_text())
    other = json.loads((tmp_path / "mw" / "worker-1" / "results.json").read_text())
    assert "--strategy multi-worker" in chief["command"]
    # One model: both workers evaluate the same mirrored weights on the whole dev and test sets.
    assert other["per_task"] == chief["per_task"]

    assert train.main(_train_args(tiny_fdu_mtl, tmp_path / "single", model)) == 0
    single = json.loads((tmp_path / "single" / "results.json").read_text())
    for run in (chief, single):
        history = run["history"]["books+MR"]
        losses = history["loss"]
        assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
        assert losses[-1] < losses[0], losses
    # Same data order (each step's global batch split between the workers), same initial weights,
    # same global batch: the two runs differ by float summation order and by the one batch Keras
    # reads ahead under a strategy, so their curves agree closely.
    mw_loss, one_loss = chief["history"]["books+MR"]["loss"], single["history"]["books+MR"]["loss"]
    assert mw_loss[0] == pytest.approx(one_loss[0], rel=0.05)
    gap = abs(chief["avg_dev_error"] - single["avg_dev_error"])
    assert gap < 10.0, (chief["avg_dev_error"], single["avg_dev_error"])


def _ngram_args(data_dir, out):
    return ["--tasks", ",".join(TASKS), "--max-features", "5000", "--epochs", "2", "--batch-size", "16",
            "--data-dir", str(data_dir), "--output-dir", str(out), "--verbose", "0"]


SELF_TRAINING = ["--self-training-threshold", "0.6", "--learning-rate", "0.05"]
"""A teacher sure of some of the tiny unlabelled rows (measured: 130 of 400 kept)."""


@pytest.mark.slow
@pytest.mark.parametrize("levers", [[], SELF_TRAINING], ids=["plain", "self-training"])
def test_multi_worker_ngram_training_matches_one_process(tiny_fdu_mtl, tmp_path, levers):
    """Two workers of experiments.ngram against one process (with self-training: its teacher too, and its pseudo
    labels)."""
    procs = launch.run_processes(
        launch.train_commands(2, _ngram_args(tiny_fdu_mtl, tmp_path / "mw") + levers
                              + ["--results", str(tmp_path / "mw.json")], module="experiments.ngram"),
        timeout=240, echo=False, cwd=str(REPO),
    )
    logs = {p.name: "".join(p.lines) for p in procs}
    assert [p.popen.returncode for p in procs] == [0, 0], logs["worker-0"][-3000:] + logs["worker-1"][-3000:]
    assert "num_workers = 2" in logs["worker-0"]

    chief = json.loads((tmp_path / "mw" / "results.json").read_text())
    other = json.loads((tmp_path / "mw" / "worker-1" / "results.json").read_text())
    assert json.loads((tmp_path / "mw.json").read_text()) == chief  # --results: the chief's
    assert "--strategy multi-worker" in chief["command"]
    assert other["per_task"] == chief["per_task"]  # both evaluate the same mirrored weights on all of dev and test
    assert (tmp_path / "mw" / "model" / "model.keras").exists()
    assert (tmp_path / "mw" / "worker-1" / "model" / "model.keras").exists()

    single = ngram.main(_ngram_args(tiny_fdu_mtl, tmp_path / "single") + levers)
    assert len(single["history"]["loss"]) == 2 and single["history"]["loss"][-1] < single["history"]["loss"][0]
    # The same global batches, each cut between the workers; every row's cross-entropy is gathered, so the loss and
    # gradient are the global batch's. Measured: the multi-worker run's losses, dev and test errors are one
    # process's to the last bit; the bounds leave a few float32 ulps for an all-reduce that sums in another order.
    assert chief["history"]["loss"] == pytest.approx(single["history"]["loss"], rel=1e-6, abs=0)
    assert chief["history"]["val_loss"] == pytest.approx(single["history"]["val_loss"], rel=1e-6, abs=0)
    assert chief["best_epoch"] == single["best_epoch"]
    for task in TASKS:  # a row is 0.5 or 1 point here: these say the same rows are right
        for key in ("dev_error", "test_error"):
            assert chief["per_task"][task][key] == pytest.approx(single["per_task"][task][key], abs=1e-6), (task, key)
    if levers:  # the same rows labelled alike (the teacher's probabilities within float32 ulps)
        frames = [pd.read_parquet(run / "model" / "pseudo_labels.parquet")
                  for run in (tmp_path / "mw", tmp_path / "single")]
        assert len(frames[0]) > 0, "the tiny teacher should be sure of some rows (else this proves little)"
        pd.testing.assert_frame_equal(frames[0].drop(columns="confidence"), frames[1].drop(columns="confidence"))
        np.testing.assert_allclose(frames[0]["confidence"], frames[1]["confidence"], rtol=1e-6)
        assert chief["self_training"]["pseudo_labels"] == single["self_training"]["pseudo_labels"]


class _OneWorker:
    """A strategy of ``replicas`` replicas on one worker, as far as the dataset functions see one: the worker's
    dataset yields each replica's element in turn."""

    class _Context:
        num_input_pipelines, input_pipeline_id = 1, 0

    def __init__(self, replicas: int):
        self.num_replicas_in_sync = replicas

    def distribute_datasets_from_function(self, fn):
        return fn(self._Context())


def test_training_batches_are_split_within_one_task():
    """Each replica gets its slice of a global batch; both slices of a step come from one task."""
    strategy = tf.distribute.get_strategy()  # one replica: the slicing code path with replicas == 1
    x = {"token_ids": tf.reshape(tf.range(24), [12, 2]), "task_id": tf.fill([12], 1)}
    dataset = tf.data.Dataset.from_tensors((x, tf.range(12))).repeat(2)
    first = next(iter(distributed.distribute_training_dataset(strategy, dataset)))
    assert first[0]["token_ids"].shape == (12, 2)

    # Two replicas on one worker: the worker's two consecutive elements are the two halves of one batch.
    halves = list(distributed.distribute_training_dataset(_OneWorker(2), dataset).take(2))
    assert [h[1].numpy().tolist() for h in halves] == [list(range(6)), list(range(6, 12))]
    assert all(set(h[0]["task_id"].numpy()) == {1} for h in halves)
    copies = list(distributed.distribute_eval_dataset(_OneWorker(2), dataset.take(1)))
    assert len(copies) == 2 and all(c[1].shape == (12,) for c in copies)


def test_sparse_training_batches_are_sliced_by_rows_as_dense_ones():
    """The n-gram models' sparse features: each replica gets its rows of the batch (they were refused before)."""
    features = tf.sparse.from_dense(tf.reshape(tf.range(1, 25, dtype=tf.float32), [6, 4]) * tf.constant(
        [[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1], [0, 0, 1, 0], [1, 0, 0, 0]], tf.float32))
    batch = ({"features": features, "task_id": tf.zeros([6], tf.int32)}, tf.range(6))
    dataset = tf.data.Dataset.from_tensors(batch).repeat(2)
    thirds = list(distributed.distribute_training_dataset(_OneWorker(3), dataset).take(3))
    dense = tf.sparse.to_dense(features).numpy()
    for k, (x, y) in enumerate(thirds):
        assert y.numpy().tolist() == [2 * k, 2 * k + 1]
        assert x["features"].dense_shape.numpy().tolist() == [2, 4]
        np.testing.assert_array_equal(tf.sparse.to_dense(x["features"]).numpy(), dense[2 * k:2 * k + 2])



def test_tf_config_is_checked(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs TF_CONFIG"):
        distributed.make_strategy("multi-worker")
    bad = {"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(bad))
    with pytest.raises(ValueError, match="not in its cluster"):
        distributed.make_strategy("multi-worker")
    monkeypatch.setenv("TF_CONFIG", launch.tf_config([1, 2], 1))
    assert not distributed.is_chief()
    assert distributed.worker_run_dir(Path("run")) == Path("run") / "worker-1"
    with pytest.raises(ValueError, match="Unknown strategy"):
        distributed.make_strategy("parameter-server")


def test_ngram_strategy_flag(monkeypatch, tmp_path):
    """experiments.ngram's --strategy: one process by default; multi-worker without TF_CONFIG is one line, before any
    folder is made."""
    assert ngram.parse_args(["--output-dir", "-"])[0].strategy == "default"
    assert ngram.parse_args(["--output-dir", "-", "--strategy", "multi-worker"])[0].strategy == "multi-worker"
    with pytest.raises(SystemExit):
        ngram.parse_args(["--output-dir", "-", "--strategy", "parameter-server"])
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(SystemExit, match=r"^error: --strategy multi-worker needs TF_CONFIG"):
        ngram.main(["--output-dir", str(tmp_path / "run"), "--strategy", "multi-worker"])
    assert not (tmp_path / "run").exists()


def test_keras_tuner_role_from_environment(monkeypatch):
    for var in ("KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT", "KERASTUNER_TUNER_ID"):
        monkeypatch.delenv(var, raising=False)
    assert distributed_role() == "single"
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    with pytest.raises(ValueError, match="KERASTUNER_ORACLE_PORT"):
        distributed_role()
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
    assert distributed_role() == "chief"
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner1")
    assert distributed_role() == "worker"


@pytest.mark.slow
def test_distributed_search_records_every_trial_once(tmp_path):
    trials = 2
    args = [
        "--tuner", "random", "--trials", str(trials), "--tasks", ",".join(TASKS), "--epochs", "1",
        "--directory", str(tmp_path), "--project-name", "dist", "--encoder", "cnn", "--embedding", "random",
        "--max-length", "16", "--batch-size", "16", "--fix", "hidden_dim=8", "--max-rows-per-task", "48",
        "--verbose", "0",
    ]
    procs = launch.run_processes(launch.tune_commands(2, args), timeout=300, echo=False, cwd=str(REPO))
    logs = {p.name: "".join(p.lines) for p in procs}
    assert {p.name: p.popen.returncode for p in procs} == {"chief": 0, "tuner0": 0, "tuner1": 0}, logs

    started = {name: re.findall(r"\[" + name + r"\] trial (\d+) started", logs[name]) for name in ("tuner0", "tuner1")}
    run_ids = started["tuner0"] + started["tuner1"]
    assert sorted(run_ids) == [str(i) for i in range(trials)], started  # each trial run by exactly one tuner
    for name in ("tuner0", "tuner1"):  # both talked to the chief's oracle until it had no trials left
        assert f"{name}: no trials left" in logs[name], logs[name][-2000:]

    frame = pd.read_csv(tmp_path / "dist" / "trials.csv", dtype={"trial_id": str})
    assert sorted(frame["trial_id"]) == [str(i) for i in range(trials)]
    assert (frame["status"] == "COMPLETED").all() and frame["objective"].between(0, 1).all()
    assert frame["is_reference"].sum() == 1
    summary = json.loads((tmp_path / "dist" / "summary.json").read_text())
    assert summary["trials"] == {"total": trials, "COMPLETED": trials}
