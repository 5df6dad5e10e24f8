"""A 3x3 'same' convolution without columns: nine products on shifted views of the images,
against the library's im2col and one product (forward) and its two products and col2im
(backward), on one thread (median of 21 calls).

The images are stored channel-major and flat, (C, positions), each row followed by one zero
and each image by one zero row, so the zero border is shared between neighbours: pixel
(n, y, x) sits at n*(H+1)*(W+1) + (y+1)*(W+1) + x. Then the input the kernel's offset (i, j)
needs for every output position is one contiguous slice of each channel's row, shifted by
(i-1)*(W+1) + (j-1), a (C, positions) view BLAS takes as it is, and

    out (F, positions) = sum over (i, j) of W[:, :, i, j] (F, C) @ X[:, shift(i, j):][:, :positions]

is nine products and eight additions, with no columns written. Backward, the weight gradient
of offset k is gy @ X_k^T and the input gradient gathers W_k^T @ gy shifted back: eighteen
products and nine additions, no col2im. Positions on the zero rows and
columns are computed and thrown away: (H+1)(W+1)/(HW) more work, 15% at 14x14.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python lab/shifted_gemm.py
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from mnistnp.nn import columns, threads

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from harness import median_call_us

# (in channels, out channels, side, images in a block): the recipe's second and third
# convolutions at the block size Conv2D uses (threads.BLOCK) and at a block that stays in cache.
CASES = [(32, 64, 14, 32), (64, 64, 14, 32), (32, 64, 14, 8), (64, 64, 14, 8)]


def median_ms(fn: Callable[[], object]) -> float:
    return median_call_us(fn, calls=21, warmup=2) / 1e3


class Shifted:
    """Buffers and views for one block shape; ``forward`` fills the flat images and runs."""

    def __init__(self, c: int, f: int, n: int, side: int) -> None:
        self.row = side + 1  # each row and its one zero
        self.positions = n * (side + 1) * self.row  # every image with its zero row above
        self.margin = self.row + 1  # the farthest shift either way
        self.x = np.zeros((c, self.positions + 2 * self.margin), np.float32)
        # The images' pixels inside the flat rows, a view: (C, n, H, W).
        self.pixels = self.x[:, self.margin:self.margin + self.positions].reshape(
            c, n, side + 1, self.row)[:, :, 1:, :side]
        self.out = np.empty((f, self.positions), np.float32)
        self.part = np.empty_like(self.out)
        self.dshare = np.empty((c, self.positions), np.float32)
        self.shifts = [(i - 1) * self.row + (j - 1) for i in range(3) for j in range(3)]
        self.side, self.n = side, n

    def fill(self, images: np.ndarray) -> None:
        np.copyto(self.pixels, images.transpose(1, 0, 2, 3))  # (N, C, H, W) -> (C, N, H, W)

    def products(self, w: np.ndarray, b: np.ndarray) -> None:
        for k, shift in enumerate(self.shifts):
            lo = self.margin + shift
            view = self.x[:, lo:lo + self.positions]
            if k == 0:
                np.matmul(w[:, :, k], view, out=self.out)
            else:
                np.matmul(w[:, :, k], view, out=self.part)
                self.out += self.part
        self.out += b[:, None]

    def backward(self, w: np.ndarray, gy: np.ndarray, dw: np.ndarray, dx: np.ndarray) -> None:
        """``gy`` (F, N, H, W) laid on the zero-bordered positions (zeros on the border), then
        per offset k: dW_k = gy @ X_k^T, and gy's share W_k^T @ gy added to dX shifted back by
        k's shift; ``dx`` is (C, positions + 2 * margin), its pixels a view as ``pixels``."""
        f = len(self.out)
        grid = self.part  # the forward's scratch, free now
        grid.reshape(f, self.n, self.side + 1, self.row)[:, :, 0] = 0
        grid.reshape(f, self.n, self.side + 1, self.row)[:, :, 1:, self.side] = 0
        np.copyto(grid.reshape(f, self.n, self.side + 1, self.row)[:, :, 1:, :self.side], gy)
        dx.fill(0)
        share = self.dshare
        for k, shift in enumerate(self.shifts):
            lo = self.margin + shift
            np.matmul(grid, self.x[:, lo:lo + self.positions].T, out=dw[:, :, k])
            np.matmul(w[:, :, k].T, grid, out=share)
            dx[:, lo:lo + self.positions] += share

    def valid(self) -> np.ndarray:
        """(F, N, H, W) view of the outputs that are pixels."""
        f = len(self.out)
        return self.out.reshape(f, self.n, self.side + 1, self.row)[:, :, 1:, :self.side]


