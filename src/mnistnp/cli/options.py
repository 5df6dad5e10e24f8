"""Parsers for command-line values: each rejects a bad value with a message argparse prefixes
with the option's name, so a usage error names the option and exits 2 before anything runs."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from .. import datasets


def _number(kind: Callable[[str], float], test: Callable[[float], bool], what: str
            ) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return parse


positive_int = _number(int, lambda v: v >= 1, "a whole number >= 1")
natural_int = _number(int, lambda v: v >= 0, "a whole number >= 0")
positive_float = _number(float, lambda v: math.isfinite(v) and v > 0, "a finite number > 0")
unit_float = _number(float, lambda v: 0 <= v < 1, "a number in [0, 1)")
# For the optimizer's and schedule's settings, whose constructors check their values.
real = _number(float, lambda v: True, "a number")
whole = _number(int, lambda v: True, "a whole number")


def hidden_sizes(text: str) -> tuple[int, ...]:
    """'50,50,50' -> (50, 50, 50); every width a whole number >= 1."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated widths >= 1 such as 50,50,50, got {text!r}")
    return sizes


def batch_size(text: str) -> int:
    """A whole number >= 1, or 'full' (returned as 0) for the whole training set."""
    return 0 if text == "full" else int(positive_int(text))


def val_split(text: str) -> float:
    """A fraction in [0, 1) or a whole count >= 1 of held-out training samples."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0 and (value < 1 or value.is_integer())):
        raise argparse.ArgumentTypeError(
            f"expected a fraction in [0, 1) or a whole count, got {text!r}")
    return value


def folder(text: str) -> Path:
    """A folder to write in, made if missing; refused if it, or the first of its parents that
    exists, is a file (mkdir's 'File exists' would not say which)."""
    path = Path(text)
    there = next((p for p in (path, *path.parents) if p.exists()), None)
    if there is not None and not there.is_dir():
        raise argparse.ArgumentTypeError(f"{there} is a file, not a folder; give a folder's "
                                         "name (it is made if missing)")
    return path


class UsageError(Exception):
    """A combination of options that cannot work; reported like argparse's errors (exit 2)."""


class Exit(Exception):
    """End the command with this status; what to say has been said."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def add_data_options(parser: argparse.ArgumentParser, default: str = "mnist") -> None:
    """--dataset NAME | --data-dir DIR, shared by train and evaluate."""
    group = parser.add_argument_group("data")
    group.add_argument("--dataset", choices=sorted(datasets.REGISTRY),
                       help=f"a known dataset (default: {default}; mnist is bundled)")
    group.add_argument("--data-dir", type=Path, metavar="DIR",
                       help="a folder holding the four standard IDX files (.gz or not); with "
                       "--dataset, that dataset's files (checked against its checksums) "
                       "(default: none, so the dataset's own place, such as the cache)")
    group.add_argument("--download", action="store_true",
                        help="first fetch the dataset (into the cache, or --data-dir) if it is "
                        "missing or corrupt")
