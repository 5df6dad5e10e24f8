"""The timing harness: alternating repeats with a warm-up, best-of-rounds and per-call medians."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Run = Callable[[int], float]


def alternate(runs: Sequence[Run | None], repeats: int) -> list[list[float]]:
    """Call each run once per repeat, rotating which goes first; round 0 warms up and is
    dropped. A run is given the round number and returns its measurement; None is skipped."""
    out: list[list[float]] = [[] for _ in runs]
    order = list(range(len(runs)))
    for r in range(repeats + 1):
        for i in order[r % len(order):] + order[:r % len(order)]:
            run = runs[i]
            if run is not None:
                value = run(r)
                if r:
                    out[i].append(value)
    return out


def best_call_seconds(f: Callable[[], object], number: int, rounds: int = 7) -> float:
    """The least, over ``rounds``, mean time of ``number`` calls, after one warm-up call: a
    floor is the least time a product takes, so the rounds slowed by other processes on a
    shared machine are not what it should report."""
    f()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            f()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def median_call_us(f: Callable[[], object], calls: int, warmup: int) -> float:
    """Median latency of ``calls`` single calls, in µs, after ``warmup`` calls."""
    for _ in range(warmup):
        f()
    times = []
    for _ in range(calls):
        start = time.perf_counter_ns()
        f()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e3


def latency_pair(proba: Callable[[], Any], twin_proba: Callable[[], Any] | None, repeats: int,
                 calls: int, warmup: int) -> list[list[float]]:
    """Median µs per call of ``proba`` and of its PyTorch twin's ``twin_proba`` (None without
    PyTorch), alternated over ``repeats``; the twin must first give the same probabilities."""
    runs: list[Run | None] = [lambda _: median_call_us(proba, calls, warmup), None]
    if twin_proba is not None:
        if not np.allclose(twin_proba().numpy(), proba(), atol=1e-5):
            raise AssertionError("mnistnp and PyTorch disagree on the image's probabilities")
        runs[1] = lambda _: median_call_us(twin_proba, calls, warmup)
    return alternate(runs, repeats)