def measure(c: int, f: int, side: int, n: int, rng: np.random.Generator) -> str:
    """One table row: both ways on the same images and filters, checked to agree first."""
    images = rng.standard_normal((n, c, side, side)).astype(np.float32)
    w = (rng.standard_normal((f, c, 3, 3)) / np.sqrt(9 * c)).astype(np.float32)
    b = rng.standard_normal(f).astype(np.float32)
    # The library's way: a padded copy (C, N, Hp, Wp), the columns, one product.
    padded = np.zeros((c, n, side + 2, side + 2), np.float32)
    cols = np.empty((c, 3, 3, n, side, side), np.float32)
    wmat = w.reshape(f, c * 9)
    y = np.empty((f, n * side * side), np.float32)
    cols2d = cols.reshape(c * 9, -1)

    def im2col_way() -> None:
        padded[:, :, 1:-1, 1:-1] = images.transpose(1, 0, 2, 3)
        columns.im2col(padded.transpose(1, 0, 2, 3), (3, 3), (1, 1), cols, split=False)
        np.matmul(wmat, cols2d, out=y)
        np.add(y, b[:, None], out=y)

    shifted = Shifted(c, f, n, side)
    wk = np.ascontiguousarray(w.reshape(f, c, 9).transpose(2, 0, 1)).transpose(1, 2, 0)

    def shifted_way() -> None:
        shifted.fill(images)
        shifted.products(wk, b)

    def shifted_products() -> None:
        for k, shift in enumerate(shifted.shifts):
            lo = shifted.margin + shift
            np.matmul(wk[:, :, k], shifted.x[:, lo:lo + shifted.positions], out=shifted.part)

    # Backward, the library's way (Conv2D.backward on one block): dW^T = cols @ gy^T, the
    # column gradient W^T @ gy into the columns, col2im; the shifted way: Shifted.backward.
    gy = rng.standard_normal((f, n, side, side)).astype(np.float32)
    gy2 = gy.reshape(f, -1)
    dwt = np.empty((c * 9, f), np.float32)
    dxp = np.empty((c, n, side + 2, side + 2), np.float32)
    spread = np.empty_like(dxp)

    def col2im_back() -> None:
        np.matmul(cols2d, gy2.T, out=dwt)
        dcols = np.matmul(wmat.T, gy2, out=cols2d)
        columns.col2im(dcols.reshape(c, 3, 3, n, side, side), (1, 1), dxp, spread)

    dw = np.empty((f, c, 9), np.float32)
    dx = np.empty_like(shifted.x)

    def shifted_back() -> None:
        shifted.backward(wk, gy, dw, dx)

    im2col_way()
    shifted_way()
    np.testing.assert_allclose(shifted.valid(), y.reshape(f, n, side, side),
                               rtol=1e-4, atol=1e-4 * float(np.abs(y).max()))
    a = median_ms(im2col_way)
    a_gemm = median_ms(lambda: np.matmul(wmat, cols2d, out=y))
    t = median_ms(shifted_way)
    t_gemm = median_ms(shifted_products)
    im2col_way()  # the columns again, for the backward's check
    col2im_back()
    shifted_back()
    np.testing.assert_allclose(dw.reshape(f, c * 9), dwt.T, rtol=1e-4,
                               atol=1e-4 * float(np.abs(dwt).max()))
    dx_pixels = dx[:, shifted.margin:shifted.margin + shifted.positions].reshape(
        c, n, side + 1, side + 1)[:, :, 1:, :side]
    np.testing.assert_allclose(dx_pixels, dxp[:, :, 1:-1, 1:-1], rtol=1e-4,
                               atol=1e-4 * float(np.abs(dxp).max()))
    # Timed again and again, the library's backward overwrites the columns it reads: the values
    # change, the work does not.
    ab = median_ms(col2im_back)
    tb = median_ms(shifted_back)
    return (f"| {c}->{f}, {side}x{side}, {n} images | {a:.2f} | {a_gemm:.2f} | {t:.2f} "
            f"| {t_gemm:.2f} | {t / a:.2f} | {ab:.2f} | {tb:.2f} | {tb / ab:.2f} |")


def main() -> None:
    threads.set_num_threads(1)
    rng = np.random.default_rng(0)
    with threadpool_limits(1, "blas"):
        blas = [(i["internal_api"], i.get("architecture"), i["version"]) for i in
                threadpool_info() if i["user_api"] == "blas"]
        print(f"NumPy {np.__version__}, BLAS {blas}, one thread")
        print("| layer, block | forward: im2col + product, ms | its product alone | nine "
              "shifted products + adds | their products alone | shifted / im2col "
              "| backward: two products + col2im, ms | shifted: 18 products + 9 adds "
              "| shifted / col2im |")
        print("|---|---|---|---|---|---|---|---|---|")
        for case in CASES:
            print(measure(*case, rng), flush=True)


if __name__ == "__main__":
    main()
