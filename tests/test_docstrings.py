"""Every public name has a numpydoc docstring, and docs/api.md's reference lists them all.

The names are those docs/make_api_md.py walks: ``mnistnp.__all__``, ``mnistnp.nn.__all__``,
``mnistnp.optim.__all__``, the modules docs/api.md lists, and the public methods and properties
of every public class. A method overriding a documented one (a layer's ``forward``) may take the
base's docstring, as ``inspect.getdoc`` and Sphinx do. The checks, each failing with the list of
offenders:

- GL08: a docstring at all;
- SS01: a summary line, which docs/api.md's reference shows;
- SS06: the summary on one line (the rest of its paragraph below a blank line), not ending in a
  colon: the reference shows that line alone;
- PR01: every parameter documented (a class's in Parameters or, for a record, Attributes), for
  a function or class taking an array (an ``ndarray`` annotation), whose caller must learn the
  shape and dtype it wants, and for every function, class and method of the three ``__all__``
  lists (a method overriding a documented one, a layer kind's ``flops``, may say only what it
  does differently: the base's docstring holds the sections);
- RT01: a Returns (or Yields) section, for a function returning arrays, and for every function
  and method of the three ``__all__`` lists that returns something (overrides as above);
- SHAPE: an argument or result annotated as a bare ``np.ndarray`` says its shape and dtype in
  its type (``ndarray of shape (n_samples, 28, 28), dtype uint8``).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from numpydoc.docscrape import NumpyDocString

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_api_md", ROOT / "docs" / "make_api_md.py")
assert _spec is not None and _spec.loader is not None
make_api_md = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_api_md)

# Not yet: modules whose owners are still bringing their docstrings to this standard (a name
# ending in "*" stands for every module it begins). Their names are checked for nothing; delete
# a line once its module passes, and test_the_not_yet_list_... holds it.
NOT_YET: set[str] = set()  # every module passes


def not_yet(module: str) -> str | None:
    """The NOT_YET entry that covers ``module``, if any."""
    for entry in NOT_YET:
        if module == entry or (entry.endswith("*") and module.startswith(entry[:-1])):
            return entry
    return None


def defined_in(obj: Any) -> str:
    target = obj.fget if isinstance(obj, property) else obj
    return getattr(target, "__module__", "") or ""


def signature_of(obj: Any) -> inspect.Signature | None:
    target: Any = obj.fget if isinstance(obj, property) else obj
    if inspect.isclass(target):
        target = target.__init__
        if target is object.__init__:
            return None
    try:
        return inspect.signature(target)
    except (TypeError, ValueError):
        return None


def is_array(annotation: Any) -> bool:
    return "ndarray" in str(annotation)


def is_bare_array(annotation: Any) -> bool:
    return str(annotation).replace("numpy.", "np.") in ("np.ndarray", "<class 'np.ndarray'>")


# The names users meet first: every parameter and result of theirs is documented.
HEADLINE = {"mnistnp", "mnistnp.nn", "mnistnp.optim"}


def problems(obj: Any, headline: bool = False) -> list[str]:
    """What one public name's docstring lacks, as check codes with a word of detail."""
    doc = inspect.getdoc(obj.fget if isinstance(obj, property) else obj)
    if not doc:
        return ["GL08 no docstring"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an unknown section heading is not ours to check
        parsed = NumpyDocString(doc)
    found = [] if parsed["Summary"] else ["SS01 no summary"]
    first = doc.split("\n\n")[0]
    if parsed["Summary"] and ("\n" in first or first.endswith(":")):
        found.append("SS06 summary not on one line")
    sig = signature_of(obj)
    if sig is None or isinstance(obj, property):
        return found
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    params = [p for name, p in sig.parameters.items()
              if name not in ("self", "cls") and not (headline and p.kind in variadic)]
    documented = {}
    for entry in parsed["Parameters"] + parsed["Other Parameters"] + parsed["Attributes"]:
        for name in entry.name.split(","):
            documented[name.strip().lstrip("*")] = entry.type
    if headline or any(is_array(p.annotation) for p in params):
        missing = [p.name for p in params if p.name not in documented]
        if missing:
            found.append(f"PR01 parameters not documented: {', '.join(missing)}")
    for p in params:
        kind = documented.get(p.name)
        if kind is not None and is_bare_array(p.annotation) and not (
                "shape" in kind and "dtype" in kind):
            found.append(f"SHAPE parameter {p.name}: {kind!r}")
    returns_something = str(sig.return_annotation) not in ("None", str(inspect.Signature.empty))
    if not inspect.isclass(obj) and (is_array(sig.return_annotation)
                                      or (headline and returns_something)):
        returns = parsed["Returns"] + parsed["Yields"]
        if not returns:
            found.append("RT01 no Returns section")
        elif is_bare_array(sig.return_annotation) and not any(
                "shape" in r.type and "dtype" in r.type for r in returns):
            found.append(f"SHAPE returns: {returns[0].type!r}")
    return found


def overrides(module_name: str, name: str) -> bool:
    """Whether method ``Class.member`` overrides one a base class documents."""
    cls_name, member = name.split(".")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return any(inspect.getdoc(getattr(base, member, None)) for base in cls.__mro__[1:]
               if hasattr(base, member))


def name_problems(module_name: str, name: str, obj: Any) -> list[str]:
    """``problems`` of one public name, under the stricter rules if it is a headline name."""
    headline = module_name in HEADLINE and ("." not in name or not overrides(module_name, name))
    return problems(obj, headline)


def offenders() -> list[str]:
    found = []
    for module_name, name, obj in make_api_md.public_names():
        if not_yet(defined_in(obj)):
            continue
        found += [f"{module_name}.{name}: {p}" for p in name_problems(module_name, name, obj)]
    return found


def test_every_public_name_has_a_numpydoc_docstring() -> None:
    found = offenders()
    assert not found, f"{len(found)} docstrings fall short:\n" + "\n".join(found)


def test_the_not_yet_list_names_only_modules_that_still_fall_short() -> None:
    # So the list shrinks: a module that passes, or no longer exists, must leave it (a "*"
    # entry may match nothing yet: the modules it stands for are still to come).
    failing = set()
    for module_name, name, obj in make_api_md.public_names():
        entry = not_yet(defined_in(obj))
        if entry and name_problems(module_name, name, obj):
            failing.add(entry)
    passing = {entry for entry in NOT_YET if not entry.endswith("*")} - failing
    assert not passing, f"these now pass; remove them from NOT_YET: {sorted(passing)}"


def test_the_checks_catch_a_missing_docstring_and_an_unshaped_array() -> None:
    def bare(x: np.ndarray) -> np.ndarray:
        return x

    def loose(x: np.ndarray) -> np.ndarray:
        """Double.

        Parameters
        ----------
        x : ndarray
            Anything.

        Returns
        -------
        ndarray
        """
        return 2 * x

    def good(x: np.ndarray, scale: float) -> np.ndarray:
        """Scale.

        Parameters
        ----------
        x : ndarray of shape (n_samples, 28, 28), dtype uint8
            Images.
        scale : float
            The factor.

        Returns
        -------
        ndarray of shape (n_samples, 28, 28), dtype float32
        """
        return scale * x

    assert problems(bare) == ["GL08 no docstring"]
    assert [p.split()[0] for p in problems(loose)] == ["SHAPE", "SHAPE"]
    assert problems(good) == []
    good.__doc__ = "Scale.\n\nParameters\n----------\nx : ndarray of shape (n,), dtype uint8\n"
    assert [p.split()[0] for p in problems(good)] == ["PR01", "RT01"]

    def wrapped(n: int) -> int:
        """Twice ``n``, a summary that runs on
        to a second line."""
        return 2 * n

    assert problems(wrapped) == ["SS06 summary not on one line"]
    wrapped.__doc__ = "Twice ``n``."
    assert problems(wrapped) == []  # no array: the sections are not required
    assert [p.split()[0] for p in problems(wrapped, headline=True)] == ["PR01", "RT01"]


def test_the_api_reference_is_generated_from_the_docstrings() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "make_api_md.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
