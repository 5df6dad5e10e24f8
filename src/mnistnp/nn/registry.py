"""The registries every layer class joins by being defined (``Layer.__init_subclass__``): its
kind, which rebuilds it from a model file, and its names in a layer string (``dense:256``)."""

from __future__ import annotations

from typing import Any

from .shorthand import Shorthand

# The classes are ``Layer`` subclasses, typed here as any class: ``base`` imports this module,
# and modules import one way (not even for type hints back).
# kind -> class: how a model file's layer spec finds the class that rebuilds it.
LAYERS: dict[str, type[Any]] = {}
# name in a layer string -> (class, how it is written).
SHORTHANDS: dict[str, tuple[type[Any], Shorthand]] = {}


def register(cls: type[Any]) -> None:
    """Enter ``cls`` under its shorthands and, if it sets its own kind, under that kind.

    Only a class that sets its own kind is a new kind; a subclass that does not is a variant of
    its parent (a test's spy, say) and rebuilds as the parent. Every name is checked before any
    is taken, so a clash leaves the registries as they were."""
    shorthands = cls.__dict__.get("shorthands", {})
    entries: list[tuple[dict[str, Any], str, Any]] = [
        (SHORTHANDS, name, (cls, shorthand)) for name, shorthand in shorthands.items()]
    if "kind" in cls.__dict__:
        entries.append((LAYERS, cls.kind, cls))
    for table, key, _ in entries:
        _check_free(table, key, cls)
    for table, key, value in entries:
        table[key] = value


def _check_free(table: dict[str, Any], key: str, cls: type) -> None:
    """TypeError if ``key`` is taken in a registry by another class (a programming error);
    the same class defined again (a module reloaded) may take its place."""
    held = table.get(key)
    owner = held[0] if isinstance(held, tuple) else held
    if owner is not None and (owner.__module__, owner.__qualname__) != (cls.__module__,
                                                                        cls.__qualname__):
        raise TypeError(f"layer name {key!r} of {cls.__qualname__} is taken by "
                        f"{owner.__module__}.{owner.__qualname__}")
