"""Where the FDU-MTL benchmark lives: task names and folder resolution."""

from __future__ import annotations

import logging
import os
import pathlib

logger = logging.getLogger(__name__)

FDU_MTL_TASKS: tuple[str, ...] = (
    "books",
    "electronics",
    "dvd",
    "kitchen_housewares",
    "apparel",
    "camera_photo",
    "health_personal_care",
    "music",
    "toys_games",
    "video",
    "baby",
    "magazines",
    "software",
    "sports_outdoors",
    "imdb",
    "MR",
)
"""The 16 FDU-MTL tasks in the order of Table 1 of Liu et al. (ACL 2017)."""

DATA_ENV_VAR = "TF_ASPMTL_FDU_MTL"
"""Environment variable naming the folder that holds the FDU-MTL files."""

_HOW_TO_FIX = (
    f"pass path= or set {DATA_ENV_VAR} to a folder holding the public FDU-MTL "
    "files <task>.task.train/test/unlabel (for example one filled by "
    "tf_aspmtl.data.download_fdu_mtl)"
)


def _default_fdu_mtl_dir() -> pathlib.Path:
    """Returns `<repo root>/../shared/data/fdu-mtl`, the checkout's default.

    Returns:
        The default folder; it may not exist.
    """
    repo_root = pathlib.Path(__file__).resolve().parents[2]
    return repo_root.parent / "shared" / "data" / "fdu-mtl"


def _holds_fdu_mtl(folder: pathlib.Path) -> bool:
    """Tells whether `folder` holds at least one `<task>.task.train` file.

    Args:
        folder: pathlib.Path. Candidate folder.

    Returns:
        True if it is a folder with a training file of a known task.
    """
    if not folder.is_dir():
        return False
    return any((folder / f"{task}.task.train").is_file() for task in FDU_MTL_TASKS)


class DataNotFoundError(FileNotFoundError):
    """The FDU-MTL folder, or one of its files, is not where it was looked for (the message says where and how to
    point at it); command lines report it in one line."""


def _checked(folder: pathlib.Path, origin: str) -> pathlib.Path:
    """Returns `folder` if it holds FDU-MTL files, else raises.

    Args:
        folder: pathlib.Path. Candidate folder.
        origin: str. Where the folder came from, for the error message.

    Returns:
        The folder, made absolute.

    Raises:
        DataNotFoundError: the folder is missing or holds no task files.
    """
    if not folder.exists():
        raise DataNotFoundError(
            f"FDU-MTL folder {str(folder)!r} ({origin}) does not exist; {_HOW_TO_FIX}."
        )
    if not _holds_fdu_mtl(folder):
        raise DataNotFoundError(
            f"FDU-MTL folder {str(folder)!r} ({origin}) holds no <task>.task.train "
            f"file; {_HOW_TO_FIX}."
        )
    return folder.resolve()


def resolve_fdu_mtl_dir(path: str | os.PathLike | None = None) -> pathlib.Path:
    """Finds the folder that holds the FDU-MTL files.

    Looks, in this order, at `path`, at the environment variable
    `TF_ASPMTL_FDU_MTL`, then at `<repo root>/../shared/data/fdu-mtl`. An
    explicit `path` or a set environment variable must be valid: a bad one
    raises instead of silently falling back to the next place.

    Args:
        path: str, os.PathLike or None. Folder given by the caller.

    Returns:
        pathlib.Path. The absolute folder.

    Raises:
        DataNotFoundError: no folder holding `<task>.task.train` files was found (a FileNotFoundError).

    Example (not run):
        resolve_fdu_mtl_dir("/data/fdu-mtl")   # PosixPath('/data/fdu-mtl')
    """
    if path is not None:
        return _checked(pathlib.Path(path).expanduser(), "given as path=")
    from_env = os.environ.get(DATA_ENV_VAR)
    if from_env:
        return _checked(pathlib.Path(from_env).expanduser(), f"from ${DATA_ENV_VAR}")
    default = _default_fdu_mtl_dir()
    if _holds_fdu_mtl(default):
        logger.debug("Using the default FDU-MTL folder %s", default)
        return default.resolve()
    raise DataNotFoundError(
        f"No FDU-MTL data found (the default {str(default)!r} holds none): {_HOW_TO_FIX}."
    )
