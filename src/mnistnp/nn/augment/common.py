"""What the augmentation layers share: ``Augmentation``, the training-only input layer they
are kinds of, and the checks of their settings and input shapes."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..base import Shape
from ..graph import GraphBuilder
from ..random_layer import RandomLayer


class Augmentation(RandomLayer):
    """An input layer that changes the training images at random; in evaluation, nothing.

    It comes first in a model, on the images before they are rescaled, so no gradient ever
    passes through it; it takes one image per sample, (H, W) or (C, H, W), and returns the same
    shape. Its random stream is a child of the model's generator (set in ``init``), saved by
    checkpoints. A kind sets its own ``kind``, ``forward`` and ``flops`` (a count is never
    inherited).
    """

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{self.kind} is an input layer: nothing needs its gradient")

    def output_shape(self, input_shape: Shape) -> Shape:
        """The per-sample input shape, (H, W) or (C, H, W), unchanged."""
        return image_shape(input_shape)

    def to_onnx(self, graph: GraphBuilder, x: str, input_shape: Shape) -> str:
        """Training only: evaluation passes the images through."""
        return x


def image_shape(input_shape: Shape) -> Shape:
    """``input_shape`` if it is one image's, (H, W) or (C, H, W).

    Parameters
    ----------
    input_shape : tuple of int
        The shape of one sample, without the batch axis.

    Returns
    -------
    tuple of int
        ``input_shape``, as a tuple.

    Raises
    ------
    ValueError
        If it has neither two nor three axes.
    """
    if len(input_shape) not in (2, 3):
        raise ValueError(f"expects (height, width) or (channels, height, width) samples, "
                         f"gets {tuple(input_shape)}")
    return tuple(input_shape)


def finite_number(value: Any, name: str) -> float:
    """``value`` as a float if it is a finite real number (not a bool or a string).

    Parameters
    ----------
    value : object
        A layer's setting, as given.
    name : str
        The setting's name, for the message.

    Returns
    -------
    float
        ``value``.

    Raises
    ------
    ValueError
        Naming the setting and the value.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)
