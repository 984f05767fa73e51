"""Fault hygiene of the export: staging folders left by killed exports, modes of published versions."""

import errno
import hashlib
import json
import logging
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from tf_aspmtl.export import exporter, versions
from tf_aspmtl.io_utils import DiskWriteError
from tf_aspmtl.models import FullySharedMTL
from tf_aspmtl.preprocessing import TextVectorizer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXTS = ["a good book", "a bad book", "dull and long", "great fun , well written", "boring plot"]
EXPORT_ARGS = dict(tasks=["books"], check=False, warmup_requests=False)


def tiny_model():
    """An untrained FS-MTL (CNN, 4 units) over a vectorizer adapted on five synthetic texts."""
    vectorizer = TextVectorizer(max_length=8, max_tokens=50, name="preprocessor")
    vectorizer.adapt(TEXTS)
    return FullySharedMTL(["books", "MR"], num_classes=2, vocabulary_size=vectorizer.vocabulary_size,
                          text_vectorizer=vectorizer, embedding_dim=4, hidden_dim=4, encoder="cnn")


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def make_staging(model_dir, name):
    folder = model_dir / name
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"half written")
    return folder


def test_staging_name_holds_the_pid_and_published_modes_ignore_umask(tmp_path):
    old_umask = os.umask(0o077)
    try:
        with versions.staged_version(tmp_path, "books", 3) as staging:
            assert os.path.basename(staging).startswith(f".tmp-3-{os.getpid()}-")
            assert versions.staging_pid(os.path.basename(staging)) == os.getpid()
            os.makedirs(os.path.join(staging, "variables"))
            with open(os.path.join(staging, "variables", "variables.index"), "wb") as f:
                f.write(b"x")
    finally:
        os.umask(old_umask)
    published = tmp_path / "books" / "3"
    assert stat.S_IMODE(published.stat().st_mode) == 0o755
    assert stat.S_IMODE((published / "variables").stat().st_mode) == 0o755
    assert stat.S_IMODE((published / "variables" / "variables.index").stat().st_mode) == 0o644
    assert versions.staging_pid(".tmp-3-abc12345") is None  # the old format holds no pid


def test_next_export_removes_stale_staging_folders_and_keeps_live_ones(tmp_path, model, caplog):
    pid = dead_pid()
    books = tmp_path / "books"
    dead = make_staging(books, f".tmp-1-{pid}-abc123")
    old_format = make_staging(books, ".tmp-2-k3j4h5g6")  # written before names held a pid
    live = make_staging(books, f".tmp-1-{os.getpid()}-live99")  # another export, running in this process
    untouched = make_staging(tmp_path / "kitchen", f".tmp-1-{pid}-xyz789")  # a model this export does not write

    with caplog.at_level(logging.WARNING, logger="tf_aspmtl.export.versions"):
        exported = exporter.export_model(model, tmp_path, **EXPORT_ARGS)

    assert [(e.name, e.version) for e in exported] == [("books", 1)]
    assert sorted(os.listdir(books)) == sorted(["1", live.name])
    assert not dead.exists() and not old_format.exists()
    assert live.is_dir() and untouched.is_dir()
    removed = [r.getMessage() for r in caplog.records if "stale" in r.getMessage()]
    assert len(removed) == 2
    assert any(str(dead) in m and f"process {pid} no longer runs" in m for m in removed)
    assert any(str(old_format) in m and "no process id" in m for m in removed)


def test_every_folder_and_file_of_a_published_version_is_readable_by_all(tmp_path, model):
    old_umask = os.umask(0o077)  # TF writes its files with the umask: 0600 here unless the export fixes them
    try:
        (exported,) = exporter.export_model(model, tmp_path, tasks=["books"], check=False, warmup_requests=True)
    finally:
        os.umask(old_umask)
    paths = [exported.path]
    for folder, dirs, files in os.walk(exported.path):
        paths += [os.path.join(folder, name) for name in dirs + files]
    modes = {os.path.relpath(p, exported.path): (stat.S_ISDIR(os.lstat(p).st_mode), stat.S_IMODE(os.lstat(p).st_mode))
             for p in paths}
    assert {"saved_model.pb", "variables", os.path.join("assets.extra", "tf_serving_warmup_requests")} <= set(modes)
    wrong = {p: oct(mode) for p, (is_dir, mode) in modes.items() if mode != (0o755 if is_dir else 0o644)}
    assert not wrong


KILLED_EXPORT = textwrap.dedent(
    """
    import os, sys, time
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    repo, base = sys.argv[1:]
    sys.path.insert(0, repo)
    from tests.test_export_faults import EXPORT_ARGS, tiny_model
    from tf_aspmtl.export import exporter, ops

    write_op_report = ops.write_op_report

    def write_then_hang(staging):  # the SavedModel is in the staging folder, not yet published
        report = write_op_report(staging)
        print("STAGED " + staging, flush=True)
        time.sleep(600)
        return report

    ops.write_op_report = write_then_hang
    exporter.export_model(tiny_model(), base, **EXPORT_ARGS)
    """
)


@pytest.mark.slow
def test_an_export_killed_midway_is_cleaned_up_by_the_next(tmp_path, model):
    """SIGKILLs a process in the middle of an export (nothing of it runs after), then exports again."""
    base = tmp_path / "exports"
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with open(stdout, "w") as out, open(stderr, "w") as err:
        process = subprocess.Popen([sys.executable, "-c", KILLED_EXPORT, REPO, str(base)], stdout=out, stderr=err)
    try:
        deadline = time.monotonic() + 240
        while "STAGED " not in stdout.read_text():
            assert process.poll() is None, stderr.read_text()[-3000:]
            assert time.monotonic() < deadline, "the export never reached its staging folder"
            time.sleep(0.2)
        staging = stdout.read_text().split("STAGED ", 1)[1].strip()
        assert os.path.basename(staging).startswith(f".tmp-1-{process.pid}-")
        assert os.path.isfile(os.path.join(staging, "saved_model.pb"))
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert os.listdir(base / "books") == [os.path.basename(staging)]  # left behind, as the issue reports

    (exported,) = exporter.export_model(model, base, **EXPORT_ARGS)
    assert exported.version == 1
    assert os.listdir(base / "books") == ["1"]
    assert (base / "models.config").is_file()


