"""Data augmentation as training-only layers on the raw images: random shifts (``RandomShift``),
affine transforms (``RandomAffine``) and strokes grown or thinned (``RandomStroke``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from .base import Layer, Shape
from .graph import GraphBuilder
from .random_layer import RandomLayer
from .shorthand import Arg, Shorthand, fraction, number, whole

# Shifts of more than this move a 28x28 digit's strokes off the image.
MAX_SHIFT = 8


class RandomShift(RandomLayer):
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

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError("RandomShift is an input layer: nothing needs its gradient")

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 2:
            raise ValueError(f"takes images (height, width), gets {tuple(input_shape)}")
        return tuple(input_shape)

    def flops(self, input_shape: Shape) -> int:
        """0: training only, the identity in evaluation."""
        return 0

    def __repr__(self) -> str:
        return f"RandomShift(shift={self.shift})"

    def to_onnx(self, graph: GraphBuilder, x: str, input_shape: Shape) -> str:
        """Training only: evaluation passes the images through."""
        return x


# Coordinates. A pixel is addressed as (row, column), rows going down, and an image of
# height h and width w turns about its centre ((h - 1) / 2, (w - 1) / 2). A transform is
# given by where each OUTPUT pixel samples the input (the inverse map), as an affine matrix
# (2, 3): [source row, source column] = M @ [row, column, 1]. Sampling is bilinear between
# the four pixels around the source point, pixels outside the image counting as 0 (the
# background), so a point more than a pixel outside samples 0 (PyTorch's ``grid_sample``
# with zero padding and ``align_corners=True`` does the same).


def affine_matrices(angles: np.ndarray, scales: np.ndarray, shifts: np.ndarray,
                    height: int, width: int) -> np.ndarray:
    """The sampling matrices (see the note above) that rotate, scale, then move n images.

    Rotation and scaling are about the image centre.

    Parameters
    ----------
    angles : ndarray of shape (n,), dtype float
        Rotations in degrees, counter-clockwise as displayed (90 is ``np.rot90``).
    scales : ndarray of shape (n,), dtype float
        Scale factors, > 0 (2 doubles the size).
    shifts : ndarray of shape (n, 2), dtype float or integer
        Moves in pixels, (down, right), applied after the rotation and scaling.
    height, width : int
        The images' size in pixels, which places their centre.

    Returns
    -------
    ndarray of shape (n, 2, 3), dtype float64
        For each image, M with [source row, source column] = M @ [row, column, 1] for every
        output pixel (row, column).
    """
    theta = np.deg2rad(np.asarray(angles, np.float64))
    scales = np.asarray(scales, np.float64)
    cos, sin = np.cos(theta) / scales, np.sin(theta) / scales
    n = len(theta)
    m = np.empty((n, 2, 3))
    # The inverse of "rotate, then scale": rotate back by theta and divide by the scale.
    m[:, 0, 0], m[:, 0, 1] = cos, sin
    m[:, 1, 0], m[:, 1, 1] = -sin, cos
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    # source = A (out - centre - shift) + centre, so the offset is centre - A (centre + shift)
    m[:, :, 2] = centre - np.einsum("nij,nj->ni", m[:, :, :2],
                                    centre + np.asarray(shifts, np.float64))
    return m


def affine_resample(x: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Each image of ``x`` resampled bilinearly where its matrix maps the output pixels.

    Points outside the image read 0; all channels of an image are moved alike. One vectorised
    gather for the batch: the source points of all output pixels come from two broadcast
    sums, then each of the four neighbours is one ``np.take`` from a zero-bordered copy of the
    batch, so no Python loop runs per image or per pixel.

    Parameters
    ----------
    x : ndarray of shape (n, h, w) or (n, c, h, w), dtype any real
        The images.
    matrices : ndarray of shape (n, 2, 3), dtype float
        One sampling matrix per image, as ``affine_matrices`` makes them.

    Returns
    -------
    ndarray of shape x.shape, dtype x.dtype
        A fresh array: float input is interpolated in its own dtype; integer input in
        float32, then rounded to the nearest integer.
    """
    n, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    if n == 0:
        return x.copy()
    images = x.reshape(n, -1, h, w)  # (N, C, H, W)
    c = images.shape[1]
    work = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float32)
    # One row and column of zeros before, two after: any neighbour of a source point clipped
    # to [-1, h] x [-1, w] lies inside, and every one outside the image reads a zero.
    hp, wp = h + 3, w + 3
    padded = np.zeros((n, c, hp, wp), work)
    padded[:, :, 1:h + 1, 1:w + 1] = images
    m = matrices.astype(np.float32)
    r, q = (_outer_sum(m[:, k], h, w) for k in range(2))  # (N, H*W) source rows, columns
    np.clip(r, -1, h, out=r)
    np.clip(q, -1, w, out=q)
    r0, q0 = np.floor(r), np.floor(q)
    fr, fq = (r - r0).astype(work), (q - q0).astype(work)  # (N, H*W) weights of the far pixel
    # Flat index of each top-left neighbour in padded (N, C, Hp, Wp); exact in float32
    # (a few thousand at most) before the cast.
    top_left = (r0 * wp + q0).astype(np.intp)
    top_left += (wp + 1) + np.arange(n)[:, None] * (c * hp * wp)
    if c > 1:  # the same points in every channel: (N, C, H*W)
        top_left = top_left[:, None, :] + np.arange(c)[None, :, None] * (hp * wp)
        fr, fq = fr[:, None, :], fq[:, None, :]
    flat = padded.ravel()
    v00, v01 = np.take(flat, top_left), np.take(flat, top_left + 1)
    v10, v11 = np.take(flat, top_left + wp), np.take(flat, top_left + wp + 1)
    # a + f (b - a) rather than four weighted terms: fewer passes, and exact where f is 0, so
    # a whole-pixel move copies pixel values unchanged.
    v01 -= v00
    v01 *= fq
    v01 += v00  # the top pair, interpolated along the row
    v11 -= v10
    v11 *= fq
    v11 += v10  # the bottom pair
    v11 -= v01
    v11 *= fr
    v11 += v01
    out = v11.reshape(x.shape)
    if work != x.dtype:
        out = np.rint(out, out=out).astype(x.dtype)
    return out


