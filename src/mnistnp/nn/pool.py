"""Pooling layers on (N, C, H, W) batches: MaxPool2D (argmax routing) and GlobalAvgPool."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from . import threads
from .base import Layer, Shape
from .columns import FEW_IMAGES
from .conv import _pair
from .graph import GraphBuilder
from .layers import with_channels
from .layout import channel_major, scratch_like
from .shorthand import Arg, Shorthand, whole


class MaxPool2D(Layer):
    """The maximum of each ``size`` window, one every ``stride`` pixels, as PyTorch's ``MaxPool2d``.

    ``stride`` defaults to ``size`` (windows side by side); no padding: H' = floor((H - size) /
    stride) + 1, so rows and columns no window reaches are dropped.

    The gradient goes to the window's maximum; on a tie, to the first one in row-major order
    (as PyTorch), so each output's gradient lands exactly once (where a ReLU gave a window of
    zeros, say). A NaN in a window makes its output NaN (as ``np.max``).

    Training-mode outputs and input gradients are reused buffers, valid until the layer's
    next training-mode call; evaluation returns fresh arrays. ``backward`` differentiates the
    last ``forward``, which must be in training mode. ``size`` and ``stride`` are ints or
    (height, width) pairs.

    Parameters
    ----------
    size : int or (int, int), default 2
        The window's height and width.
    stride : int or (int, int), optional
        The step between windows; default ``size``.
    """

    kind: ClassVar[str] = "MaxPool2D"
    shorthands: ClassVar[dict[str, Shorthand]] = {"maxpool": Shorthand(
        (Arg("S", whole(1)), Arg("STRIDE", whole(1), None)),
        "the maximum of each SxS window, windows STRIDE apart (default S); after conv:... "
        "it goes before the conv's ReLU (the same values, less work)")}
    param_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, size: int | Sequence[int] = 2,
                 stride: int | Sequence[int] | None = None) -> None:
        self.size = _pair(size, "pool size")
        self.stride = self.size if stride is None else _pair(stride, "pool stride")
        self._x_shape: tuple[int, ...] = ()
        self._channels_first = False
        # Where each maximum was: (row, column) within the window, or the offset when windows
        # overlap; None after an evaluation-mode forward.
        self._argmax: tuple[np.ndarray, ...] | None = None

    def output_shape(self, input_shape: Shape) -> tuple[int, int, int]:
        """(C, H', W') for a per-sample input shape (C, H, W)."""
        if len(input_shape) != 3:
            raise ValueError(f"expects (channels, height, width) samples, "
                             f"gets {tuple(input_shape)}")
        c, h, w = input_shape
        (kh, kw), (sh, sw) = self.size, self.stride
        if h < kh or w < kw:
            raise ValueError(f"a {kh}x{kw} pool does not fit in {h}x{w} images")
        return c, (h - kh) // sh + 1, (w - kw) // sw + 1

    def flops(self, input_shape: Shape) -> int:
        """kh * kw - 1 comparisons per output value: C * H' * W' * (kh * kw - 1)."""
        kh, kw = self.size
        return math.prod(self.output_shape(input_shape)) * (kh * kw - 1)

    def _like(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        return scratch_like(self, name, shape, dtype, self._channels_first)

    def _tiled(self) -> bool:
        return self.size == self.stride

    def _tiles(self, x: np.ndarray, ho: int, wo: int) -> np.ndarray:
        """(N, C, H', kh, W', kw): the windows side by side, a view (the crop is a slice)."""
        (kh, kw) = self.size
        return x[:, :, :ho * kh, :wo * kw].reshape(*x.shape[:2], ho, kh, wo, kw)

    def _windows(self, x: np.ndarray, ho: int, wo: int) -> list[np.ndarray]:
        """The kh*kw strided views (N, C, H', W'), one per offset in the window, row-major."""
        (kh, kw), (sh, sw) = self.size, self.stride
        return [x[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
                for i in range(kh) for j in range(kw)]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        n, c, h, w = x.shape
        _, ho, wo = self.output_shape((c, h, w))
        kh = self.size[0]
        self._x_shape = x.shape
        self._channels_first = channel_major(x)  # buffers follow x's layout
        if not training:
            self._argmax = None  # backward differentiates the last forward: none here
            if self._tiled() and n > FEW_IMAGES:  # the maximum along each row's windows,
                # then down the rows: two passes (a few images: fewer NumPy calls below)
                rows = _max_of(list(np.moveaxis(self._tiles(x, ho, wo), 5, 0)))
                return _max_of(list(np.moveaxis(rows, 3, 0)))
            return _max_of(self._windows(x, ho, wo))
        if self._tiled():
            # Two rounds, each keeping the first maximum on a tie: across each row of a
            # window, then down the rows' winners. That picks the first maximum in row-major
            # order, and costs two passes over the input (a round of kh*kw - 1 comparisons
            # against a running maximum costs more than twice that).
            rows = self._like("rows", (n, c, ho, kh, wo), x.dtype)
            col_index = self._like("col_index", rows.shape, np.dtype(np.uint8))
            rows_greater = self._like("rows_greater", rows.shape, np.dtype(bool))
            y = self._like("out", (n, c, ho, wo), x.dtype)
            row_index = self._like("row_index", y.shape, np.dtype(np.uint8))
            greater = self._like("greater", y.shape, np.dtype(bool))

            def tiled(lo: int, hi: int) -> None:  # samples lo:hi, on one thread
                _max_first(list(np.moveaxis(self._tiles(x[lo:hi], ho, wo), 5, 0)),
                           rows[lo:hi], col_index[lo:hi], rows_greater[lo:hi])
                _max_first(list(np.moveaxis(rows[lo:hi], 3, 0)), y[lo:hi], row_index[lo:hi],
                           greater[lo:hi])

            threads.run(tiled, n, x.size)
            self._argmax = (row_index, col_index)
            return y
        y = self._like("out", (n, c, ho, wo), x.dtype)
        index = self._like("index", y.shape, np.dtype(np.uint8))
        greater = self._like("greater", y.shape, np.dtype(bool))
        threads.run(lambda lo, hi: _max_first(self._windows(x[lo:hi], ho, wo), y[lo:hi],
                                              index[lo:hi], greater[lo:hi]), n, x.size)
        self._argmax = (index,)
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._argmax is None:
            raise RuntimeError("MaxPool2D.backward needs a training-mode forward before it")
        n, c, h, w = self._x_shape
        ho, wo = grad_out.shape[2:]
        kh, kw = self.size
        dx = self._like("dx", (n, c, h, w), grad_out.dtype)
        if channel_major(grad_out) != self._channels_first:
            # One copy into the layout of the saved maxima: a quarter of the image size, cheaper
            # than the mixed-layout passes below it saves.
            reordered = self._like("grad", grad_out.shape, grad_out.dtype)
            np.copyto(reordered, grad_out)
            grad_out = reordered
        if self._tiled():
            row_index, col_index = self._argmax
            rows = self._like("grad_rows", (n, c, ho, kh, wo), grad_out.dtype)
            hit = self._like("hit", row_index.shape, np.dtype(bool))
            rows_hit = self._like("rows_hit", col_index.shape, np.dtype(bool))

            def tiled(lo: int, hi: int) -> None:  # samples lo:hi, on one thread
                # The windows tile dx without overlap, so each entry is written once; only
                # the rows and columns past the last window need zeros.
                dx[lo:hi, :, ho * kh:] = 0
                dx[lo:hi, :, :, wo * kw:] = 0
                _route(grad_out[lo:hi], row_index[lo:hi], list(np.moveaxis(rows[lo:hi], 3, 0)),
                       hit[lo:hi])
                _route(rows[lo:hi], col_index[lo:hi],
                       list(np.moveaxis(self._tiles(dx[lo:hi], ho, wo), 5, 0)), rows_hit[lo:hi])

            threads.run(tiled, n, dx.size)
            return dx
        (index,) = self._argmax
        hit = self._like("hit", index.shape, np.dtype(bool))

        def overlapping(lo: int, hi: int) -> None:  # samples lo:hi, on one thread
            dx[lo:hi] = 0  # overlapping windows: their gradients add up
            for k, win in enumerate(self._windows(dx[lo:hi], ho, wo)):
                np.equal(index[lo:hi], k, out=hit[lo:hi])
                win += grad_out[lo:hi] * hit[lo:hi]

        threads.run(overlapping, n, dx.size)
        return dx

    @classmethod
    def from_shorthand(cls, name: str, values: tuple[Any, ...], input_shape: Shape,
                       dtype: np.dtype) -> list[Layer]:
        """This layer, after an ``AddChannel`` when ``input_shape`` has no channel axis."""
        return [*with_channels(input_shape), cls(*values)]

    def __repr__(self) -> str:
        size, stride = (f"{a}" if a == b else f"{a}x{b}" for a, b in (self.size, self.stride))
        return f"MaxPool2D({size}{'' if self.stride == self.size else f', stride {stride}'})"

    def to_onnx(self, graph: GraphBuilder, x: str, input_shape: Shape) -> str:
        """MaxPool without padding (ONNX's default floor keeps only whole windows)."""
        return graph.node("MaxPool", [x], kernel_shape=list(self.size), strides=list(self.stride))


def _max_of(views: list[np.ndarray]) -> np.ndarray:
    """The elementwise maximum of same-shaped ``views``, a fresh array."""
    out = views[0].copy()
    for view in views[1:]:
        np.maximum(out, view, out=out)
    return out


def _max_first(views: list[np.ndarray], out: np.ndarray, index: np.ndarray,
               greater: np.ndarray) -> None:
    """``out`` = the elementwise maximum of ``views``, ``index`` = which view holds it, the
    first one on a tie (uint8). ``greater`` is a bool scratch of the same shape."""
    if len(views) == 1:
        np.copyto(out, views[0])
        index[...] = 0
        return
    np.greater(views[1], views[0], out=index.view(bool))  # strictly: a tie keeps view 0
    np.maximum(views[0], views[1], out=out)
    for k, view in enumerate(views[2:], 2):
        np.greater(view, out, out=greater)
        np.copyto(index, k, where=greater)
        np.maximum(out, view, out=out)


def _route(grad: np.ndarray, index: np.ndarray, outs: list[np.ndarray],
           hit: np.ndarray) -> None:
    """``outs[k]`` = ``grad`` where ``index`` == k, else 0 (``hit``: a bool scratch)."""
    if len(outs) == 2:
        np.multiply(grad, index.view(bool), out=outs[1])
        np.multiply(grad, np.logical_not(index.view(bool), out=hit), out=outs[0])
        return
    for k, out in enumerate(outs):
        np.multiply(grad, np.equal(index, k, out=hit), out=out)


class GlobalAvgPool(Layer):
    """The mean of each channel over the image: (N, C, H, W) -> (N, C).

    A cheap head for a CNN (no weights) in place of a large Dense on the flattened maps.

    Training-mode outputs and input gradients are reused buffers, valid until the layer's next
    training-mode call; evaluation returns fresh arrays."""

    kind: ClassVar[str] = "GlobalAvgPool"
    shorthands: ClassVar[dict[str, Shorthand]] = {"gap": Shorthand(
        help="global average pooling: each channel's mean over the image")}
    param_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self._x_shape: tuple[int, ...] = ()

    def output_shape(self, input_shape: Shape) -> tuple[int]:
        """(C,) for a per-sample input shape (C, H, W)."""
        if len(input_shape) != 3:
            raise ValueError(f"expects (channels, height, width) samples, "
                             f"gets {tuple(input_shape)}")
        return (input_shape[0],)

    def flops(self, input_shape: Shape) -> int:
        """Per channel, H * W - 1 additions and one division: C * H * W."""
        return math.prod(input_shape)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x_shape = x.shape
        out = self._scratch("out", x.shape[:2], x.dtype) if training else None
        return np.mean(x, axis=(2, 3), out=out)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        dx = self._scratch("dx", self._x_shape, grad_out.dtype)
        np.multiply(grad_out[:, :, None, None], 1.0 / math.prod(self._x_shape[2:]), out=dx)
        return dx

    @classmethod
    def from_shorthand(cls, name: str, values: tuple[Any, ...], input_shape: Shape,
                       dtype: np.dtype) -> list[Layer]:
        """This layer, after an ``AddChannel`` when ``input_shape`` has no channel axis."""
        return [*with_channels(input_shape), cls()]

    def to_onnx(self, graph: GraphBuilder, x: str, input_shape: Shape) -> str:
        """GlobalAveragePool gives (N, C, 1, 1); Flatten makes it (N, C)."""
        return graph.node("Flatten", [graph.node("GlobalAveragePool", [x])], axis=1)
