"""Pooling layers on (N, C, H, W) batches: MaxPool2D (argmax routing) and GlobalAvgPool."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from .conv import _pair
from .layers import Layer


class MaxPool2D(Layer):
    """The maximum of each ``size`` window, one every ``stride`` pixels (default: ``size``,
    windows side by side), no padding: H' = floor((H - size) / stride) + 1, so rows and
    columns no window reaches are dropped, as PyTorch's ``MaxPool2d``.

    The gradient goes to the window's maximum; on a tie, to the first one in row-major order
    (as PyTorch), so each output's gradient lands exactly once (where a ReLU gave a window of
    zeros, say). A NaN in a window makes its output NaN (as ``np.max``).

    Training-mode outputs and input gradients are reused buffers, valid until the layer's
    next training-mode call; evaluation returns fresh arrays. ``backward`` differentiates the
    last ``forward``, which must be in training mode. ``size`` and ``stride`` are ints or
    (height, width) pairs.
    """

    kind: ClassVar[str] = "MaxPool2D"
    param_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, size: int | Sequence[int] = 2,
                 stride: int | Sequence[int] | None = None) -> None:
        self.size = _pair(size, "pool size")
        self.stride = self.size if stride is None else _pair(stride, "pool stride")
        self._x_shape: tuple[int, ...] = ()
        self._argmax: np.ndarray | None = None  # per output, the offset of its maximum

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
        """(C, H', W') for a per-sample input shape (C, H, W)."""
        if len(input_shape) != 3:
            raise ValueError(f"MaxPool2D expects (channels, height, width) samples, "
                             f"got {tuple(input_shape)}")
        c, h, w = input_shape
        (kh, kw), (sh, sw) = self.size, self.stride
        if h < kh or w < kw:
            raise ValueError(f"a {kh}x{kw} pool does not fit in {h}x{w} images")
        return c, (h - kh) // sh + 1, (w - kw) // sw + 1

    def _windows(self, x: np.ndarray, ho: int, wo: int) -> list[np.ndarray]:
        """The kh*kw strided views (N, C, H', W'), one per offset in the window, row-major."""
        (kh, kw), (sh, sw) = self.size, self.stride
        if (kh, kw) == (sh, sw):  # side by side: (N, C, H', kh, W', kw), the crop is a view
            tiles = x[:, :, :ho * kh, :wo * kw].reshape(*x.shape[:2], ho, kh, wo, kw)
            return [tiles[:, :, :, i, :, j] for i in range(kh) for j in range(kw)]
        return [x[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw]
                for i in range(kh) for j in range(kw)]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        n, c, h, w = x.shape
        _, ho, wo = self.output_shape((c, h, w))
        windows = self._windows(x, ho, wo)
        shape = (n, c, ho, wo)
        if not training:
            self._argmax = None  # backward differentiates the last forward: none here
            y = windows[0].copy()
            for win in windows[1:]:
                np.maximum(y, win, out=y)
            return y
        self._x_shape = x.shape
        y = self._buffer("out", shape, x.dtype)
        argmax = self._buffer("argmax", shape, np.dtype(np.uint8))
        greater = self._buffer("greater", shape, np.dtype(bool))
        np.copyto(y, windows[0])
        argmax[...] = 0
        for k, win in enumerate(windows[1:], 1):
            # Strictly greater: on a tie the earlier offset keeps the gradient.
            np.greater(win, y, out=greater)
            np.copyto(argmax, k, where=greater)
            np.maximum(y, win, out=y)
        self._argmax = argmax
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._argmax is None:
            raise RuntimeError("MaxPool2D.backward needs a training-mode forward before it")
        n, c, h, w = self._x_shape
        ho, wo = grad_out.shape[2:]
        dx = self._buffer("dx", (n, c, h, w), grad_out.dtype)
        hit = self._buffer("hit", grad_out.shape, np.dtype(bool))
        windows = self._windows(dx, ho, wo)
        argmax = self._argmax
        (kh, kw), (sh, sw) = self.size, self.stride
        if (kh, kw) == (sh, sw):
            # The windows tile dx without overlap: one product written per offset; only the
            # rows and columns past the last window need zeros.
            dx[:, :, ho * kh:] = 0
            dx[:, :, :, wo * kw:] = 0
            for k, win in enumerate(windows):
                np.equal(argmax, k, out=hit)
                np.multiply(grad_out, hit, out=win)
            return dx
        dx[...] = 0  # overlapping windows: their gradients add up
        for k, win in enumerate(windows):
            np.equal(argmax, k, out=hit)
            win += grad_out * hit
        return dx

    def spec(self) -> dict[str, Any]:
        return {"type": self.kind, "size": list(self.size), "stride": list(self.stride)}

    @classmethod
    def from_spec(cls, spec: dict[str, Any], dtype: np.dtype | str = "float32") -> MaxPool2D:
        return cls(list(spec["size"]), list(spec["stride"]))


class GlobalAvgPool(Layer):
    """The mean of each channel over the image: (N, C, H, W) -> (N, C). A cheap head for a
    CNN (no weights) in place of a large Dense on the flattened maps."""

    kind: ClassVar[str] = "GlobalAvgPool"
    param_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self._x_shape: tuple[int, ...] = ()

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int]:
        """(C,) for a per-sample input shape (C, H, W)."""
        if len(input_shape) != 3:
            raise ValueError(f"GlobalAvgPool expects (channels, height, width) samples, "
                             f"got {tuple(input_shape)}")
        return (input_shape[0],)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x_shape = x.shape
        out = self._buffer("out", x.shape[:2], x.dtype) if training else None
        return np.mean(x, axis=(2, 3), out=out)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        dx = self._buffer("dx", self._x_shape, grad_out.dtype)
        np.multiply(grad_out[:, :, None, None], 1.0 / math.prod(self._x_shape[2:]), out=dx)
        return dx

    def spec(self) -> dict[str, Any]:
        return {"type": self.kind}

    @classmethod
    def from_spec(cls, spec: dict[str, Any], dtype: np.dtype | str = "float32") -> GlobalAvgPool:
        return cls()
