"""Layers: Flatten (uint8 images in), Dense, ReLU, Dropout; one protocol, described by ``spec``.

Protocol: ``forward(x, training)`` keeps what ``backward`` needs and returns the output;
``backward(grad_out)`` stores parameter gradients on the layer and returns the input gradient.
Neither mutates its arguments. Shapes are (n_samples, ...) and no layer assumes 2-D input
except Dense, which acts on (n_samples, in_features).

The hot path is planned: in training, each layer writes its output and input gradient into
buffers it owns and reuses from batch to batch (``out=``), so a step allocates almost
nothing. Such an output stays valid until the layer's next training-mode call; evaluation
(``training=False``) returns fresh arrays.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np


class Layer:
    """Base layer: no parameters; subclasses override what they need."""

    kind: ClassVar[str] = "Layer"
    # Shapes of this layer's parameters, in the order the model lays them out in its flat buffer.
    param_shapes: tuple[tuple[int, ...], ...] = ()
    # False for the first layer with parameters: its input gradient is never used, so skip it.
    needs_input_grad: bool = True
    # False if training-mode output depends on more than the input and parameters (randomness).
    deterministic: ClassVar[bool] = True

    def bind(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Take views into the model's flat parameter and gradient buffers."""

    def init(self, rng: np.random.Generator) -> None:
        """Fill the bound parameters with their initial values."""

    def parameters(self) -> list[np.ndarray]:
        """This layer's parameters (views into the model's buffer), in ``param_shapes`` order."""
        return []

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def spec(self) -> dict[str, Any]:
        """The layer as JSON-ready data, enough to rebuild it with ``layer_from_spec``."""
        return {"type": self.kind}

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of one sample's output for one sample's input shape (no batch axis);
        ValueError if the layer cannot take that shape. Most layers keep the shape."""
        return input_shape

    @property
    def num_params(self) -> int:
        return sum(math.prod(shape) for shape in self.param_shapes)

    def __repr__(self) -> str:
        return self.kind

    def _buffer(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A reusable array of ``shape``: a view of the first rows of a cached one when it is
        big enough (the last, smaller batch of an epoch reuses the full-size buffer)."""
        buffers: dict[str, np.ndarray] = self.__dict__.setdefault("_buffers", {})
        buf = buffers.get(name)
        if buf is None or buf.dtype != dtype or buf.shape[1:] != shape[1:] \
                or buf.shape[0] < shape[0]:
            buf = buffers[name] = np.empty(shape, dtype)
        return buf[:shape[0]]


class Flatten(Layer):
    """Turn a batch of images (n_samples, *shape) of any dtype into float rows, times ``scale``.

    The model's first layer: with ``scale=1/255`` it takes the uint8 images as stored, so the
    pixels stay uint8 until a batch is formed.
    """

    kind = "Flatten"

    def __init__(self, scale: float = 1.0, dtype: np.dtype | str = "float32") -> None:
        self.scale = float(scale)
        self.dtype = np.dtype(dtype)
        self._shape: tuple[int, ...] = ()

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._shape = x.shape
        rows = x.reshape(len(x), math.prod(x.shape[1:]))  # explicit: works for 0 samples
        out = self._buffer("out", rows.shape, self.dtype) if training else None
        # One pass: cast and scale together. A scale of the model's dtype keeps uint8 * scale
        # in float32, with no float64 detour.
        return np.multiply(rows, self.dtype.type(self.scale), out=out, dtype=self.dtype)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out.reshape(self._shape) * self.scale

    def spec(self) -> dict[str, Any]:
        return {"type": self.kind, "scale": self.scale}

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (math.prod(input_shape),)

    def __repr__(self) -> str:
        return f"Flatten(scale={self.scale:.3g})"


