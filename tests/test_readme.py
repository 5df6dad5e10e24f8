"""The README stays true: it opens with the two commands (install and train, install and test),
CI runs its test command verbatim, its Python API example (and docs/api.md's longer one) runs
as written in an empty folder, and every file or folder of the repository it names exists.
docs/cli.md's generated blocks match the parser."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of the README's ``## title`` section, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"no section '## {title}' in README.md"
    return match.group(1)


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", text, re.M | re.S)


def test_the_api_section_has_one_example_with_no_placeholders() -> None:
    (code,) = python_blocks(section("Using the Python API"))
    live = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith("#"))
    for placeholder in ("path/to", "fashion-mnist", "my-idx-folder", "..."):
        assert placeholder not in live, placeholder  # only in comments: optional parts


def sh_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"^```sh\n(.*?)^```$", text, re.M | re.S)]


def test_the_readme_opens_with_the_install_and_train_and_the_test_commands() -> None:
    before_first_section = README.split("\n## ", 1)[0]
    install_and_train, install_and_test = sh_blocks(before_first_section)
    for command in (install_and_train, install_and_test):
        assert "\n" not in command and command.startswith("python3 -m venv .venv && "), command
    assert install_and_train.endswith("pip install . && mnistnp train")
    assert install_and_test.endswith("pip install -e '.[test]' && python -m pytest")
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert f"`{name}`" in before_first_section, name  # where users' own data goes


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    _, install_and_test = sh_blocks(README.split("\n## ", 1)[0])
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert install_and_test in ci


def run_example(code: str, folder: Path) -> subprocess.CompletedProcess[str]:
    (folder / "example.py").write_text(code, encoding="utf-8")
    done = subprocess.run([sys.executable, "example.py"], cwd=folder, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert {p.name for p in folder.iterdir()} == {"example.py", "metrics.jsonl", "model.npz",
                                                  "digit.png"}
    # The accuracies it prints on their own lines: two test accuracies, sane for MNIST.
    alone = [float(line) for line in done.stdout.splitlines() if re.fullmatch(r"0\.\d+", line)]
    assert len(alone) == 2 and all(0.9 < a < 1 for a in alone), alone
    assert re.search(r"^\d true: 7$", done.stdout, re.M)  # the first test digit is a 7
    return done


def epoch_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stdout.splitlines() if re.match(r"epoch \d+/\d+: loss ", line)]


@pytest.mark.slow  # trains on the bundled MNIST
def test_the_api_example_runs_as_written(tmp_path: Path) -> None:
    (code,) = python_blocks(section("Using the Python API"))
    assert len([line for line in code.splitlines() if line.strip()]) <= 30  # short
    done = run_example(code, tmp_path)
    assert len(epoch_lines(done)) == 3  # the fit's TextLog; the recipe run prints nothing
    metrics = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(metrics) == 3  # one line per epoch of the fit


@pytest.mark.slow  # trains on the bundled MNIST
def test_the_longer_api_example_runs_as_written(tmp_path: Path) -> None:
    (code,) = python_blocks((ROOT / "docs" / "api.md").read_text(encoding="utf-8"))
    done = run_example(code, tmp_path)
    assert len(epoch_lines(done)) >= 3 + 2 + 2  # both fits, early stopping aside
    metrics = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert 2 <= len(metrics) <= 4  # one line per epoch of the scheduled run


def test_the_cli_reference_is_generated_from_the_parser() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "make_cli_md.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_cli_reference_describes_every_layer_item() -> None:
    from mnistnp.nn import SHORTHANDS

    cli = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for name in SHORTHANDS:
        assert re.search(rf"^\| `{name}[:`]", cli, re.M), name  # a row of the items table


def tracked_paths(root: Path) -> set[str]:
    """Every file the repository tracks under ``root``, and every folder holding one, relative
    to it: what a fresh clone has. Untracked files (``runs/`` from ``mnistnp train``, ``.venv``,
    build output) are left out, so what a user's commands write into a clone changes nothing.
    Outside a git checkout (an unpacked sdist), whatever is there."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True,
                                check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        return {str(p.relative_to(root)) for p in root.rglob("*")}
    paths = set()
    for name in filter(None, listed):
        parts = name.split("/")
        paths.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    return paths


TRACKED = tracked_paths(ROOT)
# Where a README may point inside the repository: the top-level entries of a fresh clone.
REPO_TOP = {path for path in TRACKED if "/" not in path}


def referenced_paths(text: str) -> set[str]:
    """Paths a Markdown text names: link targets, and words in code spans that start with one
    of the repository's top-level entries or look like a file under a folder (a/b.py)."""
    paths = {target for target in re.findall(r"\]\(([^)#\s]+)[^)]*\)", text)
             if not re.match(r"[a-z]+:", target)}  # not http:, mailto: ...
    for span in re.findall(r"`([^`\n]+)`", text):
        for word in span.split():
            word = word.strip("'\"(),;")
            top = word.split("/")[0]
            if "/" in word and (top in REPO_TOP - {"README.md"}
                                or re.search(r"\.(py|md|ipynb|toml|cfg|sh|txt|json)$", word)):
                paths.add(word)
    return paths


def test_the_path_finder_finds_links_and_paths_in_code() -> None:
    text = ("See [the log](docs/log.md#runs), [a site](https://example.org/a.md), run "
            "`python benchmarks/x.py --fast` or `.ci/run`; `notes/old.ipynb`, `runs/<stamp>/`, "
            "`settings.json`, `MNISTNP_MIRRORS=file:///srv/mnist/` and `src/mnistnp/data/`.")
    assert referenced_paths(text) == {"docs/log.md", "benchmarks/x.py", ".ci/run",
                                      "notes/old.ipynb", "src/mnistnp/data/"}


def test_only_tracked_files_count_as_the_repository(tmp_path: Path) -> None:
    # A clone in which `mnistnp train` wrote runs/ and a venv was made: neither is the
    # repository, so neither may become a top-level entry or a path the README may name.
    git = ["git", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "cli.md").write_text("x")
    (tmp_path / "README.md").write_text("x")
    subprocess.run(["git", "add", "README.md", "docs/cli.md"], cwd=tmp_path, check=True)
    for untracked in ("runs/20261129-234031", ".venv/bin", "docs/scratch"):
        (tmp_path / untracked).mkdir(parents=True)
        (tmp_path / untracked / "file.txt").write_text("x")
    assert tracked_paths(tmp_path) == {"README.md", "docs", "docs/cli.md"}


def test_every_repository_path_the_readme_names_exists() -> None:
    paths = referenced_paths(README)
    missing = sorted(p for p in paths if p.rstrip("/") not in TRACKED)
    assert not missing, f"README.md names paths that are not in the repository: {missing}"
