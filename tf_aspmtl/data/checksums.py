"""SHA256SUMS files: reading them and checking data against them."""

from __future__ import annotations

import hashlib
import logging
import pathlib

logger = logging.getLogger(__name__)
CHECKSUM_FILE = "SHA256SUMS"


def read_checksums(folder: pathlib.Path) -> dict[str, str] | None:
    """Reads `folder/SHA256SUMS` as written by `sha256sum`.

    Args:
        folder: pathlib.Path. Folder that may hold a SHA256SUMS file.

    Returns:
        dict mapping file name to lower-case hex digest, or None if the folder
        has no SHA256SUMS.

    Raises:
        ValueError: a line is not `HASH  FILENAME`.
    """
    sums_path = folder / CHECKSUM_FILE
    if not sums_path.is_file():
        return None
    return read_checksum_file(sums_path)


def read_checksum_file(sums_path: pathlib.Path) -> dict[str, str]:
    """Reads a SHA256SUMS file (any name) as written by `sha256sum`.

    Args:
        sums_path: pathlib.Path. The file.

    Returns:
        dict mapping file name to lower-case hex digest.

    Raises:
        ValueError: a line is not `HASH  FILENAME` (the file and line named).
    """
    sums = {}
    for number, line in enumerate(sums_path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        digest, sep, name = line.partition(" ")
        if not sep or len(digest) != 64:
            raise ValueError(f"{sums_path}: line {number}: expected 'HASH  FILENAME', got {line!r}")
        sums[name.strip().lstrip("*")] = digest.lower()
    return sums


def verify_checksum(name: str, data: bytes, sums: dict[str, str] | None) -> None:
    """Checks the sha256 of `data` against `sums[name]`.

    Args:
        name: str. File name as listed in SHA256SUMS.
        data: bytes. File content.
        sums: dict or None. Expected digests; None skips the check.

    Raises:
        ValueError: the digest differs from the expected one.
    """
    if sums is None:
        return
    if name not in sums:
        logger.warning("%s is not listed in %s; not verified", name, CHECKSUM_FILE)
        return
    actual = hashlib.sha256(data).hexdigest()
    if actual != sums[name]:
        raise ValueError(
            f"Checksum mismatch for {name}: sha256 {actual}, expected {sums[name]} "
            f"from {CHECKSUM_FILE}; the file is corrupt or modified."
        )
