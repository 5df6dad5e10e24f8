"""Why one image through the fixed CNN takes longer than its parts: after a GEMM on OpenBLAS's
two threads, a pass that writes memory the other core has just read runs slower.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python lab/one_image_buffers.py [--rounds 3]

First the mechanism, on the fixed CNN's second layer (32 channels of 14x14, 5x5 'same') for one
image: the second layer's product on two threads, then ``im2col`` timed alone, written into
the columns the product has just read or into another buffer, and the same with OpenBLAS on
one thread. Then that layer's whole forward called back to back, three ways (``second_layer``).
Then the whole ``predict_proba`` of one image, as it is (a fresh column buffer per
call, which the allocator hands back at the address the last call freed) against a version
whose convolutions take their columns from three buffers in turn, the rounds alternated.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

from mnistnp import datasets
from mnistnp.nn import conv as conv_module
from mnistnp.nn.columns import im2col

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import cnn_speed  # the benchmark's fixed CNN
from harness import median_call_us  # the benchmarks' timing


def mechanism(blas) -> None:
    c, h, k = 32, 14, 5
    padded = np.zeros((1, c, h + k - 1, h + k - 1), np.float32)
    read = np.empty((c, k, k, 1, h, h), np.float32)
    other = np.empty_like(read)
    weights = np.random.default_rng(0).random((64, c * k * k), dtype=np.float32)
    out = np.empty((64, h * h), np.float32)

    def after_product(target: np.ndarray, calls: int = 2000) -> float:
        times = []
        for i in range(calls + 200):
            np.matmul(weights, read.reshape(c * k * k, -1), out=out)
            start = time.perf_counter()
            im2col(padded, (k, k), (1, 1), target)
            if i >= 200:
                times.append(time.perf_counter() - start)
        return float(np.median(times)) * 1e6

    for threads in (2, 1):
        blas.set_num_threads(threads)
        same, elsewhere = after_product(read), after_product(other)
        print(f"  OpenBLAS on {threads} thread(s): im2col after the product, into the columns "
              f"it read {same:.1f} us, into another buffer {elsewhere:.1f} us")
    blas.set_num_threads(2)


def second_layer(blas) -> None:
    """The second layer's forward for one image alone, called back to back: padding, im2col
    and the product as ``Conv2D`` does them (fresh arrays each call), the same from eight sets
    of buffers in turn, and the product turned over (columns (H'*W', C*kh*kw) times W^T, the
    output (H'*W', F)), whose own product is the fastest of the operand orders."""
    c, h, k, f = 32, 14, 5, 64
    rng = np.random.default_rng(0)
    weights = rng.random((f, c * k * k), dtype=np.float32)
    bias = rng.random(f, dtype=np.float32)
    x = rng.random((1, c, h, h), dtype=np.float32)
    side = h + k - 1

    def windows(xp, shape, order):
        sn, sc, sy, sx = xp.strides
        strides = {"now": (sc, sy, sx, sn, sy, sx), "over": (sy, sx, sc, sy, sx)}[order]
        return np.lib.stride_tricks.as_strided(xp, shape, strides, writeable=False)

    def now(buffers=None):
        xp, cols, out = buffers or (np.zeros((1, c, side, side), np.float32),
                                    np.empty((c, k, k, 1, h, h), np.float32),
                                    np.empty((f, h * h), np.float32))
        xp[:, :, 2:2 + h, 2:2 + h] = x
        np.copyto(cols, windows(xp, cols.shape, "now"))
        np.matmul(weights, cols.reshape(c * k * k, -1), out=out)
        out += bias[:, None]
        return out

    sets = [(np.zeros((1, c, side, side), np.float32), np.empty((c, k, k, 1, h, h), np.float32),
             np.empty((f, h * h), np.float32)) for _ in range(8)]

    def rotated():
        sets.append(sets.pop(0))
        return now(sets[0])

    def turned():
        xp = np.zeros((1, c, side, side), np.float32)
        xp[:, :, 2:2 + h, 2:2 + h] = x
        cols = np.empty((h, h, c, k, k), np.float32)
        np.copyto(cols, windows(xp, cols.shape, "over"))
        out = np.matmul(cols.reshape(h * h, -1), weights.T)
        out += bias
        return out

    if not (np.allclose(now(), rotated()) and np.allclose(now(), turned().T, rtol=1e-5)):
        raise AssertionError("the three ways disagree")
    for threads in (1, 2):
        blas.set_num_threads(threads)
        times = [median_call_us(way, 3000, 300) for way in (now, rotated, turned)]
        print(f"  OpenBLAS on {threads} thread(s), the second layer for one image: as now "
              f"{times[0]:.0f} us, from 8 buffer sets in turn {times[1]:.0f} us, the product "
              f"turned over {times[2]:.0f} us")
    blas.set_num_threads(2)


def rotating(self, x, wmat, ho, wo):
    """``Conv2D._eval_chunk`` with its columns from three buffers per layer in turn."""
    m, c = x.shape[:2]
    f, (kh, kw) = self.out_channels, self.kernel
    xp = self._padded(x, training=False)
    buffers = self.__dict__.setdefault("_lab_columns", [
        np.empty((c, kh, kw, m, ho, wo), self.W.dtype) for _ in range(3)])
    buffers.append(buffers.pop(0))
    out = np.empty((f, m * ho * wo), self.W.dtype)
    self._columns_and_product(xp, xp, wmat, buffers[0], out)
    return out.reshape(f, m, ho, wo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    blas = ThreadpoolController().select(internal_api="openblas").lib_controllers[0]
    print(f"NumPy {np.__version__}, OpenBLAS {blas.version}, {blas.architecture} kernel")
    mechanism(blas)
    second_layer(blas)
    model = cnn_speed.build(cnn_speed.FIXED)
    _, (x_test, _) = datasets.load("mnist")
    image = x_test[:1]
    as_is = conv_module.Conv2D._eval_chunk
    expected = model.predict_proba(image)
    for _ in range(args.rounds):
        conv_module.Conv2D._eval_chunk = as_is
        before = median_call_us(lambda: model.predict_proba(image), 3000, 300)
        conv_module.Conv2D._eval_chunk = rotating
        if not np.array_equal(model.predict_proba(image), expected):
            raise AssertionError("the rotating buffers changed the answer")
        after = median_call_us(lambda: model.predict_proba(image), 3000, 300)
        print(f"  one image, predict_proba: as it is {before:.1f} us, rotating columns "
              f"{after:.1f} us")
    conv_module.Conv2D._eval_chunk = as_is


if __name__ == "__main__":
    main()
