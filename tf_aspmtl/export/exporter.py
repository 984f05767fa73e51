"""Exports a trained model: one SavedModel per task (and optionally a multi-task one) plus ``models.config``."""

from __future__ import annotations

import dataclasses
import datetime
import errno
import json
import os
from importlib import metadata
from typing import Sequence

import tensorflow as tf

from tf_aspmtl.export import archive, model_config, ops, verify, versions, warmup
from tf_aspmtl.io_utils import DiskWriteError, disk_write_error, file_sha256
from tf_aspmtl import serving
from tf_aspmtl.models.task import Task, register_export_format

INFO_FILE = os.path.join("assets.extra", "export.json")
DEFAULT_MULTITASK_NAME = "multitask"


@dataclasses.dataclass(frozen=True)
class ExportedModel:
    """One published version.

    Attributes:
        name: str. TF Serving model name (folder under the base).
        version: int. Version number (folder under the model).
        path: str. The version folder.
        tasks: tuple of str. The task it serves (one), or all tasks for the multi-task model.
        tf_text_ops: tuple of str. TF Text op types in its graph.
    """

    name: str
    version: int
    path: str
    tasks: tuple[str, ...]
    tf_text_ops: tuple[str, ...]


def load_trained_model(path: str | os.PathLike):
    """Loads a ``.keras`` file written by ``model.save`` (:meth:`tf_aspmtl.models.Task.load`: not compiled).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is damaged or not a tf_aspmtl model (named).
    """
    return Task.load(path)


