"""What every optimizer and learning-rate schedule shares: the registries each class joins by
being defined (keyed by its name, as layers are by kind), its settings read off its
constructor, and the checks that name a bad setting and its value."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ..errors import SettingError


def setting_text(name: str, value: Any) -> str:
    """``name value`` for messages, hyphenated as the command line spells it: a flag that is
    on is just its name (``nesterov``)."""
    shown = ("" if value is True else f" {value:g}" if isinstance(value, float)
             else f" {value!r}")
    return name.replace("_", "-") + shown


def require(name: str, value: Any, ok: bool, why: str) -> None:
    """SettingError ``<name> <value>: <why>`` (naming ``name``) unless ``ok``."""
    if not ok:
        raise SettingError(f"{setting_text(name, value)}: {why}", name)


def settings_of(cls: type) -> dict[str, Any]:
    """The constructor's arguments after ``self``, with their defaults
    (``inspect.Parameter.empty`` for none)."""
    params = inspect.signature(cls).parameters.values()
    return {p.name: p.default for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def register(table: dict[str, Any], cls: type, what: str) -> None:
    """Put ``cls`` in ``table`` under its own ``name``; TypeError if another class holds the
    name (a programming error). The same class defined again (a module reloaded) may take
    its place."""
    held = table.get(cls.name)  # type: ignore[attr-defined]
    if held is not None and (held.__module__, held.__qualname__) != (cls.__module__,
                                                                     cls.__qualname__):
        raise TypeError(f"{what} name {cls.name!r} of {cls.__qualname__} is taken by "  # type: ignore[attr-defined]
                        f"{held.__module__}.{held.__qualname__}")
    table[cls.name] = cls  # type: ignore[attr-defined]


def build(table: Mapping[str, type], what: str, config: Mapping[str, Any], **run: Any) -> Any:
    """The ``table`` class that ``config["name"]`` names, built from the rest of ``config``
    (and the ``run`` arguments); SettingError naming ``what`` for an unknown name or an
    argument the class does not take."""
    name = config.get("name")
    cls = table.get(name) if isinstance(name, str) else None
    if cls is None:
        raise SettingError(f"{what} {name!r}: choose from {', '.join(sorted(table))}", what)
    args = {k: v for k, v in config.items() if k != "name"}
    own = [k for k in settings_of(cls) if k not in run]
    unknown = [k for k in args if k not in own]
    if unknown:
        raise SettingError(f"{setting_text(unknown[0], args[unknown[0]])}: the {name} {what} "
                           f"takes no such setting (it takes {', '.join(own) or 'none'})",
                           unknown[0])
    return cls(**run, **args)


# kind -> class, each filled by its classes as they are defined.
OPTIMIZERS: dict[str, type[Optimizer]] = {}


class Optimizer:
    """Base: a learning rate and optional L2 weight decay (adds ``weight_decay * p`` to g).

    Each optimizer owns its state (velocity, moments, step count) and can save and restore
    it. ``step(params, grads)`` updates ``params`` in place and never writes to ``grads``.
    A subclass that sets its own ``name`` joins ``OPTIMIZERS``: its constructor's arguments
    are its config (``{"name": "adamw", "lr": 0.002, "weight_decay": 0.1}``), and it alone
    checks them.

    Parameters
    ----------
    lr : float
        The learning rate, > 0.
    weight_decay : float, default 0.0
        L2: adds ``weight_decay * p`` to the gradient.
    """

    name: ClassVar[str] = "optimizer"
    # What a config takes on switching to this optimizer, unless given: the old rate was
    # tuned for another optimizer.
    switch_defaults: ClassVar[Mapping[str, Any]] = {}
    # One line for the command line's help.
    summary: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:  # a subclass without its own name is a variant (a spy)
            register(OPTIMIZERS, cls, "optimizer")

    def __init__(self, lr: float, weight_decay: float = 0.0) -> None:
        require("lr", lr, math.isfinite(lr) and lr > 0, "must be a finite number > 0")
        require("weight_decay", weight_decay, math.isfinite(weight_decay) and weight_decay >= 0,
                "must be a finite number >= 0")
        self.lr, self.weight_decay = float(lr), float(weight_decay)
        self.l2 = self.weight_decay  # what _decayed adds to the gradient
        self._g: np.ndarray | None = None  # scratch for the decayed gradient

    def config(self) -> dict[str, Any]:
        """``{"name": ..., <argument>: <value>, ...}``.

        What rebuilds this optimizer (at the rate it was built with, or a schedule last set).

        Returns
        -------
        dict
            The registered name and the constructor's arguments, JSON-ready.
        """
        return {"name": self.name, **{k: getattr(self, k) for k in settings_of(type(self))}}

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        """Update the parameters in place, one step at the current rate ``lr``.

        Parameters
        ----------
        params : ndarray of shape (n_params,), dtype float32 (the model's dtype)
            The model's flat parameter buffer (``model.params``), updated in place.
        grads : ndarray of shape (n_params,), dtype float32
            The batch's gradient in the same layout (``model.grads``). Not modified.
        """
        raise NotImplementedError

    def _decayed(self, params: np.ndarray, grads: np.ndarray) -> np.ndarray:
        """g + l2 * p (L2 regularisation), in a scratch buffer; g itself if no decay."""
        if not self.l2:
            return grads
        if self._g is None:
            self._g = np.empty_like(grads)
        np.multiply(params, self.l2, out=self._g)
        self._g += grads
        return self._g

    def state_dict(self) -> dict[str, np.ndarray]:
        """The optimizer's state as arrays, for checkpoints.

        Returns
        -------
        dict of str to ndarray
            Copies of its per-parameter state (SGD's ``velocity``, Adam's ``m`` and ``v``,
            each of shape (n_params,)) and counters as 0-d arrays (Adam's ``t``); empty
            before the first step.
        """
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore what ``state_dict`` returned.

        Parameters
        ----------
        state : dict of str to ndarray
            What ``state_dict`` returned (the arrays are copied).
        """


def make_optimizer(config: Mapping[str, Any]) -> Optimizer:
    """The optimizer ``{"name": ..., **arguments}`` describes.

    SettingError naming a bad name, argument or value.

    Parameters
    ----------
    config : mapping
        A registered ``name`` (``OPTIMIZERS``) and its constructor's arguments.

    Returns
    -------
    Optimizer
        The optimizer.

    Raises
    ------
    SettingError
        Naming a bad name, argument or value.
    """
    optimizer: Optimizer = build(OPTIMIZERS, "optimizer", config)
    return optimizer
