"""Fetching the public FDU-MTL files, verified and written atomically."""

from __future__ import annotations

import hashlib
import logging
import os
import pathlib
import urllib.request
from collections.abc import Sequence

from tf_aspmtl.data.checksums import CHECKSUM_FILE, read_checksum_file, verify_checksum
from tf_aspmtl.data.fdu_mtl import _SUFFIXES, _check_names
from tf_aspmtl.data.paths import FDU_MTL_TASKS
from tf_aspmtl.io_utils import write_bytes_atomic

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = (
    "https://raw.githubusercontent.com/FrankWork/fudan_mtl_reviews/master/data/mtl-dataset/"
)
"""Public copy of the files; pass `base_url=` to `download_fdu_mtl` if it moves."""


def _fetch(url: str) -> bytes:
    """The bytes at `url` (http(s):// or file://)."""
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def _check_existing(path: pathlib.Path, sums: dict[str, str] | None) -> None:
    """Verifies a file kept from an earlier download against `sums`.

    Raises:
        ValueError: its sha256 differs from the one listed; the message names the file.
    """
    if sums is None:
        return
    if path.name not in sums:
        logger.warning("%s is not listed in %s; not verified", path.name, CHECKSUM_FILE)
        return
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != sums[path.name]:
        raise ValueError(
            f"{path}: already in the folder, but its sha256 {actual} is not {sums[path.name]} from "
            f"{CHECKSUM_FILE}; the file is corrupt, partial or another version: delete it or pass "
            "overwrite=True to download it again"
        )


def download_fdu_mtl(
    dest: str | os.PathLike,
    base_url: str = DEFAULT_BASE_URL,
    tasks: Sequence[str] | None = None,
    sha256sums: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> pathlib.Path:
    """Downloads the `<task>.task.{train,test,unlabel}` files into `dest`.

    Each file is written to a temporary file in `dest`, verified, then
    renamed, so an interrupted download leaves no partial file behind.
    With `sha256sums`, the files already in `dest` (kept unless `overwrite`)
    are verified too, and the SHA256SUMS copy is written into `dest` last,
    once every file matches it, so a folder holding it holds verified files.

    Args:
        dest: str or os.PathLike. Folder to fill (created if needed).
        base_url: str. URL of the folder holding the files (http(s):// or
            file://).
        tasks: sequence of str or None. Tasks to fetch; None means all 16.
        sha256sums: str, os.PathLike or None. A SHA256SUMS file to verify the
            downloads and the files already in `dest` against; it is copied
            into `dest` (after them) so `load_fdu_mtl` verifies them too.
        overwrite: bool. Re-download files already in `dest`.

    Returns:
        pathlib.Path. The absolute `dest`.

    Raises:
        urllib.error.URLError: a file could not be fetched.
        ValueError: a malformed `sha256sums`, or a download or a file
            already in `dest` that does not match it (the file named).
    """
    tasks = _check_names("task", FDU_MTL_TASKS if tasks is None else tasks, FDU_MTL_TASKS)
    sums_text, sums = None, None
    if sha256sums is not None:  # read and parsed before anything is written
        sums_path = pathlib.Path(sha256sums)
        sums_text, sums = sums_path.read_bytes(), read_checksum_file(sums_path)
    dest = pathlib.Path(dest).expanduser().resolve()
    dest.mkdir(parents=True, exist_ok=True)
    for name in (task + suffix for task in tasks for suffix in _SUFFIXES.values()):
        if (dest / name).exists() and not overwrite:
            _check_existing(dest / name, sums)
            logger.info("%s exists%s; skipped", dest / name, " and matches its checksum" if sums else "")
            continue
        url = base_url.rstrip("/") + "/" + name
        logger.info("Downloading %s", url)
        data = _fetch(url)
        verify_checksum(name, data, sums)
        write_bytes_atomic(dest / name, data)
    if sums_text is not None:
        write_bytes_atomic(dest / CHECKSUM_FILE, sums_text)
    return dest
