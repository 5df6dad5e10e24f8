"""Architectures as data: the layer string (``dense:256,dropout:0.2,dense:128``), read through
the layer registry and built into a Sequential for the data's input shape and classes.

Grammar: items separated by commas, each a name and its values separated by colons
(``name:value:value``); the names and what they take come from the layer classes (see
``SHORTHANDS``, ``grammar``). The network built is: the leading raw-input items (random
shifts and affine transforms), a Rescale of the pixels to [0, 1], the items' layers in order
(``dense:N`` adds a Flatten before it when it gets images, and a ReLU after it; ``conv``
likewise a ReLU, and it, ``maxpool``, ``bn`` and ``gap`` an AddChannel before them when they
get images without channels; ``bn`` and ``maxpool`` right after such a ReLU go before it),
then the output layer, ``linear:<number of classes>``. Where each kind may go is a rule of the
grammar, kept here (``PLACEMENT``), not on the layers.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ShapeError
from .augment import RandomAffine, RandomShift, RandomStroke
from .base import Layer, Shape
from .layers import Flatten, ReLU, Rescale
from .model import Sequential
from .norm import BatchNorm
from .pool import MaxPool2D
from .registry import SHORTHANDS


class LayerStringError(ValueError):
    """A layer string that cannot be read; the message names the item and what is wrong."""


@dataclass(frozen=True)
class Placement:
    """Where the layers of a kind go in a layer string."""

    # It works on the raw input (uint8 images) before it is rescaled, and has no backward:
    # its items must come first (random shifts and affine transforms).
    raw_input: bool = False
    # Applying it twice is the same as once (ReLU): an item that repeats it adds nothing.
    idempotent: bool = False
    # An item of this kind that follows the ReLU an item added of its own (``dense:N``'s,
    # ``conv:...``'s) goes before that ReLU: batch norm normalises what the ReLU gets (where
    # Ioffe and Szegedy put it); max pooling gives the same values and gradients on either
    # side of it, and the ReLU then has a quarter of the values to do.
    before_relu: bool = False


# The kinds with a placement rule; any other goes where it is written. A subclass (a variant
# of a kind) follows its kind's rule.
PLACEMENT: dict[type[Layer], Placement] = {
    RandomShift: Placement(raw_input=True),
    RandomAffine: Placement(raw_input=True),
    RandomStroke: Placement(raw_input=True),
    Flatten: Placement(idempotent=True),
    ReLU: Placement(idempotent=True),
    BatchNorm: Placement(before_relu=True),
    MaxPool2D: Placement(before_relu=True),
}


def placement(cls: type[Layer]) -> Placement:
    """The placement rule of a layer class: its own, or its nearest registered parent's."""
    return next((PLACEMENT[c] for c in cls.__mro__ if c in PLACEMENT), Placement())


@dataclass(frozen=True)
class Item:
    """One item of a layer string: its name, its values read, and its text as written."""

    name: str
    values: tuple[Any, ...]
    text: str

    @property
    def raw_input(self) -> bool:
        return placement(SHORTHANDS[self.name][0]).raw_input


def grammar() -> str:
    """Every name a layer string takes, with its values and what it means, for help texts:
    "dense:N (N units, then a ReLU: a hidden layer), ..."."""
    return ", ".join(f"{shorthand.usage(name)} ({shorthand.help})" if shorthand.help
                     else shorthand.usage(name)
                     for name, (_, shorthand) in sorted(SHORTHANDS.items()))


def parse_layers(text: str) -> tuple[Item, ...]:
    """The items of a layer string, each checked against its layer kind's shorthand.

    LayerStringError for the first mistake: an empty item, an unknown name (with a "did you mean"),
    a missing, extra or bad value, or a raw-input item (``shift``) after another.

    Parameters
    ----------
    text : str
        A layer string, comma-separated items such as ``"dense:128,dropout:0.2"``.

    Returns
    -------
    tuple of Item
        The items, in order.
    """
    if not text.strip():
        raise LayerStringError("no layers given; e.g. dense:256,dropout:0.2,dense:128")
    items: list[Item] = []
    for k, word in enumerate(text.split(","), 1):
        word = word.strip()
        if not word:
            raise LayerStringError(f"item {k} of {text!r} is empty")
        item = _item(word)
        if item.raw_input and items and not items[-1].raw_input:
            raise LayerStringError(f"{word} must come first: it works on the raw images, "
                                   f"before any other layer")
        items.append(item)
    return tuple(items)


