"""Random whole-pixel shifts of the training images (``RandomShift``), the classic augmentation
for an MLP, and the largest shift a layer string may ask for."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..base import Shape
from ..shorthand import Arg, Shorthand, whole
from .common import Augmentation

# Shifts of more than this move a 28x28 digit's strokes off the image.
MAX_SHIFT = 8


class RandomShift(Augmentation):
    """In training, move each image by a random whole number of pixels; in evaluation, nothing.

    Each image of a (n_samples, height, width) batch moves by a random whole number of pixels
    in [-shift, shift] along each axis, filling with 0 (the background); the batch keeps its
    shape and dtype. Small shifts are the classic way to teach an MLP that a digit moved by a
    pixel is the same digit. It works on the raw images, before they are rescaled, and it is
    first in the model, so no gradient ever passes through it.

    Its random stream is a child of the model's generator (set in ``init``).

    Parameters
    ----------
    shift : int
        The largest move, in pixels, along each axis; 0 makes the layer the identity. The
        layer string's ``shift:PX`` takes 1 to MAX_SHIFT (8).

    Raises
    ------
    ValueError
        If ``shift`` is not a whole number >= 0.
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

    def output_shape(self, input_shape: Shape) -> Shape:
        """The per-sample input shape, unchanged: (H, W) only."""
        if len(input_shape) != 2:
            raise ValueError(f"takes images (height, width), gets {tuple(input_shape)}")
        return tuple(input_shape)

    def flops(self, input_shape: Shape) -> int:
        """0: training only, the identity in evaluation."""
        return 0

    def __repr__(self) -> str:
        return f"RandomShift(shift={self.shift})"
