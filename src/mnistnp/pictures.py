"""The evaluation pictures of a model as PNG: its confusion matrix, its most confident mistakes,
what its first layer with weights learned, and its reliability diagram (matplotlib, Agg
backend, imported only when drawing)."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write
from .evaluation import Evaluation
from .nn import Sequential
from .plots import pyplot, wrap
from .run_folder import CONFUSION, FIRST_LAYER, MISTAKES, RELIABILITY

# The file each picture is written to, in the order a report shows them.
PICTURES = (CONFUSION, MISTAKES, FIRST_LAYER, RELIABILITY)
DPI = 100
MAX_MISTAKES = 36  # a 6x6 grid
MAX_UNITS = 64  # an 8x8 grid of a first layer's units or filters


class Unpicturable(Exception):
    """A picture that cannot be drawn for this model or data; the message says why."""


@dataclass
class Pictures:
    """PNG bytes by file name (``PICTURES``' names), and a line for each picture left out."""

    png: dict[str, bytes] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def write(self, folder: str | Path) -> list[Path]:
        """Write each picture into ``folder`` atomically; the paths written."""
        paths = []
        for name, data in self.png.items():
            path = Path(folder) / name
            with atomic_write(path) as f:
                f.write(data)
            paths.append(path)
        return paths


def draw_pictures(model: Sequential, evaluation: Evaluation, label: str) -> Pictures:
    """Every evaluation picture of ``model`` scored as ``evaluation``, each titled with
    ``label`` (which model, on which data); a picture that cannot be drawn is skipped with a
    line saying why."""
    pictures = Pictures()
    drawers: dict[str, Callable[[], Any]] = {
        CONFUSION: lambda: confusion_figure(evaluation, label),
        MISTAKES: lambda: mistakes_figure(evaluation, label),
        FIRST_LAYER: lambda: first_layer_figure(model, label),
        RELIABILITY: lambda: reliability_figure(evaluation, label),
    }
    for name, draw in drawers.items():
        try:
            pictures.png[name] = png_bytes(draw())
        except Unpicturable as e:
            pictures.skipped.append(f"{name}: {e}")
    return pictures


def png_bytes(fig: Any) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    plt = pyplot()
    try:
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI)
        return buf.getvalue()
    finally:
        plt.close(fig)


def _titled(fig: Any, what: str, label: str, width_in: float) -> None:
    """The figure's title: what it shows, then which model on which data, each wrapped to
    the figure's width."""
    fig.suptitle(f"{wrap(what, width_in, 11)}\n{wrap(label, width_in, 10)}", fontsize=10)


