"""How a layer kind is written in a layer string: the values after its name (``Arg``,
``Shorthand``) and the readers that check each value (``whole``, ``fraction``, ...)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


# The default of a value an item must give.
REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Arg:
    """One value of a layer-string item, as ``256`` in ``dense:256``: its placeholder in the
    usage (``N``), ``parse``, which turns the text into the value or raises ValueError
    saying what the value must be ("a whole number >= 1"), and the value taken when the item
    leaves it out (only the last values of an item may have one)."""

    placeholder: str
    parse: Callable[[str], Any]
    default: Any = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Shorthand:
    """How a layer kind is written in a layer string: the values after its name, and one line
    of help."""

    args: tuple[Arg, ...] = ()
    help: str = ""

    def __post_init__(self) -> None:
        flags = [a.required for a in self.args]
        if flags != sorted(flags, reverse=True):
            raise TypeError("only the last values of a layer-string item may be left out")

    @property
    def least(self) -> int:
        """How many values an item must give."""
        return sum(a.required for a in self.args)

    def usage(self, name: str) -> str:
        """``dense:N``, ``conv:F:K[:S[:PAD]]``: the name and its values' placeholders, those
        that may be left out in brackets."""
        required = [name, *(a.placeholder for a in self.args if a.required)]
        optional = [a.placeholder for a in self.args if not a.required]
        return ":".join(required) + "".join(f"[:{p}" for p in optional) + "]" * len(optional)


# Readers of layer-string values; each raises ValueError saying what the value must be.

def whole(low: int, high: int | None = None) -> Callable[[str], int]:
    """A whole number in [low, high] (no upper bound without ``high``)."""
    what = f"a whole number >= {low}" if high is None else f"a whole number from {low} to {high}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            raise ValueError(what)
        return value
    return parse


def fraction(text: str) -> float:
    """A number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < 1:
        raise ValueError("a number in [0, 1)")
    return value


def number(low: float, high: float) -> Callable[[str], float]:
    """A number in [low, high]."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not low <= value <= high:
            raise ValueError(f"a number from {low:g} to {high:g}")
        return value
    return parse


def one_of(*words: str) -> Callable[[str], str]:
    """One of ``words``."""
    def parse(text: str) -> str:
        if text not in words:
            raise ValueError(" or ".join(words))
        return text
    return parse
