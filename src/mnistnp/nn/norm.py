"""Batch normalisation for dense (N, F) and convolutional (N, C, H, W) activations."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from . import threads
from .base import Layer, Shape
from .graph import GraphBuilder
from .layers import with_channels
from .layout import channel_major, scratch_like
from .shorthand import Shorthand

# Threads take at least two features each: NumPy sums a one-feature slice as a reduction to
# a scalar, in another order than a column of a wider one (the last bits would differ).
_GRAIN = 2


class BatchNorm(Layer):
    """Batch normalisation (Ioffe and Szegedy, 2015): y = gamma * xhat + beta.

    Normalise each feature (each channel, for (N, C, H, W) input) to zero mean and unit variance,
    then scale by ``gamma`` and shift by ``beta``.

    In training, the statistics are the batch's (over N, and H and W for images), with the
    biased variance, and the gradient flows through them; the running estimates are updated
    as ``r = (1 - momentum) * r + momentum * batch_value``, the variance's with the unbiased
    batch variance (as PyTorch). In evaluation, the running estimates are used, so a sample's
    output does not depend on the rest of its batch.

    Parameters (trainable, in ``param_shapes``/``param_names``): ``gamma`` (ones at ``init``)
    and ``beta`` (zeros). State (not trained, but part of the model: a model file and a
    checkpoint must save it): ``running_mean`` (zeros) and ``running_var`` (ones), declared
    in ``state_names``/``state_shapes`` as parameters are; ``state()`` returns them by name
    (the live arrays, which training updates in place) and ``load_state(arrays)`` copies
    saved ones in. They have the dtype given here (the model's), and are made when first
    needed, so that building a layer from a model file's spec allocates nothing before the
    file's arrays are checked against what it declares.

    Training-mode outputs and input gradients are reused buffers (laid out as the input, see
    ``channel_major``), valid until the layer's next training-mode call; evaluation returns
    fresh arrays. ``backward`` differentiates the last ``forward``; after an evaluation-mode
    one, the statistics are constants (a frozen layer).

    Parameters
    ----------
    num_features : int
        The features of rows, or the channels C of (N, C, H, W) images.
    momentum : float, default 0.1
        The running estimates' update rate.
    eps : float, default 1e-5
        Added to the variance before its square root.
    dtype : numpy.dtype or str, default "float32"
        The model's dtype, which the running statistics take.
    """

    kind: ClassVar[str] = "BatchNorm"
    shorthands: ClassVar[dict[str, Shorthand]] = {"bn": Shorthand(
        help="batch norm of each feature or channel; after dense:N or conv:..., before their "
             "ReLU")}
    param_names: ClassVar[tuple[str, ...]] = ("gamma", "beta")
    # bound by Layer.bind: views into the model's parameter and gradient buffers
    gamma: np.ndarray
    beta: np.ndarray
    dgamma: np.ndarray
    dbeta: np.ndarray
    state_names: ClassVar[tuple[str, ...]] = ("running_mean", "running_var")
    batch_statistics = True

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5,
                 dtype: np.dtype | str = "float32") -> None:
        if not (isinstance(num_features, (int, np.integer)) and not isinstance(num_features, bool)
                and num_features >= 1):
            raise ValueError(f"num_features must be a positive int, got {num_features!r}")
        if not (isinstance(momentum, (int, float)) and 0 <= momentum <= 1):
            raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
        if not (isinstance(eps, (int, float)) and eps > 0):
            raise ValueError(f"eps must be > 0, got {eps!r}")
        self.num_features, self.momentum, self.eps = int(num_features), float(momentum), \
            float(eps)
        self.param_shapes = ((self.num_features,), (self.num_features,))
        self.state_shapes = ((self.num_features,), (self.num_features,))
        self.dtype = np.dtype(dtype)
        self._state: dict[str, np.ndarray] = {}
        self._xc = np.empty(0)  # x - batch mean, from the last training forward
        self._x = np.empty(0)
        self._inv_std = np.empty(0)
        self._training = True

    def init(self, rng: np.random.Generator) -> None:
        self.gamma[...] = 1
        self.beta[...] = 0
        self.running_mean[...] = 0
        self.running_var[...] = 1

    def state(self) -> dict[str, np.ndarray]:
        """The running statistics by name, the live arrays (made on first use).

        Returns
        -------
        dict of str to ndarray
            ``running_mean`` and ``running_var``, each of shape (num_features,) and the
            layer's dtype (float32 by default).
        """
        if not self._state:
            self._state = {"running_mean": np.zeros(self.num_features, self.dtype),
                           "running_var": np.ones(self.num_features, self.dtype)}
        return self._state

    @property
    def running_mean(self) -> np.ndarray:
        """The running mean of each feature, used in evaluation: shape (num_features,)."""
        return self.state()["running_mean"]

    @property
    def running_var(self) -> np.ndarray:
        """The running (unbiased) variance of each feature, used in evaluation.

        Shape (num_features,).
        """
        return self.state()["running_var"]

    def load_state(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Copy saved running statistics in.

        Parameters
        ----------
        arrays : mapping of str to ndarray
            ``running_mean`` and ``running_var``, each of shape (num_features,), any float
            dtype (cast to the layer's).

        Raises
        ------
        ValueError
            Naming the array, if one is missing or misshapen.
        """
        for name, shape in zip(self.state_names, self.state_shapes, strict=True):
            value = np.asarray(arrays[name]) if name in arrays else None
            if value is None or value.shape != shape:
                got = "missing" if value is None else f"shape {value.shape}"
                raise ValueError(f"BatchNorm {name}: expected shape {shape}, got {got}")
            self.state()[name][...] = value

    def output_shape(self, input_shape: Shape) -> Shape:
        """The per-sample input shape, (F,) or (C, H, W), unchanged."""
        if len(input_shape) not in (1, 3) or input_shape[0] != self.num_features:
            raise ValueError(f"expects ({self.num_features},) or ({self.num_features}, "
                             f"height, width) samples, gets {tuple(input_shape)}")
        return tuple(input_shape)

    def flops(self, input_shape: Shape) -> int:
        """One multiply-add per value, 2: in evaluation ``x * scale + shift``.

        The per-feature constants are made from the parameters and running statistics, and not
        counted.
        """
        return 2 * math.prod(input_shape)

    @staticmethod
    def _axes(x: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(the axes statistics are taken over, the shape a per-feature vector broadcasts as)."""
        if x.ndim == 2:
            return (0,), (1, x.shape[1])
        return (0, 2, 3), (1, x.shape[1], 1, 1)

    def _like(self, name: str, x: np.ndarray) -> np.ndarray:
        """A reused buffer shaped and laid out as ``x`` (see ``channel_major``)."""
        return scratch_like(self, name, x.shape, self.gamma.dtype, channel_major(x))

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        axes, bshape = self._axes(x)
        self._training = training
        if not training:
            # Constant statistics: one scale and one shift per feature. Kept (x itself is not
            # copied) so that a backward through a frozen layer works.
            self._x = x
            self._inv_std = 1 / np.sqrt(self.running_var + self.running_var.dtype.type(self.eps))
            scale = (self.gamma * self._inv_std).reshape(bshape)
            shift = (self.beta - self.running_mean * self._inv_std * self.gamma).reshape(bshape)
            return x * scale + shift
        n = x.size // self.num_features  # values per feature
        if n < 2:
            raise ValueError("BatchNorm needs more than one value per feature in training, "
                             f"got input of shape {x.shape}")
        dtype = self.gamma.dtype
        xc, y = self._like("centred", x), self._like("out", x)
        mean, var = np.empty(self.num_features, dtype), np.empty(self.num_features, dtype)
        self._inv_std = inv_std = np.empty(self.num_features, dtype)
        eps, part_shape = dtype.type(self.eps), _part_shape(x)

        def normalise(lo: int, hi: int) -> None:  # features lo:hi, on one thread
            np.mean(x[:, lo:hi], axis=axes, dtype=dtype, out=mean[lo:hi])
            # Centred values, kept for backward: two passes (not E[x^2] - mean^2, which loses
            # the variance to cancellation when the mean is large against the spread).
            part = np.subtract(x[:, lo:hi], mean[lo:hi].reshape(part_shape), out=xc[:, lo:hi])
            # biased: the batch's own spread normalises it
            np.divide(_feature_dot(part, part), n, out=var[lo:hi])
            np.divide(1, np.sqrt(var[lo:hi] + eps), out=inv_std[lo:hi])
            np.multiply(part, (self.gamma[lo:hi] * inv_std[lo:hi]).reshape(part_shape),
                        out=y[:, lo:hi])
            y[:, lo:hi] += self.beta[lo:hi].reshape(part_shape)

        # Each feature's statistics are its own: features side by side on large batches.
        threads.run(normalise, self.num_features, x.size, grain=_GRAIN)
        self._xc = xc
        m = dtype.type(self.momentum)
        running_mean, running_var = self.running_mean, self.running_var
        running_mean *= 1 - m
        running_mean += m * mean
        running_var *= 1 - m
        running_var += (m * n / (n - 1)) * var  # unbiased, as PyTorch
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        axes, bshape = self._axes(grad_out)
        # Laid out as the forward's input (which Conv2D.backward then takes without a copy)
        dx = self._like("dx", self._xc if self._training else self._x)
        if not self._training:  # the statistics are constants
            np.sum(grad_out, axis=axes, out=self.dbeta)
            a = self.gamma * self._inv_std
            xc = np.subtract(self._x, self.running_mean.reshape(bshape),
                             out=self._like("centred", grad_out))
            np.multiply(self._inv_std, _feature_dot(grad_out, xc), out=self.dgamma)
            return np.multiply(grad_out, a.reshape(bshape), out=dx)
        xc, n = self._xc, grad_out.size // self.num_features
        part_shape = _part_shape(xc)

        def differentiate(lo: int, hi: int) -> None:  # features lo:hi, on one thread
            g, part, inv_std = grad_out[:, lo:hi], xc[:, lo:hi], self._inv_std[lo:hi]
            np.sum(g, axis=axes, out=self.dbeta[lo:hi])
            np.multiply(inv_std, _feature_dot(g, part), out=self.dgamma[lo:hi])
            # All in one expression, from the per-feature sums above. With xhat = (x - mu) r,
            # r = (var + eps)^(-1/2), mu and var the batch mean and biased variance of n
            # values: d mu / d x_i = 1/n,   d var / d x_i = 2 (x_i - mu) / n,
            #   d xhat_j / d x_i = r (delta_ij - 1/n) - r xhat_j xhat_i / n,
            # so with dL/dxhat_j = gamma dy_j, dbeta = sum dy and dgamma = sum dy xhat,
            #   dx_i = gamma r / n * (n dy_i - dbeta - xhat_i dgamma)
            #        = a (dy_i + k (x_i - mu) - dbeta / n),  a = gamma r,  k = -dgamma r / n,
            # four passes without a temporary (and no division by gamma, which may be 0).
            out = dx[:, lo:hi]
            np.multiply(part, (-self.dgamma[lo:hi] * inv_std / n).reshape(part_shape), out=out)
            out += g
            out -= (self.dbeta[lo:hi] / n).reshape(part_shape)
            out *= (self.gamma[lo:hi] * inv_std).reshape(part_shape)

        threads.run(differentiate, self.num_features, dx.size, grain=_GRAIN)
        return dx

    @classmethod
    def from_shorthand(cls, name: str, values: tuple[Any, ...], input_shape: Shape,
                       dtype: np.dtype) -> list[Layer]:
        """``bn``: batch norm over the features of rows, or the channels of images.

        A channel axis is added to (height, width) images first.
        """
        channels = with_channels(input_shape)
        shape = channels[0].output_shape(input_shape) if channels else input_shape
        return [*channels, cls(shape[0], dtype=dtype)]

    def __repr__(self) -> str:
        return f"BatchNorm({self.num_features})"

    def to_onnx(self, graph: GraphBuilder, x: str, input_shape: Shape) -> str:
        """Mul then Add: one scale and one shift per feature from the running statistics.

        The same numbers as ``forward``'s evaluation computes.
        """
        inv_std = 1 / np.sqrt(self.running_var + self.running_var.dtype.type(self.eps))
        shape = (-1,) + (1,) * (len(input_shape) - 1)  # (F,) for rows, (C, 1, 1) for images
        scale = (self.gamma * inv_std).reshape(shape)
        shift = (self.beta - self.running_mean * inv_std * self.gamma).reshape(shape)
        scaled = graph.node("Mul", [x, graph.constant("scale", scale)])
        return graph.node("Add", [scaled, graph.constant("shift", shift)])


def _part_shape(x: np.ndarray) -> tuple[int, ...]:
    """The shape a vector over some of ``x``'s features broadcasts as: (1, -1) or (1, -1, 1, 1)."""
    return (1, -1) + (1,) * (x.ndim - 2)


def _feature_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sum(a * b) per feature (axis 1) of (N, F) or (N, C, H, W) arrays, without an (N, ...)
    temporary: one dot product per (sample, channel) row, then a sum over the samples."""
    if a.ndim == 2:
        return np.einsum("nf,nf->f", a, b)
    n, c, h, w = a.shape
    rows = np.matmul(a.reshape(n, c, 1, h * w), b.reshape(n, c, h * w, 1))  # (N, C, 1, 1)
    return rows.sum(axis=(0, 2, 3))
