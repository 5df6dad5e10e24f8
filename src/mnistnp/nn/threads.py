"""A persistent pool of worker threads that runs disjoint slices of a NumPy pass side by side
(NumPy releases the GIL inside large copies and ufunc loops), for the passes BLAS does not do."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["MIN_SPLIT", "num_threads", "run", "set_num_threads"]

ENV_VAR = "MNISTNP_NUM_THREADS"

# A pass is split only when each thread gets at least this many elements: below it, waking a
# worker costs more than the second core saves (measured on a 2-core EPYC after a GEMM, as in a
# training step: a ReLU of 200,704 floats 75 us on one thread, 93 us on two; of 802,816,
# 282 us and 198 us; col2im of 313,600 even), so one-image predictions and MLP batches run
# inline, exactly as before.
MIN_SPLIT = 1 << 18

# OpenBLAS's idle threads spin for 2^OPENBLAS_THREAD_TIMEOUT cycles after each GEMM (2^28 by
# default: most of a CNN step), on the very core a worker of ours would take: the fixed
# benchmark CNN's step then took 72 ms with two threads of ours against 66 ms with one; with
# OPENBLAS_THREAD_TIMEOUT=4 (set before NumPy loads OpenBLAS), 55 ms against 66 ms. So by
# default our workers run only when that timeout is set below OpenBLAS's default.
_BLAS_TIMEOUT_VAR, _BLAS_DEFAULT_TIMEOUT = "OPENBLAS_THREAD_TIMEOUT", 28


class _Pool:
    """The thread count and the executor holding its workers (the caller is one more thread):
    process-wide, as BLAS's own threads are, made when first needed."""

    def __init__(self) -> None:
        self.threads: int | None = None  # None: from the environment, when first asked
        self.executor: ThreadPoolExecutor | None = None

    def reset(self) -> None:
        """Forget the workers without waiting (a forked child has none of them)."""
        self.executor = None


_POOL = _Pool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOL.reset)


def _default_threads() -> int:
    """``MNISTNP_NUM_THREADS`` if set; else the CPUs this process may run on if OpenBLAS's
    idle threads sleep soon (a short ``OPENBLAS_THREAD_TIMEOUT``), else 1."""
    value = os.environ.get(ENV_VAR, "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{ENV_VAR} must be a positive integer, got {value!r}")
        return int(value)
    timeout = os.environ.get(_BLAS_TIMEOUT_VAR, "").strip()
    if not (timeout.isdigit() and int(timeout) < _BLAS_DEFAULT_TIMEOUT):
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def num_threads() -> int:
    """How many threads a split pass uses (1: everything runs inline in the caller)."""
    if _POOL.threads is None:
        _POOL.threads = _default_threads()
    return _POOL.threads


def set_num_threads(n: int | None) -> None:
    """Use ``n`` threads from now on (None: back to the environment's default)."""
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ValueError(f"the number of threads must be a positive int, got {n!r}")
    if _POOL.executor is not None:
        _POOL.executor.shutdown(wait=True)
        _POOL.executor = None
    _POOL.threads = n


def run(task: Callable[[int, int], object], n: int, work: int, grain: int = 1) -> None:
    """Call ``task(lo, hi)`` over consecutive slices that cover ``range(n)``, side by side
    when ``work`` (the elements the whole pass touches) gives each thread at least
    ``MIN_SPLIT``, each slice at least ``grain`` long; the caller runs the first slice. Each
    task must write only its own slice, so the result does not depend on the thread count;
    an exception in one is raised here after all have finished."""
    parts = min(num_threads(), n // max(1, grain), work // max(1, MIN_SPLIT))
    if parts <= 1:
        task(0, n)
        return
    if _POOL.executor is None:
        _POOL.executor = ThreadPoolExecutor(num_threads() - 1, thread_name_prefix="mnistnp")
    bounds = [n * k // parts for k in range(parts + 1)]
    futures: list[Future[object]] = [_POOL.executor.submit(task, bounds[k], bounds[k + 1])
                                     for k in range(1, parts)]
    try:
        task(bounds[0], bounds[1])
    finally:
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error
