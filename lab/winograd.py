"""Whether Winograd's F(2x2, 3x3) beats im2col + one GEMM for the cnn recipe's 3x3 convolutions,
in NumPy, on one thread, a block of images at a time (as ``Conv2D`` splits its work).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python lab/winograd.py [--block 32] [--repeats 15]

F(2x2, 3x3) (Lavin and Gray, 2016) computes each 2x2 tile of the output from a 4x4 tile of the
padded input with 16 products per (filter, channel) pair instead of 36: U = G w G^T per filter,
V = B^T d B per input tile, M = U * V summed over channels (16 GEMMs of (F, C) by (C, tiles)),
and the output tile is A^T M A. The GEMMs shrink 2.25x; the transforms are extra passes over
the data. Two versions of the transforms are timed:

- ``strided``: each transform written out as sums of the tile's strided views, as in the papers;
- ``gathered``: the 16 tile entries gathered by 16 strided copies (an im2col with stride 2),
  then both transforms as small GEMMs (the 16x16 and 4x16 Kronecker products of B^T and A^T).

Each is checked against im2col + GEMM (``mnistnp.nn.columns.im2col``, as ``Conv2D`` does it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from mnistnp.nn.columns import im2col

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from harness import median_call_us  # the benchmarks' timing


def median_ms(fn, repeats: int) -> float:
    """Median milliseconds of ``repeats`` calls after one warm-up call."""
    return median_call_us(fn, repeats, 1) / 1e3


G = np.array([[1, 0, 0], [.5, .5, .5], [.5, -.5, .5], [0, 0, 1]], np.float32)
BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float32)
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float32)


def layer(c: int, f: int, h: int, n: int, repeats: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((c, n, h + 2, h + 2)).astype(np.float32)  # padded, channel-major
    w = rng.standard_normal((f, c, 3, 3)).astype(np.float32)
    cols = np.empty((c, 3, 3, n, h, h), np.float32)
    y = np.empty((f, n * h * h), np.float32)
    wmat = w.reshape(f, -1)

    def im2col_gemm() -> None:
        im2col(x.transpose(1, 0, 2, 3), (3, 3), (1, 1), cols, split=False)
        np.matmul(wmat, cols.reshape(c * 9, -1), out=y)

    t = h // 2
    u = np.einsum("ai,fcij,bj->abfc", G, w, G).reshape(16, f, c).copy()
    out = np.empty((f, n, h, h), np.float32)
    v = np.empty((4, 4, c, n, t, t), np.float32)
    m = np.empty((16, f, n * t * t), np.float32)

    def strided() -> None:
        d = [[x[:, :, a:a + 2 * t:2, b:b + 2 * t:2] for b in range(4)] for a in range(4)]
        rows = [[d[0][b] - d[2][b] for b in range(4)], [d[1][b] + d[2][b] for b in range(4)],
                [d[2][b] - d[1][b] for b in range(4)], [d[1][b] - d[3][b] for b in range(4)]]
        for a, q in enumerate(rows):
            np.subtract(q[0], q[2], out=v[a, 0])
            np.add(q[1], q[2], out=v[a, 1])
            np.subtract(q[2], q[1], out=v[a, 2])
            np.subtract(q[1], q[3], out=v[a, 3])
        np.matmul(u, v.reshape(16, c, -1), out=m)
        mm = m.reshape(4, 4, f, n, t, t)
        left = [mm[a, 0] + mm[a, 1] + mm[a, 2] for a in range(4)]
        right = [mm[a, 1] - mm[a, 2] - mm[a, 3] for a in range(4)]
        for s, j in ((left, 0), (right, 1)):
            out[:, :, 0::2, j::2] = s[0] + s[1] + s[2]
            out[:, :, 1::2, j::2] = s[1] - s[2] - s[3]

    btt, att = np.kron(BT, BT), np.kron(AT, AT)  # (16, 16), (4, 16)
    tiles = np.empty((16, c, n, t, t), np.float32)
    vg = np.empty((16, c * n * t * t), np.float32)
    og = np.empty((4, f * n * t * t), np.float32)

    def gather() -> None:
        for a in range(4):
            for b in range(4):
                np.copyto(tiles[4 * a + b], x[:, :, a:a + 2 * t:2, b:b + 2 * t:2])

    def gathered() -> None:
        gather()
        np.matmul(btt, tiles.reshape(16, -1), out=vg)
        np.matmul(u, vg.reshape(16, c, -1), out=m)
        np.matmul(att, m.reshape(16, -1), out=og)
        o = og.reshape(2, 2, f, n, t, t)
        for a in range(2):
            for b in range(2):
                np.copyto(out[:, :, a::2, b::2], o[a, b])

    im2col_gemm()
    reference = y.reshape(f, n, h, h)
    scale = float(np.abs(reference).max())
    print(f"conv {c}->{f}, 3x3 same, {h}x{h}, block of {n} images:")
    gemm = median_ms(lambda: np.matmul(wmat, cols.reshape(c * 9, -1), out=y), repeats)
    print(f"  im2col + GEMM: {median_ms(im2col_gemm, repeats):.2f} ms (its GEMM {gemm:.2f})")
    for name, fn in (("strided", strided), ("gathered", gathered)):
        fn()
        err = float(np.abs(out - reference).max()) / scale
        print(f"  Winograd, {name} transforms: {median_ms(fn, repeats):.2f} ms "
              f"(largest difference {err:.1e} of the largest output)")
    parts = {"its 16 GEMMs": lambda: np.matmul(u, vg.reshape(16, c, -1), out=m),
             "gather": gather,
             "input transform": lambda: np.matmul(btt, tiles.reshape(16, -1), out=vg),
             "output transform": lambda: np.matmul(att, m.reshape(16, -1), out=og)}
    print("    " + ", ".join(f"{k} {median_ms(fn, repeats):.2f}" for k, fn in parts.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--block", type=int, default=32, help="images per block")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with threadpool_limits(1):
        blas = threadpool_info()[0]
        print(f"NumPy {np.__version__}, {blas['internal_api']} {blas['version']}, "
              f"{blas.get('architecture')} kernel, 1 thread")
        for c, f, h in ((32, 64, 14), (64, 64, 14)):
            layer(c, f, h, args.block, args.repeats)


if __name__ == "__main__":
    main()
