"""download_fdu_mtl verifies the files it keeps as well as those it fetches, and writes SHA256SUMS last.

No network: the module's fetch function is replaced by one serving a dict of files.
"""

import hashlib

import pytest

from tf_aspmtl.data import download, download_fdu_mtl

FILES = {
    "books.task.train": b"1\tgood\n0\tbad\n",
    "books.task.test": b"1\tfine\n",
    "books.task.unlabel": b"Some review.\n",
}


@pytest.fixture
def served(monkeypatch, tmp_path):
    """The files on a fake server; each fetch records its file name and whether dest held SHA256SUMS then."""
    fetched = []
    dest = tmp_path / "dest"

    def fetch(url: str) -> bytes:
        name = url.rsplit("/", 1)[1]
        fetched.append((name, (dest / "SHA256SUMS").exists()))
        return served.files[name]

    served.files, served.fetched, served.dest = dict(FILES), fetched, dest
    monkeypatch.setattr(download, "_fetch", fetch)
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in FILES.items())
    served.sums = tmp_path / "SHA256SUMS"
    served.sums.write_text(sums)
    return served


def test_sha256sums_is_written_after_every_file_is_verified(served):
    download_fdu_mtl(served.dest, "https://example.invalid/", ["books"], sha256sums=served.sums)
    assert [name for name, _ in served.fetched] == list(FILES)
    assert not any(had_sums for _, had_sums in served.fetched)
    assert (served.dest / "SHA256SUMS").read_bytes() == served.sums.read_bytes()


def test_a_bad_download_leaves_no_sha256sums_to_vouch_for_the_folder(served):
    served.files["books.task.unlabel"] = b"tampered\n"
    with pytest.raises(ValueError, match=r"books\.task\.unlabel"):
        download_fdu_mtl(served.dest, "https://example.invalid/", ["books"], sha256sums=served.sums)
    assert not (served.dest / "SHA256SUMS").exists()
    assert not (served.dest / "books.task.unlabel").exists()


def test_a_kept_file_that_does_not_match_is_named_and_not_vouched_for(served):
    served.dest.mkdir()
    (served.dest / "books.task.test").write_bytes(b"1\tfin")  # a partial copy from an earlier run
    with pytest.raises(ValueError) as info:
        download_fdu_mtl(served.dest, "https://example.invalid/", ["books"], sha256sums=served.sums)
    for part in ("books.task.test", "already in the folder", "overwrite=True"):
        assert part in str(info.value), str(info.value)
    assert not (served.dest / "SHA256SUMS").exists()


def test_kept_files_that_match_are_not_fetched_and_overwrite_replaces_a_bad_one(served):
    served.dest.mkdir()
    (served.dest / "books.task.train").write_bytes(FILES["books.task.train"])
    download_fdu_mtl(served.dest, "https://example.invalid/", ["books"], sha256sums=served.sums)
    assert [name for name, _ in served.fetched] == ["books.task.test", "books.task.unlabel"]
    (served.dest / "books.task.test").write_bytes(b"corrupt")
    download_fdu_mtl(served.dest, "https://example.invalid/", ["books"], sha256sums=served.sums, overwrite=True)
    assert (served.dest / "books.task.test").read_bytes() == FILES["books.task.test"]


def test_a_malformed_sha256sums_fails_before_anything_is_written(served):
    served.sums.write_text("not a checksum line\n")
    with pytest.raises(ValueError, match=r"SHA256SUMS: line 1"):
        download_fdu_mtl(served.dest, "https://example.invalid/", ["books"], sha256sums=served.sums)
    assert not served.dest.exists() and not served.fetched
