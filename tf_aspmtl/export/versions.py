"""Version folders that TF Serving can watch: never overwritten, published atomically.

TF Serving watches ``<base>/<model_name>/`` and serves the children whose
names are integers (by default the largest). An export therefore:

- never writes into an existing version folder;
- picks the next free number by default;
- writes into a hidden temporary folder beside the version
  (``<base>/<model_name>/.tmp-<version>-<pid>-<random>``, which TF Serving
  ignores: its name is not an integer) and renames it to ``<version>`` when
  complete, so the server never sees a half-written version. A rename within
  one folder is atomic on POSIX file systems;
- makes the published tree readable by every user (folders 0755, files
  0644) before that rename: the model server often runs as another user;
- removes the staging folders that killed exports left behind in the model
  folders it writes: a folder is stale when the process whose id its name
  holds no longer runs (or its name holds no process id: the older
  ``.tmp-<version>-<random>`` format);
- holds the base's export lock (:func:`export_lock`) from choosing its
  version to writing ``models.config``, so two exports into one base, from
  two processes or two machines sharing a POSIX file system, publish two
  distinct versions one after the other instead of colliding.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from typing import Iterable, Iterator, Sequence

from tf_aspmtl.io_utils import folder_lock

logger = logging.getLogger(__name__)

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
STAGING_PREFIX = ".tmp-"
"""Name prefix of staging folders: ``.tmp-<version>-<pid>-<random>``."""
_STAGING_NAME = re.compile(r"^\.tmp-(?P<version>\d+)-(?P<pid>\d+)-(?P<random>[^-]+)$")
PUBLISHED_DIR_MODE = 0o755
PUBLISHED_FILE_MODE = 0o644


def check_model_name(name: str) -> str:
    """Returns ``name`` if it is usable as a TF Serving model name and folder, else raises ValueError.

    Names appear in URLs (``/v1/models/<name>:predict``) and paths, so they
    are limited to letters, digits, ``_``, ``.`` and ``-``.
    """
    if not isinstance(name, str) or not _MODEL_NAME.match(name):
        raise ValueError(
            f"Bad model name {name!r}: use letters, digits, '_', '.' and '-' (starting with a letter or digit)"
        )
    return name


def existing_versions(model_dir: str | os.PathLike) -> list[int]:
    """Sorted version numbers under ``model_dir`` (integer-named folders); [] if it does not exist."""
    model_dir = os.fspath(model_dir)
    if not os.path.isdir(model_dir):
        return []
    return sorted(
        int(entry) for entry in os.listdir(model_dir)
        if entry.isdigit() and os.path.isdir(os.path.join(model_dir, entry))
    )


def choose_version(base: str | os.PathLike, model_names: Iterable[str], requested: int | None = None) -> int:
    """The version number one export run uses for all its models.

    Args:
        base: str or path. The folder holding one folder per model.
        model_names: iterable of str. The models this run writes.
        requested: int or None. An explicit version; None picks
            ``1 + the largest version any of these models has`` (1 for a new base),
            so one run's models share a number.

    Raises:
        ValueError: ``requested`` is not a positive integer.
        FileExistsError: ``requested`` already exists for one of the models.
    """
    base = os.fspath(base)
    names = list(model_names)
    if requested is None:
        return 1 + max((v for name in names for v in existing_versions(os.path.join(base, name))), default=0)
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
        raise ValueError(f"Version must be a positive integer; got {requested!r}")
    for name in names:
        path = os.path.join(base, name, str(requested))
        if os.path.exists(path):
            raise FileExistsError(
                f"Version {requested} of model {name!r} already exists at {path!r}; exports never overwrite. "
                "Leave out --version to use the next free number."
            )
    return requested


def _process_exists(pid: int) -> bool:
    """True if process ``pid`` runs on this machine (a zombie, dead but not yet reaped, counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True  # no /proc (not Linux): os.kill said it exists


def staging_pid(name: str) -> int | None:
    """The process id in a staging folder's name (``.tmp-<version>-<pid>-<random>``), None if it holds none."""
    match = _STAGING_NAME.match(name)
    return int(match["pid"]) if match else None


def stale_staging_folders(model_dir: str | os.PathLike) -> list[str]:
    """Paths of the staging folders in ``model_dir`` that no running export owns.

    A staging folder (name starting with ``.tmp-``) is stale when the process
    id in its name is not a running process on this machine, or when its name
    holds no process id (the older ``.tmp-<version>-<random>`` format). A
    folder of a running export, in this process or another, is never listed.
    """
    model_dir = os.fspath(model_dir)
    if not os.path.isdir(model_dir):
        return []
    stale = []
    for entry in sorted(os.listdir(model_dir)):
        path = os.path.join(model_dir, entry)
        if not entry.startswith(STAGING_PREFIX) or os.path.islink(path) or not os.path.isdir(path):
            continue
        pid = staging_pid(entry)
        if pid is None or not _process_exists(pid):
            stale.append(path)
    return stale


def remove_stale_staging(model_dir: str | os.PathLike) -> list[str]:
    """Deletes :func:`stale_staging_folders` of ``model_dir`` (left by killed exports), logging each; returns them."""
    removed = []
    for path in stale_staging_folders(model_dir):
        pid = staging_pid(os.path.basename(path))
        owner = "no process id in its name" if pid is None else f"process {pid} no longer runs"
        try:
            shutil.rmtree(path)
        except FileNotFoundError:  # another export removed it meanwhile
            continue
        except OSError as error:
            logger.warning("Could not remove stale export staging folder %s (%s): %s", path, owner, error)
            continue
        logger.warning("Removed stale export staging folder %s (%s)", path, owner)
        removed.append(path)
    return removed


def make_world_readable(root: str | os.PathLike) -> None:
    """Sets folders under (and including) ``root`` to 0755 and files to 0644; symlinks are left alone."""
    root = os.fspath(root)
    os.chmod(root, PUBLISHED_DIR_MODE)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, PUBLISHED_DIR_MODE)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, PUBLISHED_FILE_MODE)