def _versions_info() -> dict[str, str]:
    found = {}
    for name in ("tensorflow", "tensorflow-text", "keras"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def model_info(model, is_multitask: bool) -> dict:
    """What was exported, in a few numbers (copied into benchmark results): the model's ``serving_info``."""
    return model.serving_info(is_multitask)


def _write_info(folder: str, info: dict) -> None:
    path = os.path.join(folder, INFO_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
        f.write("\n")


def _write_version(model, staging: str, final: str, name: str, version: int, served: tuple[str, ...],
                   is_multitask: bool, source: dict[str, str] | None, check: bool, warmup_requests: bool,
                   chunk_rows: int | None, calibrated: bool) -> dict:
    """Writes one SavedModel into ``staging`` with its op report, checks and extras; returns the op report."""
    if is_multitask:
        archive.write_multitask_saved_model(model, staging, chunk_rows, calibrated)
    else:
        archive.write_task_saved_model(model, served[0], staging, chunk_rows, calibrated)
    report = ops.write_op_report(staging)
    ops.check_serving_ops(report, final)
    if check:
        if is_multitask:
            verify.verify_multitask_export(model, staging, calibrated=calibrated)
        else:
            verify.verify_task_export(model, served[0], staging, calibrated=calibrated)
    if warmup_requests:
        warmup.write_warmup_requests(staging, name, tasks=list(served) if is_multitask else None)
    ids = [model.task_names.index(t) for t in served]
    inputs = {serving.TEXT_INPUT: "string [batch]"}
    if is_multitask:
        inputs[serving.TASK_INPUT] = "string [batch], task names"
    _write_info(staging, {
        "model_name": name,
        "version": version,
        "tasks": list(served),
        "class_names": {model.task_names[k]: model.class_names[k] for k in ids},
        "inputs": inputs,
        "outputs": {serving.PROBABILITIES: "float32 [batch, classes]", serving.LABEL_ID: "int64 [batch]",
                    serving.LABEL: "string [batch]"},
        "model": model_info(model, is_multitask),
        "chunk_rows": chunk_rows,
        "temperatures": ({model.task_names[k]: model.temperatures[k] for k in ids}
                         if calibrated and model.temperatures is not None else None),
        **(source or {"source_model": None}),
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions_info(),
    })
    return report


def export_model(
    model,
    output: str | os.PathLike,
    tasks: Sequence[str] | None = None,
    version: int | None = None,
    multitask: bool = False,
    multitask_name: str = DEFAULT_MULTITASK_NAME,
    prefix: str = "",
    serving_base: str = model_config.DEFAULT_SERVING_BASE,
    check: bool = True,
    warmup_requests: bool = True,
    chunk_rows: int | None = serving.DEFAULT_CHUNK_ROWS,
    calibrated: bool = True,
) -> list[ExportedModel]:
    """Writes ``<output>/<prefix><task>/<version>/`` for each task, then ``<output>/models.config``.

    Every version is staged in a hidden folder beside it and renamed into
    place only after all of this run's models were written (under the base's
    export lock: a concurrent export into the same base waits, then takes the
    next free version), their ops checked
    against stock TF Serving and (with ``check``) their outputs compared with
    the Keras model's; a failure publishes nothing.

    Args:
        model: a trained :class:`~tf_aspmtl.models.MultiTaskClassifier` with a
            preprocessor, a :class:`~tf_aspmtl.models.MultiTaskEnsemble` of
            them, or the path of its ``.keras`` file.
        output: str or path. Base folder that TF Serving watches (one folder per model).
        tasks: sequence of str or None. Tasks to export (default: all).
        version: int or None. Version number (default: the next free one,
            shared by this run's models). An existing version is never overwritten.
        multitask: bool. Also export one multi-task SavedModel (inputs ``text`` and ``task``).
        multitask_name: str. Its model name (before ``prefix``).
        prefix: str. Prefix of every model name, to keep several models' exports in one base.
        serving_base: str. The base folder as TF Serving sees it, for ``models.config``.
        check: bool. Load each SavedModel back and compare it with the Keras model.
        warmup_requests: bool. Write TF Serving warm-up requests into ``assets.extra``.
        chunk_rows: optional int. The graph sorts a batch by length and runs it
            in chunks of this many rows, each as far as its longest text (see
            :func:`tf_aspmtl.serving.task_serving_fn`); None runs each batch as one.
        calibrated: bool. Scale the served probabilities by the model's per-task temperatures when it has
            them (:meth:`tf_aspmtl.models.Task.calibrate`); the labels are the same either way.

    Returns:
        list of :class:`ExportedModel`, one per published version.
    """
    source = None  # the model file's name and content hash, never its path: an export names no folder of this machine
    if isinstance(model, (str, os.PathLike)):
        path = os.path.abspath(os.fspath(model))
        model = load_trained_model(path)
        source = {"source_model": os.path.basename(path), "source_model_sha256": file_sha256(path)}
    serving.check_servable(model)
    if chunk_rows is not None and int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows must be >= 1 or None; got {chunk_rows}")
    tasks = list(model.task_names if tasks is None else tasks)
    if not tasks and not multitask:
        raise ValueError("Nothing to export: no tasks given and multitask=False")
    for task in tasks:
        model.task_id(task)
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"Tasks listed twice: {tasks}")
    plan = [(versions.check_model_name(prefix + task), (task,), False) for task in tasks]
    if multitask:
        plan.append((versions.check_model_name(prefix + multitask_name), tuple(model.task_names), True))
    names = [name for name, _, _ in plan]
    if len(set(names)) != len(names):
        raise ValueError(f"Model names collide: {names}; choose another multitask_name or prefix")

    output = os.path.abspath(os.fspath(output))
    exported = []
    with versions.export_lock(output):  # another export into this base waits, then takes the next version
        version = versions.choose_version(output, names, version)
        with versions.staged_versions(output, names, version) as stagings:  # every version is published, or none
            for (name, served, is_multitask), staging in zip(plan, stagings):
                final = os.path.join(output, name, str(version))
                try:
                    report = _write_version(model, staging, final, name, version, served, is_multitask, source,
                                            check, warmup_requests, chunk_rows, calibrated)
                except tf.errors.ResourceExhaustedError as error:  # TensorFlow's writers report a full disk so
                    raise DiskWriteError(errno.ENOSPC, f"could not write version {version} of {name!r} into {staging} "
                                         f"({os.strerror(errno.ENOSPC)}); nothing of this export was published: "
                                         "free space on that disk, then export again") from error
                except OSError as error:
                    if isinstance(error, DiskWriteError) or error.errno not in (errno.ENOSPC, errno.EDQUOT):
                        raise
                    raise disk_write_error(staging, error) from error
                exported.append(ExportedModel(name, version, final, served, tuple(report["tf_text_ops"])))
        try:
            model_config.write_model_config(output, serving_base)
        except OSError as error:  # the versions are published: exporting again would publish the next version
            raise DiskWriteError(error.errno, f"published version {version} of {names} under {output}, but could "
                                 f"not write its {model_config.CONFIG_FILE} ({os.strerror(error.errno or 0)}); once "
                                 "the disk has space, write that file alone with tf_aspmtl.export.model_config."
                                 f"write_model_config({output!r}, {serving_base!r}) (exporting again would "
                                 f"publish version {version + 1})") from error
    return exported


@register_export_format("tf_serving")
def export_for_serving(model, filepath: str | os.PathLike, verbose: bool = True, **kwargs) -> list[ExportedModel]:
    """What a tf_aspmtl model's ``export(format="tf_serving")`` does: :func:`export_model`, then (``verbose``) one
    line per published version."""
    exported = export_model(model, filepath, **kwargs)
    if verbose:
        for item in exported:
            print(f"exported {item.name} version {item.version} to {item.path}")
    return exported