def confusion_figure(evaluation: Evaluation, label: str) -> Any:
    """The confusion matrix as a heatmap, rows the true class: each cell holds its count and
    is shaded by its fraction of the row (so a few mistakes still show)."""
    plt = pyplot()
    from matplotlib.colors import PowerNorm

    cm = evaluation.confusion
    k = len(cm)
    size = min(12.0, max(6.5, 0.55 * k + 2.5))
    fig, ax = plt.subplots(figsize=(size + 1, size), dpi=DPI, layout="constrained")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.nan_to_num(cm / cm.sum(axis=1, keepdims=True))
    image = ax.imshow(share, cmap="Blues", norm=PowerNorm(0.35, vmin=0, vmax=1))
    fontsize = 9 if k <= 10 else 7
    for (i, j), count in np.ndenumerate(cm):
        if count:
            ax.text(j, i, f"{count:,}", ha="center", va="center", fontsize=fontsize,
                    color="white" if share[i, j] > 0.5 else "black")
    names = _tick_names(evaluation.class_names)
    ax.set_xticks(range(k), names, rotation=45 if max(map(len, names)) > 2 else 0,
                  ha="right" if max(map(len, names)) > 2 else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the true class")
    _titled(fig, f"Confusion matrix: accuracy {100 * evaluation.accuracy:.2f}%", label,
            size + 1)
    return fig


def mistakes_figure(evaluation: Evaluation, label: str, count: int = MAX_MISTAKES) -> Any:
    """A grid of misclassified images, the most confident mistakes first, each with its true
    class, predicted class and the probability given to it."""
    images = evaluation.images
    if images.ndim != 3:
        raise Unpicturable(f"the samples are not 2-D images (shape {images.shape[1:]})")
    order = most_confident_mistakes(evaluation, count)
    wrong = np.flatnonzero(evaluation.predicted != evaluation.labels)
    if not len(wrong):
        raise Unpicturable("the model makes no mistakes on this data")
    names = _tick_names(evaluation.class_names)
    # Digits fit "true 4, said 9" on one line; names (Fashion-MNIST's) take a line each.
    gap = ", " if max(map(len, names)) <= 3 else "\n"
    captions = [f"true {names[int(evaluation.labels[i])]}{gap}said "
                f"{names[int(evaluation.predicted[i])]}\np = {evaluation.confidence[i]:.2f}"
                for i in order]
    shown = (f"the {len(order)} most confident of {len(wrong):,}" if len(order) < len(wrong)
             else f"all {len(wrong)}, the most confident first")
    return _grid_figure(images[order].astype(np.float64), captions, f"Mistakes: {shown}",
                        label, cmap="gray_r", cell_in=1.5)


def most_confident_mistakes(evaluation: Evaluation, count: int = MAX_MISTAKES) -> np.ndarray:
    """Indices (int64, at most ``count``) of the misclassified samples, the one given the
    highest probability first (ties in sample order)."""
    wrong = np.flatnonzero(evaluation.predicted != evaluation.labels)
    return wrong[np.argsort(-evaluation.confidence[wrong], kind="stable")][:count]


def _grid_figure(images: np.ndarray, captions: list[str] | None, what: str, label: str,
                 cmap: str, cell_in: float, signed: bool = False) -> Any:
    """Images (n, h, w) in one mosaic of at most 6 (8 without captions) columns, drawn by one
    ``imshow`` (an axes per image takes seconds to lay out), each scaled to its own range
    (``signed``: to its largest magnitude, 0 in the middle of ``cmap``), ``captions`` above
    each."""
    n, h, w = images.shape
    cols = min(n, 6 if captions else 8)
    rows = math.ceil(n / cols)
    pad = max(1, h // 10)
    # Room above each image for its caption: 8-point lines, 12 points each with the margin.
    lines = max((c.count("\n") + 1 for c in captions), default=0) if captions else 0
    top = math.ceil(12 * lines * (w + pad) / (cell_in * 72)) if captions else pad
    cell_h, cell_w = h + top, w + pad
    mosaic = np.full((rows * cell_h, cols * cell_w), np.nan)
    for k, image in enumerate(images):
        r, c = divmod(k, cols)
        if signed:
            scaled = image / (float(np.abs(image).max()) or 1.0)
        else:  # 0 stays white: pixels keep their meaning
            scaled = image / (float(image.max()) or 1.0)
        mosaic[r * cell_h + top:(r + 1) * cell_h, c * cell_w:c * cell_w + w] = scaled
    plt = pyplot()
    width = cell_in * cols + 0.4
    fig, ax = plt.subplots(figsize=(width, width * mosaic.shape[0] / mosaic.shape[1] + 0.8),
                           dpi=DPI, layout="constrained")
    colours = plt.get_cmap(cmap).with_extremes(bad="white")  # the gaps between images
    ax.imshow(mosaic, cmap=colours, vmin=-1 if signed else 0, vmax=1,
              interpolation="nearest")
    for k, caption in enumerate(captions or []):
        r, c = divmod(k, cols)
        ax.text(c * cell_w + w / 2, r * cell_h + top - 0.5, caption, ha="center",
                va="bottom", fontsize=8, linespacing=1.1)
    ax.set_axis_off()
    _titled(fig, what, label, width)
    return fig


def first_layer_weights(model: Sequential) -> tuple[np.ndarray, str]:
    """What the first layer with weights learned, as images: shape (n_units, height, width)
    at most MAX_UNITS of them, and a line saying what they are. The layer is found by its
    parameters (the first with a parameter of 2 or more axes); a weight of shape
    (inputs, units) whose inputs are the model's images is a dense layer's, one of shape
    (filters, channels, kh, kw) a convolution's. Unpicturable for any other."""
    inputs = [model.input_shape, *model.shapes]
    found = next(((i, layer, p) for i, layer in enumerate(model.layers)
                  for p in layer.parameters() if p.ndim >= 2), None)
    if found is None:
        raise Unpicturable("the model has no layer with weights")
    i, layer, w = found
    where = f"layer {i} ({layer!r})"
    if w.ndim == 2:
        image = _image_shape(model, math.prod(inputs[i]))
        if w.shape[0] != math.prod(inputs[i]) or image is None:
            raise Unpicturable(f"{where}: weights of shape {w.shape} do not read as images")
        units = _sample(w.shape[1])
        what = f"{len(units)} of its {w.shape[1]} units" if len(units) < w.shape[1] \
            else f"its {w.shape[1]} units"
        return w[:, units].T.reshape(len(units), *image), f"{where}: {what}"
    if w.ndim == 4:
        filters = _sample(w.shape[0])
        what = f"{len(filters)} of its {w.shape[0]} filters" if len(filters) < w.shape[0] \
            else f"its {w.shape[0]} filters"
        if w.shape[1] > 1:
            what += f", input channel 1 of {w.shape[1]}"
        return w[filters, 0], f"{where}: {what} ({w.shape[2]}x{w.shape[3]})"
    raise Unpicturable(f"{where}: weights of shape {w.shape} do not read as images")


def _image_shape(model: Sequential, inputs: int) -> tuple[int, ...] | None:
    """The 2-D shape that ``inputs`` numbers of the model's input form: its images' shape,
    or the square of a flat input's size."""
    shape = model.input_shape
    if len(shape) == 2 and math.prod(shape) == inputs:
        return shape
    side = math.isqrt(inputs)
    return (side, side) if side * side == inputs and len(shape) == 1 else None


def _sample(n: int) -> np.ndarray:
    """Evenly spaced indices of at most MAX_UNITS of ``n``."""
    return np.unique(np.linspace(0, n - 1, min(n, MAX_UNITS)).round().astype(int))


def first_layer_figure(model: Sequential, label: str) -> Any:
    """What the first layer with weights learned (see ``first_layer_weights``), each unit or
    filter in its own scale, red positive and blue negative."""
    images, what = first_layer_weights(model)
    return _grid_figure(images.astype(np.float64), None, f"First layer: {what}", label,
                        cmap="RdBu_r", cell_in=1.1, signed=True)


def reliability_figure(evaluation: Evaluation, label: str) -> Any:
    """The reliability diagram: accuracy against mean confidence in bins of confidence, the
    gap to the diagonal shaded, the expected calibration error printed on it, and below, how
    many predictions fall in each bin."""
    bins = evaluation.reliability
    plt = pyplot()
    fig, (ax, counts) = plt.subplots(2, 1, figsize=(7, 7.5), dpi=DPI, sharex=True,
                                     height_ratios=(3, 1), layout="constrained")
    width = np.diff(bins.edges)
    left = bins.edges[:-1]
    full = bins.count > 0
    ax.bar(left[full], bins.accuracy[full], width[full], align="edge", color="tab:blue",
           edgecolor="black", linewidth=0.5, label="accuracy in the bin")
    gap = bins.confidence[full] - bins.accuracy[full]
    ax.bar(left[full], gap, width[full], bottom=bins.accuracy[full], align="edge",
           facecolor="none", edgecolor="tab:red", hatch="//", linewidth=0.8,
           label="gap to the mean confidence")
    ax.plot([0, 1], [0, 1], "--", color="gray", label="perfect calibration")
    ax.text(0.04, 0.95, f"expected calibration error: {100 * bins.ece:.2f}%\n"
            f"({len(width)} bins, {int(bins.count.sum()):,} predictions)",
            transform=ax.transAxes, va="top", fontsize=10,
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.9})
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    counts.bar(left, bins.count, width, align="edge", color="gray", edgecolor="black",
               linewidth=0.5)
    if bins.count.max() > 0:
        counts.set_yscale("log")
    counts.set_xlabel("confidence (probability of the predicted class)")
    counts.set_ylabel("predictions")
    counts.grid(True, alpha=0.3)
    _titled(fig, "Reliability diagram", label, 7)
    return fig


def _tick_names(names: tuple[str, ...]) -> list[str]:
    """Class names as the pictures' default font can draw them: a name in another script
    (Kuzushiji's hiragana) is shown by its class number."""
    return [name if name.isascii() else str(c) for c, name in enumerate(names)]
