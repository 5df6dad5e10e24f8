"""Does making the column gradient a chunk of images at a time, each chunk added back by col2im
while still in cache, beat one whole GEMM then col2im? For the benchmark CNN's second convolution
(32 -> 64 filters, 5x5, same, on 14x14 maps, batch 128, float32: an (800, 25,088) column
gradient, 80 MB).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \\
        lab/2026-11-30-chunked-backward/chunked_backward.py \\
        [--repeats 5] [--calls 10] [--limits 17 19 21 23]

Cases, ms per input gradient (medians over alternated repeats):
  whole           one GEMM into all the columns, then ``col2im`` (Conv2D.backward's way)
  serial 2^k      chunks of at most 2^k column entries in turn: each GEMM on all of OpenBLAS's
                  threads, each chunk's ``col2im`` split over our threads
  threads 2^k     each of our threads (``threads.run``) GEMMs and adds back its own chunks
  gemm whole, gemm 2^k    the GEMMs alone
  col2im whole            ``col2im`` alone, its columns read from memory
  col2im hot 2^k          ``col2im`` of the batch chunk by chunk, every chunk's columns read
                          from one chunk-sized buffer that stays in cache: the same work as
                          ``col2im whole``, the best that chunking can make of it
Our thread count is the pool's default (2 only with a short OPENBLAS_THREAD_TIMEOUT).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
import report  # noqa: E402  (benchmarks/report.py: the environment line)

from mnistnp.nn import conv, threads

C, F, K, HW, N = 32, 64, 5, 14, 128
ROWS, COLS = C * K * K, HW * HW  # column-gradient rows; columns per image


def add_back(cols: np.ndarray, out: np.ndarray) -> None:
    """col2im on the calling thread only (a worker must not wait on the pool it runs in)."""
    out[...] = 0
    for i in range(K):
        for j in range(K):
            out[:, :, i:i + HW, j:j + HW] += cols[:, i, j]


def images(limit: int) -> int:
    return max(1, limit // (ROWS * COLS))


def cases(limits: list[int], wt: np.ndarray, gy: np.ndarray, scratch: np.ndarray,
          out: np.ndarray) -> dict[str, Callable[[], None]]:
    whole_cols = scratch.reshape(ROWS, N * COLS)

    def gemm_whole() -> None:
        np.matmul(wt, gy, out=whole_cols)

    def col2im_whole() -> None:
        conv.col2im(whole_cols.reshape(C, K, K, N, HW, HW), (1, 1), out)

    def whole() -> None:
        gemm_whole()
        col2im_whole()

    def gemm_chunks(step: int, lo: int = 0, hi: int = N, add: bool = False) -> None:
        for a in range(lo, hi, step):
            b = min(a + step, hi)
            part = scratch[lo * ROWS * COLS:(lo + b - a) * ROWS * COLS].reshape(ROWS, -1)
            np.matmul(wt, gy[:, a * COLS:b * COLS], out=part)
            if add:
                add_back(part.reshape(C, K, K, b - a, HW, HW), out[:, a:b])

    def serial(step: int) -> None:
        for a in range(0, N, step):
            b = min(a + step, N)
            part = scratch[:(b - a) * ROWS * COLS].reshape(ROWS, -1)
            np.matmul(wt, gy[:, a * COLS:b * COLS], out=part)
            conv.col2im(part.reshape(C, K, K, b - a, HW, HW), (1, 1), out[:, a:b])

    def hot(step: int) -> None:
        part = scratch[:step * ROWS * COLS].reshape(C, K, K, step, HW, HW)
        for a in range(0, N, step):
            b = min(a + step, N)
            conv.col2im(part[:, :, :, :b - a], (1, 1), out[:, a:b])

    table: dict[str, Callable[[], None]] = {
        "whole": whole, "gemm whole": gemm_whole, "col2im whole": col2im_whole}
    for k in limits:
        step = images(1 << k)
        table[f"serial 2^{k}"] = lambda s=step: serial(s)
        table[f"threads 2^{k}"] = lambda s=step: threads.run(
            lambda lo, hi: gemm_chunks(s, lo, hi, add=True), N, ROWS * COLS * N)
        table[f"gemm 2^{k}"] = lambda s=step: gemm_chunks(s)
        table[f"col2im hot 2^{k}"] = lambda s=step: hot(s)
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--limits", type=int, nargs="+", default=[17, 19, 21, 23])
    args = parser.parse_args(argv)
    report.print_environment("")
    print(f"our threads: {threads.num_threads()}; images per chunk: "
          + ", ".join(f"2^{k}: {images(1 << k)}" for k in args.limits))
    rng = np.random.default_rng(0)
    wt = np.ascontiguousarray(rng.standard_normal((F, ROWS), np.float32).T)  # (800, 64)
    gy = rng.standard_normal((F, N * COLS), np.float32)  # (64, 25,088)
    scratch = np.empty(ROWS * N * COLS, np.float32)
    out = np.empty((C, N, HW + K - 1, HW + K - 1), np.float32)
    table = cases(args.limits, wt, gy, scratch, out)
    times: dict[str, list[float]] = {name: [] for name in table}
    for case in table.values():  # warm up
        case()
    for r in range(args.repeats):
        order = list(table.items())
        for name, case in order if r % 2 == 0 else reversed(order):
            start = time.perf_counter()
            for _ in range(args.calls):
                case()
            times[name].append((time.perf_counter() - start) / args.calls)
    base = statistics.median(times["whole"])
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:>17}: {med * 1e3:6.2f} ms (min-max {min(values) * 1e3:6.2f}-"
              f"{max(values) * 1e3:6.2f}); whole over this {base / med:4.2f}x")


if __name__ == "__main__":
    main()
