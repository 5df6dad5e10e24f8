"""The layer protocol. Every layer class joins the registries (``registry``) by being defined:
its kind (rebuilding it from a model file) and its names in a layer string (``dense:256``)."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from ..errors import ExportError
from .graph import GraphBuilder
from .registry import register
from .shorthand import Shorthand

Shape = tuple[int, ...]  # one sample's shape, without the batch axis


class Layer:
    """Base layer: no parameters, no state; subclasses override what they need.

    Protocol: ``forward(x, training)`` returns the output and, in training only, keeps what
    ``backward`` needs; ``backward(grad_out)`` stores parameter gradients on the layer and
    returns the input gradient. Neither mutates its arguments. Batches are (n_samples, *shape).

    What a layer holds, by the names used throughout: its **parameters** (trained; views into
    the model's flat buffer, ``param_names``), its **state** (saved but not trained, batch
    norm's running statistics: ``state_names``, ``state()``, ``load_state``), its **random
    stream** (a ``RandomLayer``'s generator, saved by checkpoints) and its **scratch** (arrays
    reused from step to step, never saved: ``_scratch``, ``release_scratch``). A model file
    holds the parameters and state of every layer by name: the model's **state dict**
    (``model_file.state_dict``).

    A subclass that sets its own ``kind`` is registered under it (``LAYERS``), and each name in
    its ``shorthands`` becomes a word of the layer string (``SHORTHANDS``): adding a layer kind
    touches only the file that defines it.
    """

    # The registry key, written as "type" in the layer's spec (a model file's layer list).
    kind: ClassVar[str] = "Layer"
    # Constructor arguments kept under another attribute (``config``): Dense keeps ``init``
    # as ``init_name``, ``init`` being the method that fills the weights.
    config_attributes: ClassVar[Mapping[str, str]] = {}
    # Names this kind takes in a layer string, each with its values (see ``from_shorthand``).
    shorthands: ClassVar[Mapping[str, Shorthand]] = {}
    # The names of this layer's parameters, in ``param_shapes`` order ("W", "b"); a model
    # file calls them ``layers.<index>.<name>``.
    param_names: ClassVar[tuple[str, ...]] = ()
    # Shapes of this layer's parameters, in the order the model lays them out in its flat buffer.
    param_shapes: tuple[Shape, ...] = ()
    # Non-trainable arrays saved with the model but not optimised (batch norm's running
    # statistics): names and shapes; ``state()`` returns them, ``load_state`` copies them in.
    state_names: ClassVar[tuple[str, ...]] = ()
    state_shapes: tuple[Shape, ...] = ()
    # False for the first layer with parameters: its input gradient is never used, so skip it.
    needs_input_grad: bool = True
    # False if training-mode output depends on more than the input and parameters (randomness).
    deterministic: ClassVar[bool] = True
    # True if a sample's training-mode output depends on the rest of its batch (batch norm's
    # statistics): a batch then cannot be taken in chunks whose gradients add up.
    batch_statistics: ClassVar[bool] = False
    # True if this layer's passes between GEMMs are most of its time (a convolution): a model
    # holding one trains and predicts with the cores owned by mnistnp's pool (``threads.owned``).
    owns_cores: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        register(cls)

    def bind(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        """Take views into the model's flat parameter and gradient buffers.

        Each parameter becomes ``self.<name>`` and its gradient ``self.d<name>``, named by
        ``param_names``.

        Parameters
        ----------
        params : list of ndarray
            Views into the model's parameter buffer, one per ``param_shapes`` entry, of that
            shape and the model's dtype (float32 by default).
        grads : list of ndarray
            Views into the gradient buffer, of the same shapes and dtype as ``params``.
        """
        for name, param, grad in zip(self.param_names, params, grads, strict=True):
            setattr(self, name, param)
            setattr(self, "d" + name, grad)

    def init(self, rng: np.random.Generator) -> None:
        """Fill the bound parameters (and any state) with their initial values.

        Parameters
        ----------
        rng : numpy.random.Generator
            The model's generator: the same seed gives bit-identical weights.
        """

    def parameters(self) -> list[np.ndarray]:
        """This layer's parameters (views into the model's buffer), in ``param_names`` order.

        Returns
        -------
        list of ndarray
            One array per parameter, of its ``param_shapes`` shape and the model's dtype.
        """
        return [getattr(self, name) for name in self.param_names]

    def state(self) -> dict[str, np.ndarray]:
        """The non-trainable state by name, in ``state_names`` order: the live arrays.

        Returns
        -------
        dict of str to ndarray
            Each state array (of its ``state_shapes`` shape), not a copy; empty for a layer
            without state.
        """
        return {}

    def load_state(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Copy saved state in.

        Parameters
        ----------
        arrays : mapping of str to ndarray
            The state arrays by their ``state_names``, of the ``state_shapes`` shapes.

        Raises
        ------
        ValueError
            Naming the array, if one is missing or misshapen.
        """

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """The layer's output for a batch, keeping (in training only) what ``backward`` needs.

        Parameters
        ----------
        x : ndarray of shape (n_samples, *input_shape), dtype float32 (the model's dtype)
            The batch; the first layer of a model may take uint8 pixels instead. Not modified.
        training : bool, default False
            True in training: keep what ``backward`` needs, and apply training-only behaviour
            (dropout's masks, the augmentations, batch statistics).

        Returns
        -------
        ndarray of shape (n_samples, *output_shape(input_shape)), dtype float32
            The output, in the model's dtype.
        """
        raise NotImplementedError

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Store the parameter gradients on the layer and return the input gradient.

        Parameters
        ----------
        grad_out : ndarray of shape (n_samples, *output_shape), dtype float32
            The loss's gradient with respect to the last training-mode ``forward``'s output.
            Not modified.

        Returns
        -------
        ndarray of shape (n_samples, *input_shape), dtype float32
            The gradient with respect to that ``forward``'s input (unused, and possibly not
            computed, when ``needs_input_grad`` is False).
        """
        raise NotImplementedError

    def output_shape(self, input_shape: Shape) -> Shape:
        """One sample's output shape for one sample's input shape.

        ValueError saying what it expects if the layer cannot take that shape. Most layers keep the
        shape.

        Parameters
        ----------
        input_shape : tuple of int
            One sample's input shape, without the batch axis.

        Returns
        -------
        tuple of int
            One sample's output shape.
        """
        return tuple(input_shape)

    def flops(self, input_shape: Shape) -> int:
        """Floating-point operations for one sample of ``input_shape`` in evaluation (inference).

        ``input_shape`` has no batch axis; the count is an int.

        Convention: a multiply-add is 2 FLOPs; an add, a multiply, a division, a comparison
        or a maximum of two numbers is 1 each; a reshape, a view, a copy or a cast is 0.
        Products with a convolution's zero border count, as the GEMM computes them. Work
        that depends only on the parameters (batch norm's per-feature scale and shift) is
        not counted: it is done once, not per sample. A training-only layer (dropout, the
        random augmentations) is the identity in evaluation: 0.

        Each layer kind gives its own count by overriding this, in the class that sets its
        ``kind``; this base gives none and raises NotImplementedError naming the kind, so a
        kind without a count is never taken as 0 (``describe`` shows it as unknown).

        Parameters
        ----------
        input_shape : tuple of int
            One sample's input shape, without the batch axis.

        Returns
        -------
        int
            The count.

        Raises
        ------
        NotImplementedError
            For a kind that gives no count.
        """
        raise NotImplementedError(f"layer kind {self.kind} gives no FLOP count")

    def eval_values(self, input_shape: Shape) -> int:
        """How many numbers one sample takes while this layer runs in evaluation.

        Besides its input: its output, by default; a layer with working arrays (a convolution's
        columns) counts them too. Sequential sizes its evaluation chunks from it.

        Parameters
        ----------
        input_shape : tuple of int
            One sample's input shape, without the batch axis.

        Returns
        -------
        int
            The count.
        """
        return math.prod(self.output_shape(input_shape))

    @classmethod
    def arguments(cls) -> dict[str, inspect.Parameter]:
        """The constructor's arguments by name, but ``dtype``: a layer's settings (its ``config``).

        A layer that takes ``dtype`` gets the model's, which is not a setting.

        Returns
        -------
        dict of str to inspect.Parameter
            The constructor's named arguments, in order.
        """
        params = list(inspect.signature(cls.__init__).parameters.values())[1:]  # not self
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return {p.name: p for p in params if p.kind in named and p.name != "dtype"}

    def config(self) -> dict[str, Any]:
        """The layer's settings.

        Its constructor's arguments by name (as Keras' ``get_config``), each read from the attribute
        of that name (or the one ``config_attributes`` gives), tuples as lists, so the values are
        JSON-ready.

        Returns
        -------
        dict
            Each setting by its argument's name.
        """
        return {name: _json_ready(getattr(self, self.config_attributes.get(name, name)))
                for name in self.arguments()}

    def spec(self) -> dict[str, Any]:
        """The layer as JSON-ready data, its kind and settings, for ``from_spec``.

        ``{"type": "Dense", "in_features": 784, ...}``.

        Returns
        -------
        dict
            ``{"type": kind, **config()}``.
        """
        return {"type": self.kind, **self.config()}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any], dtype: np.dtype | str = "float32") -> Layer:
        """Rebuild a layer from ``spec()`` data.

        ``cls(**config)``, with the model's ``dtype`` for a layer that takes one (it holds arrays
        outside the parameter buffer). A setting left out takes the constructor's default.
        ValueError naming the kind and the key for an unknown or missing setting, and the
        constructor's for a bad value.

        Parameters
        ----------
        spec : mapping
            ``{"type": kind, **settings}``, as ``spec()`` gives it.
        dtype : numpy.dtype or str, default "float32"
            The model's dtype, for a layer that takes one.

        Returns
        -------
        Layer
            The layer, not yet bound to a model's buffers.
        """
        arguments = cls.arguments()
        config = {key: value for key, value in spec.items() if key != "type"}
        settings = f"its settings: {', '.join(arguments)}" if arguments else "it takes none"
        for key in config:
            if key not in arguments:
                raise ValueError(f"{cls.kind} has no setting {key!r} ({settings})")
        for name, argument in arguments.items():
            if argument.default is inspect.Parameter.empty and name not in config:
                raise ValueError(f"{cls.kind} needs the setting {name!r} ({settings})")
        if "dtype" in inspect.signature(cls.__init__).parameters:
            config["dtype"] = dtype
        return cls(**config)

    @classmethod
    def from_shorthand(cls, name: str, values: tuple[Any, ...], input_shape: Shape,
                       dtype: np.dtype) -> list[Layer]:
        """The layers that ``name:values`` in a layer string stands for.

        They are placed after a layer whose output is ``input_shape``. By default this one layer,
        built from the values.

        Parameters
        ----------
        name : str
            The item's name, such as ``"dense"``.
        values : tuple
            Its values, parsed by its ``Shorthand``.
        input_shape : tuple of int
            One sample's shape where the layers go.
        dtype : numpy.dtype
            The model's dtype.

        Returns
        -------
        list of Layer
            The layers, in order.
        """
        return [cls(*values)]

    @property
    def num_params(self) -> int:
        """How many trainable numbers the layer holds (the sizes of ``param_shapes`` summed)."""
        return sum(math.prod(shape) for shape in self.param_shapes)

    def __repr__(self) -> str:
        return self.kind

    def release_scratch(self) -> None:
        """Drop the layer's scratch (the arrays ``_scratch`` keeps from step to step).

        A CNN's columns and layer outputs take hundreds of MB. The next training-mode call makes
        them again.
        """
        self.__dict__.pop("_scratch_arrays", None)

    def _scratch(self, name: str, shape: Shape, dtype: np.dtype) -> np.ndarray:
        """Scratch array ``name`` of ``shape``, reused from step to step: a view of the first
        rows of the kept one when it is big enough (the last, smaller batch of an epoch reuses
        the full-size array)."""
        arrays: dict[str, np.ndarray] = self.__dict__.setdefault("_scratch_arrays", {})
        buf = arrays.get(name)
        if buf is None or buf.dtype != dtype or buf.shape[1:] != shape[1:] \
                or buf.shape[0] < shape[0]:
            buf = arrays[name] = np.empty(shape, dtype)
        return buf[:shape[0]]

    def to_onnx(self, graph: GraphBuilder, x: str, input_shape: Shape) -> str:
        """Add what this layer computes in evaluation to ``graph``; return its output's name.

        It reads the batch named ``x`` (one sample of ``input_shape``). A layer kind without this
        piece is refused by name (ExportError); a training-only layer returns ``x`` unchanged.

        Parameters
        ----------
        graph : GraphBuilder
            The graph being built.
        x : str
            The name of the layer's input in the graph.
        input_shape : tuple of int
            One sample's input shape.

        Returns
        -------
        str
            The name of the layer's output.

        Raises
        ------
        ExportError
            For a layer kind without an ONNX piece.
        """
        raise ExportError(f"layer kind {self.kind} has no ONNX export")


def _json_ready(value: Any) -> Any:
    """``value`` with its tuples as lists, as JSON gives them back."""
    return [_json_ready(v) for v in value] if isinstance(value, (tuple, list)) else value

