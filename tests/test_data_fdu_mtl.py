"""Tests for the FDU-MTL loader, folder resolution and downloader."""

import hashlib
import pathlib

import numpy as np
import pytest

from tf_aspmtl.data import (
    DATA_ENV_VAR,
    FDU_MTL_TASKS,
    download_fdu_mtl,
    load_fdu_mtl,
    resolve_fdu_mtl_dir,
)
from tf_aspmtl.data import paths

# Table 1 of Liu et al. (ACL 2017): train rows that differ from 1,400.
TRAIN_ROWS = {
    "electronics": 1398,
    "camera_photo": 1397,
    "baby": 1300,
    "magazines": 1370,
    "software": 1315,
}


def _real_dir() -> pathlib.Path:
    try:
        return resolve_fdu_mtl_dir()
    except FileNotFoundError as error:
        pytest.skip(f"FDU-MTL data not available: {error}")


@pytest.fixture(scope="module")
def real_dir() -> pathlib.Path:
    return _real_dir()


@pytest.fixture(scope="module")
def full(real_dir):
    """All 16 tasks, all splits, loaded once for the module (~30 MB)."""
    return load_fdu_mtl(real_dir)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch):
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)


def _write(folder: pathlib.Path, name: str, lines: list[bytes], end: bytes = b"\n") -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"\n".join(lines) + end)
    return path


def _tiny_task(folder: pathlib.Path, task: str = "books", n_train: int = 5) -> pathlib.Path:
    _write(folder, f"{task}.task.train", [b"%d\ttrain text %d" % (i % 2, i) for i in range(n_train)])
    _write(folder, f"{task}.task.test", [b"1\ttest a", b"0\ttest b"])
    _write(folder, f"{task}.task.unlabel", [b"Raw Review one.", b"", b"Raw Review two."])
    return folder


def _sha256sums(folder: pathlib.Path) -> None:
    files = sorted(folder.glob("*.task.*"))
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" for p in files]
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")


# --- real data -------------------------------------------------------------


def test_row_counts_match_table_1(full):
    counts = full.groupby(["task", "split"]).size().to_dict()
    for task in FDU_MTL_TASKS:
        expected = {
            "train": TRAIN_ROWS.get(task, 1400),
            "dev": 200,
            "test": 400,
            "unlabeled": 475 if task == "software" else 2000,
        }
        got = {split: counts.get((task, split), 0) for split in expected}
        assert got == expected, task
    assert len(full) == 62255


def test_columns_dtypes_and_order(full):
    assert full.columns.tolist() == ["task", "split", "text", "label"]
    assert full["label"].dtype == np.int64
    assert all(isinstance(t, str) for t in full["text"].head(50))
    assert list(dict.fromkeys(full["task"])) == list(FDU_MTL_TASKS)
    books = full[full["task"] == "books"]
    assert list(dict.fromkeys(books["split"])) == ["train", "dev", "test", "unlabeled"]
    labelled = full["split"] != "unlabeled"
    assert set(full.loc[labelled, "label"]) == {0, 1}
    assert set(full.loc[~labelled, "label"]) == {-1}


def test_dev_is_last_200_rows_of_train_file(full, real_dir):
    lines = (real_dir / "books.task.train").read_bytes().decode("utf-8").split("\n")[:-1]
    labels = [int(line.split("\t", 1)[0]) for line in lines]
    texts = [line.split("\t", 1)[1] for line in lines]
    books = full[full["task"] == "books"]
    dev, train = books[books["split"] == "dev"], books[books["split"] == "train"]
    assert dev["text"].tolist() == texts[-200:]
    assert dev["label"].tolist() == labels[-200:]
    assert train["text"].tolist() == texts[:-200]


def test_next_line_char_stays_inside_imdb_text(full, real_dir):
    raw = (real_dir / "imdb.task.train").read_bytes().decode("utf-8")
    assert len(raw.splitlines()) > 1600  # the quirk is real: U+0085 splits lines
    imdb = full[(full["task"] == "imdb") & full["split"].isin(["train", "dev"])]
    assert len(imdb) == 1600
    with_nel = imdb[imdb["text"].str.contains("\x85", regex=False)]
    assert len(with_nel) > 0
    line = raw.split("\n")[with_nel.index[0] - imdb.index[0]]
    assert line.split("\t", 1)[1] == with_nel["text"].iloc[0]


