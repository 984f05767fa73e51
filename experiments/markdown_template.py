"""Fills a Markdown template's placeholders from result files and from named blocks of computed text.

The templates under ``experiments/templates/`` hold the generated pages' fixed prose; this module knows nothing of
what they say. A placeholder sits on one line::

    {{ main_job.json : avg_test_error : .2f }}        a file (relative to ``root``), a key path, a format
    {{ main_job.json : wall_time_s / 60 : .1f }}      the value scaled (``/ N`` or ``* N``) before formatting
    {{ main_job.json : per_task.books.best_epoch }}   no format: the value as an f-string prints it
    {{ bench_summary.md }}                            no key: a text file's whole text, surrounding space removed
    {{ block: table2 }}                               a block: text (or a dict, then ``: key : format``) from code

Key paths are dotted: dict keys, or list indexes (``load_average_1_5_15.0``). A format is a Python format spec
(``.2f``, ``,.0f``, ``g``, ``.7`` cuts a string to 7 characters, ``+.1f``) or one of ``join`` (a list, joined by
", "), ``count`` (the length of a list) and ``upper``. Conditions, and comments:

    {{ if: ensemble.json }} ... {{ end }}     what is between (on lines of their own: the lines between; on one
                                              line: the text between) appears only when the file exists (or, for
                                              ``{{ if: block: NAME [: key] }}``, when that value is truthy);
    {{ if not: ... }} ... {{ end }}           only when it does not; ifs on lines of their own can nest
    {# a comment: the line is dropped #}

Anything else missing (a file, a key, a block) is an error naming the template line and the placeholder: a page
never silently loses a figure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")
COMMENT = re.compile(r"\{#.*#\}")
DIRECTIVE = re.compile(r"\{\{\s*(?:(if|if not):([^}]*)|end)\s*\}\}")
INLINE_IF = re.compile(r"\{\{\s*(if|if not):(.*?)\}\}(.*?)\{\{\s*end\s*\}\}")
SCALE = re.compile(r"(.*?)\s*([*/])\s*(\d+(?:\.\d+)?)")
NAMED_FORMATS: dict[str, Callable[[Any], str]] = {
    "join": lambda v: ", ".join(map(str, v)), "count": lambda v: str(len(v)), "upper": lambda v: str(v).upper()}
Blocks = Mapping[str, Any]
"""Block name -> its value (text, or a dict for ``: key``), or a function of no argument that returns it."""


class TemplateError(ValueError):
    """A placeholder that cannot be filled (its template line and text in the message)."""


class _Missing(Exception):
    """What is missing, before the renderer adds where."""


class _Source:
    """The files and blocks of one rendering; each is read (or computed) once."""

    def __init__(self, root: Path, blocks: Blocks):
        self.root, self.blocks, self.cache = Path(root), blocks, {}

    def exists(self, name: str) -> bool:
        return name.startswith("block:") or (self.root / name).is_file()

    def value(self, name: str) -> Any:
        if name not in self.cache:
            if name.startswith("block:"):
                block = name[len("block:"):].strip()
                if block not in self.blocks:
                    raise _Missing(f"no block {block!r} (blocks: {', '.join(sorted(self.blocks)) or 'none'})")
                found = self.blocks[block]
                try:
                    self.cache[name] = found() if callable(found) else found
                except Exception as error:  # a block's code failed (a file it reads is missing, ...): say where
                    raise _Missing(f"block {block!r} failed: {type(error).__name__}: {error}") from error
            else:
                path = self.root / name
                if not path.is_file():
                    raise _Missing(f"no file {path}")
                text = path.read_text(encoding="utf-8")
                try:
                    self.cache[name] = json.loads(text) if path.suffix == ".json" else text.strip()
                except json.JSONDecodeError as error:
                    raise _Missing(f"{path} is not JSON: {error}") from None
        return self.cache[name]


def _parse(inner: str) -> tuple[str, str, str]:
    """``SOURCE [: KEY [: FORMAT]]`` -> (source, key, format); a block's source keeps its ``block:`` prefix."""
    parts = [p.strip() for p in inner.split(":")]
    if parts[0] == "block":
        parts = [f"block:{parts[1] if len(parts) > 1 else ''}"] + parts[2:]
    if len(parts) > 3 or not parts[0] or parts[0] == "block:":
        raise _Missing("expected SOURCE [: KEY [: FORMAT]] or block: NAME [: KEY [: FORMAT]]")
    return parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else ""


