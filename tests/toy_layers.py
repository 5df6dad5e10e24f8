"""Layer kinds that mnistnp does not have, defined the way a new layer file would define them,
to show that one drops in through the registry alone: ``toy_layers()`` defines them (so they
register themselves) and takes them out of the registries again afterwards. ``impostor`` makes a
class of this module that bears the name of one of mnistnp's own."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from mnistnp.nn.base import Layer, Shape
from mnistnp.nn.registry import LAYERS, SHORTHANDS
from mnistnp.nn.shorthand import Arg, Shorthand, whole


@contextlib.contextmanager
def toy_layers() -> Iterator[dict[str, type[Layer]]]:
    """{"ToyNorm": ..., "ToyProject": ...}, registered for the duration."""

    class ToyNorm(Layer):
        """y = gain * (x - running_mean) + bias per feature, with ``running_mean`` a
        non-trainable state that training moves towards the batch mean (as batch norm's)."""

        kind: ClassVar[str] = "ToyNorm"
        shorthands: ClassVar[dict[str, Shorthand]] = {"toynorm": Shorthand(help="a toy")}
        param_names: ClassVar[tuple[str, ...]] = ("gain", "bias")  # bound by Layer.bind
        gain: np.ndarray
        bias: np.ndarray
        dgain: np.ndarray
        dbias: np.ndarray
        state_names: ClassVar[tuple[str, ...]] = ("running_mean",)

        def __init__(self, features: int, dtype: np.dtype | str = "float32") -> None:
            self.features = features
            self.param_shapes = ((features,), (features,))
            self.state_shapes = ((features,),)
            self.running_mean = np.zeros(features, dtype)
            self._x = np.empty(0)

        def init(self, rng: np.random.Generator) -> None:
            self.gain[...] = 1
            self.bias[...] = 0
            self.running_mean[...] = 0

        def state(self) -> dict[str, np.ndarray]:
            return {"running_mean": self.running_mean}

        def load_state(self, arrays: Mapping[str, np.ndarray]) -> None:
            value = np.asarray(arrays["running_mean"])
            if value.shape != (self.features,):
                raise ValueError(f"running_mean: expected shape {(self.features,)}, got "
                                 f"{value.shape}")
            self.running_mean[...] = value

        def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
            if training:
                self.running_mean += 0.5 * (x.mean(axis=0) - self.running_mean)
                self._x = x
            return self.gain * (x - self.running_mean) + self.bias

        def backward(self, grad_out: np.ndarray) -> np.ndarray:
            # running_mean is treated as a constant (the toy need not be exact there)
            self.dgain[...] = (grad_out * (self._x - self.running_mean)).sum(axis=0)
            self.dbias[...] = grad_out.sum(axis=0)
            return grad_out * self.gain

        def output_shape(self, input_shape: Shape) -> Shape:
            if tuple(input_shape) != (self.features,):
                raise ValueError(f"expects {self.features} features, gets {input_shape}")
            return tuple(input_shape)

        @classmethod
        def from_shorthand(cls, name: str, values: tuple[Any, ...], input_shape: Shape,
                           dtype: np.dtype) -> list[Layer]:
            return [cls(input_shape[0], dtype)]

    class ToyProject(Layer):
        """x @ P with a fixed (untrained, parameter-free) projection to ``out`` outputs: a last
        layer that is not a Dense."""

        kind: ClassVar[str] = "ToyProject"
        shorthands: ClassVar[dict[str, Shorthand]] = {
            "toyproject": Shorthand((Arg("N", whole(1)),), "a toy")}

        def __init__(self, inputs: int, out: int) -> None:
            self.inputs, self.out = inputs, out
            self.P = np.ones((inputs, out)) / inputs

        def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
            return x @ self.P

        def backward(self, grad_out: np.ndarray) -> np.ndarray:
            return grad_out @ self.P.T

        def output_shape(self, input_shape: Shape) -> Shape:
            return (self.out,)

        @classmethod
        def from_shorthand(cls, name: str, values: tuple[Any, ...], input_shape: Shape,
                           dtype: np.dtype) -> list[Layer]:
            return [cls(input_shape[0], values[0])]

    classes: dict[str, type[Layer]] = {"ToyNorm": ToyNorm, "ToyProject": ToyProject}
    try:
        yield classes
    finally:
        for cls in classes.values():
            LAYERS.pop(cls.kind, None)
            for name in cls.shorthands:
                SHORTHANDS.pop(name, None)


def impostor(name: str, kind: str, shorthands: Mapping[str, Shorthand] | None = None
             ) -> type[Layer]:
    """Define a layer class of this module whose qualified name is exactly ``name``, as a class
    at the top of another layer file would be (``toy_layers.Dense``), claiming ``kind`` and the
    layer-string ``shorthands``: the registry takes it or raises TypeError."""
    return type(name, (Layer,), {"__module__": __name__, "__qualname__": name, "kind": kind,
                                 "shorthands": dict(shorthands or {})})
