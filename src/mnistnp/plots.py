"""Pictures: the learning curve as a PNG (matplotlib, Agg backend, imported only when drawing)."""

from __future__ import annotations

import os

import numpy as np

from .atomic import atomic_write
from .training import History


def plot_learning_curve(history: History, path: str | os.PathLike[str], title: str = "") -> None:
    """Write the cost per iteration (and its per-epoch mean) to the PNG at ``path``, atomically."""
    import matplotlib

    matplotlib.use("Agg")  # no screen needed; must precede pyplot
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    try:
        iterations = np.arange(1, history.iterations + 1)
        ax.plot(iterations, history.costs, lw=0.8, alpha=0.6, label="cost per iteration")
        if len(history.epoch_loss) > 1:
            ax.plot(history.epoch_end, history.epoch_loss, "o-", lw=1.5,
                    label="mean cost per epoch")
        if history.costs and min(history.costs) > 0:
            ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_ylabel("cross-entropy cost")
        ax.set_title(title or "Learning curve")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        with atomic_write(path) as f:
            fig.savefig(f, format="png")
    finally:
        plt.close(fig)
