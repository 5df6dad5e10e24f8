"""What training shows as it goes: the progress bar on a terminal, and the plain lines (cost,
epoch, time left) that ``fit`` sends to its ``log``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from .text import duration

if TYPE_CHECKING:
    from .training import History

# Seconds of training after which one line estimates the time left (the bar shows its own).
ESTIMATE_AFTER = 2.0
# Columns the bar leaves free at the right, so the terminal's "^C" echo stays on the bar's line
# (which the interrupt message then wipes) instead of wrapping onto the next.
BAR_MARGIN = 3


def cost_line(history: History, window: int, full_batch: bool) -> str:
    """A full-batch cost is exact, so show it as is, with the epoch's validation if any (the
    line stands for the epoch line); mini-batch costs are noisy, so average."""
    if full_batch:
        line = f"iteration {history.iterations}: cost {history.costs[-1]:.4f}"
        return line + _validation(history)
    if window == 1:
        return f"iteration {history.iterations}: cost {history.costs[-1]:.4f}"
    mean = np.mean(history.costs[-window:])
    return f"iteration {history.iterations}: cost {mean:.4f} (mean of the last {window:,})"


def _validation(history: History) -> str:
    """', val_loss 0.1234, val_accuracy 96.50%' for the last epoch, or '' without validation."""
    if not history.epoch_val_loss or math.isnan(history.epoch_val_loss[-1]):
        return ""
    return (f", val_loss {history.epoch_val_loss[-1]:.4f}, val_accuracy "
            f"{100 * history.epoch_val_accuracy[-1]:.2f}%")


def epoch_line(history: History, n_epochs: int) -> str:
    line = f"epoch {history.epochs}/{n_epochs}: loss {history.epoch_loss[-1]:.4f}"
    line += _validation(history)
    return (line + f", lr {history.epoch_lr[-1]:.3g}, {history.epoch_seconds[-1]:.2f} s, "
            f"{history.epoch_samples_per_s[-1]:,.0f} samples/s")


def progress_bar(total: int, done: int, progress: bool | None) -> Any:
    """A tqdm bar on a terminal only (``progress=None``), never with False; it leaves
    BAR_MARGIN columns free and is cleared when closed."""
    bar = tqdm(total=total, initial=done, unit="it", leave=False,
               disable=True if progress is False else None, dynamic_ncols=True)
    width = getattr(bar, "dynamic_ncols", None)  # tqdm keeps the terminal-size function here
    if callable(width):
        def narrower(fp: Any) -> tuple[int | None, int | None]:
            cols, rows = width(fp)
            return (None if cols is None else max(cols - BAR_MARGIN, 20)), rows
        bar.dynamic_ncols = narrower
    return bar


def bar_figures(epoch_costs: list[float], lr: float) -> str:
    """The bar's right end: the epoch's mean cost so far (what its epoch line will say) and the
    learning rate."""
    return f"loss {sum(epoch_costs) / len(epoch_costs):.4f}, lr {lr:.3g}"


def time_left_line(seconds: float, done: int, left: int) -> str:
    per = seconds / done
    each = f"{per:.2f} s" if per >= 0.1 else f"{1000 * per:.3g} ms"
    return f"time left: about {duration(per * left)} ({each} per iteration so far)"
