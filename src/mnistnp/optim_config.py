"""The optimizer's and the schedule's configs inside a TrainConfig (a registered name and its
constructor's arguments), what the command line calls their settings, and the upgrade of
configs written when every one of those settings was a field of TrainConfig."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .errors import SettingError
from .optim import OPTIMIZERS, SCHEDULES, Optimizer, Schedule, make_optimizer, make_schedule
from .optim.base import settings_of
from .optim.schedules import RUN_ARGUMENTS

# The optimizer's and the schedule's settings as the command line names them (and as configs
# before these had their own held them): which of the two takes each, under which argument.
PART_SETTINGS: dict[str, tuple[str, str]] = {
    "lr": ("optimizer", "lr"), "momentum": ("optimizer", "momentum"),
    "nesterov": ("optimizer", "nesterov"), "weight_decay": ("optimizer", "weight_decay"),
    "warmup_epochs": ("schedule", "warmup_epochs"), "step_epochs": ("schedule", "step_epochs"),
    "gamma": ("schedule", "gamma"), "plateau_patience": ("schedule", "patience"),
}
_REGISTRIES: dict[str, Mapping[str, type]] = {"optimizer": OPTIMIZERS, "schedule": SCHEDULES}


@dataclass(frozen=True)
class PartConfig:
    """A registered ``name`` and the ``settings`` its class is built from.

    Every argument of its constructor (defaults filled in), so that two configs that build the same
    thing are equal. Reads as ``config.lr``; ``to_dict()`` is ``{"name": ..., **settings}``.
    """

    kind: ClassVar[str]
    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cls = _REGISTRIES[self.kind].get(self.name)
        empty = inspect.Parameter.empty
        own = {} if cls is None else {k: v for k, v in settings_of(cls).items()
                                      if k not in RUN_ARGUMENTS and v is not empty}
        merged = {**own, **self.settings}
        order = list(settings_of(cls)) if cls is not None else []  # the constructor's order
        object.__setattr__(self, "settings", {
            **{k: merged[k] for k in order if k in merged},
            **{k: v for k, v in merged.items() if k not in order}})

    def __getattr__(self, key: str) -> Any:
        settings = self.__dict__.get("settings", {})
        if key in settings:
            return settings[key]
        raise AttributeError(f"the {self.__dict__.get('name')} {self.kind} has no {key}")

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.settings.items()))))

    def takes(self, argument: str) -> bool:
        """Whether the class ``name`` names has the constructor argument ``argument``."""
        cls = _REGISTRIES[self.kind].get(self.name)
        return cls is not None and argument in settings_of(cls)

    def to_dict(self) -> dict[str, Any]:
        """The part as JSON-ready data: ``{"name": ..., **settings}``."""
        return {"name": self.name, **self.settings}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Any:
        """The part ``to_dict`` gave: its ``name`` and the rest as its settings."""
        return cls(str(d["name"]), {k: v for k, v in d.items() if k != "name"})


class OptimizerConfig(PartConfig):
    """``{"name": "adamw", "lr": 0.002, "weight_decay": 0.1, ...}``: see ``optim.OPTIMIZERS``."""

    kind = "optimizer"

    def build(self) -> Optimizer:
        """The optimizer; SettingError naming a bad name, argument or value."""
        return make_optimizer(self.to_dict())


class ScheduleConfig(PartConfig):
    """``{"name": "cosine", "warmup_epochs": 1}``, its lengths in epochs.

    See ``optim.SCHEDULES``.
    """

    kind = "schedule"

    def build(self, lr: float, total_steps: int, steps_per_epoch: int = 1) -> Schedule:
        """The schedule for a run of ``total_steps`` at peak rate ``lr``.

        SettingError naming a bad name, argument or value.
        """
        return make_schedule(self.to_dict(), lr, total_steps, steps_per_epoch)


def readers(setting: str) -> tuple[str, list[str]]:
    """(optimizer or schedule, the names of those that take ``setting``, a command line's)."""
    part, argument = PART_SETTINGS[setting]
    return part, [name for name, cls in _REGISTRIES[part].items()
                  if argument in settings_of(cls)]


def as_option(part: str, error: SettingError) -> SettingError:
    """A constructor's ``error`` renamed to the setting the command line names.

    ``error`` comes from the optimizer's or schedule's constructor; the plateau's ``patience`` is
    ``plateau-patience``, say.
    """
    flat = next((name for name, (p, arg) in PART_SETTINGS.items()
                 if p == part and arg == error.setting), error.setting)
    if flat == error.setting:
        return error
    old = error.setting.replace("_", "-")
    return SettingError(flat.replace("_", "-") + str(error).removeprefix(old), flat)


# What a flat config meant by a setting it did not hold: TrainConfig's defaults then.
FLAT_DEFAULTS: dict[str, Any] = {
    "optimizer": "adam", "lr": 0.002, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0,
    "schedule": "cosine", "warmup_epochs": 0.0, "step_epochs": 10, "gamma": 0.1,
    "plateau_patience": 2}


def upgrade_flat(d: Mapping[str, Any]) -> dict[str, Any]:
    """A TrainConfig's dict of the flat format, with the optimizer's and schedule's settings nested.

    The flat format gave every optimizer's and schedule's setting a field of its own (``"optimizer":
    "sgd", "momentum": 0.9, "schedule": "step", ...``); they come back nested as ``"optimizer":
    {"name": "sgd", ...}`` and ``"schedule": {...}``, each keeping the settings its class takes (the
    others were ignored then too). Anything else, a nested config among them, comes back as it was.
    """
    if not any(k in d for k in PART_SETTINGS) and not any(
            isinstance(d.get(part), str) for part in _REGISTRIES):
        return dict(d)
    flat = {**FLAT_DEFAULTS, **d}
    out = {k: v for k, v in d.items() if k not in PART_SETTINGS}
    for part, kind in (("optimizer", OptimizerConfig), ("schedule", ScheduleConfig)):
        name = flat[part]
        if not isinstance(name, str):  # not a config mnistnp wrote: loading it says so
            continue
        probe = kind(name)
        out[part] = kind(name, {arg: flat[key] for key, (p, arg) in PART_SETTINGS.items()
                                if p == part and probe.takes(arg)}).to_dict()
    return out
