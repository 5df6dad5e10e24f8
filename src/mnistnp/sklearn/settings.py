"""The classifier's parameters as mnistnp settings: the TrainConfig they make (``train_config``)
and the seed an int, a RandomState or None gives (``seed_of``)."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from ..config import RECIPES
from ..model_config import ModelConfig
from ..train_config import TrainConfig


def train_config(params: Mapping[str, Any], seed: int = 0) -> TrainConfig:
    """The TrainConfig of a classifier's parameters: its recipe, overridden by each one given.

    Parameters
    ----------
    params : mapping of str to object
        The classifier's parameters by name, as ``get_params()`` gives them.
    seed : int, default 0
        The config's seed.

    Returns
    -------
    TrainConfig
        The recipe's settings with every parameter given in their place.

    Raises
    ------
    ValueError
        Naming the first bad parameter.
    """
    recipe = params["recipe"]
    if recipe not in RECIPES:
        raise ValueError(f"recipe {recipe!r}: choose from {sorted(RECIPES)}")
    layers = params["layers"]
    if layers is not None and not isinstance(layers, str):
        raise ValueError(f"layers {layers!r}: give a layer string such as "
                         "'dense:256,dropout:0.2'")
    if params["hidden_layer_sizes"] is not None:
        if layers is not None:
            raise ValueError("layers and hidden_layer_sizes are both given: the layers say "
                             "the whole network; give one or the other")
        widths = np.atleast_1d(np.asarray(params["hidden_layer_sizes"])).ravel()
        layers = ModelConfig.mlp(tuple(int(w) for w in widths)).layers
    batch: int | str = params["batch_size"]
    if batch != "auto" and not (isinstance(batch, numbers.Integral) and batch >= 1):
        raise ValueError(f"batch_size {batch!r}: must be 'auto' or an int >= 1")
    early = bool(params["early_stopping"])
    fraction = params["validation_fraction"]
    if early and not 0 < fraction < 1:
        raise ValueError(f"validation_fraction {fraction!r}: must be in (0, 1)")
    return RECIPES[recipe].with_overrides(
        layers=layers, optimizer=params["solver"], lr=params["learning_rate_init"],
        weight_decay=params["alpha"], schedule=params["schedule"],
        batch_size=None if batch == "auto" else int(batch), epochs=params["max_iter"],
        val_split=fraction if early else 0,
        patience=params["n_iter_no_change"] if early else None, dtype=params["dtype"],
        seed=seed, log_every=0)


def seed_of(random_state: Any) -> int:
    """The mnistnp seed of a ``random_state`` parameter.

    An int is the seed itself (``TrainConfig.seed``); otherwise one is drawn from it (None:
    NumPy's global state, as scikit-learn does).

    Parameters
    ----------
    random_state : int, RandomState instance or None
        The classifier's ``random_state``.

    Returns
    -------
    int
        The seed.
    """
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
