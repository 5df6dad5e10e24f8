"""Layers: Rescale (uint8 pixels in), Flatten, AddChannel, Dense, ReLU, Dropout; each registers
itself.

The hot path is planned: in training, each layer writes its output and input gradient into
buffers it owns and reuses from batch to batch (``out=``), so a step allocates almost
nothing. Such an output stays valid until the layer's next training-mode call; evaluation
(``training=False``) returns fresh arrays and keeps nothing for ``backward``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from . import threads
from .base import Layer, Shape
from .graph import GraphBuilder
from .init import INITIALIZERS, check_init
from .layout import channel_major, scratch_like
from .random_layer import RandomLayer
from .shorthand import Arg, Shorthand, fraction, whole

__all__ = ["INITIALIZERS", "AddChannel", "Dense", "Dropout", "Flatten", "Layer", "ReLU",
           "Rescale"]

# What an evaluation-mode forward leaves where a training one keeps its input: nothing.
_NOTHING = np.empty((0, 0))
_NOTHING.flags.writeable = False


def describe(shape: Shape) -> str:
    """'40' for rows of 40 numbers, '(28, 28)' for anything else: for shape messages."""
    return str(shape[0]) if len(shape) == 1 else str(tuple(shape))


class Rescale(Layer):
    """Cast a batch of any dtype (uint8 pixels) to the model's float dtype, times ``scale``.

    The model's first layer (after random shifts): with ``scale=1/255`` it takes the uint8
    images as stored, so the pixels stay uint8 until a batch is formed.

    Parameters
    ----------
    scale : float, default 1.0
        The factor, finite and not 0 (1/255 takes pixels 0-255 to [0, 1]).
    dtype : numpy.dtype or str, default "float32"
        The model's dtype, which the output takes.
    """

    kind = "Rescale"

    def __init__(self, scale: float = 1.0, dtype: np.dtype | str = "float32") -> None:
        if not (isinstance(scale, (int, float)) and not isinstance(scale, bool)
                and math.isfinite(scale) and scale != 0):
            raise ValueError(f"scale must be a finite number other than 0, got {scale!r}")
        self.scale = float(scale)
        self.dtype = np.dtype(dtype)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        out = self._scratch("out", x.shape, self.dtype) if training else None
        # One pass: cast and scale together. A scale of the model's dtype keeps uint8 * scale
        # in float32, with no float64 detour.
        return np.multiply(x, self.dtype.type(self.scale), out=out, dtype=self.dtype)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out * grad_out.dtype.type(self.scale)

    def flops(self, input_shape: Shape) -> int:
        """One multiplication per value (the cast is free)."""
        return math.prod(input_shape)

    def __repr__(self) -> str:
        return f"Rescale(scale={self.scale:.3g})"

    def to_onnx(self, graph: GraphBuilder, x: str, input_shape: Shape) -> str:
        """Cast to the graph's float type, then times ``scale`` in that type, as ``forward``."""
        floats = graph.node("Cast", [x], to=graph.dtype)
        return graph.node("Mul", [floats, graph.constant("scale", np.array(self.scale))])


class Flatten(Layer):
    """(n_samples, *shape) -> (n_samples, prod(shape)).

    A reshape, so a view of a contiguous batch (what Rescale gives); a strided one is copied, in
    training into a reused buffer.
    """

    kind = "Flatten"
    shorthands: ClassVar[dict[str, Shorthand]] = {
        "flatten": Shorthand(help="images to rows; dense:N adds one when it gets images")}

    def __init__(self) -> None:
        self._shape: Shape = ()

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if training:
            self._shape = x.shape
            if not x.flags.c_contiguous:  # a strided view, such as a conv layer's output
                buf = self._scratch("out", x.shape, x.dtype)
                buf[...] = x
                x = buf
        # -1 is the quick way (a third of the time of a computed size), but 0 samples need
        # the size spelt out
        return x.reshape(len(x), -1) if len(x) else x.reshape(0, math.prod(x.shape[1:]))

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out.reshape(self._shape)

    def to_onnx(self, graph: GraphBuilder, x: str, input_shape: Shape) -> str:
        """ONNX's Flatten from axis 1 keeps the C order of ``reshape``."""
        return graph.node("Flatten", [x], axis=1)

    def output_shape(self, input_shape: Shape) -> Shape:
        return (math.prod(input_shape),)

    def flops(self, input_shape: Shape) -> int:
        """0: a reshape."""
        return 0


