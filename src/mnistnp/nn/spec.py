"""Layers and models rebuilt from spec data: a layer by the class its kind names
(``layer_from_spec``), a model's layers, input shape and dtype (``model_parts``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Layer, Shape
from .registry import LAYERS


def layer_from_spec(spec: dict[str, Any], dtype: np.dtype | str = "float32") -> Layer:
    """Rebuild a layer from ``Layer.spec()`` data by the class its kind names.

    Raises KeyError/TypeError/ValueError if the spec is bad.

    Parameters
    ----------
    spec : dict
        ``{"type": kind, **settings}``, as ``Layer.spec()`` gives it.
    dtype : numpy.dtype or str, default "float32"
        The model's dtype, for a layer that takes one.

    Returns
    -------
    Layer
        The layer, not yet bound to a model's buffers.
    """
    if not isinstance(spec, dict):
        raise TypeError(f"a layer spec is a JSON object, got {spec!r}")
    cls = LAYERS.get(spec["type"])
    if cls is None:
        raise ValueError(f"unknown layer type {spec['type']!r} (known: {', '.join(LAYERS)})")
    return cls.from_spec(spec, dtype)


def model_parts(spec: dict[str, Any]) -> tuple[list[Layer], Shape, np.dtype]:
    """The layers, input shape and dtype a model's ``spec()`` data describes.

    The layers are rebuilt but not yet bound to buffers; ``Sequential.parts_from_spec`` says
    more. KeyError/TypeError/ValueError if the spec is bad.
    """
    if spec["dtype"] not in ("float32", "float64"):
        raise ValueError(f"dtype {spec['dtype']!r} is not float32 or float64")
    shape = spec["input_shape"]
    if not (isinstance(shape, list) and all(isinstance(n, int) and not isinstance(n, bool)
                                            for n in shape)):
        raise ValueError(f"input_shape {shape!r} is not a list of whole numbers")
    if not isinstance(spec["layers"], list):
        raise ValueError("layers is not a list")
    dtype = np.dtype(spec["dtype"])
    return [layer_from_spec(s, dtype) for s in spec["layers"]], tuple(shape), dtype
