"""Sequential models: layers in a list, their shapes checked once, parameters in one contiguous
buffer (``mlp`` and ``network`` in ``arch`` build them from sizes or a layer string)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InputError, ShapeError
from ..model_info import ModelInfo
from . import threads
from .base import Layer, Shape
from .layers import Rescale
from .losses import softmax
from .spec import model_parts
from .table import batch_shape, byte_size, table

# At most this many bytes of parameters and layer state: what a model file may hold
# (``npzfile.MAX_TOTAL_BYTES``). A larger network is refused before anything is allocated.
MAX_WEIGHT_BYTES = 1 << 30
# At most this many bytes for one sample in any layer's evaluation (``Layer.eval_values``);
# a 28x28 CNN takes about 1 MB.
MAX_SAMPLE_BYTES = 1 << 28
# The bytes of activations an evaluation chunk may take (``Sequential.eval_rows``): 8,192 rows
# of an MLP, 160 images of a two-layer CNN, rather than the gigabyte 8,192 of those would take.
EVAL_BYTES = 1 << 27
MAX_EVAL_ROWS = 8192


def output_shapes(layers: Sequence[Layer], input_shape: Shape) -> list[Shape]:
    """Each layer's output shape (per sample) when the first takes ``input_shape``; ShapeError
    naming the first layer that cannot take what it gets ("layer 3 (Dense): expects 50 inputs,
    gets 40")."""
    shapes, shape = [], tuple(input_shape)
    for i, layer in enumerate(layers):
        try:
            shape = tuple(layer.output_shape(shape))
        except ValueError as e:
            raise ShapeError(f"layer {i} ({layer.kind}): {e}") from None
        shapes.append(shape)
    return shapes


class Sequential:
    """Layers applied in order to samples of ``input_shape`` (one sample's shape, e.g. (28, 28)).

    All parameters live in one flat buffer ``params`` and all gradients in one flat buffer ``grads``
    of the same layout, each layer holding views into them, so an optimizer (or an allreduce)
    updates the whole model in one call.

    The chain of shapes is checked here, once (ShapeError naming the layer that does not fit).
    ``forward`` takes a batch (n_samples, *input_shape), such as uint8 images, and returns
    logits (n_samples, n_classes).

    Parameters
    ----------
    layers : sequence of Layer
        The layers, in order.
    input_shape : sequence of int
        One sample's shape, without the batch axis, such as (28, 28).
    dtype : numpy.dtype or str, default "float32"
        The dtype of the parameters, gradients and activations.
    """

    def __init__(self, layers: Sequence[Layer], input_shape: Sequence[int],
                 dtype: np.dtype | str = "float32") -> None:
        self.layers = list(layers)
        self.input_shape: Shape = tuple(int(n) for n in input_shape)
        if not self.input_shape or min(self.input_shape) < 1:
            raise ShapeError(f"input shape {self.input_shape} is not a sample's shape")
        self.dtype = np.dtype(dtype)
        self.shapes = output_shapes(self.layers, self.input_shape)
        self.eval_rows = self._eval_rows()
        # Whether the model takes 0-255 pixels, dividing them by 255 itself (its first Rescale,
        # before any parameters): then input already in [0, 1] would be divided twice.
        head = next((layer for layer in self.layers
                     if isinstance(layer, Rescale) or layer.param_shapes), None)
        self.takes_pixels = (isinstance(head, Rescale)
                             and math.isclose(head.scale * 255, 1, rel_tol=1e-6))
        # What the model file records beside the weights: seed, dataset, metrics, settings.
        self.info = ModelInfo()
        sizes = [math.prod(s) for layer in self.layers for s in layer.param_shapes]
        state = sum(math.prod(s) for layer in self.layers for s in layer.state_shapes)
        size = (sum(sizes) + state) * self.dtype.itemsize
        if size > MAX_WEIGHT_BYTES:
            held = f"{sum(sizes):,} parameters" + (f" and {state:,} state values" if state
                                                    else "")
            raise ShapeError(f"the network has {held} ({size / 2**30:,.1f} GiB in "
                             f"{self.dtype.name}), more than the 1 GiB a model file may hold")
        self.params = np.zeros(sum(sizes), dtype=self.dtype)
        self.grads = np.zeros_like(self.params)
        offset = 0
        first = True
        for layer in self.layers:
            p_views, g_views = [], []
            for shape in layer.param_shapes:
                size = math.prod(shape)
                p_views.append(self.params[offset:offset + size].reshape(shape))
                g_views.append(self.grads[offset:offset + size].reshape(shape))
                offset += size
            if layer.param_shapes:
                layer.bind(p_views, g_views)
                layer.needs_input_grad = not first
                first = False
        # Backward stops at the first layer with parameters: nothing below needs a gradient.
        self.backward_stop = next(
            (i for i, layer in enumerate(self.layers) if layer.param_shapes), 0)

    def _eval_rows(self) -> int:
        """Rows per evaluation chunk: as many as fit in EVAL_BYTES at the layer that takes
        the most per sample (its input, its output and its working arrays), at most
        MAX_EVAL_ROWS; ShapeError if one sample takes more than MAX_SAMPLE_BYTES."""
        most, where = 0, 0
        for i, (layer, shape) in enumerate(zip(self.layers, [self.input_shape, *self.shapes])):
            values = math.prod(shape) + layer.eval_values(shape)
            if values > most:
                most, where = values, i
        per_sample = most * self.dtype.itemsize
        if per_sample > MAX_SAMPLE_BYTES:
            raise ShapeError(f"layer {where} ({self.layers[where].kind}): takes {per_sample:,} "
                             f"bytes per sample, more than the {MAX_SAMPLE_BYTES:,} allowed")
        return max(1, min(MAX_EVAL_ROWS, EVAL_BYTES // max(1, per_sample)))

    def init(self, rng: np.random.Generator) -> Sequential:
        """Initialise every layer's parameters from ``rng``; returns self.

        Parameters
        ----------
        rng : numpy.random.Generator
            The generator; the same seed gives bit-identical weights.

        Returns
        -------
        Sequential
            The model itself.
        """
        for layer in self.layers:
            layer.init(rng)
        return self

    def forward(self, x: np.ndarray, training: bool = False, start: int = 0) -> np.ndarray:
        """Logits for a batch, run through the layers from ``start`` on.

        With ``start``, ``x`` is what layer ``start`` takes (the output of the layers before
        it, which full-batch training computes once: see ``step.fixed_prefix``).

        Parameters
        ----------
        x : ndarray of shape (n_samples, *input_shape), dtype uint8 or float
            The batch (pixels 0-255 for a model whose first layer is ``Rescale``), or layer
            ``start``'s input. Not modified.
        training : bool, default False
            Training mode: the layers keep what ``backward`` needs, and dropout and the
            augmentations act.
        start : int, default 0
            The index of the first layer to run.

        Returns
        -------
        ndarray of shape (n_samples, n_classes), dtype float32 (the model's dtype)
            The logits (the last layer's output).
        """
        for layer in self.layers[start:]:
            x = layer.forward(x, training)
        return x

    def release_scratch(self) -> None:
        """Drop every layer's step-to-step arrays (see ``Layer.release_scratch``).

        For a model kept after training (several seeds' models, kept until the best one is chosen).
        """
        for layer in self.layers:
            layer.release_scratch()

    def backward(self, grad_out: np.ndarray) -> None:
        """Fill ``grads`` from the gradient of the loss w.r.t. the logits.

        Parameters
        ----------
        grad_out : ndarray of shape (n_samples, n_classes), dtype float32 (the model's dtype)
            The loss's gradient with respect to the last training-mode ``forward``'s logits.
        """
        for layer in reversed(self.layers[self.backward_stop:]):
            grad_out = layer.backward(grad_out)

    def check_pixels(self, x: np.ndarray, what: str = "the images") -> None:
        """Refuse pixels already scaled to [0, 1] for a model that takes 0-255.

        x / 255 divided by 255 again reads as near-blank images and scores near chance,
        silently. One pass (the max), for float input only; blank images (all 0) are taken,
        as nothing tells them apart.

        Parameters
        ----------
        x : ndarray of shape (n_samples, *input_shape), dtype uint8 or float
            The images about to be evaluated.
        what : str, default "the images"
            How the message names them.

        Raises
        ------
        InputError
            If ``x`` is floats all at most 1 (and not all 0) while the model takes 0-255
            pixels (``takes_pixels``).
        """
        if not (self.takes_pixels and x.size and np.issubdtype(x.dtype, np.floating)):
            return
        top = float(x.max())
        if 0 < top <= 1:
            raise InputError(f"{what} are floats in [0, 1] (the largest is {top:g}), but the "
                             f"model takes pixels 0-255 and divides them by 255 itself: pass "
                             f"uint8 pixels 0-255, or multiply by 255")

    def predict_proba(self, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Class probabilities, computed in batches of a bounded amount of memory.

        Parameters
        ----------
        x : ndarray of shape (n_samples, *input_shape), dtype uint8 or float
            The images: pixels 0-255 for a model that takes pixels (the MNIST ones).
        batch_size : int, optional
            Rows per forward pass; default ``eval_rows`` (a bounded amount of memory).

        Returns
        -------
        ndarray of shape (n_samples, n_classes), dtype float32 (the model's dtype)
            Each row sums to 1.

        Raises
        ------
        InputError
            For pixels already scaled to [0, 1] (see ``check_pixels``).
        """
        self.check_pixels(x)
        batch_size = batch_size or self.eval_rows
        if 0 < len(x) <= min(batch_size, threads.BLOCK):
            # One call, outside ``threads.owned``: what a server answering one image needs. A
            # few images run faster on BLAS's own threads, which answer at once (they spin),
            # where waking a worker of the pool costs more than half of a small product.
            return softmax(self.forward(x))
        with threads.owned(self.owns_cores):
            out = [softmax(self.forward(x[i:i + batch_size]))
                   for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.empty((0, self.num_classes), self.dtype)

    def predict(self, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        """Predicted classes: the argmax of the logits, computed in batches as ``predict_proba``.

        Parameters
        ----------
        x : ndarray of shape (n_samples, *input_shape), dtype uint8 or float
            The images: pixels 0-255 for a model that takes pixels (the MNIST ones).
        batch_size : int, optional
            Rows per forward pass; default ``eval_rows``.

        Returns
        -------
        ndarray of shape (n_samples,), dtype intp
            The class of each image, in [0, n_classes).

        Raises
        ------
        InputError
            For pixels already scaled to [0, 1], as ``predict_proba``.
        """
        self.check_pixels(x)
        batch_size = batch_size or self.eval_rows
        with threads.owned(self.owns_cores and len(x) > threads.BLOCK):  # as predict_proba
            out = [np.argmax(self.forward(x[i:i + batch_size]), axis=1)
                   for i in range(0, len(x), batch_size)]
        return np.concatenate(out) if out else np.empty(0, np.intp)

    @property
    def owns_cores(self) -> bool:
        """True if a layer spends most of its time between GEMMs (a convolution).

        Such a model trains, and predicts more than a few images, inside ``threads.owned``: its
        own thread pool, not BLAS's threads, takes the cores.
        """
        return any(layer.owns_cores for layer in self.layers)

    @property
    def output_shape(self) -> Shape:
        """One sample's output shape: (n_classes,) for a classifier."""
        return self.shapes[-1] if self.shapes else self.input_shape

    @property
    def input_size(self) -> int:
        """Numbers per input sample (784 for MNIST's 28x28 images)."""
        return math.prod(self.input_shape)

    @property
    def num_classes(self) -> int:
        """How many classes the model tells apart: the size of its last output axis."""
        return self.output_shape[-1]

    @property
    def param_arrays(self) -> list[np.ndarray]:
        """Every parameter array (views into ``params``), in layer order."""
        return [p for layer in self.layers for p in layer.parameters()]

    @property
    def num_params(self) -> int:
        """How many trainable numbers the model holds (the size of ``params``)."""
        return int(self.params.size)

    def summary(self, input_shape: Sequence[int] | None = None) -> str:
        """A table of the layers, each one's output shape and parameter count, and the totals.

        As Keras' ``model.summary()`` prints. ``input_shape`` is one sample's shape (no batch axis),
        by default the model's own; ShapeError (a ValueError) if a layer cannot take the shape it is
        given.

        Parameters
        ----------
        input_shape : sequence of int, optional
            One sample's shape; by default the model's.

        Returns
        -------
        str
            The table, one line a layer.
        """
        shape = self.input_shape if input_shape is None else tuple(input_shape)
        shapes = self.shapes if input_shape is None else output_shapes(self.layers, shape)
        rows = [("input", shape, 0)] + [(repr(layer), s, layer.num_params)
                                        for layer, s in zip(self.layers, shapes)]
        cells = [(name, batch_shape(s), f"{n:,}") for name, s, n in rows]
        return "\n".join([f"Sequential model, {self.dtype.name}",
                          *table(("layer", "output shape", "parameters"), cells),
                          f"total: {self.num_params:,} parameters "
                          f"({byte_size(self.params.nbytes)})"])

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (f"Sequential({' -> '.join(map(repr, self.layers))}; "
                f"{self.num_params:,} parameters, {self.dtype.name})")

    def spec(self) -> dict[str, Any]:
        """The architecture as JSON-ready data; ``Sequential.from_spec`` rebuilds it.

        Returns
        -------
        dict
            ``input_shape``, ``dtype`` and ``layers`` (each layer's ``spec()``).
        """
        return {"input_shape": list(self.input_shape), "dtype": self.dtype.name,
                "layers": [layer.spec() for layer in self.layers]}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Sequential:
        """Rebuild an (uninitialised, zero) model from ``spec()`` data.

        Each layer by the class its kind names. KeyError/TypeError/ValueError (ShapeError) if the
        spec is bad.

        Parameters
        ----------
        spec : dict
            What ``spec()`` gave.

        Returns
        -------
        Sequential
            The model, its parameters all zero.
        """
        return cls(*cls.parts_from_spec(spec))

    @staticmethod
    def parts_from_spec(spec: dict[str, Any]) -> tuple[list[Layer], Shape, np.dtype]:
        """The layers, input shape and dtype ``spec()`` data describes, not yet put together.

        The layers are rebuilt (which allocates nothing), so a caller can check what they declare
        (``param_shapes``, ``state_shapes``) first. Raises as ``from_spec``.

        Parameters
        ----------
        spec : dict
            What ``spec()`` gave.

        Returns
        -------
        layers : list of Layer
            The layers, not yet bound to buffers.
        input_shape : tuple of int
            One sample's shape.
        dtype : numpy.dtype
            The model's dtype.
        """
        return model_parts(spec)
