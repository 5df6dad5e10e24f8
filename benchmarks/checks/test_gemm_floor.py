"""The speed benchmark's GEMM floor counts the matrix products a CNN's training step really
makes: the FLOPs of every 2-D np.matmul the layers call, recorded."""

import sys
from pathlib import Path

import numpy as np
import pytest

import mnistnp
from mnistnp.nn import conv as conv_module
from mnistnp.nn import layers as layers_module

sys.path.insert(0, str(Path(__file__).parents[1]))  # benchmarks/
import gemm_floor


class RecordingNumpy:
    """NumPy with its matrix-matrix products' FLOPs recorded (vector products left out, as the
    floor leaves out the bias sums)."""

    def __init__(self, flops: list[int]) -> None:
        self.flops = flops

    def matmul(self, a, b, *args, **kwargs):
        if a.ndim == 2 and b.ndim == 2:
            self.flops.append(2 * a.shape[0] * a.shape[1] * b.shape[1])
        return np.matmul(a, b, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(np, name)


@pytest.mark.parametrize("layers", ["conv:4:3,maxpool:2,conv:6:5,maxpool:2,dense:7",
                                    "conv:3:3:1:valid,bn,dense:5,dense:6"])
def test_floor_counts_the_products_a_step_makes(layers, monkeypatch) -> None:
    model = mnistnp.network(layers, (12, 12), 10, rng=np.random.default_rng(0))
    flops: list[int] = []
    monkeypatch.setattr(conv_module, "np", RecordingNumpy(flops))
    monkeypatch.setattr(layers_module, "np", RecordingNumpy(flops))
    x = np.random.default_rng(1).integers(0, 256, (9, 12, 12), dtype=np.uint8)
    y = np.arange(9) % 10
    mnistnp.fit(model, x, y, mnistnp.SGD(0.01), rng=np.random.default_rng(2), epochs=1,
                batch_size=9)
    products = list(gemm_floor.model_products(model, 9))
    assert sum(flops) == sum(2 * m * k * n for m, k, n, _, _ in products)
