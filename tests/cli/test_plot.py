"""``mnistnp plot``: a model file's or run folder's pictures, written where asked, each a PNG;
a path that is neither is one line and exit 1."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import cli
from PIL import Image

from mnistnp.pictures import PICTURES


def test_plot_writes_a_model_files_pictures_into_out(trained_model: Path, session_idx_dir: Path,
                                                     tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pictures" / "here"
    assert cli("plot", trained_model, "--data-dir", session_idx_dir, "--out", out) == 0
    lines = capsys.readouterr().out.splitlines()
    written = [Path(line.removeprefix("wrote ")) for line in lines if line.startswith("wrote ")]
    skipped = [line for line in lines if line.startswith("not drawn: ")]
    assert len(written) + len(skipped) == len(PICTURES)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)
    for path in written:
        with Image.open(path) as image:
            assert image.format == "PNG" and min(image.size) >= 300
    # The tiny model gets every test image right: no mistakes to show, and it says so.
    assert skipped == ["not drawn: mistakes.png: the model makes no mistakes on this data"]


def test_plot_of_a_run_folder_writes_into_it(trained_model: Path, session_idx_dir: Path,
                                             tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(trained_model, run / "model.npz")
    assert cli("plot", run, "--data-dir", session_idx_dir) == 0
    assert {"confusion_matrix.png", "first_layer.png", "reliability.png"} <= {
        p.name for p in run.iterdir()}


@pytest.mark.parametrize("kind", ["missing", "empty-folder", "seeds"])
def test_plot_of_no_model_is_one_line(kind: str, trained_model: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "target"
    if kind != "missing":
        target.mkdir()
    if kind == "seeds":
        for seed in (0, 1):
            (target / f"seed-{seed}").mkdir()
            shutil.copy(trained_model, target / f"seed-{seed}" / "model.npz")
    assert cli("plot", target) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mnistnp: error: {target}: "), captured.err
    expected = {"missing": "no such model file or run folder",
                "empty-folder": "not a run folder (it holds no model.npz)",
                "seeds": "a run of several seeds; give one of its folders (seed-0, seed-1)"}
    assert lines[0].endswith(expected[kind])
    assert captured.out == ""
