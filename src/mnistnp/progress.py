"""What training shows as it goes, as callbacks: the progress bar on a terminal
(``ProgressBar``), and the plain lines of cost, epoch and time left (``TextLog``)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from .callbacks import Callback
from .loop_state import TrainContext
from .text import duration

if TYPE_CHECKING:
    from .loop_state import History

# The class itself, for external_write_mode: tests may swap the name ``tqdm`` for a factory.
_TQDM = tqdm

# Seconds of training after which one line estimates the time left (the bar shows its own).
ESTIMATE_AFTER = 2.0
# Columns the bar leaves free at the right, so the terminal's "^C" echo stays on the bar's line
# (which the interrupt message then wipes) instead of wrapping onto the next.
BAR_MARGIN = 3


def cost_line(history: History, window: int, full_batch: bool) -> str:
    """The line of the cost every few iterations.

    A full-batch cost is exact, so show it as is, with the epoch's validation if any (the line
    stands for the epoch line); mini-batch costs are noisy, so average.
    """
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
    """The line ``TextLog`` prints at an epoch's end: its losses, accuracy, rate and speed."""
    line = f"epoch {history.epochs}/{n_epochs}: loss {history.epoch_loss[-1]:.4f}"
    line += _validation(history)
    return (line + f", lr {history.epoch_lr[-1]:.3g}, {history.epoch_seconds[-1]:.2f} s, "
            f"{history.epoch_samples_per_s[-1]:,.0f} samples/s")


def progress_bar(total: int, done: int) -> Any:
    """A tqdm bar of ``total`` steps, ``done`` of them done, on a terminal only.

    It leaves BAR_MARGIN columns free and is cleared when closed.
    """
    bar = tqdm(total=total, initial=done, unit="it", leave=False, disable=None,
               dynamic_ncols=True)
    width = getattr(bar, "dynamic_ncols", None)  # tqdm keeps the terminal-size function here
    if callable(width):
        def narrower(fp: Any) -> tuple[int | None, int | None]:
            cols, rows = width(fp)
            return (None if cols is None else max(cols - BAR_MARGIN, 20)), rows
        bar.dynamic_ncols = narrower
    return bar


def bar_figures(epoch_costs: list[float], lr: float) -> str:
    """The bar's right end: the epoch's mean cost so far and the learning rate.

    The mean cost is what the epoch's line will say.
    """
    return f"loss {sum(epoch_costs) / len(epoch_costs):.4f}, lr {lr:.3g}"


def time_left_line(seconds: float, done: int, left: int) -> str:
    """How long the ``left`` iterations will take, at the pace of the ``done`` ones so far."""
    per = seconds / done
    each = f"{per:.2f} s" if per >= 0.1 else f"{1000 * per:.3g} ms"
    return f"time left: about {duration(per * left)} ({each} per iteration so far)"


class ProgressBar(Callback):
    """A tqdm bar on a terminal only (none when output goes to a file or pipe).

    Iterations done of the run's, the epoch, its mean loss so far and the learning rate.
    """

    def __init__(self) -> None:
        self._bar: Any = None

    def on_train_begin(self, ctx: TrainContext) -> None:
        self._bar = progress_bar(ctx.iterations, ctx.history.iterations)
        self._shown = not self._bar.disable
        self._next_figures = 0.0  # when the loss and rate are next refreshed
        self._first = 0

    def on_epoch_begin(self, ctx: TrainContext) -> None:
        ends = ctx.history.epoch_end
        self._first = ends[-1] if ends else 0  # a resumed epoch's mean counts its done steps
        if self._shown:
            self._bar.set_description_str(f"epoch {ctx.state.epoch + 1}/{ctx.epochs}",
                                          refresh=False)

    def on_batch_end(self, ctx: TrainContext) -> None:
        if not self._shown:
            return
        now = time.perf_counter()
        if now >= self._next_figures:  # not every batch: the mean and format cost µs
            self._bar.set_postfix_str(bar_figures(ctx.history.costs[self._first:],
                                                  ctx.optimizer.lr), refresh=False)
            self._next_figures = now + self._bar.mininterval
        self._bar.update()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class TextLog(Callback):
    """Plain lines to ``log`` (``print``, say): one per epoch.

    With ``every``, a cost line every that many iterations (in full-batch training, where an epoch
    is one step, the cost lines replace the epoch lines and carry the validation); and once, in a
    run still going after ESTIMATE_AFTER seconds, the time left. A bar on the screen is kept below
    the lines.

    Parameters
    ----------
    log : callable
        Takes each line, such as ``print``.
    every : int, default 0
        Iterations between two cost lines; 0 for none.
    """

    def __init__(self, log: Callable[[str], None], every: int = 0) -> None:
        if every < 0:
            raise ValueError(f"lines every {every!r} iterations: must be >= 0")
        self.log, self.every = log, int(every)

    def _emit(self, line: str) -> None:
        with _TQDM.external_write_mode():  # clears any bar, writes, redraws the bar
            self.log(line)

    def on_train_begin(self, ctx: TrainContext) -> None:
        self._began = time.perf_counter()
        self._done_before = ctx.history.iterations
        self._estimated = False  # the time-left line is still to come
        self._full_batch = ctx.steps_per_epoch == 1

    def on_batch_end(self, ctx: TrainContext) -> None:
        history = ctx.history
        if not self._estimated:
            now = time.perf_counter()
            if now - self._began >= ESTIMATE_AFTER:
                self._estimated = True
                if history.iterations < ctx.iterations:
                    self._emit(time_left_line(now - self._began,
                                              history.iterations - self._done_before,
                                              ctx.iterations - history.iterations))
        if self.every and not self._full_batch and history.iterations % self.every == 0:
            self._emit(cost_line(history, self.every, full_batch=False))

    def on_epoch_end(self, ctx: TrainContext) -> None:
        history = ctx.history
        if not self.every or not self._full_batch:
            self._emit(epoch_line(history, ctx.epochs))
        elif history.iterations % self.every == 0:
            self._emit(cost_line(history, self.every, full_batch=True))
