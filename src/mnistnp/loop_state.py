"""What the fit loop, its callbacks and the optimizers share, below all three: where a run
stands (``TrainState`` and its ``History``), what a callback sees (``TrainContext``), and
``Interrupted``. It imports none of them."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from .nn import Sequential


class Stepper(Protocol):
    """What the loop's context needs of an optimizer: its current rate, which schedules set."""

    lr: float


@dataclass
class History:
    """The training record: every step's cost and each epoch's metrics.

    The cost of every iteration, and per epoch the mean train cost, validation loss and accuracy
    (NaN without validation), learning rate, time and speed.

    Attributes
    ----------
    costs : list of float
        One per iteration (the batch's mean cost).
    epoch_loss, epoch_val_loss, epoch_val_accuracy : list of float
        Per epoch: the mean train cost, and the validation loss and accuracy (NaN without).
    epoch_lr : list of float
        The rate of each epoch's last step.
    epoch_seconds, epoch_samples_per_s : list of float
        Each epoch's time and speed.
    epoch_end : list of int
        Iterations done when each epoch ended.
    best_epoch : int or None
        Set when early stopping restored an earlier epoch.
    """

    costs: list[float] = field(default_factory=list)  # one per iteration (batch mean)
    epoch_loss: list[float] = field(default_factory=list)
    epoch_val_loss: list[float] = field(default_factory=list)
    epoch_val_accuracy: list[float] = field(default_factory=list)
    epoch_lr: list[float] = field(default_factory=list)  # the rate of the epoch's last step
    epoch_seconds: list[float] = field(default_factory=list)
    epoch_samples_per_s: list[float] = field(default_factory=list)
    epoch_end: list[int] = field(default_factory=list)  # iterations done when each epoch ended
    best_epoch: int | None = None  # set when early stopping restored an earlier epoch

    @property
    def iterations(self) -> int:
        """Steps taken: one cost per step."""
        return len(self.costs)

    @property
    def epochs(self) -> int:
        """Epochs finished (a stopped one counts when it ended its record)."""
        return len(self.epoch_loss)

    @property
    def seconds(self) -> float:
        """Training time in seconds, the epochs' times summed."""
        return float(sum(self.epoch_seconds))

    def record(self, epoch: int) -> dict[str, float | int | None]:
        """Epoch ``epoch`` (1-based) as one metrics.jsonl object; NaN becomes null.

        Parameters
        ----------
        epoch : int
            The epoch, from 1.

        Returns
        -------
        dict
            ``epoch``, ``loss``, ``val_loss``, ``val_accuracy``, ``lr``, ``seconds`` and
            ``samples_per_s``.
        """
        i = epoch - 1

        def num(values: list[float]) -> float | None:
            return None if math.isnan(values[i]) else values[i]

        return {"epoch": epoch, "loss": self.epoch_loss[i], "val_loss": num(self.epoch_val_loss),
                "val_accuracy": num(self.epoch_val_accuracy), "lr": self.epoch_lr[i],
                "seconds": self.epoch_seconds[i], "samples_per_s": self.epoch_samples_per_s[i]}

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data: every field by name, lists copied.

        Returns
        -------
        dict
            The fields by name.
        """
        return asdict(self)


@dataclass
class TrainState:
    """Where a run stands: its epoch, its batch and its History.

    Enough, with the weights and optimizer state, to resume it so that it ends bit-identical to a
    run that was never interrupted.
    """

    epoch: int = 0  # epochs finished
    batch: int = 0  # batches finished in the epoch under way
    # The batch-order generator's state when the epoch under way began (or the next begins).
    epoch_rng: dict[str, Any] | None = None
    history: History = field(default_factory=History)
    # The run ended as planned or by a callback's ``TrainContext.stop()`` (early stopping),
    # not interrupted: set at the last epoch's end, before the callbacks see it.
    finished: bool = False


class Interrupted(Exception):
    """Training stopped at a batch boundary because a callback asked it to.

    On a signal: see ``signals.StopOnRequest``. ``state`` says where, for a checkpoint to resume
    from.
    """

    def __init__(self, state: TrainState) -> None:
        super().__init__(f"interrupted at epoch {state.epoch + 1}, batch {state.batch}")
        self.state = state


@dataclass(eq=False)
class TrainContext:
    """What callbacks see of a run: its live objects, its plan and where it stands.

    One per run; ``state`` (epoch, batch, History) moves on as training does.

    Parameters
    ----------
    model : Sequential
        The model being trained.
    optimizer : Optimizer
        Its optimizer (anything with ``step`` and ``lr``).
    state : TrainState
        Where the run stands: epoch, batch and ``History``.
    epochs : int
        Epochs the run will have run when done (the last may be cut short).
    iterations : int
        Steps the run will have taken when done.
    steps_per_epoch : int
        Steps in a full epoch.
    validation : (ndarray, ndarray) tuple or None
        The images, of shape (n_val, *input_shape), and labels, of shape (n_val,), scored
        each epoch, if any.
    """

    model: Sequential
    optimizer: Stepper  # an optim.Optimizer
    state: TrainState
    epochs: int  # epochs the run will have run when done (the last may be cut short)
    iterations: int  # steps the run will have taken when done
    steps_per_epoch: int
    validation: tuple[np.ndarray, np.ndarray] | None  # (images, labels), scored each epoch

    @property
    def history(self) -> History:
        """The run's training record (``state.history``)."""
        return self.state.history

    def stop(self) -> None:
        """End the run: from ``on_epoch_end``, after this epoch.

        From ``on_batch_end``, after this batch, which then ends the epoch. The run counts as
        finished, as if planned that long: its last checkpoint says so.
        """
        self.state.finished = True
