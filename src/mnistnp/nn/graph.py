"""What a layer's ONNX piece (``Layer.to_onnx``) writes into: a graph built from plain data,
which ``mnistnp.onnx_export`` turns into ONNX, so no layer module imports onnx."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class GraphBuilder(Protocol):
    """What a layer's ``to_onnx`` piece writes into: a graph being built from plain data (names,
    NumPy arrays, attributes), which the exporter (``mnistnp.onnx_export``) turns into ONNX, so
    no layer module imports onnx."""

    # The graph's float type: the model's dtype, float32 or float64.
    dtype: np.dtype

    def constant(self, name: str, value: np.ndarray) -> str:
        """Add ``value`` as an initializer called ``<layer>.<name>``; return its name. Floating
        arrays are stored in ``dtype``, others (int64 axes) as they are."""
        ...

    def node(self, op: str, inputs: list[str], **attributes: Any) -> str:
        """Add an ONNX operator ``op`` (``"Gemm"``) on ``inputs`` (value names) with its
        ``attributes`` (ints, floats, lists of ints, or a NumPy dtype for a type); return the
        name of its one output."""
        ...
