"""Every ``>>>`` example in tf_aspmtl's docstrings runs and passes under doctest, with its module's globals only."""

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tf_aspmtl"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


EXAMPLES = {_module_name(p): p.relative_to(ROOT) for p in sorted(PACKAGE.rglob("*.py"))
            if ">>>" in p.read_text(encoding="utf-8")}
"""Module name -> path (relative to the repository) of every module whose source holds ``>>>``."""


def test_the_scan_finds_the_modules_with_examples():
    assert len(EXAMPLES) >= 30, f"Only {len(EXAMPLES)} modules with '>>>' found under {PACKAGE}: {sorted(EXAMPLES)}"


@pytest.mark.parametrize("name", sorted(EXAMPLES), ids=sorted(EXAMPLES))
def test_docstring_examples_pass(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=FLAGS, report=False)
    see = f"python -m doctest -v -o ELLIPSIS -o NORMALIZE_WHITESPACE {EXAMPLES[name].as_posix()}"
    assert result.attempted > 0, (f"{name} has '>>>' but doctest ran none of its examples (all skipped, or not in a "
                                  f"docstring); write an example that is not run without '>>>'. See: {see}")
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} fail; see them with: {see}"
