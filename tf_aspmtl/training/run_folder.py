"""Which run a run folder holds: recorded when the run starts, checked by every rerun on the folder."""

from __future__ import annotations

import json
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

from tf_aspmtl.io_utils import write_json_atomic
from tf_aspmtl.training.ngram_config import NgramConfig
from tf_aspmtl.training.train_config import TrainConfig


class RunFolderError(ValueError):
    """A run folder holds another run, or a record of its run that cannot be read."""


RUN_FOLDER_FORMAT = 2
"""The layout of the run folders this version writes, recorded in ``run_config.json`` and each ``state.json``
(an n-gram run's ``run_args.json`` records none: its readers take its fields as an NgramConfig).

1 (no ``format`` recorded): one epoch backup, no checksums; 2: the SHA-256 of each weights file, two epoch backups.
A version reads the formats up to its own and refuses a folder of a newer one (:func:`check_format`).
"""


def check_format(found: Any, path: Path, folder: Path) -> None:
    """Refuses a record of a run folder written by a newer version of the library (``found`` is its ``format``,
    None for the first format, which recorded none).

    Raises:
        RunFolderError: ``found`` is a newer format than :data:`RUN_FOLDER_FORMAT`; the message names the file,
            both formats and the way out.
    """
    if isinstance(found, int) and not isinstance(found, bool) and found > RUN_FOLDER_FORMAT:
        raise RunFolderError(f"{path} was written by a newer version of tf_aspmtl (run folder format {found}; this "
                             f"version reads formats 1 to {RUN_FOLDER_FORMAT}): resume the run with that version, or "
                             f"remove {folder} (or choose another folder) to train it again with this one")


RUN_IDENTITY = "run_config.json"
"""What a run folder holds: its TrainConfig and whether test is read. A rerun on the folder must match it."""
NGRAM_RUN_IDENTITY = "run_args.json"
"""What an n-gram run's folder holds: its tasks (comma-separated), seed and settings."""


def _held(record: Path | None, run_dir: Path, identity: dict, path: Path, stamp: dict | None = None) -> dict | None:
    """The run a folder's ``record`` says it holds (its ``format`` checked and left out); None after claiming a
    fresh folder (``identity``, and ``stamp`` if given, written to ``path``). Raises RunFolderError naming a
    record that cannot be read or was written by a newer version."""
    if record is None:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, {**identity, **(stamp or {})})
        return None
    try:
        held = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunFolderError(f"{record}: cannot read which run this folder holds ({err}); it is damaged: remove "
                             f"{run_dir} (or choose another folder) to train this run again") from None
    if not isinstance(held, dict):
        raise RunFolderError(f"{record}: not a record of the run this folder holds (not a JSON object); it is "
                             f"damaged: remove {run_dir} (or choose another folder) to train this run again")
    check_format(held.get("format"), record, run_dir)
    return {k: v for k, v in held.items() if k != "format"}


def claim_run_folder(run_dir: str | os.PathLike, config: TrainConfig, dev_only: bool) -> None:
    """Records which run ``run_dir`` holds, or refuses to continue one made by another configuration.

    A rerun on the same folder resumes the run (its checkpoints) or reuses its
    finished results; with another configuration that would silently report
    the old run's numbers as the new one's (same weight shapes) or fail deep
    in a weight load. A folder made before this record existed is checked
    against its ``results.json`` if it finished, else claimed as it is. A
    ``dev_only`` run's folder may be continued by the same configuration
    without ``dev_only``: its training is the same, and the rerun reads the
    test split for the model it selected (never the other way round, and not
    with self-training, whose dev-only student may have learnt from
    unlabelled repeats of test texts).

    Raises:
        RunFolderError: (a ValueError) the folder holds a run of another configuration; the
            message names the fields that differ, the folder's value first.
    """
    run_dir = Path(run_dir)
    identity = json.loads(json.dumps({"config": config.to_dict(), "dev_only": bool(dev_only)}))
    path = run_dir / RUN_IDENTITY
    finished = run_dir / "results.json"  # a finished run from before the record says what it was
    record = path if path.exists() else finished if finished.exists() else None
    theirs = _held(record, run_dir, identity, path, {"format": RUN_FOLDER_FORMAT})
    if theirs is None:
        return
    try:  # through TrainConfig: fields added since the folder was written take their defaults
        their_config = json.loads(json.dumps(TrainConfig.from_dict(theirs.get("config") or {}).to_dict()))
    except (TypeError, ValueError) as err:
        raise RunFolderError(f"{record}: its configuration is not one this code can compare ({err})") from None
    theirs = {"config": their_config, "dev_only": bool(theirs.get("dev_only"))}
    # A self-training student of a dev-only run may have learnt from unlabelled repeats of test texts (they are
    # dropped only when test is loaded), so it is never promoted.
    promotable = not config.self_training_threshold > 0
    if theirs == identity or (promotable and theirs["config"] == identity["config"] and theirs["dev_only"]
                              and not dev_only):
        # The same run; or a dev-only one of the same configuration, whose test split this run reads.
        if theirs != identity or not path.exists():
            write_json_atomic(path, {**identity, "format": RUN_FOLDER_FORMAT})
        return
    filled = {f.name: f.default for f in fields(TrainConfig)}  # what to_dict leaves out at its default, named
    ours = {**filled, **identity["config"], "dev_only": identity["dev_only"]}
    old = {**filled, **theirs["config"], "dev_only": theirs["dev_only"]}
    diff = {k: (old.get(k), ours.get(k)) for k in sorted(set(ours) | set(old)) if old.get(k) != ours.get(k)}
    raise RunFolderError(f"{run_dir} holds a run of another configuration (field: (that run, this one) {diff}); "
                     "give this run another output folder, or remove the folder to start afresh")


