"""Time the augmentation layers on one batch of MNIST images (a CNN step takes ~100 ms).

    python lab/augment_speed.py [--batch 128] [--repeats 200]

Medians over the repeats of one training-mode forward: RandomShift on (n, 28, 28) uint8, and
RandomAffine (rotations of up to 15 degrees, scaling by 0.85-1.15, shifts of up to 2 pixels)
on (n, 28, 28) uint8 and (n, 1, 28, 28) float32 batches. Prints the load average beside them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from mnistnp.datasets import load
from mnistnp.nn.augment import RandomAffine, RandomShift


def median_ms(layer, x: np.ndarray, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        layer.forward(x, training=True)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    (x, _), _ = load()
    batch = x[:args.batch]
    rng = np.random.default_rng(0)
    shift, affine = RandomShift(2), RandomAffine(15.0, (0.85, 1.15), 2)
    shift.init(rng)
    affine.init(rng)
    floats = (batch.astype(np.float32) / 255)[:, None]
    print(f"batch {args.batch}, load average {os.getloadavg()[0]:.2f}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    cases = [("RandomShift(2), uint8 (n, 28, 28)", shift, batch),
             ("RandomAffine, uint8 (n, 28, 28)", affine, batch),
             ("RandomAffine, float32 (n, 1, 28, 28)", affine, floats)]
    for name, layer, x in cases:
        print(f"{name:40s} {median_ms(layer, x, args.repeats):.3f} ms")


if __name__ == "__main__":
    main()
