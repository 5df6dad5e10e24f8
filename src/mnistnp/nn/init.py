"""Weight initialisers, one table (``INITIALIZERS``) for every layer with weights: Dense's
(in_features, out_features) and Conv2D's (out_channels, in_channels, kh, kw), as
``torch.nn.init`` does for both."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Initializer = Callable[[np.ndarray, np.random.Generator], None]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of weights of ``shape``: (in, out) for a Dense layer's (in, out);
    (C*kh*kw, F*kh*kw) for a convolution's (F, C, kh, kw), as Keras counts them."""
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def he_normal(w: np.ndarray, rng: np.random.Generator) -> None:
    """He et al. (2015): N(0, 2 / fan_in), suited to ReLU."""
    fan_in, _ = fans(w.shape)
    w[...] = rng.standard_normal(w.shape) * math.sqrt(2.0 / fan_in)


def glorot_uniform(w: np.ndarray, rng: np.random.Generator) -> None:
    """Glorot and Bengio (2010): U(-a, a) with a = sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(w.shape)
    a = math.sqrt(6.0 / (fan_in + fan_out))
    w[...] = rng.uniform(-a, a, w.shape)


# name -> function filling a weight array in place from a generator: a layer's ``init``.
INITIALIZERS: dict[str, Initializer] = {"he": he_normal, "glorot": glorot_uniform}


def check_init(name: str) -> None:
    """ValueError naming ``name`` and the known ones if it is not in ``INITIALIZERS``."""
    if name not in INITIALIZERS:
        raise ValueError(f"unknown init {name!r}; choose from {sorted(INITIALIZERS)}")
