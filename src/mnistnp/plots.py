"""Pictures: the learning curve as a PNG (matplotlib, Agg backend, imported only when drawing)."""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from .atomic import atomic_write
from .training import History


def plot_learning_curve(history: History, path: str | os.PathLike[str], title: str = "") -> None:
    """Write the learning curve to the PNG at ``path``, atomically.

    Left: the cost per iteration, and per epoch the mean train cost and the validation loss.
    Right (when there is validation): the validation accuracy per epoch.
    """
    import matplotlib

    matplotlib.use("Agg")  # no screen needed; must precede pyplot
    import matplotlib.pyplot as plt

    has_val = any(not math.isnan(v) for v in history.epoch_val_loss)
    fig, axes = plt.subplots(1, 2 if has_val else 1, figsize=(11 if has_val else 7, 4.5),
                             dpi=100, squeeze=False)
    try:
        _plot_costs(axes[0][0], history, has_val)
        if has_val:
            ax = axes[0][1]
            ax.plot(history.epoch_end, 100 * np.asarray(history.epoch_val_accuracy), "o-",
                    color="tab:green", label="validation accuracy")
            ax.set_xlabel("iteration")
            ax.set_ylabel("accuracy (%)")
            ax.grid(True, alpha=0.3)
            ax.legend()
        fig.suptitle(title or "Learning curve")
        fig.tight_layout()
        with atomic_write(path) as f:
            fig.savefig(f, format="png")
    finally:
        plt.close(fig)


def _plot_costs(ax: Any, history: History, has_val: bool) -> None:
    iterations = np.arange(1, history.iterations + 1)
    ax.plot(iterations, history.costs, lw=0.8, alpha=0.4, label="cost per iteration")
    if 1 < history.epochs < history.iterations:  # several steps per epoch
        ax.plot(history.epoch_end, history.epoch_loss, "o-", lw=1.5,
                label="train cost (epoch mean)")
    if has_val:
        ax.plot(history.epoch_end, history.epoch_val_loss, "s-", lw=1.5,
                label="validation loss")
    if history.costs and min(history.costs) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cross-entropy")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
