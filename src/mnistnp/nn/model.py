"""Sequential models: layers in a list, parameters in one contiguous buffer; ``mlp`` builds one."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .augment import RandomShift
from .layers import Dense, Dropout, Flatten, Layer, ReLU, layer_from_spec
from .losses import softmax


class Sequential:
    """Layers applied in order. All parameters live in one flat buffer ``params`` and all
    gradients in one flat buffer ``grads`` of the same layout, each layer holding views into
    them, so an optimizer (or an allreduce) updates the whole model in one call.

    ``forward`` takes what the first layer takes (for ``mlp``: uint8 images of shape
    (n_samples, 28, 28) or rows (n_samples, 784)) and returns logits (n_samples, n_classes).
    """

    def __init__(self, layers: Sequence[Layer], dtype: np.dtype | str = "float32") -> None:
        self.layers = list(layers)
        self.dtype = np.dtype(dtype)
        # What the model file records beside the weights: seed, dataset, metrics, settings.
        self.info: dict[str, Any] = {}
        shapes = [s for layer in self.layers for s in layer.param_shapes]
        sizes = [int(np.prod(s)) for s in shapes]
        self.params = np.zeros(sum(sizes), dtype=self.dtype)
        self.grads = np.zeros_like(self.params)
        offset = 0
        first = True
        for layer in self.layers:
            p_views, g_views = [], []
            for shape in layer.param_shapes:
                size = int(np.prod(shape))
                p_views.append(self.params[offset:offset + size].reshape(shape))
                g_views.append(self.grads[offset:offset + size].reshape(shape))
                offset += size
            if layer.param_shapes:
                layer.bind(p_views, g_views)
                layer.needs_input_grad = not first
                first = False
        # Backward stops at the first layer with parameters: nothing below needs a gradient.
        self._backward_stop = next(
            (i for i, layer in enumerate(self.layers) if layer.param_shapes), 0)

    def init(self, rng: np.random.Generator) -> Sequential:
        """Initialise every layer's parameters from ``rng``; returns self."""
        for layer in self.layers:
            layer.init(rng)
        return self

    def forward(self, x: np.ndarray, training: bool = False, start: int = 0) -> np.ndarray:
        """Logits for ``x``; with ``start``, ``x`` is what layer ``start`` takes (the output of
        the layers before it, as ``fixed_prefix`` allows to compute once)."""
        for layer in self.layers[start:]:
            x = layer.forward(x, training)
        return x

    def forward_prefix(self, x: np.ndarray, stop: int) -> np.ndarray:
        """The output of the first ``stop`` layers, in evaluation mode."""
        for layer in self.layers[:stop]:
            x = layer.forward(x)
        return x

    def fixed_prefix(self) -> int:
        """How many leading layers have no parameters and no randomness (for ``mlp``: the
        Flatten, unless random shifts come first). Their training output is a fixed function
        of the input, so a caller who feeds the same rows every step can compute it once."""
        count = 0
        for layer in self.layers:
            if layer.param_shapes or not layer.deterministic:
                break
            count += 1
        return count

    def backward(self, grad_out: np.ndarray) -> None:
        """Fill ``grads`` from the gradient of the loss w.r.t. the logits."""
        for layer in reversed(self.layers[self._backward_stop:]):
            grad_out = layer.backward(grad_out)

    def predict_proba(self, x: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), computed in batches."""
        if 0 < len(x) <= batch_size:  # one call: what a server answering one image needs
            return softmax(self.forward(x))
        out = [softmax(self.forward(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.empty((0, self.num_classes), self.dtype)

    def predict(self, x: np.ndarray, batch_size: int = 8192) -> np.ndarray:
        """Predicted classes, shape (n_samples,): the argmax of the logits."""
        out = [np.argmax(self.forward(x[i:i + batch_size]), axis=1)
               for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.empty(0, np.intp)

    @property
    def input_size(self) -> int:
        """Numbers per input sample: the first Dense layer's input width (784 for MNIST)."""
        return next(layer.in_features for layer in self.layers if isinstance(layer, Dense))

    @property
    def num_classes(self) -> int:
        return next(layer.out_features for layer in reversed(self.layers)
                    if isinstance(layer, Dense))

    @property
    def param_arrays(self) -> list[np.ndarray]:
        """Every parameter array (views into ``params``), in layer order."""
        return [p for layer in self.layers for p in layer.parameters()]

    @property
    def num_params(self) -> int:
        return int(self.params.size)

    def summary(self, input_shape: Sequence[int] | None = None) -> str:
        """A table of the layers with each one's output shape and parameter count, then the
        totals, as Keras' ``model.summary()`` prints. ``input_shape`` is one sample's shape
        (no batch axis); by default square images of ``input_size`` pixels (28x28 for MNIST),
        else rows. ValueError if a layer cannot take the shape it is given."""
        shape = tuple(input_shape) if input_shape is not None else self._default_input_shape()
        rows = [("input", shape, 0)]
        for layer in self.layers:
            shape = layer.output_shape(shape)
            rows.append((repr(layer), shape, layer.num_params))
        table = [(name, "(N, " + ", ".join(map(str, s)) + ")", f"{n:,}") for name, s, n in rows]
        head = ("layer", "output shape", "parameters")
        widths = [max(len(r[i]) for r in [head, *table]) for i in range(3)]

        def line(cells: tuple[str, str, str]) -> str:
            return (f"{cells[0]:<{widths[0]}}  {cells[1]:<{widths[1]}}  "
                    f"{cells[2]:>{widths[2]}}")

        rule = "-" * (sum(widths) + 4)
        kib = self.params.nbytes / 1024
        size = f"{kib:,.1f} KiB" if kib < 1024 else f"{kib / 1024:,.1f} MiB"
        return "\n".join([f"Sequential model, {self.dtype.name}", line(head), rule,
                          *map(line, table), rule,
                          f"total: {self.num_params:,} parameters ({size})"])

    def _default_input_shape(self) -> tuple[int, ...]:
        n = self.input_size
        side = math.isqrt(n)
        return (side, side) if side * side == n else (n,)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (f"Sequential({' -> '.join(map(repr, self.layers))}; "
                f"{self.num_params:,} parameters, {self.dtype.name})")

    def spec(self) -> dict[str, Any]:
        """The architecture as JSON-ready data; ``Sequential.from_spec`` rebuilds it."""
        return {"dtype": self.dtype.name, "layers": [layer.spec() for layer in self.layers]}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Sequential:
        """Rebuild an (uninitialised, zero) model from ``spec()`` data (ValueError if bad)."""
        if spec["dtype"] not in ("float32", "float64"):
            raise ValueError(f"dtype {spec['dtype']!r} is not float32 or float64")
        dtype = np.dtype(spec["dtype"])
        return cls([layer_from_spec(s, dtype) for s in spec["layers"]], dtype)


def mlp(
    sizes: Sequence[int],
    rng: np.random.Generator | None = None,
    dtype: np.dtype | str = "float32",
    input_scale: float = 1 / 255,
    dropout: float = 0.0,
    shift: int = 0,
) -> Sequential:
    """A ReLU multilayer perceptron from its layer sizes, e.g. ``[784, 50, 50, 50, 10]``.

    The first layer flattens images and scales pixels by ``input_scale``; the last Dense layer
    is linear (its logits go to the softmax in the loss). With ``dropout`` > 0, a Dropout layer
    follows every hidden ReLU. With ``shift`` > 0, training images are randomly moved by up
    to that many pixels (a RandomShift layer first). Initialised from ``rng`` if given.
    """
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs an input and an output size, got {list(sizes)}")
    layers: list[Layer] = [RandomShift(shift)] if shift else []
    layers.append(Flatten(input_scale, dtype))
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(Dense(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ReLU())
            if dropout:
                layers.append(Dropout(dropout))
    model = Sequential(layers, dtype)
    return model.init(rng) if rng is not None else model
