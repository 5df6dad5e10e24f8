"""Keep docs/api.md's reference in step with the docstrings: list every public name and its summary.

    python docs/make_api_md.py           # rewrite the reference block of docs/api.md
    python docs/make_api_md.py --check   # exit 1 if it is out of date (the tests run this)

The block between ``<!-- generated: reference -->`` and ``<!-- end generated -->`` lists, module
by module, every public name (``public_names``) with the first paragraph of its docstring; the
rest of docs/api.md is written by hand. tests/test_docstrings.py walks the same names to check
their docstrings.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

API_MD = Path(__file__).resolve().parent / "api.md"
BLOCK = re.compile(r"(<!-- generated: reference -->\n)(.*?)(<!-- end generated -->)", re.S)

# Whose public names are the API: the package's, nn's and optim's ``__all__``, then the modules
# docs/api.md's table lists (their ``__all__``, else every name they define without a leading
# underscore). The cli is the command, described in cli.md, so it is left out.
MODULES = [
    "mnistnp", "mnistnp.nn", "mnistnp.optim", "mnistnp.data", "mnistnp.dataset_registry",
    "mnistnp.classes", "mnistnp.splits", "mnistnp.datasets", "mnistnp.sources", "mnistnp.download",
    "mnistnp.step", "mnistnp.training", "mnistnp.grad_hooks",
    "mnistnp.sampling", "mnistnp.callbacks", "mnistnp.progress", "mnistnp.model_config",
    "mnistnp.train_config", "mnistnp.config", "mnistnp.optim_config", "mnistnp.pipeline",
    "mnistnp.experiment", "mnistnp.run_result", "mnistnp.run_resume", "mnistnp.run_errors",
    "mnistnp.plan", "mnistnp.model_info", "mnistnp.describe", "mnistnp.loop_state",
    "mnistnp.metrics", "mnistnp.model_file", "mnistnp.onnx_export", "mnistnp.images",
    "mnistnp.plots", "mnistnp.sklearn", "mnistnp.serve", "mnistnp.training_world", "mnistnp.mpi",
    "mnistnp.sweep",
]


def module_names(module_name: str) -> list[tuple[str, Any]]:
    """The public functions and classes of one module, as it exports them.

    Parameters
    ----------
    module_name : str
        A dotted module name, such as ``"mnistnp.metrics"``.

    Returns
    -------
    list of (str, object)
        Each public name and the function or class it names, in ``__all__``'s order, else
        alphabetically; constants, modules and names imported from elsewhere (when the module
        has no ``__all__``) are left out.
    """
    module = importlib.import_module(module_name)
    exported = getattr(module, "__all__", None)
    names = exported if exported is not None else sorted(vars(module))
    found = []
    for name in names:
        if name.startswith("_"):
            continue
        obj = getattr(module, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if exported is None and obj.__module__ != module_name:
            continue
        found.append((name, obj))
    return found


def members(cls: type) -> Iterator[tuple[str, Any]]:
    """The public methods and properties a class defines itself (not those it inherits).

    Parameters
    ----------
    cls : type
        A class.

    Yields
    ------
    (str, object)
        Each public member's name and its function (unwrapped from ``staticmethod`` or
        ``classmethod``) or property, in the order of the class body.
    """
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if inspect.isfunction(value) or isinstance(value, property):
            yield name, value


def public_names() -> Iterator[tuple[str, str, Any]]:
    """Every public name of the API, once, where it is first exported.

    Yields
    ------
    (str, str, object)
        The module it is listed under, its name there (``"Sequential.predict"`` for a method)
        and the object.
    """
    seen: set[int] = set()
    for module_name in MODULES:
        for name, obj in module_names(module_name):
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            yield module_name, name, obj
            if inspect.isclass(obj):
                for member, value in members(obj):
                    yield module_name, f"{name}.{member}", value


def summary(obj: Any) -> str:
    """The first paragraph of an object's docstring (its own or the one it inherits), on one line.

    Parameters
    ----------
    obj : object
        A function, class or property.

    Returns
    -------
    str
        The summary, or ``""`` when there is no docstring.
    """
    doc = inspect.getdoc(obj) or ""
    return " ".join(doc.split("\n\n")[0].split())


def inherits_doc(obj: Any) -> bool:
    """Whether ``obj`` (an overriding method) has no docstring of its own but its base's."""
    target = obj.fget if isinstance(obj, property) else obj
    return target.__doc__ is None and bool(inspect.getdoc(target))


def render() -> str:
    """The body of the reference block: a table of names and summaries per module.

    A method overriding a documented one without a docstring of its own (a layer kind's
    ``forward``) is left to the row of the class that documents it.
    """
    lines: list[str] = []
    current = None
    for module_name, name, obj in public_names():
        if "." in name and inherits_doc(obj):
            continue
        if module_name != current:
            current = module_name
            lines += ["", f"### `{module_name}`", "", "| name | summary |", "|---|---|"]
        kind = "class " if inspect.isclass(obj) else ""
        text = summary(obj).replace("|", "\\|")
        lines.append(f"| {kind}`{name}` | {text} |")
    return "\n".join(lines).lstrip("\n") + "\n"


def regenerate(text: str) -> str:
    """docs/api.md's text with its reference block rewritten."""
    if not BLOCK.search(text):
        raise SystemExit("docs/api.md: no '<!-- generated: reference -->' block")
    return BLOCK.sub(lambda m: m.group(1) + render() + m.group(3), text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only say whether docs/api.md is up to date (exit 1 if not)")
    args = parser.parse_args()
    text = API_MD.read_text(encoding="utf-8")
    new = regenerate(text)
    if args.check:
        if new != text:
            print("docs/api.md's reference is out of date with the docstrings: run "
                  "python docs/make_api_md.py", file=sys.stderr)
            return 1
        return 0
    if new != text:
        API_MD.write_text(new, encoding="utf-8")
        print("docs/api.md rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
