"""A network as plain data for pickle, and back: its layers hold views into one parameter
buffer, which pickle would copy apart."""

from __future__ import annotations

from typing import Any

from ..model_file import load_state, named_state
from ..nn import Sequential
from ..nn.random_layer import RandomLayer


def pack(model: Sequential) -> dict[str, Any]:
    """``model`` as plain data, for pickle.

    Parameters
    ----------
    model : Sequential
        The network.

    Returns
    -------
    dict
        Its spec, weights (a copy of ``params``), layer state and the random layers' streams.
    """
    return {"spec": model.spec(), "params": model.params.copy(),
            "state": {name: a.copy() for name, a in named_state(model).items()},
            "streams": [layer.random_state() for layer in model.layers
                        if isinstance(layer, RandomLayer)]}


def unpack(packed: dict[str, Any]) -> Sequential:
    """The model ``pack`` described, its weights in one buffer again.

    It predicts, and trains on, exactly as the packed one would.

    Parameters
    ----------
    packed : dict
        What ``pack`` gave.

    Returns
    -------
    Sequential
        The network.
    """
    model = Sequential.from_spec(packed["spec"])
    model.params[...] = packed["params"]
    load_state(model, packed["state"])
    randoms = [layer for layer in model.layers if isinstance(layer, RandomLayer)]
    for layer, stream in zip(randoms, packed["streams"], strict=True):
        layer.load_random_state(stream)
    return model
