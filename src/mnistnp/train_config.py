"""How to train, as a typed dataclass (``TrainConfig``), and its checks: every setting's value,
and no setting given that the run would ignore (``check_given``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from .errors import SettingError
from .model_config import MLP_SETTINGS, ModelConfig
from .optim import OPTIMIZERS, SCHEDULES
from .optim.base import setting_text
from .optim_config import (
    PART_SETTINGS,
    OptimizerConfig,
    PartConfig,
    ScheduleConfig,
    as_option,
    readers,
    upgrade_flat,
)

DTYPES = ("float32", "float64")
# TrainConfig's model, optimizer and schedule unless given (frozen, so one object serves every
# config).
_MLP = ModelConfig()
_ADAM, _COSINE = OptimizerConfig("adam", {"lr": 0.002}), ScheduleConfig("cosine")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run; saved with the model so a run can be repeated.

    Values are checked by ``validate``, not on construction.

    Attributes
    ----------
    model : ModelConfig, default ModelConfig()
        The network to build; the input and output sizes come from the data (784 and 10 for
        MNIST).
    epochs : int, default 15
        Passes over the training set, >= 1; ignored when ``iterations`` is set.
    iterations : int or None, default None
        Total gradient steps, >= 1, overriding ``epochs``.
    batch_size : int or None, default 128
        Samples per step, >= 1; None means the whole training set (full-batch gradient
        descent).
    optimizer : OptimizerConfig, default adam with lr 0.002
        The update rule and its constructor's arguments: "adam", "adamw" or "sgd"
        (``optim.OPTIMIZERS``), e.g. ``{"name": "sgd", "lr": 0.05, "momentum": 0.9,
        "nesterov": True, "weight_decay": 5e-4}``; ``weight_decay`` is an L2 penalty for sgd
        and adam, decoupled for adamw (per step: lr * weight_decay). A dict is taken as the
        same.
    schedule : ScheduleConfig, default cosine
        How the rate moves from the optimizer's lr (``optim.SCHEDULES``): "cosine" decays it
        to 0 over the run after ``warmup_epochs`` of linear warmup; "constant", "step" (times
        ``gamma`` every ``step_epochs``) or "plateau" (times ``gamma`` after ``patience``
        epochs without a better validation loss; needs a validation split). A dict is taken
        as the same.
    clip_norm : float or None, default None
        Clip the gradient's global L2 norm to this, > 0; None turns clipping off.
    val_split : float, default 1/12
        Held out from the end of the training set for validation: a fraction in [0, 1) or a
        whole count of images; 0 turns validation off.
    patience : int or None, default None
        Stop after this many epochs (>= 1) without a better validation loss and keep the best
        weights; needs a validation split. None trains to the end.
    dtype : {"float32", "float64"}, default "float32"
        The float type of the weights and the arithmetic.
    seed : int, default 0
        Seeds the initial weights and the batch order, >= 0: the same seed gives identical
        weights.
    log_every : int, default 0
        Iterations between printed cost lines, besides the line per epoch (which full-batch
        cost lines replace); 0 prints only the line per epoch.
    dataset : str, default "mnist"
        A registered dataset name, or a label for the files in ``data_dir``.
    data_dir : str or None, default None
        A folder holding the dataset's four IDX files (raw or gzip); None finds a registered
        dataset where it is kept (see ``datasets.load``).
    """

    model: ModelConfig = _MLP
    epochs: int = 15
    # The notebook counts iterations.
    iterations: int | None = None
    batch_size: int | None = 128
    optimizer: OptimizerConfig = _ADAM
    # Cosine: the last epochs settle as the rate decays to 0, and a warmup helps where Adam's
    # early estimates are poor.
    schedule: ScheduleConfig = _COSINE
    clip_norm: float | None = None
    # A twelfth is MNIST's 5,000 of 60,000. The test set is never used to choose.
    val_split: float = 1 / 12
    patience: int | None = None
    # float32 is twice as fast; float64 reproduces the notebook's arithmetic.
    dtype: str = "float32"
    seed: int = 0
    log_every: int = 0
    dataset: str = "mnist"
    data_dir: str | None = None

    def __post_init__(self) -> None:
        for part, kind in (("optimizer", OptimizerConfig), ("schedule", ScheduleConfig)):
            value = getattr(self, part)
            if isinstance(value, Mapping) and not isinstance(value, PartConfig):
                object.__setattr__(self, part, kind.from_dict(value))

    def validate(self) -> TrainConfig:
        """Check every setting, the optimizer's and the schedule's by their constructors.

        Returns
        -------
        TrainConfig
            ``self``, so a check can be chained.

        Raises
        ------
        ValueError
            Naming the first bad setting (as the command line spells it) and its value.
        """
        finite = math.isfinite
        self.model.validate()
        checks = [
            ("epochs", self.epochs >= 1, "must be >= 1"),
            ("iterations", self.iterations is None or self.iterations >= 1, "must be >= 1"),
            ("batch_size", self.batch_size is None or self.batch_size >= 1, "must be >= 1"),
            ("clip_norm", self.clip_norm is None or (finite(self.clip_norm)
                                                     and self.clip_norm > 0), "must be > 0"),
            ("val_split", finite(self.val_split) and self.val_split >= 0
             and (self.val_split < 1 or float(self.val_split).is_integer()),
             "must be a fraction in [0, 1) or a whole count"),
            ("patience", self.patience is None or (self.patience >= 1 and self.val_split > 0),
             "must be >= 1 and needs a validation split"),
            ("schedule", self.schedule.name != "plateau" or self.val_split > 0,
             "needs a validation split (val-split is 0), or the rate never changes"),
            ("dtype", self.dtype in DTYPES, f"choose from {list(DTYPES)}"),
            ("seed", self.seed >= 0, "must be >= 0"),
            ("log_every", self.log_every >= 0, "must be >= 0"),
        ]
        for name, ok, why in checks:
            if not ok:
                raise ValueError(f"{self.setting(name)}: {why}")
        try:  # their constructors check their own values (the schedule's for a nominal run)
            part = "optimizer"
            self.optimizer.build()
            part = "schedule"
            self.schedule.build(1.0, self.epochs)
        except SettingError as e:
            raise as_option(part, e) from None
        return self

    def value(self, name: str) -> Any:
        """A setting by the command line's name.

        Parameters
        ----------
        name : str
            A field (``epochs``), or a setting of the optimizer or the schedule by the command
            line's name (``lr``, ``plateau_patience``).

        Returns
        -------
        object
            The field's value (the optimizer's or the schedule's name for those two fields),
            or the setting's; None if the chosen optimizer or schedule has no such setting.

        Raises
        ------
        AttributeError
            For a name that is neither.
        """
        if name in PART_SETTINGS:
            part, argument = PART_SETTINGS[name]
            return getattr(self, part).settings.get(argument)
        value = getattr(self, name)
        return value.name if isinstance(value, PartConfig) else value

    def setting(self, name: str) -> str:
        """A setting and its value as messages write them, hyphenated as the command line does.

        Parameters
        ----------
        name : str
            The setting's name, as ``value`` takes it.

        Returns
        -------
        str
            ``"name value"``, such as ``"batch-size 128"``; a flag that is on is just its
            name (``"nesterov"``).
        """
        return setting_text(name, self.value(name))

    def with_overrides(self, **changes: Any) -> TrainConfig:
        """A copy with the given fields changed (None values are ignored: not given), checked.

        Another optimizer starts from its own rate (and momentum, for sgd) and no weight decay
        unless those are given (its ``switch_defaults``): they were tuned for, and mean something
        else in, this config's optimizer (adamw's decoupled 0.1 is a crippling L2 penalty for
        adam). Epochs given without iterations replace this config's iterations.

        Parameters
        ----------
        **changes
            Fields, the model's ``layers`` or MLP settings (``hidden``, ``dropout``,
            ``shift``), and the optimizer's and schedule's settings by the command line's
            names (``lr``, ``plateau_patience``); None values are ignored, as not given.

        Returns
        -------
        TrainConfig
            The new config, checked (see ``validate``).

        Raises
        ------
        ValueError
            For a bad value, or for a given setting the result would ignore (see
            ``check_given``); the settings this config already had are not held against it.
        """
        given = {k: v for k, v in changes.items() if v is not None}
        fields_given = {k: v for k, v in given.items() if k not in PART_SETTINGS}
        model = {k: fields_given.pop(k) for k in ("layers", *MLP_SETTINGS) if k in fields_given}
        if model:
            fields_given["model"] = self.model.with_overrides(**model)
        fields_given["optimizer"] = self._optimizer_with(given)
        fields_given["schedule"] = self._schedule_with(given)
        if "epochs" in given:
            fields_given = {"iterations": None, **fields_given}
        return check_given(replace(self, **fields_given), given).validate()

    def _optimizer_with(self, given: Mapping[str, Any]) -> OptimizerConfig:
        """The optimizer ``given`` (the command line's names) makes of this config's: another
        one starts from its ``switch_defaults`` and no weight decay."""
        name = given.get("optimizer", self.optimizer.name)
        if name == self.optimizer.name:
            start = dict(self.optimizer.settings)
        else:
            cls = OPTIMIZERS.get(name)
            start = {"weight_decay": 0.0, **(cls.switch_defaults if cls else {})}
        return OptimizerConfig(name, {**start, **_part_given("optimizer", name, given)})

    def _schedule_with(self, given: Mapping[str, Any]) -> ScheduleConfig:
        """The schedule ``given`` makes of this config's: another one keeps the settings it
        shares with this one (step's and plateau's gamma)."""
        name = given.get("schedule", self.schedule.name)
        new = ScheduleConfig(name)
        start = {k: v for k, v in self.schedule.settings.items() if k in new.settings}
        return ScheduleConfig(name, {**start, **_part_given("schedule", name, given)})

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-ready data, as a model file saves it.

        Returns
        -------
        dict
            One key per field; ``model``, ``optimizer`` and ``schedule`` as their own
            ``to_dict`` gives them.
        """
        parts = {"model": self.model.to_dict(), "optimizer": self.optimizer.to_dict(),
                 "schedule": self.schedule.to_dict()}
        return {f.name: parts.get(f.name, getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """The config ``to_dict`` gave, or one written by an earlier version.

        Parameters
        ----------
        d : dict
            What ``to_dict`` gave; or a config written before the model settings had their
            own config (``hidden``, ``dropout`` and ``shift`` among the others), or before
            the optimizer and the schedule had theirs (``optimizer`` a name, ``lr``,
            ``momentum``, ``warmup_epochs`` ... among the others: see
            ``optim_config.upgrade_flat``). Unknown keys are ignored.

        Returns
        -------
        TrainConfig
            The config, not yet checked (see ``validate``).
        """
        d = upgrade_flat(d)
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        if "model" in values:
            values["model"] = ModelConfig.from_dict(values["model"])
        elif any(k in d for k in MLP_SETTINGS):
            old = {"hidden": (50, 50, 50), "dropout": 0.0, "shift": 0, **{
                k: d[k] for k in MLP_SETTINGS if k in d}}
            values["model"] = ModelConfig.mlp(tuple(old["hidden"]), old["dropout"],
                                              old["shift"])
        return cls(**values)


def _part_given(part: str, name: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of ``given`` (the command line's names) that the ``part`` (optimizer or
    schedule) ``name`` takes, under its constructor's names; those it does not take are
    ``check_given``'s to report."""
    cls = dict(zip(("optimizer", "schedule"), (OptimizerConfig, ScheduleConfig)))[part]
    probe = cls(name)
    return {argument: given[key] for key, (p, argument) in PART_SETTINGS.items()
            if p == part and key in given and probe.takes(argument)}


