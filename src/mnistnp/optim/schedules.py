"""Learning-rate schedules: plain objects giving the rate for each step of a run (``lr_at``),
told each epoch's validation loss (``epoch_end``), registered by name; the callback
``callbacks.LearningRateScheduler`` writes their rate into the optimizer."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from .base import build, register, require, settings_of

# name -> class, filled by each class as it is defined.
SCHEDULES: dict[str, type[Schedule]] = {}
# The arguments a run gives every schedule; the others are its config.
RUN_ARGUMENTS = ("lr", "total_steps", "steps_per_epoch")


class Schedule:
    """Constant: ``lr_at(step)`` is the learning rate for step 0, 1, ..., total_steps - 1.

    A schedule gets the peak rate and the run's length from the run (``lr``, ``total_steps``,
    ``steps_per_epoch``); its own arguments, in epochs, are its config
    (``{"name": "cosine", "warmup_epochs": 1}``), checked by its constructor alone. A subclass
    that sets its own ``name`` joins ``SCHEDULES``. Its state (``state_dict``) is what a
    resumed run needs to go on giving the same rates.

    Parameters
    ----------
    lr : float
        The peak learning rate.
    total_steps : int
        The run's length in steps.
    steps_per_epoch : int, default 1
        Steps in an epoch, which turns the settings in epochs into steps.
    """

    name: ClassVar[str] = "constant"
    # One line for the command line's help.
    summary: ClassVar[str] = "the same rate throughout"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:  # a subclass without its own name is a variant (a spy)
            register(SCHEDULES, cls, "schedule")

    def __init__(self, lr: float, total_steps: int, *, steps_per_epoch: int = 1) -> None:
        self.lr, self.total_steps = float(lr), max(int(total_steps), 1)
        self.steps_per_epoch = int(steps_per_epoch)

    def lr_at(self, step: int) -> float:
        """The rate for step ``step`` (0-based, counted over the whole run).

        Parameters
        ----------
        step : int
            The step, from 0 to ``total_steps - 1``.

        Returns
        -------
        float
            The learning rate.
        """
        return self.lr

    def epoch_end(self, val_loss: float | None) -> None:
        """Told each epoch's validation loss (None without validation); plateau uses it.

        Parameters
        ----------
        val_loss : float or None
            The epoch's validation loss; None without validation.
        """

    def unreached(self) -> tuple[str, int, str] | None:
        """What the run will not reach of the schedule's settings, if anything.

        (setting, its length in steps, what the rate then does) if the run ends before the rate
        would change as the setting says; None if it does not.

        Returns
        -------
        (str, int, str) tuple or None
            The setting, its length in steps and what the rate then does; None if the run reaches
            every setting.
        """
        return None

    def config(self) -> dict[str, Any]:
        """``{"name": ..., <argument>: <value>, ...}``, without the run's arguments.

        Returns
        -------
        dict
            The registered name and the constructor's own arguments, JSON-ready.
        """
        return {"name": self.name, **{k: getattr(self, k) for k in settings_of(type(self))
                                      if k not in RUN_ARGUMENTS}}

    def state_dict(self) -> dict[str, float]:
        """What the schedule has learnt while running, for checkpoints: none for a fixed one.

        Returns
        -------
        dict of str to float
            The running values by name (ReduceOnPlateau's rate, best loss and bad epochs).
        """
        return {}

    def load_state_dict(self, state: dict[str, float]) -> None:
        """Restore what ``state_dict`` returned.

        Parameters
        ----------
        state : dict of str to float
            What ``state_dict`` returned.
        """


class Cosine(Schedule):
    """Linear warmup, then cosine decay to 0 (Loshchilov and Hutter, 2017).

    The warmup goes from lr / warmup to lr over ``warmup_epochs``; then lr_t = lr * (1 + cos(pi * s
    / S)) / 2 over the S steps left. Warmup keeps Adam's first, poorly estimated steps small; the
    decay lets the end settle.

    Parameters
    ----------
    lr : float
        The peak learning rate.
    total_steps : int
        The run's length in steps.
    warmup_epochs : float, default 0.0
        The length of the linear warmup, in epochs.
    steps_per_epoch : int, default 1
        Steps in an epoch, which turns the settings in epochs into steps.
    """

    name = "cosine"
    summary = "warmup, then a cosine decay to 0 at the end of the run"

    def __init__(self, lr: float, total_steps: int, warmup_epochs: float = 0.0, *,
                 steps_per_epoch: int = 1) -> None:
        super().__init__(lr, total_steps, steps_per_epoch=steps_per_epoch)
        require("warmup_epochs", warmup_epochs,
                math.isfinite(warmup_epochs) and warmup_epochs >= 0, "must be >= 0")
        self.warmup_epochs = warmup_epochs
        self.warmup_steps = round(warmup_epochs * self.steps_per_epoch)
        self.warmup = max(0, min(self.warmup_steps, self.total_steps - 1))

    def lr_at(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        span = self.total_steps - self.warmup
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * (step - self.warmup) / span))

    def unreached(self) -> tuple[str, int, str] | None:
        if self.warmup_steps and self.warmup_steps >= self.total_steps:
            return ("warmup_epochs", self.warmup_steps,
                    "rises to its peak at the end and never decays")
        return None


class StepDecay(Schedule):
    """lr * gamma ** (step // step_size): drop by ``gamma`` every ``step_epochs`` epochs.

    Parameters
    ----------
    lr : float
        The peak learning rate.
    total_steps : int
        The run's length in steps.
    step_epochs : int, default 10
        Epochs between two drops.
    gamma : float, default 0.1
        The factor of each drop.
    steps_per_epoch : int, default 1
        Steps in an epoch, which turns the settings in epochs into steps.
    """

    name = "step"
    summary = "times gamma every step-epochs epochs"

    def __init__(self, lr: float, total_steps: int, step_epochs: int = 10, gamma: float = 0.1,
                 *, steps_per_epoch: int = 1) -> None:
        super().__init__(lr, total_steps, steps_per_epoch=steps_per_epoch)
        require("step_epochs", step_epochs, step_epochs >= 1, "must be >= 1")
        require("gamma", gamma, 0 < gamma <= 1, "must be in (0, 1]")
        self.step_epochs, self.gamma = step_epochs, float(gamma)
        self.step_size = int(step_epochs) * self.steps_per_epoch

    def lr_at(self, step: int) -> float:
        return self.lr * self.gamma ** (step // self.step_size)

    def unreached(self) -> tuple[str, int, str] | None:
        if self.step_size >= self.total_steps:
            return "step_epochs", self.step_size, "never drops"
        return None


class ReduceOnPlateau(Schedule):
    """Multiply the rate by ``gamma`` when the validation loss stops improving.

    Not improving means by no more than ``threshold``, relative, for ``patience`` epochs, as Keras'
    and PyTorch's ReduceLROnPlateau (their ``factor``).

    Parameters
    ----------
    lr : float
        The peak learning rate.
    total_steps : int
        The run's length in steps.
    gamma : float, default 0.1
        The factor of each drop.
    patience : int, default 2
        Epochs without improvement before a drop.
    threshold : float, default 1e-4
        The relative improvement of the validation loss that counts.
    min_lr : float, default 0.0
        The rate never drops below this.
    steps_per_epoch : int, default 1
        Steps in an epoch, which turns the settings in epochs into steps.
    """

    name = "plateau"
    summary = "times gamma after plateau-patience epochs without a better val_loss"

    def __init__(self, lr: float, total_steps: int, gamma: float = 0.1, patience: int = 2,
                 threshold: float = 1e-4, min_lr: float = 0.0, *,
                 steps_per_epoch: int = 1) -> None:
        super().__init__(lr, total_steps, steps_per_epoch=steps_per_epoch)
        require("gamma", gamma, 0 < gamma <= 1, "must be in (0, 1]")
        require("gamma", gamma, gamma < 1,
                "the plateau schedule needs gamma < 1, or the rate never changes")
        require("patience", patience, patience >= 0, "must be >= 0")
        self.gamma, self.patience = float(gamma), int(patience)
        self.threshold, self.min_lr = float(threshold), float(min_lr)
        self.current, self.best, self.bad_epochs = self.lr, math.inf, 0

    def lr_at(self, step: int) -> float:
        return self.current

    def epoch_end(self, val_loss: float | None) -> None:
        if val_loss is None:
            return
        if val_loss < self.best * (1 - self.threshold):
            self.best, self.bad_epochs = val_loss, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            self.current = max(self.current * self.gamma, self.min_lr)
            self.bad_epochs = 0

    def state_dict(self) -> dict[str, float]:
        return {"current": self.current, "best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.current, self.best = float(state["current"]), float(state["best"])
        self.bad_epochs = int(state["bad_epochs"])


def make_schedule(config: Mapping[str, Any], lr: float, total_steps: int,
                  steps_per_epoch: int = 1) -> Schedule:
    """The schedule ``{"name": ..., **arguments}`` describes.

    For a run of ``total_steps`` at peak rate ``lr``; SettingError naming a bad name, argument or
    value.

    Parameters
    ----------
    config : mapping
        A registered ``name`` (``SCHEDULES``) and its own arguments (in epochs).
    lr : float
        The peak learning rate.
    total_steps : int
        The run's length in steps.
    steps_per_epoch : int, default 1
        Steps in an epoch.

    Returns
    -------
    Schedule
        The schedule.

    Raises
    ------
    SettingError
        Naming a bad name, argument or value.
    """
    schedule: Schedule = build(SCHEDULES, "schedule", config, lr=lr, total_steps=total_steps,
                               steps_per_epoch=steps_per_epoch)
    return schedule


# The base class is a schedule of its own, the constant one.
register(SCHEDULES, Schedule, "schedule")
