"""Strokes of the training images grown or thinned at random (``RandomStroke``), by a grey
dilation or erosion (``stroke_resample``)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..base import Layer, Shape
from ..shorthand import Arg, Shorthand, number
from .common import Augmentation, finite_number

# Strokes grow or thin by at most this many pixels: beyond two, a 28x28 digit's loops close
# or its strokes break.
MAX_STROKE = 2.0


def _cross_extreme(x: np.ndarray, grow: bool) -> np.ndarray:
    """Each pixel's maximum (``grow``) or minimum over itself and its four neighbours, the
    last two axes of ``x`` being the image's; beyond the edge counts as the pixel itself."""
    pick = np.maximum if grow else np.minimum
    out = x.copy()
    pick(out[..., 1:, :], x[..., :-1, :], out=out[..., 1:, :])
    pick(out[..., :-1, :], x[..., 1:, :], out=out[..., :-1, :])
    pick(out[..., :, 1:], x[..., :, :-1], out=out[..., :, 1:])
    pick(out[..., :, :-1], x[..., :, 1:], out=out[..., :, :-1])
    return out


def stroke_resample(x: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """Each image of ``x`` with its light strokes grown or thinned by its own amount.

    Whole steps of a grey dilation (erosion) by a cross, then a blend towards one more step
    for the fraction.

    Parameters
    ----------
    x : ndarray of shape (n, ..., h, w), dtype any real
        The images, light ink on a dark background.
    amounts : ndarray of shape (n,), dtype float
        For each image, the pixels to grow its strokes by (> 0) or thin them by (< 0).

    Returns
    -------
    ndarray of shape x.shape, dtype float32 (float64 for float64 ``x``)
        The new images, not rounded.
    """
    out = x.astype(np.float64 if x.dtype == np.float64 else np.float32)
    for grow in (True, False):
        chosen = np.flatnonzero(amounts > 0 if grow else amounts < 0)
        if not len(chosen):
            continue
        part = out[chosen]
        left = np.abs(amounts[chosen]).reshape((len(chosen),) + (1,) * (x.ndim - 1))
        while left.max() > 0:
            step = np.minimum(left, 1)
            part += step.astype(out.dtype) * (_cross_extreme(part, grow) - part)
            left = left - step
        out[chosen] = part
    return out


class RandomStroke(Augmentation):
    """In training, grow or thin each image's strokes at random; in evaluation, nothing.

    Each image's strokes grow by a random amount in [0, grow] pixels or thin by one in
    [0, thin] (which of the two at even odds), by a grey dilation or erosion
    (``stroke_resample``). A pen bolder or finer than the
    training set's writers' makes another digit for a model that never saw one.

    It takes (n_samples, height, width) or (n_samples, channels, height, width) batches of any
    dtype and returns the same shape and dtype (integers rounded), light ink on a dark
    background, so it comes first, on the raw images. No gradient passes through it; its
    random stream is a child of the model's generator, saved by checkpoints.

    Parameters
    ----------
    grow : float, default 0.0
        The most a stroke grows by, in pixels, in [0, MAX_STROKE] (2).
    thin : float, default 0.0
        The most a stroke thins by, in pixels, in [0, MAX_STROKE] (2).

    Raises
    ------
    ValueError
        For a value that is not a finite number in that range, naming it.
    """

    kind: ClassVar[str] = "RandomStroke"
    shorthands: ClassVar[dict[str, Shorthand]] = {"stroke": Shorthand(
        (Arg("GROW", number(0, MAX_STROKE)), Arg("THIN", number(0, MAX_STROKE), None)),
        "in training, grow the strokes by up to GROW pixels or thin them by up to THIN "
        "(default GROW); first only")}

    def __init__(self, grow: float = 0.0, thin: float = 0.0) -> None:
        super().__init__()
        self.grow = finite_number(grow, "grow")
        self.thin = finite_number(thin, "thin")
        for name, value in (("grow", self.grow), ("thin", self.thin)):
            if not 0 <= value <= MAX_STROKE:
                raise ValueError(f"{name} must be in [0, {MAX_STROKE:g}] pixels, got {value!r}")

    def flops(self, input_shape: Shape) -> int:
        """0: training only, the identity in evaluation."""
        return 0

    def sample_amounts(self, n: int) -> np.ndarray:
        """Draw n stroke changes from the layer's stream.

        Parameters
        ----------
        n : int
            How many: one per image of the batch.

        Returns
        -------
        ndarray of shape (n,), dtype float64
            The changes in pixels: > 0 grows, < 0 thins, each as likely.
        """
        sizes = self.rng.uniform(0, 1, n)
        grows = self.rng.random(n) < 0.5
        return np.where(grows, sizes * self.grow, -sizes * self.thin)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.grow == self.thin == 0:
            return x
        out = stroke_resample(x, self.sample_amounts(len(x)))
        if np.issubdtype(x.dtype, np.integer):
            info = np.iinfo(x.dtype)
            return np.clip(np.rint(out), info.min, info.max).astype(x.dtype)
        return out.astype(x.dtype, copy=False)

    @classmethod
    def from_shorthand(cls, name: str, values: tuple[Any, ...], input_shape: Shape,
                       dtype: np.dtype) -> list[Layer]:
        """``stroke:GROW[:THIN]``: THIN defaults to GROW."""
        grow, thin = values
        return [cls(grow, grow if thin is None else thin)]

    def __repr__(self) -> str:
        return f"RandomStroke(grow={self.grow:g}, thin={self.thin:g})"