def claim_ngram_run_folder(run_dir: str | os.PathLike, config: NgramConfig, dev_only: bool = False) -> None:
    """Records which n-gram run ``run_dir`` holds (``run_args.json``), or refuses a folder of another one.

    Whether test is read is no part of the record: a dev-only run's folder is continued by the same run
    reading test, which trains nothing more. Not with self-training: a dev-only run's student may have learnt
    from unlabelled repeats of test texts (dropped only when test is loaded), so its record holds ``dev_only``
    and a run that reads test is refused its folder (as :func:`claim_run_folder` refuses the LSTM runs').

    Args:
        run_dir: the run folder (created if missing).
        config: the run's :class:`NgramConfig`; its tasks, seed and settings (:meth:`NgramConfig.settings`) are
            the record.
        dev_only: whether the run never reads test (recorded with self-training only).

    Raises:
        RunFolderError: (a ValueError) the folder holds another run; the message names the fields that differ.
    """
    run_dir = Path(run_dir)
    wanted = {"tasks": ",".join(config.tasks), "seed": config.seed, **config.settings(),
              **({"dev_only": bool(dev_only)} if config.self_training else {})}
    record = run_dir / NGRAM_RUN_IDENTITY
    held = _held(record if record.exists() else None, run_dir, wanted, record)
    if held is None:
        return
    differing = sorted(k for k in set(held) | set(wanted) if held.get(k) != wanted.get(k))
    if differing:
        why = (" (a self-training run's dev-only student may have learnt from unlabelled repeats of test texts: "
               "train the run that reads test in its own folder)" if differing == ["dev_only"] else "")
        raise RunFolderError(f"{run_dir} holds another run ({', '.join(differing)} differ){why}; give this run its "
                             "own folder, or remove the folder to start afresh")


TRANSFER_RUN_IDENTITY = "transfer_args.json"
"""What a transfer run's folder holds: the SHA-256 of the source model it copied and every training setting."""
TRANSFER_SETTINGS = ("task", "mode", "train_shared", "difference_weight", "learning_rate", "batch_size", "epochs",
                     "patience", "seed")
"""The arguments of :func:`~tf_aspmtl.training.transfer_run.run_transfer` that make a transfer run (with the source
model's bytes): a rerun with another of them is another run. Where the data or the source file lie is no part."""


def claim_transfer_run_folder(run_dir: str | os.PathLike, settings: dict[str, Any], source_model: str | os.PathLike,
                              source_sha256: str) -> None:
    """Records which transfer run ``run_dir`` holds (``transfer_args.json``), or refuses a folder of another one.

    The record is the SHA-256 of the source model file and ``settings`` (:data:`TRANSFER_SETTINGS`); the source's
    path is kept beside them for the reader, not compared (the same file, moved or named by another path, is the
    same run). A folder from before this record was made is checked against its finished run's ``results.json``
    (its settings and source path, the only record of its source) if it has one, else claimed as it is; either
    way it is recorded from now on.

    Args:
        run_dir: the run folder (created if missing).
        settings: the run's value of each field of :data:`TRANSFER_SETTINGS`.
        source_model: the source ``.keras`` file.
        source_sha256: its SHA-256 (:func:`~tf_aspmtl.io_utils.file_sha256`).

    Raises:
        RunFolderError: (a ValueError) the folder holds another transfer run; the message names the fields that
            differ with (that run's, this one's) values, or a record that cannot be read.
    """
    run_dir = Path(run_dir)
    missing = sorted(set(TRANSFER_SETTINGS) - set(settings))
    if missing:
        raise ValueError(f"a transfer run's settings lack {missing}")
    wanted = json.loads(json.dumps({"source_sha256": source_sha256, **{k: settings[k] for k in TRANSFER_SETTINGS}}))
    stamp = {"source_model": str(source_model), "format": RUN_FOLDER_FORMAT}
    path, finished = run_dir / TRANSFER_RUN_IDENTITY, run_dir / "results.json"
    if path.exists():
        held = _held(path, run_dir, wanted, path, stamp)
        compared = wanted
    elif finished.exists():  # a finished run from before the record: its results say what it was, bar the hash
        results = _held(finished, run_dir, wanted, path, stamp)
        held = results.get("config") if isinstance(results.get("config"), dict) else {}
        held = {k: held.get(k) for k in TRANSFER_SETTINGS + ("source_model",)}
        compared = {**{k: wanted[k] for k in TRANSFER_SETTINGS}, "source_model": str(source_model)}
    else:
        _held(None, run_dir, wanted, path, stamp)
        return
    diff = {k: (held.get(k), compared[k]) for k in compared if held.get(k) != compared[k]}
    if diff:
        why = (" (source_sha256: the source model file is not the one that run copied)"
               if "source_sha256" in diff else "")
        raise RunFolderError(f"{run_dir} holds another transfer run (field: (that run, this one) {diff}){why}; give "
                             "this run its own folder, or remove the folder to start afresh")
    if not path.exists():
        write_json_atomic(path, {**wanted, **stamp})
