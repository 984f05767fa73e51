"""A tiny FDU-MTL-shaped corpus for tests: two tasks of short synthetic reviews."""

from pathlib import Path

import numpy as np

TASKS = ["books", "dvd"]
WORDS = {"books": ["novel", "author", "chapter", "plot"], "dvd": ["disc", "film", "scene", "actor"]}
COMMON = ["good", "bad", "great", "awful", "the", "a", "really", "not"]


def texts(task: str, n: int, offset: int) -> list[str]:
    """``n`` reviews of 4-8 words of ``task`` (books' words for another task), seeded by ``offset``."""
    rng = np.random.default_rng(offset)
    return [" ".join(rng.choice(WORDS.get(task, WORDS["books"]) + COMMON, size=4 + i % 5)) for i in range(n)]


def write_fdu_folder(folder: Path) -> Path:
    """Two tasks: 210 train lines (the loader holds out the last 200 as dev, so 10 train rows) and 12 test lines."""
    for k, task in enumerate(TASKS):
        for split, n in (("train", 210), ("test", 12)):
            lines = [f"{i % 2}\t{text}" for i, text in enumerate(texts(task, n, 100 * k + n))]
            (folder / f"{task}.task.{split}").write_text("\n".join(lines) + "\n")
    return folder


def write_unlabeled_files(folder: Path, n: int = 40, extra: dict[str, list[str]] | None = None) -> Path:
    """Adds ``TASK.task.unlabel`` of every task: ``n`` reviews (seeded apart from the labelled files' texts),
    then ``extra[TASK]``'s lines (for example copies of dev or test texts that a test plants)."""
    for k, task in enumerate(TASKS):
        lines = texts(task, n, 100 * k + 7) + list((extra or {}).get(task, []))
        (folder / f"{task}.task.unlabel").write_text("\n".join(lines) + "\n")
    return folder


def write_folder_with_planted_dev_copies(root: Path) -> Path:
    """The tiny corpus plus unlabelled files holding two dev texts of books, re-cased and re-spaced (copies a
    self-training run must not pseudo-label)."""
    from tf_aspmtl.data import load_fdu_mtl

    write_fdu_folder(root)
    dev = load_fdu_mtl(root, tasks=TASKS, splits=("dev",))
    planted = [t.upper().replace(" ", "  ") + " !" for t in dev[dev["task"] == "books"]["text"].iloc[[3, 150]]]
    return write_unlabeled_files(root, n=40, extra={"books": planted})
