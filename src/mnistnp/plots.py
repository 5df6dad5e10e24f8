"""Pictures: the learning curve as PNG, JPEG, SVG or PDF (matplotlib, Agg backend, imported only
when drawing)."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write
from .training import History

# A file name's extension -> the format matplotlib writes; nothing else is guessed.
PLOT_FORMATS = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "svg": "svg", "pdf": "pdf"}


def plot_format(path: str | os.PathLike[str]) -> str:
    """The format the extension of ``path`` names.

    Parameters
    ----------
    path : str or os.PathLike
        A file name ending in .png, .jpg, .jpeg, .svg or .pdf (in any case).

    Returns
    -------
    str
        The matplotlib format: "png", "jpeg", "svg" or "pdf".

    Raises
    ------
    ValueError
        For any other extension, or none; the message names ``path`` and the ones known.
    """
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in PLOT_FORMATS:
        known = ", ".join(f".{e}" for e in PLOT_FORMATS)
        what = f"a .{suffix} file" if suffix else "a name without an extension"
        raise ValueError(f"{path}: {what} names no format the learning curve is written in; "
                         f"use {known}")
    return PLOT_FORMATS[suffix]


def plot_learning_curve(history: History, path: str | os.PathLike[str], title: str = "",
                        x: str = "auto") -> None:
    """Write the learning curve to ``path`` in the format its extension names, atomically.

    Left: the cost per iteration, and per epoch the mean train cost (at the middle of its
    epoch) and the validation loss (at the epoch's end). Right (when there is validation): the
    validation accuracy per epoch.

    Parameters
    ----------
    history : History
        The training record to draw.
    path : str or os.PathLike
        Where to write; its extension picks the format (see ``plot_format``). An earlier file
        there stays whole if drawing fails.
    title : str, default ""
        The figure's title, wrapped to its width; "Learning curve" if empty.
    x : {"auto", "epoch", "iteration"}, default "auto"
        The x-axis: "epoch" (iterations at fractional epochs), "iteration", or "auto":
        epochs when there are several epochs of several steps each.

    Raises
    ------
    ValueError
        For an extension that names no format, or another ``x``.
    """
    fmt = plot_format(path)
    plt = pyplot()
    fig = learning_curve_figure(history, title, x)
    try:
        with atomic_write(path) as f:
            fig.savefig(f, format=fmt)
    finally:
        plt.close(fig)


def learning_curve_figure(history: History, title: str = "", x: str = "auto") -> Any:
    """The learning curve as a matplotlib Figure (see ``plot_learning_curve``).

    Parameters
    ----------
    history : History
        The training record to draw.
    title : str, default ""
        The figure's title, wrapped to its width; "Learning curve" if empty.
    x : {"auto", "epoch", "iteration"}, default "auto"
        The x-axis, as for ``plot_learning_curve``.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, open: the caller closes it (``pyplot().close(fig)``).
    """
    plt = pyplot()
    if x == "auto":
        x = "epoch" if 1 < history.epochs < history.iterations else "iteration"
    if x not in ("epoch", "iteration"):
        raise ValueError(f"x must be 'epoch', 'iteration' or 'auto', got {x!r}")
    has_val = any(not math.isnan(v) for v in history.epoch_val_loss)
    width = 11 if has_val else 7
    fig, axes = plt.subplots(1, 2 if has_val else 1, figsize=(width, 4.5),
                             dpi=100, squeeze=False)
    try:
        _plot_costs(axes[0][0], history, has_val, x)
        if has_val:
            ax = axes[0][1]
            ax.plot(_epoch_ends(history, x), 100 * np.asarray(history.epoch_val_accuracy),
                    "o-", color="tab:green", label="validation accuracy")
            ax.set_xlabel(x)
            ax.set_ylabel("accuracy (%)")
            ax.grid(True, alpha=0.3)
            ax.legend()
        fig.suptitle(wrap(title or "Learning curve", width, 12), fontsize=12)
        fig.tight_layout()
    except BaseException:
        plt.close(fig)
        raise
    return fig


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no screen needed), imported on first use.

    Returns
    -------
    module
        ``matplotlib.pyplot``.
    """
    import matplotlib

    matplotlib.use("Agg")  # must precede pyplot's import
    import matplotlib.pyplot as plt

    return plt


def wrap(text: str, width_in: float, fontsize: float) -> str:
    """``text`` broken into lines that fit a width at a font size.

    Lines break at spaces, and after the commas of a layer string, which has no spaces. A
    line's width is estimated at 0.55 em a character, DejaVu Sans' mean over letters and digits.

    Parameters
    ----------
    text : str
        The text; its own line breaks are kept.
    width_in : float
        The width to fit, in inches.
    fontsize : float
        The font size, in points.

    Returns
    -------
    str
        The lines joined by newlines. A line holds as many characters as the width is
        estimated to fit, never fewer than 10; a longer word stays whole on a line of its own.
    """
    chars = max(10, int(0.95 * width_in * 72 / (0.55 * fontsize)))
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for piece in re.findall(r"[^ ,]*(?:,|\s+|$)", paragraph):
            if line and len((line + piece).rstrip()) > chars:
                lines.append(line.rstrip())
                line = ""
            line += piece
        lines.append(line.rstrip())
    return "\n".join(lines)


def iteration_positions(history: History, x: str) -> np.ndarray:
    """Where each iteration's cost goes on the x-axis: the middle of the span the step covers.

    That span is (i - 1, i] in iterations, or for the k-th of an epoch's L steps,
    (e - 1 + (k - 1) / L, e - 1 + k / L] in epochs. So an epoch's mean cost, drawn at the
    middle of its epoch, is also at the mean place of the costs it averages.

    Parameters
    ----------
    history : History
        The training record.
    x : {"epoch", "iteration"}
        The x-axis's unit.

    Returns
    -------
    ndarray of shape (history.iterations,), dtype float64
        One position per iteration, in iterations or in epochs.
    """
    middles = np.arange(history.iterations, dtype=float) + 0.5
    return middles if x == "iteration" else _in_epochs(history, middles)


def _in_epochs(history: History, iterations: np.ndarray) -> np.ndarray:
    """Iteration counts as epochs done: linear within each epoch, whatever its length."""
    return np.interp(iterations, [0, *history.epoch_end], np.arange(history.epochs + 1))


def _epoch_ends(history: History, x: str) -> np.ndarray:
    ends = np.asarray(history.epoch_end, dtype=float)
    return ends if x == "iteration" else _in_epochs(history, ends)


def epoch_middles(history: History, x: str) -> np.ndarray:
    """Where each epoch's mean cost goes on the x-axis: the middle of the epoch.

    Parameters
    ----------
    history : History
        The training record.
    x : {"epoch", "iteration"}
        The x-axis's unit.

    Returns
    -------
    ndarray of shape (history.epochs,), dtype float64
        One position per epoch, in iterations or in epochs.
    """
    ends = np.asarray(history.epoch_end, dtype=float)
    middles = (np.concatenate([[0.0], ends[:-1]]) + ends) / 2
    return middles if x == "iteration" else _in_epochs(history, middles)


def _plot_costs(ax: Any, history: History, has_val: bool, x: str) -> None:
    ax.plot(iteration_positions(history, x), history.costs, lw=0.8, alpha=0.4,
            label="cost per iteration")
    if 1 < history.epochs < history.iterations:  # several steps per epoch
        ax.plot(epoch_middles(history, x), history.epoch_loss, "o-", lw=1.5,
                label="train cost (epoch mean)")
    if has_val:
        ax.plot(_epoch_ends(history, x), history.epoch_val_loss, "s-", lw=1.5,
                label="validation loss")
    if history.costs and min(history.costs) > 0:
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel("cross-entropy")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