class Dense(Layer):
    """Fully connected: ``y = x @ W + b`` with W of shape (in_features, out_features).

    Weights are He-initialised (normal, std sqrt(2 / in_features)), suited to ReLU; biases are 0.
    """

    kind = "Dense"

    def __init__(self, in_features: int, out_features: int, init: str = "he") -> None:
        if init not in INITIALIZERS:
            raise ValueError(f"unknown init {init!r}; choose from {sorted(INITIALIZERS)}")
        self.in_features, self.out_features, self.init_name = in_features, out_features, init
        self.param_shapes = ((in_features, out_features), (out_features,))
        self._x = np.empty((0, in_features))
        self._ones = np.empty(0)

    def bind(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        self.W, self.b = params
        self.dW, self.db = grads

    def parameters(self) -> list[np.ndarray]:
        return [self.W, self.b]

    def init(self, rng: np.random.Generator) -> None:
        INITIALIZERS[self.init_name](self.W, rng)
        self.b[...] = 0

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x = x  # (N, in) kept for dW; not copied
        out = self._buffer("out", (len(x), self.out_features), self.W.dtype) if training \
            else None
        y = np.matmul(x, self.W, out=out)  # (N, out)
        y += self.b
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        np.matmul(self._x.T, grad_out, out=self.dW)
        # The column sums as a vector-matrix product: one BLAS call, faster than a reduction.
        n = len(grad_out)
        if len(self._ones) < n or self._ones.dtype != grad_out.dtype:
            self._ones = np.ones(n, grad_out.dtype)
        np.matmul(self._ones[:n], grad_out, out=self.db)
        if not self.needs_input_grad:
            return grad_out[:, :0]  # nobody reads it; skip the (N, in) product
        dx = self._buffer("dx", (len(grad_out), self.in_features), grad_out.dtype)
        return np.matmul(grad_out, self.W.T, out=dx)

    def spec(self) -> dict[str, Any]:
        return {"type": self.kind, "in": self.in_features, "out": self.out_features,
                "init": self.init_name}

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if tuple(input_shape) != (self.in_features,):
            raise ValueError(f"{self!r} takes rows of {self.in_features}, got shape "
                             f"{tuple(input_shape)}")
        return (self.out_features,)

    def __repr__(self) -> str:
        return f"Dense({self.in_features}, {self.out_features})"


class ReLU(Layer):
    """max(x, 0); its backward multiplies by the stored mask (cheaper than ``np.where``)."""

    kind = "ReLU"

    def __init__(self) -> None:
        self._mask = np.empty(0)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training:
            self._mask = np.empty(0)  # so no stale mask is ever reused
            return np.maximum(x, 0)
        y = np.maximum(x, 0, out=self._buffer("out", x.shape, x.dtype))
        # True where the unit is active; a bool mask is a quarter of a float32 one to write
        self._mask = np.greater(y, 0, out=self._buffer("mask", x.shape, np.dtype(bool)))
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        dx = self._buffer("dx", grad_out.shape, grad_out.dtype)
        return np.multiply(grad_out, self._mask, out=dx)


class Dropout(Layer):
    """Inverted dropout: in training, zero each unit with probability ``p`` and scale the rest
    by 1 / (1 - p), so the expected activation is unchanged and evaluation is the identity.

    Its random stream is a child of the model's generator (set in ``init``), so the same seed
    gives the same masks.
    """

    kind = "Dropout"
    deterministic = False

    def __init__(self, p: float) -> None:
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = np.random.default_rng(0)
        self._mask = np.empty(0)

    def init(self, rng: np.random.Generator) -> None:
        self.rng = rng.spawn(1)[0]

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.p == 0:
            self._mask = np.empty(0)
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
        self._mask = np.multiply(keep, 1.0 / (1.0 - self.p), dtype=x.dtype)
        return x * self._mask

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out * self._mask if self._mask.size else grad_out

    def spec(self) -> dict[str, Any]:
        return {"type": self.kind, "p": self.p}

    def __repr__(self) -> str:
        return f"Dropout(p={self.p:g})"


def he_normal(w: np.ndarray, rng: np.random.Generator) -> None:
    """He et al. (2015): N(0, 2 / fan_in), fan_in being the first axis of (in, out) weights."""
    w[...] = rng.standard_normal(w.shape) * math.sqrt(2.0 / w.shape[0])


def glorot_uniform(w: np.ndarray, rng: np.random.Generator) -> None:
    """Glorot and Bengio (2010): U(-a, a) with a = sqrt(6 / (fan_in + fan_out))."""
    a = math.sqrt(6.0 / (w.shape[0] + w.shape[1]))
    w[...] = rng.uniform(-a, a, w.shape)


INITIALIZERS = {"he": he_normal, "glorot": glorot_uniform}
LAYERS: dict[str, type[Layer]] = {cls.kind: cls for cls in (Flatten, Dense, ReLU, Dropout)}


def layer_from_spec(spec: dict[str, Any], dtype: np.dtype | str = "float32") -> Layer:
    """Rebuild a layer from ``Layer.spec()`` data; raises KeyError/ValueError/TypeError if bad."""
    kind = spec["type"]
    if kind == "Flatten":
        return Flatten(float(spec["scale"]), dtype)
    if kind == "Dense":
        return Dense(int(spec["in"]), int(spec["out"]), str(spec.get("init", "he")))
    if kind == "ReLU":
        return ReLU()
    if kind == "Dropout":
        return Dropout(float(spec["p"]))
    if kind == "RandomShift":
        from .augment import RandomShift

        return RandomShift(int(spec["shift"]))
    raise ValueError(f"unknown layer type {kind!r}")