def _outer_sum(m: np.ndarray, h: int, w: int) -> np.ndarray:
    """m[:, 0] * row + m[:, 1] * column + m[:, 2] for every pixel, (N, H*W) from ``m`` (N, 3):
    a term in the row plus one in the column, so one broadcast pass over the batch. (Not a
    (2N, 3) @ (3, H*W) product: OpenBLAS with 2 threads stalled on it to 16 ms on a busy
    machine, against well under 1 ms here.)"""
    by_row = m[:, 0, None] * np.arange(h, dtype=m.dtype) + m[:, 2, None]  # (N, H)
    by_col = m[:, 1, None] * np.arange(w, dtype=m.dtype)  # (N, W)
    return (by_row[:, :, None] + by_col[:, None, :]).reshape(len(m), h * w)


def _number(value: Any, name: str) -> float:
    """``value`` as a float if it is a finite real number (not a bool or a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


class RandomAffine(RandomLayer):
    """In training, turn, scale and move each image at random; in evaluation, nothing.

    Each image turns by a random angle in [-rotate, rotate] degrees and is scaled by a random
    factor in ``scale`` = (low, high), both about its centre, then moves by a random whole
    number of pixels in [-shift, shift] along each axis (as ``RandomShift``), resampled
    bilinearly with 0 (the background) outside (``affine_resample``).

    It takes (n_samples, height, width) or (n_samples, channels, height, width) batches of any
    dtype and returns the same shape and dtype (integers are rounded), so it can come first,
    before the uint8 images are scaled to floats. It is an input layer: no gradient passes
    through it. Its random stream is a child of the model's generator (set in ``init``), so a
    seed gives the same transforms, and a checkpoint saves and restores it.

    Parameters
    ----------
    rotate : float, default 0.0
        The largest turn, in degrees, in [0, 180]; angles are drawn uniformly from
        [-rotate, rotate].
    scale : (float, float), default (1.0, 1.0)
        The range (low, high) scale factors are drawn uniformly from, 0 < low <= high.
    shift : int, default 0
        The largest move, in whole pixels, along each axis; >= 0.

    Raises
    ------
    ValueError
        For a value out of those ranges or of the wrong type, naming it.
    """

    kind: ClassVar[str] = "RandomAffine"
    shorthands: ClassVar[dict[str, Shorthand]] = {"affine": Shorthand(
        (Arg("DEG", number(0, 180)), Arg("SCALE", fraction), Arg("PX", whole(0, MAX_SHIFT), 0)),
        "in training, turn the images by up to DEG degrees, scale them by 1 - SCALE to "
        "1 + SCALE and move them by up to PX whole pixels (default 0); first only")}
    param_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, rotate: float = 0.0, scale: Sequence[float] = (1.0, 1.0),
                 shift: int = 0) -> None:
        super().__init__()
        self.rotate = _number(rotate, "rotate")
        if not 0 <= self.rotate <= 180:
            raise ValueError(f"rotate must be in [0, 180] degrees, got {rotate!r}")
        if not isinstance(scale, (list, tuple)) or len(scale) != 2:
            raise ValueError(f"scale must be a (low, high) pair, got {scale!r}")
        low, high = (_number(v, "scale") for v in scale)
        if not 0 < low <= high:
            raise ValueError(f"scale must be a (low, high) pair with 0 < low <= high, "
                             f"got {scale!r}")
        self.scale = (low, high)
        if isinstance(shift, bool) or not isinstance(shift, (int, np.integer)) or shift < 0:
            raise ValueError(f"shift must be an int >= 0, got {shift!r}")
        self.shift = int(shift)

    @property
    def identity(self) -> bool:
        """True if every transform it can draw is the identity."""
        return self.rotate == 0 and self.scale == (1.0, 1.0) and self.shift == 0

    def output_shape(self, input_shape: Shape) -> Shape:
        """The per-sample input shape, (H, W) or (C, H, W), unchanged."""
        return image_shape(input_shape)

    def flops(self, input_shape: Shape) -> int:
        """0: training only, the identity in evaluation."""
        return 0

    def sample_matrices(self, n: int, height: int, width: int) -> np.ndarray:
        """Draw n transforms from the layer's stream.

        Parameters
        ----------
        n : int
            How many: one per image of the batch.
        height, width : int
            The images' size in pixels.

        Returns
        -------
        ndarray of shape (n, 2, 3), dtype float64
            The sampling matrices (see ``affine_matrices``).
        """
        angles = self.rng.uniform(-self.rotate, self.rotate, n)
        scales = self.rng.uniform(*self.scale, n)
        shifts = self.rng.integers(-self.shift, self.shift + 1, size=(n, 2))
        return affine_matrices(angles, scales, shifts, height, width)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.identity:
            return x
        return affine_resample(x, self.sample_matrices(len(x), *x.shape[-2:]))

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError("RandomAffine is an input layer: nothing needs its gradient")

    @classmethod
    def from_shorthand(cls, name: str, values: tuple[Any, ...], input_shape: Shape,
                       dtype: np.dtype) -> list[Layer]:
        """``affine:DEG:SCALE:PX``: scales from 1 - SCALE to 1 + SCALE."""
        rotate, scale, shift = values
        return [cls(rotate, (1 - scale, 1 + scale), shift)]

    def __repr__(self) -> str:
        low, high = self.scale
        return f"RandomAffine(rotate={self.rotate:g}, scale={low:g}-{high:g}, shift={self.shift})"

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


class RandomStroke(RandomLayer):
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
        self.grow = _number(grow, "grow")
        self.thin = _number(thin, "thin")
        for name, value in (("grow", self.grow), ("thin", self.thin)):
            if not 0 <= value <= MAX_STROKE:
                raise ValueError(f"{name} must be in [0, {MAX_STROKE:g}] pixels, got {value!r}")

    def output_shape(self, input_shape: Shape) -> Shape:
        """The per-sample input shape, (H, W) or (C, H, W), unchanged."""
        return image_shape(input_shape)

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

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError("RandomStroke is an input layer: nothing needs its gradient")

    @classmethod
    def from_shorthand(cls, name: str, values: tuple[Any, ...], input_shape: Shape,
                       dtype: np.dtype) -> list[Layer]:
        """``stroke:GROW[:THIN]``: THIN defaults to GROW."""
        grow, thin = values
        return [cls(grow, grow if thin is None else thin)]

    def __repr__(self) -> str:
        return f"RandomStroke(grow={self.grow:g}, thin={self.thin:g})"

    def to_onnx(self, graph: GraphBuilder, x: str, input_shape: Shape) -> str:
        """Training only: evaluation passes the images through."""
        return x
