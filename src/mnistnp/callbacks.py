"""Callbacks: the hooks the fit loop calls (``Callback``, and the ``TrainContext`` each hook
receives), and the learning-rate schedule's driver, early stopping, the metrics.jsonl log and
checkpoints written as a run goes."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from .loop_state import History, TrainContext
from .model_file import load_state, named_state

if TYPE_CHECKING:
    from .optim import Schedule


class Callback:
    """A hook into the fit loop, in the manner of Keras' callbacks. Define any of the methods.

    The loop calls each only on the callbacks that define it (the lists are made once per run), so a
    hook nobody defines costs nothing per batch, and a callback need not subclass this. A process
    that must not write (a second rank) is simply given no writing callbacks.

    Order of calls: on_train_begin; per epoch on_epoch_begin, per batch on_batch_begin, the
    step, on_batch_end; then on_epoch_end (after the epoch's History entries and validation);
    on_train_end when the run ends as planned or stopped; close always, even after an error
    or an interrupt. Callbacks are called in the order given, so one that reads another's
    work goes after it (a checkpoint after early stopping).
    """

    def on_train_begin(self, ctx: TrainContext) -> None:
        """Before the first step, of a fresh run or a resumed one.

        Parameters
        ----------
        ctx : TrainContext
            The run: its model, optimizer, state and plan.
        """

    def on_epoch_begin(self, ctx: TrainContext) -> None:
        """Before the epoch's first batch (the first batch left, when resuming mid-epoch).

        Parameters
        ----------
        ctx : TrainContext
            The run: its model, optimizer, state and plan.
        """

    def on_batch_begin(self, ctx: TrainContext) -> None:
        """Before each step; ``ctx.history.iterations`` steps are done.

        Parameters
        ----------
        ctx : TrainContext
            The run: its model, optimizer, state and plan.
        """

    def on_batch_end(self, ctx: TrainContext) -> None:
        """After each step; its cost is ``ctx.history.costs[-1]``.

        May raise to stop at once (``training.Interrupted``, after saving what a resume needs) or
        call ``ctx.stop()``.

        Parameters
        ----------
        ctx : TrainContext
            The run: its model, optimizer, state and plan.
        """

    def on_epoch_end(self, ctx: TrainContext) -> None:
        """After the epoch is recorded (and ``ctx.state.finished`` set if it was the last).

        ``ctx.stop()`` ends the run here.

        Parameters
        ----------
        ctx : TrainContext
            The run: its model, optimizer, state and plan.
        """

    def on_train_end(self, ctx: TrainContext) -> None:
        """The run ended as planned or by ``ctx.stop()`` (not on an error or an interrupt).

        Parameters
        ----------
        ctx : TrainContext
            The run: its model, optimizer, state and plan.
        """

    def close(self) -> None:
        """Always called last: release files and the screen."""


HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_begin", "on_batch_end", "on_epoch_end",
         "on_train_end", "close")


def bound_hooks(callbacks: Sequence[Any], name: str) -> list[Callable[..., None]]:
    """The ``name`` methods of those ``callbacks`` that define it (not Callback's no-op)."""
    base = getattr(Callback, name)
    return [getattr(cb, name) for cb in callbacks
            if getattr(type(cb), name, base) is not base and callable(getattr(cb, name))]


class LearningRateScheduler(Callback):
    """The one writer of ``optimizer.lr`` during training.

    Before every step it sets the rate to ``schedule.lr_at(steps done)``, and at each epoch's end
    tells the schedule the validation loss (None without validation). The optimizer's own ``lr``
    only holds until the first step. The step count is the run's (History's), so a resumed run
    continues the schedule where it stood.

    Parameters
    ----------
    schedule : Schedule
        Gives the rate for each step.
    """

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    def on_batch_begin(self, ctx: TrainContext) -> None:
        ctx.optimizer.lr = self.schedule.lr_at(ctx.state.history.iterations)

    def on_epoch_end(self, ctx: TrainContext) -> None:
        self.schedule.epoch_end(ctx.history.epoch_val_loss[-1] if ctx.validation is not None
                                else None)


class EarlyStopping(Callback):
    """Stop when the validation loss has not improved for ``patience`` epochs.

    Then put back the weights and layer state (batch norm's running statistics) of the best epoch,
    so the model is the best seen, not the last.

    Parameters
    ----------
    patience : int
        Epochs without improvement before stopping.
    min_delta : float, default 0.0
        How much lower the validation loss must be to count as an improvement.
    """

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience!r}")
        self.patience, self.min_delta = int(patience), float(min_delta)
        self.best_loss, self.best_epoch, self.waited = math.inf, 0, 0
        self.best_params: np.ndarray | None = None
        # Copies of the best epoch's layer state, named as in a model file (``io.named_state``)
        self.best_state: dict[str, np.ndarray] = {}

    def on_train_begin(self, ctx: TrainContext) -> None:
        if ctx.validation is None:  # before any epoch is spent
            raise ValueError("early stopping needs a validation split")

    def on_epoch_end(self, ctx: TrainContext) -> None:
        loss = ctx.history.epoch_val_loss[-1]
        if loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.waited = loss, ctx.history.epochs, 0
            if self.best_params is None:
                self.best_params = ctx.model.params.copy()
            else:
                self.best_params[...] = ctx.model.params
            self.best_state = {name: array.copy()
                               for name, array in named_state(ctx.model).items()}
            return
        self.waited += 1
        if self.waited >= self.patience:
            ctx.stop()

    def state_dict(self) -> dict[str, float | int]:
        """The counters, for checkpoints.

        ``best_params`` and ``best_state`` are saved beside them.

        Returns
        -------
        dict of str to float or int
            ``best_loss``, ``best_epoch`` and ``waited``.
        """
        return {"best_loss": self.best_loss, "best_epoch": self.best_epoch,
                "waited": self.waited}

    def load_state_dict(self, state: dict[str, float | int], best_params: np.ndarray | None,
                        best_state: dict[str, np.ndarray] | None = None) -> None:
        """Restore what ``state_dict`` and the best epoch's arrays held (a checkpoint's).

        Parameters
        ----------
        state : dict of str to float or int
            What ``state_dict`` returned.
        best_params : ndarray of shape (n_params,), dtype float32 (the model's dtype), or None
            The best epoch's flat parameters, if one was kept (copied).
        best_state : dict of str to ndarray, optional
            The best epoch's layer state by state-dict name (batch norm's running statistics;
            copied).
        """
        self.best_loss, self.best_epoch = float(state["best_loss"]), int(state["best_epoch"])
        self.waited = int(state["waited"])
        self.best_params = None if best_params is None else best_params.copy()
        self.best_state = {name: array.copy() for name, array in (best_state or {}).items()}

    def on_train_end(self, ctx: TrainContext) -> None:
        if self.best_params is not None and self.best_epoch != ctx.history.epochs:
            ctx.model.params[...] = self.best_params
            if self.best_state:
                load_state(ctx.model, self.best_state)
            ctx.history.best_epoch = self.best_epoch


class MetricsLog(Callback):
    """Write one JSON object per epoch to ``target``.

    A path (line-buffered, so `tail -f` follows a run and a crash loses at most the line being
    written) or an open text stream such as ``sys.stdout`` (flushed at each line and left open).

    ``history``, the record of a run being resumed, is written first, so the log holds each
    epoch the run has finished exactly once: lines a crash left after the checkpoint (a torn
    line, or epochs the checkpoint does not have, which would come again) are cut away.

    Parameters
    ----------
    target : str, os.PathLike or text stream
        The file to write (replaced), or an open stream.
    history : History, optional
        The record of a run being resumed, written first.
    """

    def __init__(self, target: str | os.PathLike[str] | IO[str],
                 history: History | None = None) -> None:
        self._owned = isinstance(target, str | os.PathLike)
        self._file: IO[str] | None = (
            open(target, "w", buffering=1, encoding="utf-8")
            if isinstance(target, str | os.PathLike) else target)
        if history is not None:
            for epoch in range(1, history.epochs + 1):
                self._write(history.record(epoch))

    def _write(self, record: dict[str, float | int | None]) -> None:
        if self._file is not None:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def on_epoch_end(self, ctx: TrainContext) -> None:
        self._write(ctx.history.record(ctx.history.epochs))

    def on_train_end(self, ctx: TrainContext) -> None:
        self.close()

    def close(self) -> None:
        if self._file is not None and self._owned:
            self._file.close()
        self._file = None


class Checkpoints(Callback):
    """Hand the run to ``save`` (which writes a checkpoint) every ``every`` epochs.

    And at the run's end, marked finished, if it saved one before or was ``resumed``: then the file
    on disk never offers to redo a done run, while a run that never wrote one leaves none.
    ``save_now`` is for an interrupt (see ``signals.StopOnRequest``).

    Give it after the callbacks whose state a checkpoint holds (the schedule, early stopping),
    so it saves the epoch's end as they left it.
    """

    def __init__(self, save: Callable[[TrainContext], None], every: int = 0,
                 resumed: bool = False) -> None:
        if every < 0:
            raise ValueError(f"checkpoint interval must be >= 0 epochs, got {every!r}")
        self.save, self.every, self.wrote = save, int(every), resumed

    def on_epoch_end(self, ctx: TrainContext) -> None:
        state = ctx.state
        due = self.every > 0 and (state.finished or state.epoch % self.every == 0)
        # The end's save comes before on_train_end, which may put back earlier weights: a
        # finished checkpoint holds the last epoch's, from which a longer run can go on.
        if due or (state.finished and self.wrote):
            self.save_now(ctx)

    def save_now(self, ctx: TrainContext) -> None:
        """Write a checkpoint now, whatever the interval (on an interrupt, say)."""
        self.wrote = True
        self.save(ctx)