def check_given(config: TrainConfig, given: Mapping[str, Any]) -> TrainConfig:
    """Refuse a setting the user gave that ``config`` would ignore.

    Ignored means: read only by another optimizer or schedule (one whose constructor does not
    take it), epochs beside iterations, or a warmup or a step as long as the run, so the rate
    never decays or drops.

    Parameters
    ----------
    config : TrainConfig
        The config the settings went into.
    given : mapping
        The settings the user gave, by the command line's names (not a recipe's leftovers).

    Returns
    -------
    TrainConfig
        ``config``, if no setting of ``given`` is ignored.

    Raises
    ------
    ValueError
        Naming the first ignored setting and why it would be ignored.
    """
    for name in given:
        if name not in PART_SETTINGS:
            continue
        kind, takers = readers(name)
        chosen = getattr(config, kind).name
        known = (OPTIMIZERS if kind == "optimizer" else SCHEDULES).keys()
        if chosen in known and chosen not in takers:  # an unknown one: validate() says so
            plural = len(takers) > 1
            raise ValueError(f"{setting_text(name, given[name])}: only the "
                             f"{' and '.join(takers)} {kind}{'s' if plural else ''} "
                             f"use{'' if plural else 's'} it; {chosen} ignores it")
    if "epochs" in given and "iterations" in given:
        raise ValueError(f"{config.setting('epochs')}: iterations {config.iterations} sets the "
                         f"run's length instead; give one or the other")
    if config.iterations is None:  # the run's length in epochs is known
        for name, what in (("warmup_epochs", "the rate would never decay"),
                           ("step_epochs", "the rate would never drop")):
            if name in given and config.value(name) >= config.epochs:
                raise ValueError(f"{config.setting(name)}: not shorter than the run "
                                 f"({_epochs(config.epochs)}), so {what}")
    return config


def _epochs(n: float) -> str:
    return f"{n:g} epoch{'' if n == 1 else 's'}"
