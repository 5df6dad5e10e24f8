"""A paired A/B of the training loop: this tree's ``fit`` against another source tree's, in one
process, runs alternating and the order swapped every repeat.

    OPENBLAS_NUM_THREADS=1 python lab/ab_fit.py OLD_SRC [--cases plain scheduled full
        overhead] [--repeats 15]

OLD_SRC is the ``src`` folder of the other tree (e.g. ``main/src`` after
``mkdir main && git archive main | tar -x -C main``); its package is imported as ``mnistnp_old`` from a temporary copy.
Cases (784-50-50-50-10 on MNIST, float32 unless said):
  plain      one epoch, batch 128, SGD momentum 0.9, no callbacks (speed.py's small-sgd call)
  scheduled  one epoch, batch 128, Adam, a cosine schedule, clipping at 5 and a text line every
             100 steps: the per-step work of a CLI run
  full       5 full-batch steps in float64 at lr 0.5 (the notebook's)
  overhead   the loop's own cost: a 4-2 net on batches of 1 row (20,000 steps), so the maths is
             a few µs and the Python around each step shows; plain and scheduled as above
Each run starts from the same weights and batch order on both sides; both must end with the
same weights. Printed per case: medians and min-max of samples/s by wall clock and by CPU
time (CPU time is steadier on a busy machine), and the median and spread of the paired
new/old ratios; for ``overhead``, CPU µs per step and the paired difference. One BLAS thread
keeps the two sides from fighting over cores; the speed table (speed.py) uses the default.
"""

from __future__ import annotations

import argparse
import inspect
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

import mnistnp

SMALL = [784, 50, 50, 50, 10]
BATCH = 128


def train(lib: ModuleType, case: str, x: np.ndarray, y: np.ndarray, sizes: list[int],
          batch: int | None, epochs: int = 1) -> Any:
    """One run of ``case`` with ``lib``; returns the model."""
    model = lib.mlp(sizes, np.random.default_rng(0), "float64" if case == "full" else "float32")
    rng = np.random.default_rng(1)
    if case == "scheduled":
        opt = lib.Adam(1e-3)
        steps = -(-len(x) // batch) if batch else 1
        if hasattr(lib, "LearningRateScheduler"):  # a schedule is a plain object, driven
            schedule = lib.LearningRateScheduler(  # by one callback
                lib.Cosine(1e-3, steps * epochs, 50, steps_per_epoch=1))
        else:  # a tree where the schedule was a callback itself
            schedule = lib.Cosine(1e-3, steps * epochs, warmup=50)
        _fit(lib, model, x, y, opt, rng, epochs, batch, schedule=schedule, clip=5.0)
    else:
        opt = lib.SGD(0.5) if case == "full" else lib.SGD(0.01, momentum=0.9)
        _fit(lib, model, x, y, opt, rng, epochs, batch)
    return model


def _fit(lib: ModuleType, model: Any, x: np.ndarray, y: np.ndarray, opt: Any,
         rng: np.random.Generator, epochs: int, batch: int | None, schedule: Any = None,
         clip: float | None = None) -> None:
    lines: list[str] = []
    if "progress" in inspect.signature(lib.fit).parameters:  # a tree before the loop's seams
        lib.fit(model, x, y, opt, rng=rng, epochs=epochs, batch_size=batch, progress=False,
                schedule=schedule, clip_norm=clip, log=lines.append if schedule else None,
                log_every=100 if schedule else 0)
        return
    trainer = lib.Trainer(model, opt, lib.ShuffledBatches(len(x), batch),
                          grad_hooks=[lib.ClipGlobalNorm(clip)] if clip else [],
                          callbacks=[schedule, lib.TextLog(lines.append, 100)] if schedule
                          else [])
    trainer.fit(x, y, rng=rng, epochs=epochs)


def paired(run: Callable[[ModuleType], tuple[float, float, float]], old: ModuleType,
           repeats: int) -> dict[str, list[tuple[float, float, float]]]:
    """``run(lib)`` -> (wall, cpu, checksum) for each side, alternating; one warm-up each."""
    run(old), run(mnistnp)
    out: dict[str, list[tuple[float, float, float]]] = {"old": [], "new": []}
    for r in range(repeats):
        sides = [("old", old), ("new", mnistnp)]
        for name, lib in sides[::-1] if r % 2 else sides:
            out[name].append(run(lib))
    sums = {v[2] for side in out.values() for v in side}
    assert len(sums) == 1, f"the two sides ended with different weights: {sums}"
    return out


def spread(values: list[float], fmt: str) -> str:
    return (f"{format(statistics.median(values), fmt)} "
            f"[{format(min(values), fmt)} to {format(max(values), fmt)}]")


def speed_case(case: str, old: ModuleType, repeats: int, x: np.ndarray, y: np.ndarray) -> None:
    batch, epochs = (None, 5) if case == "full" else (BATCH, 1)
    samples = epochs * len(x)

    def run(lib: ModuleType) -> tuple[float, float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        with np.errstate(all="ignore"):
            model = train(lib, case, x, y, SMALL, batch, epochs)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        return samples / wall, samples / cpu, float(model.params.sum())

    res = paired(run, old, repeats)
    for i, clock in ((0, "wall"), (1, "CPU")):
        o, n = [v[i] for v in res["old"]], [v[i] for v in res["new"]]
        print(f"{case:9s} {clock:4s} samples/s: old {spread(o, ',.0f')}, new {spread(n, ',.0f')};"
              f" new/old paired {spread([b / a for a, b in zip(o, n)], '.3f')}")


def overhead_case(old: ModuleType, repeats: int) -> None:
    n = 20_000
    x = np.random.default_rng(0).integers(0, 256, (n, 2, 2), dtype=np.uint8)
    y = np.random.default_rng(1).integers(0, 2, n)
    for case in ("plain", "scheduled"):
        def run(lib: ModuleType, case: str = case) -> tuple[float, float, float]:
            cpu = time.process_time()
            model = train(lib, case, x, y, [4, 2], 1)
            return 0.0, (time.process_time() - cpu) / n * 1e6, float(model.params.sum())

        res = paired(run, old, repeats)
        o, m = [v[1] for v in res["old"]], [v[1] for v in res["new"]]
        print(f"overhead {case:9s} CPU µs/step: old {spread(o, '.2f')}, new {spread(m, '.2f')};"
              f" new - old paired {spread([b - a for a, b in zip(o, m)], '+.2f')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old_src", type=Path)
    parser.add_argument("--cases", nargs="+", default=["plain", "scheduled", "full", "overhead"],
                        choices=["plain", "scheduled", "full", "overhead"])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(args.old_src / "mnistnp", Path(tmp) / "mnistnp_old")
        sys.path.insert(0, tmp)
        import mnistnp_old  # the copy just made

        (x, y), _ = mnistnp.datasets.load("mnist")
        print(f"new: {Path(mnistnp.__file__).parent}, old: {args.old_src}; "
              f"{args.repeats} paired repeats; load average {open('/proc/loadavg').read()[:14]}")
        for case in args.cases:
            if case == "overhead":
                overhead_case(mnistnp_old, args.repeats)
            else:
                speed_case(case, mnistnp_old, args.repeats, x, y)


if __name__ == "__main__":
    main()
