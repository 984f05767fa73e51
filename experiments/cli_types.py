"""argparse types shared by the command lines: numbers checked where they are read, with the flag named."""

from __future__ import annotations

import argparse
from typing import Callable


def finite(minimum: float, strict: bool) -> Callable[[str], float]:
    """A finite number above ``minimum`` (or at least it, unless ``strict``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value != value or abs(value) == float("inf") or value < minimum or (strict and value == minimum):
            raise argparse.ArgumentTypeError(f"must be a finite number {'>' if strict else '>='} {minimum:g}; got {text}")
        return value

    return parse


def int_at_least(minimum: int) -> Callable[[str], int]:
    """An int >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}; got {text}")
        return value

    return parse


def fdu_mtl_tasks(text: str) -> str:
    """``all`` or comma-separated FDU-MTL task names, each known and listed once; returned as given."""
    from tf_aspmtl.data.paths import FDU_MTL_TASKS

    if text == "all":
        return text
    names = text.split(",")
    unknown = [name for name in names if name not in FDU_MTL_TASKS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown task(s) {unknown}; give 'all' or comma-separated names among "
                                         f"{','.join(FDU_MTL_TASKS)}")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise argparse.ArgumentTypeError(f"task(s) listed twice: {twice}")
    return text


positive_float = finite(0.0, strict=True)
weight = finite(0.0, strict=False)
positive_int = int_at_least(1)
non_negative_int = int_at_least(0)