def _item(word: str) -> Item:
    name, *texts = (part.strip() for part in word.split(":"))
    if name not in SHORTHANDS:
        close = difflib.get_close_matches(name, list(SHORTHANDS), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise LayerStringError(f"unknown layer {name!r} in {word!r}{hint} (known: "
                               f"{', '.join(sorted(SHORTHANDS))})")
    shorthand = SHORTHANDS[name][1]
    usage = shorthand.usage(name)
    most, least = len(shorthand.args), shorthand.least
    if len(texts) < least:
        missing = shorthand.args[len(texts)].placeholder
        raise LayerStringError(f"{word}: missing {missing}; write {usage}")
    if len(texts) > most:
        count = str(most) if least == most else f"{least} to {most}"
        takes = f"takes {count} value{'s' * (most > 1)}" if most else "takes no value"
        raise LayerStringError(f"{word}: {name} {takes}; write {usage}")
    values = []
    for arg, value in zip(shorthand.args, texts):
        try:
            values.append(arg.parse(value))
        except ValueError as e:
            raise LayerStringError(f"{word}: {arg.placeholder} must be {e}, got "
                                   f"{value!r}") from None
    values += [arg.default for arg in shorthand.args[len(texts):]]
    return Item(name, tuple(values), word)


def format_layers(items: Sequence[Item]) -> str:
    """The layer string of ``items``, as written."""
    return ",".join(item.text for item in items)


def build_layers(layers: str | Sequence[Item], input_shape: Sequence[int], num_classes: int,
                 dtype: np.dtype | str = "float32", input_scale: float = 1 / 255
                 ) -> list[Layer]:
    """The layers of the network a layer string describes, for samples of ``input_shape`` and
    ``num_classes`` classes (see the module's docstring). LayerStringError if the string is
    bad; ShapeError naming the item if a layer cannot take what the one before gives."""
    items = parse_layers(layers) if isinstance(layers, str) else tuple(layers)
    dtype = np.dtype(dtype)
    built: list[Layer] = []
    shape: Shape = tuple(input_shape)

    own_relu = False  # the last layer is a ReLU that the item before added of its own

    def add(new: list[Layer], what: str, name: str = "") -> None:
        nonlocal shape, own_relu
        # relu after dense:N (which has its ReLU) adds nothing: one ReLU is the same as two.
        # Written out, it says the items after it go after it.
        if len(new) == 1 and built and new[0].spec() == built[-1].spec() \
                and placement(type(new[0])).idempotent:
            own_relu = False
            return
        relu = built.pop() if own_relu and new and all(
            placement(type(layer)).before_relu for layer in new) else None  # a ReLU keeps the shape
        for layer in [*new, *([relu] if relu else [])]:
            try:
                shape = tuple(layer.output_shape(shape))
            except ValueError as e:
                raise ShapeError(f"{what}: {e}") from None
            built.append(layer)
        own_relu = relu is not None or (name not in ("", "relu") and bool(new)
                                        and isinstance(new[-1], ReLU))

    def add_item(name: str, values: tuple[Any, ...], what: str) -> None:
        add(SHORTHANDS[name][0].from_shorthand(name, values, shape, dtype), what, name)

    raw = 0
    while raw < len(items) and items[raw].raw_input:
        add_item(items[raw].name, items[raw].values, items[raw].text)
        raw += 1
    add([Rescale(input_scale, dtype)], "rescaling the input")
    for item in items[raw:]:
        add_item(item.name, item.values, item.text)
    add_item("linear", (num_classes,), f"the output layer (linear:{num_classes})")
    return built


def network(layers: str | Sequence[Item], input_shape: Sequence[int], num_classes: int,
            dtype: np.dtype | str = "float32", rng: np.random.Generator | None = None,
            input_scale: float = 1 / 255) -> Sequential:
    """The Sequential model a layer string describes (see ``build_layers``).

    Initialised from ``rng`` if given: ``network("dense:256,dropout:0.2", (28, 28), 10, rng=rng)``.

    Parameters
    ----------
    layers : str or sequence of Item
        A layer string, such as ``"conv:32:3,maxpool:2,dense:128"``, or its parsed items.
    input_shape : sequence of int
        One sample's shape, such as (28, 28).
    num_classes : int
        Outputs of the last layer.
    dtype : numpy.dtype or str, default "float32"
        The model's dtype.
    rng : numpy.random.Generator, optional
        Initialises the weights if given.
    input_scale : float, default 1/255
        The first layer's ``Rescale`` factor.

    Returns
    -------
    Sequential
        The model.

    Raises
    ------
    LayerStringError
        If the string is bad.
    ShapeError
        Naming the item, if a layer cannot take what the one before gives.
    """
    model = Sequential(build_layers(layers, input_shape, num_classes, dtype, input_scale),
                       input_shape, dtype)
    return model.init(rng) if rng is not None else model


def mlp_layers(hidden: Sequence[int], dropout: float = 0.0, shift: int = 0) -> str:
    """The layer string of an MLP, what ``mlp`` builds.

    Hidden layers of ``hidden`` widths with ``dropout`` after each and random shifts of ``shift``
    pixels.

    Parameters
    ----------
    hidden : sequence of int
        The hidden layers' widths.
    dropout : float, default 0.0
        The dropout probability after each hidden layer.
    shift : int, default 0
        The largest random shift of training images, in pixels.

    Returns
    -------
    str
        The layer string.
    """
    items = [f"shift:{shift}"] if shift else []
    for width in hidden:
        items.append(f"dense:{width}")
        if dropout:
            items.append(f"dropout:{float(dropout)}")
    return ",".join(items)


def mlp_parts(layers: str) -> tuple[tuple[int, ...], float, int] | None:
    """(hidden widths, dropout, shift) of a layer string that ``mlp_layers`` could have
    written, else None (its layers are not only an MLP's)."""
    items = parse_layers(layers)
    hidden = tuple(item.values[0] for item in items if item.name == "dense")
    dropout = next((item.values[0] for item in items if item.name == "dropout"), 0.0)
    shift = next((item.values[0] for item in items if item.name == "shift"), 0)
    same = parse_layers(mlp_layers(hidden, dropout, shift)) if hidden else ()
    if [(i.name, i.values) for i in same] != [(i.name, i.values) for i in items]:
        return None
    return hidden, dropout, shift


def mlp(
    sizes: Sequence[int],
    rng: np.random.Generator | None = None,
    dtype: np.dtype | str = "float32",
    input_scale: float = 1 / 255,
    dropout: float = 0.0,
    shift: int = 0,
    input_shape: Sequence[int] | None = None,
) -> Sequential:
    """A ReLU multilayer perceptron from its layer sizes, e.g. ``[784, 50, 50, 50, 10]``.

    The ``network`` of the layer string ``mlp_layers`` writes for its hidden widths.

    The input is rescaled by ``input_scale`` (uint8 pixels to [0, 1]), and images are
    flattened. The model records ``input_shape``, one sample's shape: by default square
    images if ``sizes[0]`` is a square number (28x28 for 784), else rows of ``sizes[0]``
    numbers. The last Dense layer is linear (its logits go to the softmax in the loss). With
    ``dropout`` > 0, a Dropout layer follows every hidden ReLU. With ``shift`` > 0, training
    images are randomly moved by up to that many pixels (a RandomShift layer first, which
    needs images). Initialised from ``rng`` if given.

    Parameters
    ----------
    sizes : sequence of int
        The layer sizes, inputs first and classes last, such as ``[784, 50, 50, 50, 10]``.
    rng : numpy.random.Generator, optional
        Initialises the weights if given.
    dtype : numpy.dtype or str, default "float32"
        The model's dtype.
    input_scale : float, default 1/255
        The first layer's ``Rescale`` factor.
    dropout : float, default 0.0
        The dropout probability after each hidden ReLU.
    shift : int, default 0
        The largest random shift of training images, in pixels.
    input_shape : sequence of int, optional
        One sample's shape; by default square images for a square ``sizes[0]``, else rows.

    Returns
    -------
    Sequential
        The model.
    """
    if len(sizes) < 2:
        raise ValueError(f"an MLP needs an input and an output size, got {list(sizes)}")
    side = math.isqrt(sizes[0])
    shape = (tuple(input_shape) if input_shape is not None else (side, side)
             if side > 1 and side * side == sizes[0] else (sizes[0],))
    if math.prod(shape) != sizes[0]:
        raise ShapeError(f"input_shape {shape} holds {math.prod(shape)} numbers, not the "
                         f"{sizes[0]} inputs of sizes {list(sizes)}")
    text = mlp_layers(sizes[1:-1], dropout, shift)  # "" for no hidden layer: a linear model
    return network(parse_layers(text) if text else (), shape, sizes[-1], dtype, rng,
                   input_scale)