EXPORT_LOCK = ".export.lock"
"""The lock file of an export base (TF Serving ignores it: no model folder is named so)."""


def export_lock(base: str | os.PathLike):
    """Holds ``<base>/.export.lock`` for a block (:func:`tf_aspmtl.io_utils.folder_lock`); waits, saying so,
    while another export holds it. A dead export never blocks the next one (the kernel releases its lock)."""
    return folder_lock(base, EXPORT_LOCK, wait=True, what="export base")


@contextmanager
def staged_versions(base: str | os.PathLike, model_names: Sequence[str], version: int) -> Iterator[list[str]]:
    """Yields one temporary folder per model name to write version ``version`` into; publishes all of them, or none.

    For each name, first removes the stale staging folders of ``<base>/<name>`` (see :func:`remove_stale_staging`)
    and refuses a version that exists. The staging folders are ``<base>/<name>/.tmp-<version>-<pid>-<random>``.
    On leaving the block without an exception every tree is made readable by every user (folders 0755, files
    0644), then each is renamed to ``<base>/<name>/<version>``, one rename after another with nothing written
    between them. If a rename fails, or the process is interrupted among them, the versions already renamed are
    renamed back and every staging folder is deleted, so no version of the set stays visible. On an exception in
    the block every staging folder is deleted and no version is ever visible. Only a process killed outright
    (SIGKILL, power loss) between two renames leaves part of the set published.

    Raises:
        FileExistsError: a version exists or appeared meanwhile (for example another export).
    """
    targets = []
    for name in model_names:
        model_dir = os.path.join(os.fspath(base), check_model_name(name))
        final = os.path.join(model_dir, str(version))
        os.makedirs(model_dir, exist_ok=True)
        remove_stale_staging(model_dir)
        if os.path.exists(final):
            raise FileExistsError(f"{final!r} already exists; exports never overwrite a version")
        targets.append((model_dir, final))
    stagings: list[str] = []
    published: list[tuple[str, str]] = []
    try:
        for model_dir, _ in targets:
            stagings.append(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{version}-{os.getpid()}-", dir=model_dir))
        yield list(stagings)
        for staging in stagings:
            make_world_readable(staging)
        for _, final in targets:
            if os.path.exists(final):  # os.rename would silently replace an empty folder
                raise FileExistsError(f"{final!r} appeared while exporting; exports never overwrite a version")
        for staging, (_, final) in zip(stagings, targets):
            os.rename(staging, final)
            published.append((staging, final))
    except BaseException:
        for staging, final in reversed(published):
            try:
                os.rename(final, staging)
            except OSError as error:
                logger.error("Could not take back %s after a failed export (%s): remove it by hand", final, error)
        for staging in stagings:
            shutil.rmtree(staging, ignore_errors=True)
        raise


@contextmanager
def staged_version(base: str | os.PathLike, model_name: str, version: int) -> Iterator[str]:
    """:func:`staged_versions` of one model: yields the folder to write ``<base>/<model_name>/<version>`` into,
    published on leaving the block without an exception, deleted on an exception.

    Raises:
        FileExistsError: the version exists or appeared meanwhile (for example another export).
    """
    with staged_versions(base, [model_name], version) as (staging,):
        yield staging
