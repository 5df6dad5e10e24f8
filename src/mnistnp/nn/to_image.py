"""A CNN's input layer (``ToImage``): images of any dtype to scaled float (n, c, h, w) batches."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from .layers import Layer


class ToImage(Layer):
    """(n_samples, height, width) images, or (n_samples, channels, height, width), of any
    dtype, to a float (n_samples, channels, height, width) batch times ``scale``: what a
    Conv2D takes. With ``scale=1/255`` it is first (or after an augmentation layer that keeps
    uint8), so the pixels stay uint8 until a batch is formed, as ``Flatten`` does for an MLP.

    A stand-in until the layer registry's ``Rescale`` (issue 10) covers it. Training-mode
    output is a reused buffer, valid until the layer's next training-mode call.
    """

    kind: ClassVar[str] = "ToImage"
    param_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, scale: float = 1.0, dtype: np.dtype | str = "float32") -> None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) \
                or not math.isfinite(scale):
            raise ValueError(f"scale must be a finite number, got {scale!r}")
        self.scale = float(scale)
        self.dtype = np.dtype(dtype)
        self._shape: tuple[int, ...] = ()

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
        """(1, H, W) for (H, W) samples; (C, H, W) samples unchanged."""
        if len(input_shape) == 2:
            return 1, input_shape[0], input_shape[1]
        if len(input_shape) == 3:
            return input_shape[0], input_shape[1], input_shape[2]
        raise ValueError(f"ToImage expects (height, width) or (channels, height, width) "
                         f"samples, got {tuple(input_shape)}")

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._shape = x.shape
        images = x.reshape(len(x), *self.output_shape(x.shape[1:]))  # (N, C, H, W)
        out = self._buffer("out", images.shape, self.dtype) if training else None
        # Cast and scale in one pass; a scale of the output dtype keeps uint8 * scale in it.
        return np.multiply(images, self.dtype.type(self.scale), out=out, dtype=self.dtype)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        return grad_out.reshape(self._shape) * self.scale

    def spec(self) -> dict[str, Any]:
        return {"type": self.kind, "scale": self.scale}

    @classmethod
    def from_spec(cls, spec: dict[str, Any], dtype: np.dtype | str = "float32") -> ToImage:
        return cls(spec["scale"], dtype)