def _lookup(value: Any, key: str, source: str) -> Any:
    scale = SCALE.fullmatch(key)
    path = scale.group(1) if scale else key
    for part in path.split(".") if path else []:
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            raise _Missing(f"{source} has no {part!r} (in key {path!r})")
    if scale:
        factor = float(scale.group(3))
        value = value * factor if scale.group(2) == "*" else value / factor
    return value


def _fill(match: re.Match, source: _Source) -> str:
    try:
        name, key, spec = _parse(match.group(1))
        value = _lookup(source.value(name), key, name)
        if spec in NAMED_FORMATS:
            return NAMED_FORMATS[spec](value)
        try:
            return format(value, spec)
        except (TypeError, ValueError) as error:
            raise _Missing(f"cannot format {value!r} with {spec!r}: {error}") from None
    except _Missing as error:
        raise _Missing(f"{match.group(0)}: {error.args[0]}") from error.__cause__


def _holds(match: re.Match, source: _Source) -> bool:
    """Whether an ``{{ if: SOURCE [: KEY] }}`` (or ``if not``) keeps its text: the file exists / the value is true."""
    try:
        name, key, spec = _parse(match.group(2))
        if spec:
            raise _Missing("a condition takes no format")
        found = source.exists(name) and bool(_lookup(source.value(name), key, name))
    except _Missing as error:
        raise _Missing(f"{match.group(0).strip()}: {error.args[0]}") from error.__cause__
    return found != (match.group(1) == "if not")


def render(template: Path, root: Path, blocks: Blocks | None = None) -> str:
    """``template`` with every placeholder filled from the files under ``root`` and from ``blocks``.

    Raises:
        TemplateError: a file, key or block is missing, a format does not apply, or an ``if`` is not closed.
    """
    source, out = _Source(root, blocks or {}), []
    shown: list[tuple[int, bool]] = []  # the open ifs: (line, whether their lines appear)
    for number, line in enumerate(Path(template).read_text(encoding="utf-8").splitlines(keepends=True), 1):
        directive = DIRECTIVE.fullmatch(line.strip())
        try:
            if COMMENT.fullmatch(line.strip()):
                continue
            if directive and not directive.group(1):
                if not shown:
                    raise _Missing(f"{line.strip()}: an end without an if")
                shown.pop()
            elif directive:
                shown.append((number, all(v for _, v in shown) and _holds(directive, source)))
            elif all(v for _, v in shown):
                line = INLINE_IF.sub(lambda m: m.group(3) if _holds(m, source) else "", line)
                out.append(PLACEHOLDER.sub(lambda m: _fill(m, source), line))
        except _Missing as error:
            raise TemplateError(f"{template}:{number}: {error.args[0]}") from error.__cause__
    if shown:
        raise TemplateError(f"{template}:{shown[-1][0]}: an if without an end")
    return "".join(out)


def github_anchor(title: str, taken: dict[str, int]) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation but ``-`` and ``_`` dropped, spaces to ``-``; a
    repeated one gets ``-1``, ``-2``, ... (``taken`` counts the anchors seen so far on the page)."""
    anchor = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
    count = taken.get(anchor, 0)
    taken[anchor] = count + 1
    return anchor if count == 0 else f"{anchor}-{count}"


def with_contents(page: str) -> str:
    """``page`` with a list of links to its ``## `` sections before the first of them (headings inside code
    fences are not sections)."""
    lines, fenced, taken, links, first = page.splitlines(keepends=True), False, {}, [], None
    for number, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            level, _, title = line.rstrip("\n").partition(" ")
            anchor = github_anchor(title, taken)  # every heading takes its anchor, listed or not
            if level == "##":
                first = number if first is None else first
                links.append(f"[{title.strip()}](#{anchor})")
    if not links:
        return page
    contents = "Contents: " + " · ".join(links) + "\n\n"
    return "".join(lines[:first]) + contents + "".join(lines[first:])