def test_a_damaged_or_foreign_model_file_is_named_not_called_missing(tmp_path, model, capsys):
    from export.__main__ import main as export_main

    whole = tmp_path / "m.keras"
    model.save(whole)
    data = whole.read_bytes()
    cut = tmp_path / "damaged.keras"
    cut.write_bytes(data[: len(data) // 2])  # a copy cut in half
    foreign = tmp_path / "notes.keras"
    foreign.write_text("not a model")
    for path in (cut, foreign):
        assert export_main(["--model", str(path), "--output", str(tmp_path / "out")]) == 2
        error = capsys.readouterr().err
        assert f"{str(path)!r} is not a .keras archive" in error and "not found" not in error.lower()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    with pytest.raises(FileNotFoundError, match="No saved model"):
        exporter.load_trained_model(tmp_path / "missing.keras")
    assert type(exporter.load_trained_model(whole)) is FullySharedMTL


def test_an_export_waits_for_the_base_lock_then_takes_the_next_version(tmp_path, model):
    import threading

    base = tmp_path / "serving"
    holding, done = threading.Event(), {}

    def other_export():  # holds the lock and publishes version 1 meanwhile, as a concurrent export would
        with versions.export_lock(base):
            holding.set()
            time.sleep(0.5)
            (base / "books" / "1").mkdir(parents=True)
            (base / "books" / "1" / "saved_model.pb").write_bytes(b"")

    holder = threading.Thread(target=other_export)
    holder.start()
    holding.wait()
    done["exported"] = exporter.export_model(model, base, **EXPORT_ARGS)
    holder.join()
    assert [e.version for e in done["exported"]] == [2]
    assert sorted(os.listdir(base / "books")) == ["1", "2"]


@pytest.mark.slow  # two real export processes (about 10 s)
def test_two_exports_into_one_base_at_once_publish_two_versions(tmp_path, model):
    # Two real processes, started together: the second waits on the base's lock, then takes the next version.
    path = tmp_path / "m.keras"
    model.save(path)
    base = tmp_path / "serving"
    command = [sys.executable, "-m", "export", "--model", str(path), "--output", str(base), "--tasks", "books",
               "--no-check", "--no-warmup"]
    env = {**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "3"}
    runs = [subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-500:] for _, err in outputs]
    assert sorted(os.listdir(base / "books")) == ["1", "2"]
    config = (base / "models.config").read_text()
    assert config.count("name: 'books'") + config.count('name: "books"') == 1


def test_a_failed_rename_takes_back_the_versions_already_published(tmp_path, monkeypatch):
    renames = []
    real_rename = os.rename

    def rename(source, target):  # the second publishing rename fails, as on a full or read-only disk
        renames.append(target)
        if len(renames) == 2:
            raise PermissionError(13, "Permission denied", target)
        real_rename(source, target)

    monkeypatch.setattr(versions.os, "rename", rename)
    with pytest.raises(PermissionError):
        with versions.staged_versions(tmp_path, ["books", "MR"], 1) as stagings:
            for staging in stagings:
                (tmp_path / staging / "saved_model.pb").write_bytes(b"x")
    monkeypatch.undo()
    # books/1 was published by the first rename, then taken back: no version and no staging folder stay.
    assert renames[:2] == [str(tmp_path / "books" / "1"), str(tmp_path / "MR" / "1")]
    assert os.listdir(tmp_path / "books") == [] and os.listdir(tmp_path / "MR") == []


def test_an_export_names_its_source_file_not_its_path(tmp_path, model):
    path = tmp_path / "models" / "tiny.keras"
    path.parent.mkdir()
    model.save(path)
    exporter.export_model(str(path), tmp_path / "exports", **EXPORT_ARGS)
    info = json.loads((tmp_path / "exports" / "books" / "1" / "assets.extra" / "export.json").read_text())
    assert info["source_model"] == "tiny.keras"
    assert info["source_model_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    for file in (tmp_path / "exports").rglob("*"):  # no file of the export names a folder of this machine
        if file.is_file():
            assert str(tmp_path).encode() not in file.read_bytes(), file


def test_a_models_config_that_cannot_be_written_says_the_versions_are_published(tmp_path, model, monkeypatch):
    def full_disk(base, serving_base):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(exporter.model_config, "write_model_config", full_disk)
    with pytest.raises(DiskWriteError, match=r"published version 1 of \['books'\].*write_model_config.*version 2"):
        exporter.export_model(model, tmp_path, **EXPORT_ARGS)
    assert versions.existing_versions(tmp_path / "books") == [1]


def test_a_model_whose_config_cannot_be_rebuilt_is_named(tmp_path, model, monkeypatch):
    path = tmp_path / "old.keras"
    model.save(path)

    def refuse(*args, **kwargs):  # as from_config does for a config an older version wrote
        raise TypeError("__init__() got an unexpected keyword argument 'old_option'")

    monkeypatch.setattr("keras.models.load_model", refuse)
    with pytest.raises(ValueError, match=r"old\.keras.*TypeError: __init__\(\) got an unexpected keyword"):
        type(model).load(path)
