"""A sweep's TOML file (``SweepSpec``): the recipe, the settings every trial shares, and the grid
or the random search over others; ``trials`` lists each trial's settings, in a fixed order."""

from __future__ import annotations

import difflib
import itertools
import math
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..config import RECIPES
from ..errors import MnistnpError
from ..train_config import TrainConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# The settings a trial may take: those of ``TrainConfig.with_overrides`` (the command line's
# names, with underscores), and the batch size.
SETTINGS = ("layers", "hidden", "epochs", "iterations", "batch_size", "dtype", "seed",
            "optimizer", "lr", "momentum", "nesterov", "weight_decay", "schedule",
            "warmup_epochs", "step_epochs", "gamma", "plateau_patience", "dropout", "shift",
            "clip_norm", "val_split", "patience", "dataset", "data_dir")
METHODS = ("grid", "random")
# How a random search draws a setting: {kind = [low, high]} or {choice = [...]}.
DRAWS = ("uniform", "log_uniform", "int_uniform", "choice")
TOP_KEYS = ("method", "recipe", "trials", "seed", "base", "grid", "random")


class SweepError(MnistnpError):
    """A sweep file that cannot be run, naming the file, the key and the problem."""


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep runs: a recipe, settings shared by every trial, and a search space.

    Parameters
    ----------
    method : str
        ``"grid"``: every combination of ``space``'s lists; ``"random"``: ``trials`` draws.
    recipe : str
        The recipe every trial starts from (a name in ``config.RECIPES``).
    base : dict
        Settings every trial takes, by the command line's names with underscores.
    space : dict
        For a grid, each setting's list of values; for a random search, each setting's draw:
        ``{"log_uniform": [low, high]}``, ``{"uniform": [...]}``, ``{"int_uniform": [...]}``
        or ``{"choice": [...]}``.
    trials : int, default 0
        Draws of a random search (a grid has as many as its combinations).
    seed : int, default 0
        Seeds the random search's draws.
    """

    method: str
    recipe: str
    base: dict[str, Any] = field(default_factory=dict)
    space: dict[str, Any] = field(default_factory=dict)
    trials: int = 0
    seed: int = 0

    def trial_settings(self) -> list[dict[str, Any]]:
        """Each trial's settings (``base`` and its own), in order.

        The grid's combinations, the last setting varying fastest, or the random search's
        draws from ``seed``.

        Returns
        -------
        list of dict
            One per trial.
        """
        if self.method == "grid":
            names = list(self.space)
            combos = itertools.product(*(self.space[n] for n in names))
            return [{**self.base, **dict(zip(names, combo))} for combo in combos]
        rng = np.random.default_rng(self.seed)
        return [{**self.base, **{name: _draw(draw, rng) for name, draw in self.space.items()}}
                for _ in range(self.trials)]

    def config(self, settings: dict[str, Any]) -> TrainConfig:
        """One trial's TrainConfig: the recipe with ``settings`` applied, checked.

        Parameters
        ----------
        settings : dict
            The trial's settings (see ``trial_settings``).

        Returns
        -------
        TrainConfig
            The checked config.

        Raises
        ------
        ValueError
            For a bad value, naming the setting.
        """
        given: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                                 for k, v in settings.items()}
        batch = given.pop("batch_size", None)
        data_dir = given.pop("data_dir", None)
        config = RECIPES[self.recipe].with_overrides(**given)
        changes: dict[str, Any] = {}
        if batch is not None:
            changes["batch_size"] = batch or None  # 0 means the whole set, as --batch-size
        if data_dir is not None:
            changes["data_dir"] = os.path.abspath(data_dir)
            changes["dataset"] = given.get("dataset") or Path(data_dir).resolve().name
        return replace(config, **changes).validate() if changes else config


def _draw(draw: dict[str, list[Any]], rng: np.random.Generator) -> Any:
    (kind, values), = draw.items()
    if kind == "choice":
        return values[int(rng.integers(len(values)))]
    low, high = values
    if kind == "uniform":
        return float(rng.uniform(low, high))
    if kind == "log_uniform":
        return float(math.exp(rng.uniform(math.log(low), math.log(high))))
    return int(rng.integers(low, high + 1))  # int_uniform: both ends included


def load_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Read and check a sweep file, and every trial's settings.

    Parameters
    ----------
    path : str or os.PathLike
        The TOML file.

    Returns
    -------
    SweepSpec
        The sweep, each of its trials' configs checked.

    Raises
    ------
    SweepError
        For a file that cannot be read or parsed, an unknown key, a bad search space, or a
        trial whose settings are not valid, naming the file and the key or trial.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise SweepError(f"{path}: {e.strerror or e}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SweepError(f"{path}: not a TOML file ({e})") from None
    for key in data:
        _known(path, key, TOP_KEYS, "key")
    method = data.get("method", "grid")
    if method not in METHODS:
        raise SweepError(f"{path}: method {method!r}: must be one of {', '.join(METHODS)}")
    recipe = data.get("recipe", "default")
    if recipe not in RECIPES:
        raise SweepError(f"{path}: recipe {recipe!r}: must be one of {', '.join(RECIPES)}")
    base, space = data.get("base", {}), data.get(method, {})
    other = "random" if method == "grid" else "grid"
    if other in data:
        raise SweepError(f"{path}: [{other}] given, but method is {method!r}")
    for table, name in ((base, "base"), (space, method)):
        if not isinstance(table, dict):
            raise SweepError(f"{path}: {name} must be a table ([{name}])")
        for key in table:
            _known(path, key, SETTINGS, f"[{name}] setting")
    if not space:
        raise SweepError(f"{path}: [{method}] is empty: give the settings to search")
    _check_space(path, method, space)
    trials = data.get("trials", 0)
    if method == "random" and not (isinstance(trials, int) and trials >= 1):
        raise SweepError(f"{path}: trials {trials!r}: a random search needs trials >= 1")
    seed = data.get("seed", 0)
    if not isinstance(seed, int):
        raise SweepError(f"{path}: seed {seed!r}: must be an integer")
    spec = SweepSpec(method, recipe, base, space, trials if method == "random" else 0, seed)
    for k, settings in enumerate(spec.trial_settings()):
        try:
            config = spec.config(settings)
        except ValueError as e:
            raise SweepError(f"{path}: trial {k} ({describe(settings, space)}): {e}") from None
        if config.val_split == 0:
            raise SweepError(f"{path}: val_split 0: a sweep ranks its trials by validation "
                             "accuracy, so it needs a validation split")
    return spec


def _known(path: Path, key: str, known: tuple[str, ...], what: str) -> None:
    if key not in known:
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean {close[0]}?" if close else f" (known: {', '.join(known)})"
        raise SweepError(f"{path}: unknown {what} {key!r}{hint}")


def _check_space(path: Path, method: str, space: dict[str, Any]) -> None:
    for name, values in space.items():
        where = f"{path}: [{method}] {name}"
        if method == "grid":
            if not isinstance(values, list) or not values:
                raise SweepError(f"{where}: give a list of values, e.g. {name} = [1, 2]")
            continue
        if not (isinstance(values, dict) and len(values) == 1 and next(iter(values)) in DRAWS):
            raise SweepError(f"{where}: give one draw, such as {name} = {{ log_uniform = "
                             f"[0.0001, 0.01] }} (one of {', '.join(DRAWS)})")
        (kind, bounds), = values.items()
        if not isinstance(bounds, list) or not bounds:
            raise SweepError(f"{where}: {kind} takes a list")
        if kind != "choice":
            if len(bounds) != 2 or not all(isinstance(b, int | float) for b in bounds) \
                    or bounds[0] > bounds[1]:
                raise SweepError(f"{where}: {kind} takes [low, high], low <= high")
            if kind == "log_uniform" and bounds[0] <= 0:
                raise SweepError(f"{where}: log_uniform takes bounds > 0")
            if kind == "int_uniform" and not all(isinstance(b, int) for b in bounds):
                raise SweepError(f"{where}: int_uniform takes integer bounds")


def describe(settings: dict[str, Any], space: dict[str, Any]) -> str:
    """A trial's searched settings as text, such as ``"lr=0.003, hidden=256,128"``.

    Parameters
    ----------
    settings : dict
        The trial's settings.
    space : dict
        The search space, whose settings are named.

    Returns
    -------
    str
        The searched settings and their values.
    """
    return ", ".join(f"{name}={text(settings[name])}" for name in space)


def text(value: Any) -> str:
    """A setting's value as results.csv writes it: lists joined by commas, floats short.

    Parameters
    ----------
    value : object
        The value.

    Returns
    -------
    str
        Its text.
    """
    if isinstance(value, list | tuple):
        return ",".join(text(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
