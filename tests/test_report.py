"""Tests for mnistnp.report: the report is one HTML document with its pictures embedded as data
URLs, no script and no network address; its numbers are the model's; its architecture rows come
from what each layer says of itself; a run writes it with its pictures, and a failure to draw
leaves the model whole."""

from __future__ import annotations

import base64
import html.parser
import io
import re
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import tiny_arrays
from PIL import Image

from mnistnp.errors import MnistnpWarning
from mnistnp.evaluation import evaluate
from mnistnp.experiment import Run
from mnistnp.model_config import ModelConfig
from mnistnp.model_file import load_model
from mnistnp.nn import network
from mnistnp.pictures import PICTURES, draw_pictures
from mnistnp.report import (
    ReportInputs,
    architecture_rows,
    environment,
    report_html,
)
from mnistnp.run_folder import MODEL, REPORT
from mnistnp.sources import DataSource
from mnistnp.train_config import TrainConfig


class Parsed(html.parser.HTMLParser):
    """The tags, image sources and table cells of an HTML document."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.images: list[str] = []
        self.cells: list[str] = []
        self._cell: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")
        if tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def cell_after(parsed: Parsed, header: str) -> str:
    return parsed.cells[parsed.cells.index(header) + 1]


@pytest.fixture(scope="module")
def tiny_report(trained_model: Path, session_idx_dir: Path) -> tuple[str, Any, Any]:
    """The report of the tiny trained model, scored on the tiny test split."""
    model = load_model(trained_model)
    arrays = tiny_arrays()
    evaluation = evaluate(model, arrays["test_images"], arrays["test_labels"],
                          data="the tiny test split")
    pictures = draw_pictures(model, evaluation, "tiny")
    inputs = ReportInputs(model, trained_model, evaluation, DataSource(None,
                          str(session_idx_dir)), pictures, "tiny on the tiny test split")
    return report_html(inputs), model, evaluation


def test_the_report_is_one_self_contained_document(tiny_report: tuple[str, Any, Any]) -> None:
    text, _, evaluation = tiny_report
    parsed = Parsed(text)
    assert parsed.tags[0] == "html" and "script" not in parsed.tags
    assert "<script" not in text.lower()
    assert not re.search(r"https?://", text)  # nothing to fetch
    assert "href=" not in text and text.count("src=") == len(parsed.images)
    drawn = [name for name in PICTURES if name != "mistakes.png" or
             np.any(evaluation.predicted != evaluation.labels)]
    assert len(parsed.images) == len(drawn)
    for src in parsed.images:
        assert src.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        assert image.format == "PNG" and image.size[0] >= 400


def test_the_reports_numbers_are_the_models(tiny_report: tuple[str, Any, Any]) -> None:
    text, model, evaluation = tiny_report
    parsed = Parsed(text)
    labels = tiny_arrays()["test_labels"]
    expected = 100 * np.mean(np.argmax(model.forward(tiny_arrays()["test_images"]), 1) == labels)
    assert cell_after(parsed, "test") == f"{expected:.2f}%"
    assert cell_after(parsed, "train") == f"{100 * model.info['metrics']['train_accuracy']:.2f}%"
    assert cell_after(parsed, "total") == "" and f"{model.num_params:,}" in parsed.cells
    for c in range(10):  # per-class rows: class, accuracy, images
        row = parsed.cells.index(str(c), parsed.cells.index("images"))
        right = np.sum((labels == c) & (evaluation.predicted == c))
        assert parsed.cells[row + 1] == f"{100 * right / np.sum(labels == c):.2f}%"
        assert parsed.cells[row + 2] == f"{np.sum(labels == c):,}"
    assert cell_after(parsed, "NumPy") == np.__version__


def test_architecture_rows_come_from_the_layers_own_description() -> None:
    model = network("conv:4:3,bn,maxpool:2,dense:16", (28, 28), 10,
                    rng=np.random.default_rng(0))
    rows = architecture_rows(model)
    assert [r["kind"] for r in rows] == [layer.kind for layer in model.layers]
    assert [r["output_shape"] for r in rows] == model.shapes
    assert sum(r["parameters"] for r in rows) == model.num_params
    norm = next(r for r in rows if r["state"])
    assert norm["state"] == {"running_mean": (4,), "running_var": (4,)}


def test_the_environment_names_numpy_its_blas_and_mnistnp() -> None:
    env = environment()
    assert env["NumPy"] == np.__version__
    assert {"Python", "BLAS", "BLAS kernel", "mnistnp", "mnistnp threads"} <= set(env)


# --- at the end of a run ----------------------------------------------------------------------

def tiny_config(folder: Path) -> TrainConfig:
    return TrainConfig(model=ModelConfig(layers="dense:16"), epochs=2, batch_size=64,
                       data_dir=str(folder), dataset=None)


def test_a_run_writes_its_pictures_and_report(session_idx_dir: Path, tmp_path: Path) -> None:
    result = Run(tiny_config(session_idx_dir), tmp_path / "run").execute()
    folder = result.run_dir
    for name in [*PICTURES, REPORT]:
        if name != "mistakes.png" or result.seeds[0].test_accuracy < 1:
            assert (folder / name).is_file(), name
    parsed = Parsed((folder / REPORT).read_text(encoding="utf-8"))
    # Time per epoch: one row per epoch, its seconds as metrics.jsonl has them.
    assert parsed.cells.count("samples/s") == 1
    epochs = [c for c in parsed.cells[parsed.cells.index("samples/s") + 1:]][:14]
    assert epochs[0] == "1" and epochs[7] == "2"


def test_a_failure_to_draw_is_a_warning_and_the_model_is_kept(
        session_idx_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no fonts")

    monkeypatch.setattr("mnistnp.report.draw_pictures", broken)
    with pytest.warns(MnistnpWarning, match="pictures and report were not written .no fonts"):
        result = Run(tiny_config(session_idx_dir), tmp_path / "run").execute()
    assert (result.run_dir / MODEL).is_file() and not (result.run_dir / REPORT).exists()
    assert load_model(result.run_dir / MODEL).num_params > 0


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium")
def test_the_report_opens_in_a_headless_browser(tiny_report: tuple[str, Any, Any],
                                                tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(tiny_report[0], encoding="utf-8")
    shot = tmp_path / "shot.png"
    with warnings.catch_warnings():
        done = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                               f"--screenshot={shot}", "--window-size=1000,3000",
                               page.as_uri()], capture_output=True, timeout=120, check=False)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    image = np.asarray(Image.open(shot).convert("L"))
    # The page drew something: not one blank colour, with dark text on light ground.
    assert image.std() > 5 and image.mean() > 128
