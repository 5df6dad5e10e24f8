"""Every input the image benchmarks read, for the lab's scripts that compare two ways of
preparing them: the render benchmark's conditions, the real scans and the typed digits."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

import mnistnp
from mnistnp.synth import fonts, renders, scans

Job = tuple[str, str, int, Sequence[str]]  # kind, condition, renders per condition, font folders


def jobs(n: int, font_dirs: Sequence[str]) -> list[Job]:
    """Each condition of the three sets: ``n`` renders, all 1,797 scans, every face's digits."""
    return ([("render", c, n, font_dirs) for c in renders.CONDITIONS]
            + [("scan", c, 1797, font_dirs) for c in scans.CONDITIONS]
            + [("typed", c, 0, font_dirs) for c in fonts.CONDITIONS])


def inputs(job: Job) -> tuple[list[bytes], np.ndarray]:
    """The files of one condition and their labels."""
    kind, name, n, font_dirs = job
    if kind == "render":
        _, (x, y) = mnistnp.datasets.load("mnist")
        return renders.render_set(name, x, y, n)
    if kind == "scan":
        cells, labels = scans.load()
        return scans.render_set(name, cells, n), labels[:n]
    faces = fonts.bundled_fonts() + sorted(
        path for folder in font_dirs for path in Path(folder).rglob("*")
        if path.suffix.lower() in (".ttf", ".otf"))
    files, labels, _ = fonts.render_set(name, faces)
    return files, labels
