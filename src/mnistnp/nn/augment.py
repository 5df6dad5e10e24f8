"""Data augmentation as a training-only layer: random shifts of whole images."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import Arg, RandomLayer, Shape, Shorthand, whole

# Shifts of more than this move a 28x28 digit's strokes off the image.
MAX_SHIFT = 8


class RandomShift(RandomLayer):
    """In training, move each image (n_samples, height, width) by a random whole number of
    pixels in [-shift, shift] along each axis, filling with 0 (the background); in evaluation
    the identity. Small shifts are the classic way to teach an MLP that a digit moved by a
    pixel is the same digit. It works on the raw images, before they are rescaled, and it is
    first in the model, so no gradient ever passes through it.

    Its random stream is a child of the model's generator (set in ``init``).
    """

    kind = "RandomShift"
    shorthands: ClassVar[dict[str, Shorthand]] = {"shift": Shorthand(
        (Arg("PX", whole(1, MAX_SHIFT)),),
        "in training, move the images by up to PX pixels; first only")}

    def __init__(self, shift: int) -> None:
        if not (isinstance(shift, (int, np.integer)) and not isinstance(shift, bool)
                and shift >= 0):
            raise ValueError(f"shift must be a whole number >= 0, got {shift!r}")
        super().__init__()
        self.shift = int(shift)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        s = self.shift
        if not training or s == 0:
            return x
        n, h, w = x.shape
        padded = np.zeros((n, h + 2 * s, w + 2 * s), dtype=x.dtype)
        padded[:, s:s + h, s:s + w] = x
        dy, dx = self.rng.integers(0, 2 * s + 1, size=(2, n))
        rows = dy[:, None, None] + np.arange(h)[None, :, None]  # (n, h, 1)
        cols = dx[:, None, None] + np.arange(w)[None, None, :]  # (n, 1, w)
        return padded[np.arange(n)[:, None, None], rows, cols]  # (n, h, w)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError("RandomShift is an input layer: nothing needs its gradient")

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 2:
            raise ValueError(f"takes images (height, width), gets {tuple(input_shape)}")
        return tuple(input_shape)

    def __repr__(self) -> str:
        return f"RandomShift(shift={self.shift})"
