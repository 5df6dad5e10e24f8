"""The FLOP floor: a network's matrix-multiply work (an MLP's from its sizes, any model's dense
and conv layers from the model) and the least time it can take here."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from harness import best_call_seconds

GEMM_FLOP_BUDGET = 2e9  # FLOPs per timing round of one product shape: tens of ms


@dataclasses.dataclass
class Floor:
    """Matrix-multiply work of one epoch (or step) and the least time it can take here."""

    per: str  # "epoch" or "step"
    dtype: str
    gflop: float
    rate: float  # GFLOP/s of a 2048x2048 product
    rate_s: float  # gflop at that rate
    shapes_s: float  # the same products timed alone at the case's own shapes
    ours_s: float = math.nan  # measured median time of one epoch (or step)
    theirs_s: float = math.nan


def gemm_seconds(m: int, k: int, n: int, dtype: str, trans_a: bool = False,
                 trans_b: bool = False) -> float:
    """Seconds of one (m, k) @ (k, n) product into a preallocated output, with the operands
    laid out as the layers hold them (a transposed operand is a .T view, as in backward)."""
    rng = np.random.default_rng(0)
    a = rng.random((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.random((n, k) if trans_b else (k, n)).astype(dtype)
    a, b = (a.T if trans_a else a), (b.T if trans_b else b)
    out = np.empty((m, n), dtype)
    number = max(1, int(GEMM_FLOP_BUDGET / (2 * m * k * n)))
    return best_call_seconds(lambda: np.matmul(a, b, out=out), number)


@functools.cache
def gemm_rate(dtype: str) -> float:
    """This machine's GEMM rate in GFLOP/s: the best of a 2048x2048 product, default threads."""
    rate = 2 * 2048**3 / gemm_seconds(2048, 2048, 2048, dtype) / 1e9
    print(f"  {dtype} GEMM rate: {rate:.1f} GFLOP/s (2048x2048 np.matmul, best of 7)",
          flush=True)
    return rate


Product = tuple[int, int, int, bool, bool]  # (m, k, n, trans_a, trans_b)


def layer_products(sizes: Sequence[int], rows: int) -> Iterator[Product]:
    """(m, k, n, trans_a, trans_b) of every product one batch of ``rows`` needs."""
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        yield rows, n_in, n_out, False, False  # forward x @ W
        yield n_in, rows, n_out, True, False  # dW = x.T @ g
        if i:  # dx = g @ W.T; never needed for the first layer
            yield rows, n_out, n_in, False, True


def model_products(model: Any, rows: int, backward: bool = True) -> Iterator[Product]:
    """The products of a training step (``backward``) or a forward pass over ``rows`` samples
    of an mnistnp model: its Dense layers' as in ``layer_products``, and its Conv2D layers'
    as the layer lays them out: the columns (C*kh*kw, N*H'*W') beside W (F, C*kh*kw)."""
    for layer, shape in zip(model.layers, [model.input_shape, *model.shapes]):
        if layer.kind == "Dense":
            n_in, n_out = layer.in_features, layer.out_features
            yield rows, n_in, n_out, False, False  # x @ W
            if backward:
                yield n_in, rows, n_out, True, False  # dW = x.T @ g
                if layer.needs_input_grad:
                    yield rows, n_out, n_in, False, True  # dx = g @ W.T
        elif layer.kind == "Conv2D":
            f, ho, wo = layer.output_shape(shape)
            k, m = layer.in_channels * layer.kernel[0] * layer.kernel[1], rows * ho * wo
            yield f, k, m, False, False  # output: W @ cols
            if backward:
                yield k, m, f, False, True  # dW^T = cols @ g^T
                if layer.needs_input_grad:
                    yield k, f, m, True, False  # column gradient: W^T @ g


@functools.cache
def batch_gemm_seconds(products: tuple[Product, ...], dtype: str) -> float:
    """Seconds of one batch's products, each timed alone (cached: cases share shapes)."""
    return sum(gemm_seconds(m, k, p, dtype, ta, tb) for m, k, p, ta, tb in products)


def products_floor(products: Sequence[Product], batches: float, dtype: str, per: str) -> Floor:
    """``batches`` times ``products``: FLOPs, and their time both at the 2048x2048 rate and
    timed at their own shapes."""
    gflop = sum(2 * m * k * p for m, k, p, _, _ in products) * batches / 1e9
    rate = gemm_rate(dtype)
    shapes_s = batch_gemm_seconds(tuple(products), dtype) * batches
    return Floor(per, dtype, gflop, rate, gflop / rate, shapes_s)


def flop_floor(sizes: Sequence[int], n: int, rows: int, dtype: str, per: str) -> Floor:
    """The products of an MLP of ``sizes`` over ``n`` samples taken ``rows`` at a time."""
    return products_floor(list(layer_products(sizes, rows)), n / rows, dtype, per)