class AddChannel(Layer):
    """(n_samples, height, width) -> (n_samples, 1, height, width), a view.

    Images without a channel axis (MNIST's) as the one-channel images a convolution takes. ``conv``,
    ``maxpool``, ``bn`` and ``gap`` in a layer string add one when they get such images, so the
    model still takes (28, 28) samples, as ``dense:N`` adds a Flatten.
    """

    kind = "AddChannel"

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return x[:, None]

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out[:, 0]

    def to_onnx(self, graph: GraphBuilder, x: str, input_shape: Shape) -> str:
        return graph.node("Unsqueeze", [x, graph.constant("axes", np.array([1], np.int64))])

    def output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 2:
            raise ValueError(f"takes images (height, width), gets {describe(input_shape)}")
        return (1, *input_shape)

    def flops(self, input_shape: Shape) -> int:
        """0: a view."""
        return 0


def with_channels(input_shape: Shape) -> list[Layer]:
    """What an image layer of a layer string needs before it for ``input_shape``: an
    AddChannel for (height, width) images, nothing otherwise."""
    return [AddChannel()] if len(input_shape) == 2 else []


class Dense(Layer):
    """Fully connected layer: ``y = x @ W + b`` on rows (n_samples, in_features).

    W has shape (in_features, out_features) and b (out_features,).

    Weights are He-initialised (normal, std sqrt(2 / in_features)), suited to ReLU; biases are 0.

    Parameters
    ----------
    in_features : int
        Inputs per sample, >= 1.
    out_features : int
        Outputs per sample, >= 1.
    init : {"he", "glorot"}, default "he"
        The weight initialiser (``INITIALIZERS``).
    """

    kind = "Dense"
    shorthands: ClassVar[dict[str, Shorthand]] = {
        "dense": Shorthand((Arg("N", whole(1)),), "N units then a ReLU: a hidden layer"),
        "linear": Shorthand((Arg("N", whole(1)),), "N units, no activation"),
    }
    param_names = ("W", "b")
    config_attributes: ClassVar[dict[str, str]] = {"init": "init_name"}
    # bound by Layer.bind: views into the model's parameter and gradient buffers
    W: np.ndarray
    b: np.ndarray
    dW: np.ndarray
    db: np.ndarray

    def __init__(self, in_features: int, out_features: int, init: str = "he") -> None:
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            if not (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1):
                raise ValueError(f"{name} must be a whole number >= 1, got {n!r}")
        check_init(init)
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.init_name = init
        self.param_shapes = ((self.in_features, self.out_features), (self.out_features,))
        self._x = _NOTHING
        self._ones = np.empty(0)

    def init(self, rng: np.random.Generator) -> None:
        INITIALIZERS[self.init_name](self.W, rng)
        self.b[...] = 0

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x = x if training else _NOTHING  # (N, in) kept for dW; not copied
        out = self._scratch("out", (len(x), self.out_features), self.W.dtype) if training \
            else None
        if threads.owning():  # BLAS is held at one thread: blocks of rows side by side
            y = np.empty((len(x), self.out_features), self.W.dtype) if out is None else out
            threads.run_blocks(lambda lo, hi: np.matmul(x[lo:hi], self.W, out=y[lo:hi]),
                               len(x), threads.BLOCK)
        else:
            y = np.matmul(x, self.W, out=out)  # (N, out)
        y += self.b
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if threads.owning():
            return self._backward_in_blocks(grad_out)
        np.matmul(self._x.T, grad_out, out=self.dW)
        # The column sums as a vector-matrix product: one BLAS call, faster than a reduction.
        n = len(grad_out)
        if len(self._ones) < n or self._ones.dtype != grad_out.dtype:
            self._ones = np.ones(n, grad_out.dtype)
        np.matmul(self._ones[:n], grad_out, out=self.db)
        if not self.needs_input_grad:
            return grad_out[:, :0]  # nobody reads it; skip the (N, in) product
        dx = self._scratch("dx", (len(grad_out), self.in_features), grad_out.dtype)
        return np.matmul(grad_out, self.W.T, out=dx)

    def _backward_in_blocks(self, grad_out: np.ndarray) -> np.ndarray:
        """``backward`` on blocks of ``threads.BLOCK`` rows side by side (inside ``threads.owned``):
        dW and db the sums of the blocks' shares in block order, whatever the thread count."""
        n, x = len(grad_out), self._x
        blocks = -(-n // threads.BLOCK)
        shares = self._scratch("dW_shares", (blocks, *self.dW.shape), self.dW.dtype)
        bias_shares = self._scratch("db_shares", (blocks, len(self.db)), self.db.dtype)
        dx = self._scratch("dx", (n, self.in_features), grad_out.dtype) \
            if self.needs_input_grad else None

        def block(lo: int, hi: int) -> None:
            k = lo // threads.BLOCK
            np.matmul(x[lo:hi].T, grad_out[lo:hi], out=shares[k])
            np.sum(grad_out[lo:hi], axis=0, out=bias_shares[k])
            if dx is not None:
                np.matmul(grad_out[lo:hi], self.W.T, out=dx[lo:hi])

        threads.run_blocks(block, n, threads.BLOCK)
        np.sum(shares, axis=0, out=self.dW)
        np.sum(bias_shares, axis=0, out=self.db)
        return grad_out[:, :0] if dx is None else dx

    def output_shape(self, input_shape: Shape) -> Shape:
        if tuple(input_shape) != (self.in_features,):
            raise ValueError(f"expects {self.in_features} inputs, gets {describe(input_shape)}")
        return (self.out_features,)

    def flops(self, input_shape: Shape) -> int:
        """in * out multiply-adds and out bias additions: 2 * in * out + out."""
        return 2 * self.in_features * self.out_features + self.out_features

    @classmethod
    def from_shorthand(cls, name: str, values: tuple[Any, ...], input_shape: Shape,
                       dtype: np.dtype) -> list[Layer]:
        """``dense:N`` or ``linear:N`` after any shape: images are flattened first."""
        layers: list[Layer] = [] if len(input_shape) == 1 else [Flatten()]
        layers.append(cls(math.prod(input_shape), values[0]))
        return [*layers, ReLU()] if name == "dense" else layers

    def __repr__(self) -> str:
        return f"Dense({self.in_features}, {self.out_features})"

    def to_onnx(self, graph: GraphBuilder, x: str, input_shape: Shape) -> str:
        """Gemm: x @ W + b, with W (in_features, out_features) as stored (no transpose)."""
        return graph.node("Gemm", [x, graph.constant("W", self.W), graph.constant("b", self.b)])


class ReLU(Layer):
    """max(x, 0); its backward multiplies by the stored mask (cheaper than ``np.where``)."""

    kind = "ReLU"
    shorthands: ClassVar[dict[str, Shorthand]] = {
        "relu": Shorthand(help="max(x, 0); dense:N has its own")}

    def __init__(self) -> None:
        self._mask = np.empty(0)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training:
            self._mask = np.empty(0)  # so no stale mask is ever reused
            return np.maximum(x, 0)
        # Laid out as x: a convolution's channel-major output stays so (one contiguous run per
        # channel of the batch), and so do the batch norm and pooling after it.
        y = scratch_like(self, "out", x.shape, x.dtype, channel_major(x))
        # True where the unit is active; a bool mask is a quarter of a float32 one to write
        mask = self._mask = scratch_like(self, "mask", x.shape, np.dtype(bool), channel_major(x))

        def rectify(lo: int, hi: int) -> None:  # samples lo:hi, on one thread
            np.maximum(x[lo:hi], 0, out=y[lo:hi])
            np.greater(y[lo:hi], 0, out=mask[lo:hi])

        threads.run(rectify, len(x), 2 * x.size)
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        dx = scratch_like(self, "dx", grad_out.shape, grad_out.dtype, channel_major(self._mask))
        threads.run(lambda lo, hi: np.multiply(grad_out[lo:hi], self._mask[lo:hi],
                                               out=dx[lo:hi]), len(dx), dx.size)
        return dx

    def flops(self, input_shape: Shape) -> int:
        """One maximum (a comparison) per value."""
        return math.prod(input_shape)

    def to_onnx(self, graph: GraphBuilder, x: str, input_shape: Shape) -> str:
        return graph.node("Relu", [x])


class Dropout(RandomLayer):
    """Inverted dropout: in training, zero each unit with probability ``p``.

    The rest are scaled by 1 / (1 - p), so the expected activation is unchanged and evaluation
    is the identity.

    Its random stream is a child of the model's generator (set in ``init``), so the same seed
    gives the same masks.

    Parameters
    ----------
    p : float
        The probability of zeroing a unit in training, in [0, 1).
    """

    kind = "Dropout"
    shorthands: ClassVar[dict[str, Shorthand]] = {"dropout": Shorthand(
        (Arg("P", fraction),), "in training, zero each unit with probability P")}

    def __init__(self, p: float) -> None:
        if not (isinstance(p, (int, float)) and 0 <= p < 1):
            raise ValueError(f"dropout probability must be in [0, 1), got {p!r}")
        super().__init__()
        self.p = float(p)
        self._mask = np.empty(0)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.p == 0:
            self._mask = np.empty(0)
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
        self._mask = np.multiply(keep, 1.0 / (1.0 - self.p), dtype=x.dtype)
        return x * self._mask

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out * self._mask if self._mask.size else grad_out

    def flops(self, input_shape: Shape) -> int:
        """0: training only, the identity in evaluation."""
        return 0

    def __repr__(self) -> str:
        return f"Dropout(p={self.p:g})"

    def to_onnx(self, graph: GraphBuilder, x: str, input_shape: Shape) -> str:
        """Training only: evaluation passes the batch through."""
        return x

