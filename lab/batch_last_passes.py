"""What a batch-last layout would buy the cnn recipe's passes outside the GEMMs: im2col, col2im
and 2x2 max pooling on one thread, in the library's layout against images stored (C, H, W, n).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python lab/batch_last_passes.py [--images 32 128]

The library's side is its own code: ``im2col`` and ``col2im`` of ``mnistnp.nn.columns`` on
channel-major (C, n, Hp, Wp) memory, and ``MaxPool2D``'s training forward and backward on an
(n, C, H, W) view of (C, n, H, W) memory, as a ``Conv2D`` hands it on. The batch-last side
stores the n images innermost, so every copy and add runs over W' * n contiguous numbers: with
n the block of 32 images ``Conv2D`` works on, that is the blocked layout (blocks, C, H, W, 32);
with n the whole batch of 128, a plain (C, H, W, N) one. Its pooling keeps the same tie rule
(the first maximum in row-major order: across the row first, then down).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from mnistnp.nn.columns import col2im, im2col
from mnistnp.nn.pool import MaxPool2D

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from harness import median_call_us  # the benchmarks' timing


def median_ms(fn, repeats: int = 20) -> float:
    """Median milliseconds of ``repeats`` calls after one warm-up call."""
    return median_call_us(fn, repeats, 1) / 1e3


def columns(c: int, h: int, n: int) -> None:
    """im2col and col2im of a 3x3 'same' convolution over c channels of h x h images."""
    rng = np.random.default_rng(0)
    hp = h + 2
    x = rng.standard_normal((c, n, hp, hp)).astype(np.float32)
    cols = np.empty((c, 3, 3, n, h, h), np.float32)
    out, spread = np.empty_like(x), np.empty_like(x)
    xb = rng.standard_normal((c, hp, hp, n)).astype(np.float32)
    colsb = np.empty((c, 3, 3, h, h, n), np.float32)
    outb = np.empty_like(xb)

    def im2col_last() -> None:
        for i in range(3):
            for j in range(3):
                np.copyto(colsb[:, i, j], xb[:, i:i + h, j:j + h, :])

    def col2im_last() -> None:
        outb[...] = 0
        for i in range(3):
            for j in range(3):
                outb[:, i:i + h, j:j + h, :] += colsb[:, i, j]

    now = median_ms(lambda: im2col(x.transpose(1, 0, 2, 3), (3, 3), (1, 1), cols, split=False))
    last = median_ms(im2col_last)
    back = median_ms(lambda: col2im(cols, (1, 1), out, spread))
    back_last = median_ms(col2im_last)
    print(f"  3x3 columns of {c} channels, {h}x{h}: im2col {now:.2f} -> {last:.2f} ms, "
          f"col2im {back:.2f} -> {back_last:.2f} ms")


def pooling(c: int, h: int, n: int) -> None:
    """2x2 max pooling, forward (with the argmax kept) and backward."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((c, n, h, h)).astype(np.float32).transpose(1, 0, 2, 3)
    pool = MaxPool2D(2)
    g = np.ones((n, c, h // 2, h // 2), np.float32)

    def library() -> None:
        pool.forward(x, training=True)
        pool.backward(g)

    ho = h // 2
    xb = rng.standard_normal((c, h, h, n)).astype(np.float32)
    rows = np.empty((c, h, ho, n), np.float32)
    y = np.empty((c, ho, ho, n), np.float32)
    col_first, row_first = np.empty(rows.shape, bool), np.empty(y.shape, bool)
    rows_grad = np.empty_like(rows)
    dx = np.empty_like(xb)
    gb = np.ones_like(y)

    def last() -> None:
        pairs = xb.reshape(c, h, ho, 2, n)
        np.greater(pairs[:, :, :, 1], pairs[:, :, :, 0], out=col_first)
        np.maximum(pairs[:, :, :, 0], pairs[:, :, :, 1], out=rows)
        down = rows.reshape(c, ho, 2, ho, n)
        np.greater(down[:, :, 1], down[:, :, 0], out=row_first)
        np.maximum(down[:, :, 0], down[:, :, 1], out=y)
        rg = rows_grad.reshape(c, ho, 2, ho, n)
        np.multiply(gb, row_first, out=rg[:, :, 1])
        np.multiply(gb, ~row_first, out=rg[:, :, 0])
        d = dx.reshape(c, h, ho, 2, n)
        np.multiply(rows_grad, col_first, out=d[:, :, :, 1])
        np.multiply(rows_grad, ~col_first, out=d[:, :, :, 0])

    print(f"  2x2 max pooling of {c} channels, {h}x{h}, forward and backward: "
          f"{median_ms(library):.2f} -> {median_ms(last):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, nargs="+", default=[32, 128])
    args = parser.parse_args()
    with threadpool_limits(1):
        for n in args.images:
            print(f"{n} images, one thread (library's layout -> batch last):")
            columns(32, 14, n)
            columns(64, 14, n)
            pooling(32, 28, n)
            pooling(64, 14, n)


if __name__ == "__main__":
    main()