def test_mr_lines_that_are_not_utf8_decode_as_cp1252(full):
    mr = full[(full["task"] == "MR") & (full["split"] == "train")]
    assert mr["text"].iloc[27].startswith("buries an interesting storyline")
    assert "clichés" in mr["text"].iloc[27]
    # Byte 0x85 is "…" in cp1252 (not the U+0085 line break Latin-1 would give).
    assert "filmmaking … because" in mr["text"].iloc[1019]
    assert not full[full["task"] == "MR"]["text"].str.contains("\ufffd", regex=False).any()


def test_empty_text_row_is_kept(full):
    # sports_outdoors.task.train line 1121 is "0\t": a row of the paper's counts.
    sports = full[(full["task"] == "sports_outdoors") & (full["split"] == "train")]
    assert sports["text"].iloc[1120] == ""
    assert sports["label"].iloc[1120] == 0


def test_subset_of_tasks_and_splits_keeps_given_order(real_dir):
    frame = load_fdu_mtl(real_dir, tasks=["MR", "books"], splits=("test",))
    assert list(dict.fromkeys(frame["task"])) == ["MR", "books"]
    assert set(frame["split"]) == {"test"}
    assert len(frame) == 800


# --- quirks on synthetic files -----------------------------------------------


def test_unicode_line_breaks_stay_in_text_and_crlf_is_stripped(tmp_path):
    breaks = ["\u2028", "\u2029", "\x85", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e"]
    train = [f"1\tbefore{b}after".encode("utf-8") for b in breaks] + [b"0\twindows line\r", b"1\ta\tb"]
    _write(tmp_path, "books.task.train", train, end=b"")  # no final newline
    _write(tmp_path, "books.task.test", [b"1\tt"])
    _write(tmp_path, "books.task.unlabel", ["raw\u2028review".encode("utf-8"), b"", b"  "])
    frame = load_fdu_mtl(tmp_path, tasks=["books"], dev_size=1)
    train_texts = frame.loc[frame["split"] == "train", "text"].tolist()
    assert train_texts == [f"before{b}after" for b in breaks] + ["windows line"]
    assert frame.loc[frame["split"] == "dev", "text"].tolist() == ["a\tb"]  # first TAB only
    assert frame.loc[frame["split"] == "unlabeled", "text"].tolist() == ["raw\u2028review"]


def test_invalid_utf8_falls_back_to_cp1252_then_latin1(tmp_path):
    _write(tmp_path, "MR.task.train", [b"1\tclich\xe9s", b"0\tdots\x85", b"1\tcaf\xc3\xa9", b"0\tundef\x81"])
    _write(tmp_path, "MR.task.test", [b"1\tx"])
    frame = load_fdu_mtl(tmp_path, tasks=["MR"], splits=("train",), dev_size=0)
    assert frame["text"].tolist() == ["clichés", "dots…", "café", "undef\x81"]


@pytest.mark.parametrize(
    "bad_line, field, detail",
    [
        (b"1 no tab here", "label", "no TAB"),
        (b"x\ttext", "label", "not an integer"),
        (b"2\ttext", "label", "not 0 or 1"),
    ],
)
def test_malformed_line_names_file_line_and_field(tmp_path, bad_line, field, detail):
    _write(tmp_path, "books.task.train", [b"1\tok", b"0\tok", bad_line, b"1\tok"])
    with pytest.raises(ValueError) as info:
        load_fdu_mtl(tmp_path, tasks=["books"], splits=("train",), dev_size=1)
    message = str(info.value)
    for part in ("books.task.train", "line 3", field, detail):
        assert part in message


def test_bad_arguments_raise(tmp_path):
    _tiny_task(tmp_path)
    with pytest.raises(ValueError, match="Unknown task 'bookz'"):
        load_fdu_mtl(tmp_path, tasks=["bookz"])
    with pytest.raises(ValueError, match="Unknown split 'valid'"):
        load_fdu_mtl(tmp_path, tasks=["books"], splits=("valid",))
    with pytest.raises(ValueError, match="dev_size=5 leaves no training rows"):
        load_fdu_mtl(tmp_path, tasks=["books"], dev_size=5)
    with pytest.raises(FileNotFoundError, match="dvd.task.train"):
        load_fdu_mtl(tmp_path, tasks=["books", "dvd"], dev_size=1)


# --- checksums, folders, environment -------------------------------------------


def test_a_file_missing_from_the_checksums_is_said_not_verified(caplog):
    from tf_aspmtl.data.checksums import verify_checksum

    with caplog.at_level("WARNING", logger="tf_aspmtl.data.checksums"):
        verify_checksum("books.task.train", b"1\tgood\n", {"dvd.task.train": "0" * 64})
    assert "books.task.train is not listed in SHA256SUMS; not verified" in caplog.text


def test_checksum_mismatch_names_the_file(tmp_path):
    _tiny_task(tmp_path)
    _sha256sums(tmp_path)
    assert len(load_fdu_mtl(tmp_path, tasks=["books"], dev_size=1)) == 9  # intact copy passes
    test_file = tmp_path / "books.task.test"
    test_file.write_bytes(test_file.read_bytes().replace(b"test a", b"test A"))
    with pytest.raises(ValueError, match=r"Checksum mismatch for books\.task\.test"):
        load_fdu_mtl(tmp_path, tasks=["books"], dev_size=1)
    frame = load_fdu_mtl(tmp_path, tasks=["books"], dev_size=1, verify_checksums=False)
    assert "test A" in frame["text"].tolist()


def test_checksum_mismatch_on_a_copy_of_real_files(tmp_path, real_dir):
    sums = [line for line in (real_dir / "SHA256SUMS").read_text().splitlines() if " MR.task." in line]
    (tmp_path / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    for suffix in ("train", "test", "unlabel"):
        data = (real_dir / f"MR.task.{suffix}").read_bytes()
        if suffix == "unlabel":
            data = data.replace(b"clich", b"CLICH", 1)
        (tmp_path / f"MR.task.{suffix}").write_bytes(data)
    assert len(load_fdu_mtl(tmp_path, tasks=["MR"], splits=("train", "test"))) == 1800
    with pytest.raises(ValueError, match=r"MR\.task\.unlabel"):
        load_fdu_mtl(tmp_path, tasks=["MR"])


def test_missing_folder_raises_helpful_error(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError) as info:
        resolve_fdu_mtl_dir(tmp_path / "nowhere")
    message = str(info.value)
    for part in ("nowhere", "does not exist", "path=", DATA_ENV_VAR, ".task.train", "download_fdu_mtl"):
        assert part in message
    with pytest.raises(FileNotFoundError, match="holds no <task>.task.train"):
        load_fdu_mtl(tmp_path)  # exists but empty
    monkeypatch.setattr(paths, "_default_fdu_mtl_dir", lambda: tmp_path / "default")
    with pytest.raises(FileNotFoundError, match=f"No FDU-MTL data found.*{DATA_ENV_VAR}"):
        resolve_fdu_mtl_dir()


def test_env_var_is_honoured(tmp_path, monkeypatch):
    _tiny_task(tmp_path / "mine")
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path / "mine"))
    assert resolve_fdu_mtl_dir() == (tmp_path / "mine").resolve()
    frame = load_fdu_mtl(tasks=["books"], dev_size=2)
    assert frame.groupby("split").size().to_dict() == {"train": 3, "dev": 2, "test": 2, "unlabeled": 2}
    assert frame.loc[frame["split"] == "unlabeled", "text"].tolist() == ["Raw Review one.", "Raw Review two."]
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path / "typo"))
    with pytest.raises(FileNotFoundError, match=DATA_ENV_VAR):
        resolve_fdu_mtl_dir()
    assert resolve_fdu_mtl_dir(tmp_path / "mine") == (tmp_path / "mine").resolve()  # path= wins


# --- download --------------------------------------------------------------------


def test_download_from_file_url(tmp_path):
    source = _tiny_task(tmp_path / "server")
    _sha256sums(source)
    dest = download_fdu_mtl(
        tmp_path / "dest", source.as_uri(), tasks=["books"], sha256sums=source / "SHA256SUMS"
    )
    names = sorted(p.name for p in dest.iterdir())
    assert names == ["SHA256SUMS", "books.task.test", "books.task.train", "books.task.unlabel"]
    for name in names:
        assert (dest / name).read_bytes() == (source / name).read_bytes()
    assert len(load_fdu_mtl(dest, tasks=["books"], dev_size=1)) == 9


def test_download_checksum_mismatch_leaves_no_file(tmp_path):
    source = _tiny_task(tmp_path / "server")
    _sha256sums(source)
    (source / "books.task.test").write_bytes(b"1\ttampered\n")
    dest = tmp_path / "dest"
    with pytest.raises(ValueError, match=r"books\.task\.test"):
        download_fdu_mtl(dest, source.as_uri() + "/", ["books"], sha256sums=source / "SHA256SUMS")
    assert not (dest / "books.task.test").exists()
    assert not [p for p in dest.iterdir() if p.name.endswith(".part")]
