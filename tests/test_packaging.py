"""pyproject.toml declares what the code imports, and requirements.txt pins every declared dependency."""

import ast
import functools
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = {"tf_aspmtl", "export", "experiments", "tests"}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _declared(*extras: str) -> dict[str, Requirement]:
    """The runtime dependencies of pyproject.toml and those of ``extras``, by canonical name."""
    project = _project()
    lines = list(project["dependencies"]) + [r for e in extras for r in project["optional-dependencies"][e]]
    return {canonicalize_name(r.name): r for r in map(Requirement, lines)}


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            assert spec.operator == "==", f"requirements.txt: {line!r} is not pinned with =="
            pins[canonicalize_name(requirement.name)] = spec.version
    return pins


def _third_party_imports(folder: Path) -> dict[str, set[str]]:
    """Top-level names of the non-stdlib modules imported under ``folder``: ``{"eager": ..., "lazy": ...}``.

    Lazy imports are those inside a function body (run only when the function is called).
    """
    found: dict[str, set[str]] = {"eager": set(), "lazy": set()}

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                if isinstance(child, ast.ImportFrom):
                    names = [child.module] if child.module and not child.level else []
                else:
                    names = [alias.name for alias in child.names]
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top not in FIRST_PARTY:
                        found["lazy" if lazy else "eager"].add(top)
            visit(child, lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    for path in sorted(folder.rglob("*.py")):
        visit(ast.parse(path.read_text(), filename=str(path)), False)
    return found


@functools.cache
def _module_distributions() -> dict[str, list[str]]:
    return metadata.packages_distributions()


def _distributions(module: str) -> set[str]:
    names = _module_distributions().get(module)
    if not names:
        pytest.fail(f"no installed distribution provides the module {module!r}")
    return {canonicalize_name(n) for n in names}


def test_every_declared_dependency_is_pinned_in_its_range():
    project = _project()
    pins = _pins()
    declared = _declared(*project["optional-dependencies"])
    missing = sorted(set(declared) - set(pins))
    assert not missing, f"declared in pyproject.toml but not pinned in requirements.txt: {missing}"
    outside = {n: (pins[n], str(r.specifier)) for n, r in declared.items() if pins[n] not in r.specifier}
    assert not outside, f"pins outside pyproject.toml's ranges: {outside}"
    extra = sorted(set(pins) - set(declared))
    assert not extra, f"pinned in requirements.txt but declared nowhere in pyproject.toml: {extra}"


def test_the_library_declares_what_it_imports():
    runtime = set(_declared())
    everything = set(_declared(*_project()["optional-dependencies"]))
    imports = _third_party_imports(ROOT / "tf_aspmtl")
    assert {"tensorflow", "keras", "pandas"} <= imports["eager"]
    # Imported when tf_aspmtl's modules are: a runtime dependency.
    undeclared = {m: _distributions(m) for m in imports["eager"] if not _distributions(m) & runtime}
    assert not undeclared, f"imported by tf_aspmtl at import time but not a runtime dependency: {undeclared}"
    # Imported inside a function: a runtime dependency or an extra.
    undeclared = {m: _distributions(m) for m in imports["lazy"] if not _distributions(m) & everything}
    assert not undeclared, f"imported by tf_aspmtl but declared nowhere in pyproject.toml: {undeclared}"


def test_the_experiments_extra_covers_the_scripts():
    declared = set(_declared("experiments"))
    imports = _third_party_imports(ROOT / "experiments")
    modules = imports["eager"] | imports["lazy"]
    undeclared = {m: _distributions(m) for m in modules if not _distributions(m) & declared}
    assert not undeclared, f"imported by experiments/ but not in the runtime or experiments dependencies: {undeclared}"
