"""One definition of each setting: a dataclass field declared with `setting(...)` carries
its command-line option (flag, help, choices, bounds) in its metadata, beside its name,
type and default. The CLI's options (`add_options`), the values read back from them
(`option_values`) and the command lines built for jobs (`option_argv`) all come from
those fields, so a setting is declared once.

Booleans are flags: `--name` turns on a setting that defaults to False, `--no-name`
turns off one that defaults to True.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

META = "option"


@dataclass(frozen=True)
class Option:
    """How a dataclass field appears on the command line."""

    help: str
    choices: tuple | None = None
    low: float | None = None  # bounds, inclusive, for numbers
    high: float | None = None
    flag: str | None = None  # default: --field-name (--no-field-name for True booleans)


def setting(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    choices: Sequence | None = None,
    low: float | None = None,
    high: float | None = None,
    flag: str | None = None,
) -> Any:
    """A dataclass field that is also a command-line option."""
    option = Option(help, tuple(choices) if choices else None, low, high, flag)
    return field(default=default, metadata={META: option})


def bounded(low: float, high: float, kind: type = int) -> Callable[[str], float]:
    """An argparse type: a number of `kind` within [low, high], else a clear error."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            what = "whole number" if kind is int else "number"
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range: use {low} to {high}")
        return value

    parse.__name__ = f"{kind.__name__} in [{low}, {high}]"
    return parse


def csv_list(text: str | None) -> list[str]:
    """The items of a comma-separated option value, stripped; [] for none."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def option_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of dataclass `cls` that are command-line options, in order."""
    return [f for f in dataclasses.fields(cls) if META in f.metadata]


def flag_of(item: dataclasses.Field) -> str:
    option: Option = item.metadata[META]
    if option.flag:
        return option.flag
    name = item.name.replace("_", "-")
    return f"--no-{name}" if item.default is True else f"--{name}"


def _value_type(hint) -> type:
    """The type a field's annotation allows besides None (`int` for `int | None`)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def add_options(parser: argparse.ArgumentParser, cls: type, *, skip: Collection[str] = ()) -> None:
    """Add an option to `parser` for each option field of `cls` (but those in `skip`):
    a field without a default is a required option."""
    hints = typing.get_type_hints(cls)  # once: it evaluates every annotation
    for item in option_fields(cls):
        if item.name in skip:
            continue
        option: Option = item.metadata[META]
        kind = _value_type(hints[item.name])
        flag, keywords = flag_of(item), {"dest": item.name, "help": option.help}
        if kind is bool:
            keywords["action"] = "store_false" if item.default is True else "store_true"
        else:
            if option.choices is None:  # argparse shows {a,b,...} for choices
                keywords["metavar"] = flag.removeprefix("--").upper().replace("-", "_")
            if item.default is dataclasses.MISSING:
                keywords["required"] = True
            else:
                keywords["default"] = item.default
            keywords["choices"] = option.choices
            if option.low is not None:
                keywords["type"] = bounded(option.low, option.high, kind)
            elif kind in (int, float):
                keywords["type"] = kind
        parser.add_argument(flag, **keywords)


def option_values(cls: type, args: argparse.Namespace, *, skip: Collection[str] = ()) -> dict:
    """The values of `cls`'s option fields that `add_options` put in `args`."""
    return {f.name: getattr(args, f.name) for f in option_fields(cls) if f.name not in skip}


def option_argv(settings: Any, *, skip: Collection[str] = ()) -> list[str]:
    """The options that give `settings` (a dataclass instance) back: every set value,
    and each boolean flag whose value is not its default."""
    argv: list[str] = []
    for item in option_fields(type(settings)):
        value = getattr(settings, item.name)
        if item.name in skip or value is None:
            continue
        if isinstance(value, bool):
            argv += [flag_of(item)] if value != item.default else []
        else:
            argv += [flag_of(item), str(value)]
    return argv
