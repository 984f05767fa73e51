"""Command-line flags made from a config dataclass's fields: one flag per field, its type, choices and help.

A command line over :func:`tf_aspmtl.training.run` needs a flag for every :class:`TrainConfig` field; written by
hand, each flag repeats the field's type, choices and meaning, and drifts from it. Here the flags come from the
fields (``embedding_dim`` -> ``--embedding-dim``), their help from the config's field documentation, and every
value given is checked by the config itself, so a bad value is refused with the flag named.

Example:

```python
parser = argparse.ArgumentParser()
add_config_arguments(parser, TrainConfig, TRAIN_CONFIG_HELP, TRAIN_CONFIG_CHOICES, skip=("tasks",))
args = parser.parse_args(["--hidden-dim", "64", "--optimizer", "adagrad"])
config = config_from_arguments(args, TrainConfig)  # TrainConfig(hidden_dim=64, optimizer="adagrad", ...)
```
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

_TYPES = {"int": int, "float": float, "str": str}
DEST_PREFIX = "config."
"""The parsed values live under ``config.<field>`` in the namespace, apart from a command line's own flags."""


def flag_name(field: str) -> str:
    """The flag of a config field: ``embedding_dim`` -> ``--embedding-dim``."""
    return "--" + field.replace("_", "-")


def add_config_arguments(parser: argparse.ArgumentParser, config_class: type, help: Mapping[str, str],
                         choices: Mapping[str, Collection[str]] | None = None, only: Iterable[str] | None = None,
                         skip: Iterable[str] = (), defaults: Mapping[str, Any] | None = None) -> None:
    """Adds one flag per field of the dataclass ``config_class`` (those in ``only``, if given, but not in ``skip``).

    Args:
        parser: the parser (or argument group) to add to.
        config_class: a dataclass whose fields are ``int``, ``float``, ``str`` or ``bool``.
        help: field -> help text; a field without one gets its default.
        choices: field -> allowed values (the flag lists them).
        only, skip: which fields.
        defaults: field -> the flag's default; otherwise None, so :func:`config_from_arguments` can tell a flag given
            from one left out (the config's own default applies).

    Raises:
        TypeError: a field of another type (give it a flag of your own and ``skip`` it).
    """
    only = None if only is None else set(only)
    skip, choices, defaults = set(skip), choices or {}, defaults or {}
    for field in dataclasses.fields(config_class):
        if field.name in skip or (only is not None and field.name not in only):
            continue
        kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
        text = help.get(field.name, "")
        default = field.default if field.default is not dataclasses.MISSING else None
        text = f"{text} (default: {default})" if text else f"default: {default}"
        options: dict[str, Any] = {"dest": DEST_PREFIX + field.name, "default": defaults.get(field.name),
                                   "help": text, "metavar": None if kind == "bool" else field.name.upper()}
        if kind == "bool":
            options["action"] = argparse.BooleanOptionalAction
        elif kind in _TYPES:
            options["type"] = _TYPES[kind]
        else:
            raise TypeError(f"{config_class.__name__}.{field.name} is a {kind}: no flag is made for it; skip it")
        if field.name in choices:
            options["choices"] = sorted(choices[field.name])
            options["metavar"] = "{" + ",".join(options["choices"]) + "}"
        parser.add_argument(flag_name(field.name), **options)


def given_fields(args: argparse.Namespace, config_class: type) -> dict[str, Any]:
    """The fields of ``config_class`` whose flags (made by :func:`add_config_arguments`) were given."""
    return {f.name: getattr(args, DEST_PREFIX + f.name) for f in dataclasses.fields(config_class)
            if getattr(args, DEST_PREFIX + f.name, None) is not None}


def name_flags(error: ValueError, config_class: type) -> ValueError:
    """``error`` with each ``Config.field`` it names followed by its flag (``TrainConfig.epochs (--epochs)``)."""
    prefix = re.escape(config_class.__name__)
    text = re.sub(rf"\b{prefix}\.(\w+)", lambda m: f"{m.group(0)} ({flag_name(m.group(1))})", str(error))
    return ValueError(text)


def config_from_arguments(args: argparse.Namespace, config_class: type, base: Mapping[str, Any] | None = None,
                          **fixed: Any):
    """``config_class`` from ``base`` values, then the flags given, then ``fixed``; checked by the config.

    Raises:
        ValueError: the config refused a value; the message names the field and its flag.
    """
    values = {**(base or {}), **given_fields(args, config_class), **fixed}
    try:
        return config_class.from_dict(values, where="command line")
    except ValueError as err:
        raise name_flags(err, config_class) from None
