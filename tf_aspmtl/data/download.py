"""Fetching the public FDU-MTL files, verified and written atomically."""

from __future__ import annotations

import logging
import os
import pathlib
import urllib.request
from collections.abc import Sequence

from tf_aspmtl.data.checksums import CHECKSUM_FILE, read_checksums, verify_checksum
from tf_aspmtl.data.fdu_mtl import _SUFFIXES, _check_names
from tf_aspmtl.data.paths import FDU_MTL_TASKS
from tf_aspmtl.io_utils import write_bytes_atomic

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = (
    "https://raw.githubusercontent.com/FrankWork/fudan_mtl_reviews/master/data/mtl-dataset/"
)
"""Public copy of the files; pass `base_url=` to `download_fdu_mtl` if it moves."""


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

    Args:
        dest: str or os.PathLike. Folder to fill (created if needed).
        base_url: str. URL of the folder holding the files (http(s):// or
            file://).
        tasks: sequence of str or None. Tasks to fetch; None means all 16.
        sha256sums: str, os.PathLike or None. A SHA256SUMS file to verify the
            downloads against; it is copied into `dest` so `load_fdu_mtl`
            verifies them too.
        overwrite: bool. Re-download files already in `dest`.

    Returns:
        pathlib.Path. The absolute `dest`.

    Raises:
        urllib.error.URLError: a file could not be fetched.
        ValueError: a download does not match `sha256sums`.
    """
    tasks = _check_names("task", FDU_MTL_TASKS if tasks is None else tasks, FDU_MTL_TASKS)
    dest = pathlib.Path(dest).expanduser().resolve()
    dest.mkdir(parents=True, exist_ok=True)
    sums = None
    if sha256sums is not None:
        sums_text = pathlib.Path(sha256sums).read_bytes()
        write_bytes_atomic(dest / CHECKSUM_FILE, sums_text)
        sums = read_checksums(dest)
    for name in (task + suffix for task in tasks for suffix in _SUFFIXES.values()):
        if (dest / name).exists() and not overwrite:
            logger.info("%s exists; skipped", dest / name)
            continue
        url = base_url.rstrip("/") + "/" + name
        logger.info("Downloading %s", url)
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
        verify_checksum(name, data, sums)
        write_bytes_atomic(dest / name, data)
    return dest
