"""The repository's parts keep to their places: tests import the package, never a benchmark;
benchmarks import the package and each other, never a test (what both need lives in the
package, as mnistnp.synth does); and no page or script names a path of a developer's machine."""

from __future__ import annotations

import ast
import re
import subprocess
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tracked(*folders: str) -> list[Path]:
    """The files git tracks under ``folders`` (what a clone has; not what a run wrote)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--", *folders], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return [ROOT / name for name in listed if name and (ROOT / name).is_file()]


def imported_names(path: Path) -> set[str]:
    """The top-level module names a Python file imports (``import a.b`` and ``from a import``
    give ``a``; relative imports are left out)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def python_files(folder: str) -> list[Path]:
    return [p for p in tracked(folder) if p.suffix == ".py"]


def test_tests_do_not_import_benchmarks() -> None:
    benchmark_modules = {p.stem for p in python_files("benchmarks")}
    for path in python_files("tests"):
        if path == Path(__file__).resolve():
            continue  # this file names both folders to look in them
        text = path.read_text(encoding="utf-8")
        assert not imported_names(path) & benchmark_modules, path.name
        assert not re.search(r"""["']benchmarks["']""", text), f"{path.name} reaches benchmarks/"


def test_benchmarks_do_not_import_tests() -> None:
    test_modules = {p.stem for p in python_files("tests")}
    for path in python_files("benchmarks"):
        text = path.read_text(encoding="utf-8")
        assert not imported_names(path) & test_modules, path.name
        assert not re.search(r"""["']tests["']""", text), f"{path.name} reaches tests/"


MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|tmp|root)/")


def test_no_page_or_script_names_a_path_of_a_developers_machine() -> None:
    found = []
    for path in [ROOT / "README.md", *tracked("docs", "benchmarks", "lab", ".ci")]:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a binary file
        for number, line in enumerate(text.splitlines(), 1):
            if MACHINE_PATH.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_no_test_file_records_a_path_of_the_machine_that_wrote_it() -> None:
    # Files written by older code keep what they recorded (a data folder, the command), but a
    # temporary folder of the machine that made them is scrubbed (see tests/data/README.md).
    pattern = re.compile(MACHINE_PATH.pattern.encode())
    found = []
    for path in tracked("tests/data"):
        data = path.read_bytes()
        if path.suffix == ".npz":
            with zipfile.ZipFile(path) as z:
                data = b"".join(z.read(name) for name in z.namelist())
        if pattern.search(data):
            found.append(str(path.relative_to(ROOT)))
    assert not found, found
