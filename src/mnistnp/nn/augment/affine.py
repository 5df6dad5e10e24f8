"""Random affine transforms of the training images (``RandomAffine``): turned, scaled and moved,
resampled bilinearly (``affine_matrices``, ``affine_resample``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from ..base import Layer, Shape
from ..shorthand import Arg, Shorthand, fraction, number, whole
from .common import Augmentation, finite_number
from .shift import MAX_SHIFT

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


class RandomAffine(Augmentation):
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
        self.rotate = finite_number(rotate, "rotate")
        if not 0 <= self.rotate <= 180:
            raise ValueError(f"rotate must be in [0, 180] degrees, got {rotate!r}")
        if not isinstance(scale, (list, tuple)) or len(scale) != 2:
            raise ValueError(f"scale must be a (low, high) pair, got {scale!r}")
        low, high = (finite_number(v, "scale") for v in scale)
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

    @classmethod
    def from_shorthand(cls, name: str, values: tuple[Any, ...], input_shape: Shape,
                       dtype: np.dtype) -> list[Layer]:
        """``affine:DEG:SCALE:PX``: scales from 1 - SCALE to 1 + SCALE."""
        rotate, scale, shift = values
        return [cls(rotate, (1 - scale, 1 + scale), shift)]

    def __repr__(self) -> str:
        low, high = self.scale
        return f"RandomAffine(rotate={self.rotate:g}, scale={low:g}-{high:g}, shift={self.shift})"
