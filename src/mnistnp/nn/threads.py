"""A persistent pool of worker threads that runs disjoint slices of a NumPy pass side by side
(NumPy releases the GIL inside large copies, ufunc loops and BLAS calls), and ``owned``: the
pool, not BLAS, takes the cores while a convolutional network trains or predicts."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

__all__ = ["BLOCK", "MIN_SPLIT", "num_threads", "num_threads_owned", "owned", "owning", "run",
           "run_blocks", "set_num_threads", "share_cores"]

ENV_VAR = "MNISTNP_NUM_THREADS"

# A pass is split only when each thread gets at least this many elements: below it, waking a
# worker costs more than the second core saves (measured on a 2-core EPYC after a GEMM, as in a
# training step: a ReLU of 200,704 floats 75 us on one thread, 93 us on two; of 802,816,
# 282 us and 198 us; col2im of 313,600 even), so one-image predictions and MLP batches run
# inline, exactly as before.
MIN_SPLIT = 1 << 18

# The GEMMs of a convolutional network's step run on blocks of this many samples, spread over
# the pool (BLAS held at one thread inside ``owned``): each weight gradient is the sum of its
# blocks' shares in block order, the same bytes with any number of threads. 32 images of 28x28
# give GEMMs of 25,088 columns, as fast per column as the whole batch's at one thread; a batch
# of 128 makes 4 blocks, 2 for each of 2 cores (or 1 for each of 4).
BLOCK = 32

# OpenBLAS's idle threads spin for 2^OPENBLAS_THREAD_TIMEOUT cycles after each GEMM (2^28 by
# default: most of a CNN step), on the very core a worker of ours would take: the fixed
# benchmark CNN's step then took 72 ms with two threads of ours against 66 ms with one; with
# OPENBLAS_THREAD_TIMEOUT=4 (set before NumPy loads OpenBLAS), 55 ms against 66 ms. So our
# workers run inside ``owned`` (BLAS held at one thread), and outside it only when that timeout
# is set below OpenBLAS's default.
_BLAS_TIMEOUT_VAR, _BLAS_DEFAULT_TIMEOUT = "OPENBLAS_THREAD_TIMEOUT", 28


class _Pool:
    """The thread count and the executor holding its workers (the caller is one more thread):
    process-wide, as BLAS's own threads are, made when first needed."""

    def __init__(self) -> None:
        self.threads: int | None = None  # None: from the environment, when first asked
        self.executor: ThreadPoolExecutor | None = None
        self.owned = False  # inside ``owned``: BLAS held at one thread, the cores are ours
        self.cores: int | None = None  # this process's share of the CPUs (``share_cores``)
        self.blas: list[Any] | None = None  # threadpoolctl's controllers of the BLAS loaded

    def reset(self) -> None:
        """Forget the workers without waiting (a forked child has none of them)."""
        self.executor = None


_POOL = _Pool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_POOL.reset)


def _cpus() -> int:
    """The CPUs this process may run on, or its share of them (``share_cores``)."""
    if _POOL.cores:
        return _POOL.cores
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def share_cores(n: int | None) -> None:
    """Count ``n`` CPUs as this process's own (None: those it may run on), where several
    processes share a machine (the ranks of ``mpiexec`` on a node, a sweep's trials): the pool
    then takes at most ``n`` threads inside ``owned``. A count set by ``set_num_threads`` or
    ``MNISTNP_NUM_THREADS`` still wins."""
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ValueError(f"the number of cores must be a positive int, got {n!r}")
    if _POOL.executor is not None:
        _POOL.executor.shutdown(wait=True)
        _POOL.executor = None
    _POOL.cores = n


def _default_threads() -> int:
    """``MNISTNP_NUM_THREADS`` if set; else the CPUs this process may run on if OpenBLAS's
    idle threads sleep soon (a short ``OPENBLAS_THREAD_TIMEOUT``), else 0: the CPUs inside
    ``owned``, 1 outside it."""
    value = os.environ.get(ENV_VAR, "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"{ENV_VAR} must be a positive integer, got {value!r}")
        return int(value)
    timeout = os.environ.get(_BLAS_TIMEOUT_VAR, "").strip()
    if timeout.isdigit() and int(timeout) < _BLAS_DEFAULT_TIMEOUT:
        return _cpus()
    return 0


def num_threads() -> int:
    """How many threads a split pass uses now (1: everything runs inline in the caller)."""
    if _POOL.owned:
        return num_threads_owned()
    if _POOL.threads is None:
        _POOL.threads = _default_threads()
    return _POOL.threads or 1


def _blas_libraries() -> list[Any]:
    """threadpoolctl's controllers of the BLAS libraries loaded (none without threadpoolctl)."""
    if _POOL.blas is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - a dependency; without it nothing is owned
            return []
        _POOL.blas = ThreadpoolController().select(user_api="blas").lib_controllers
    return list(_POOL.blas)


def owning() -> bool:
    """True inside ``owned``: layers then split their GEMMs over the pool themselves."""
    return _POOL.owned


@contextmanager
def owned(active: bool = True) -> Iterator[None]:
    """Within it, the pool owns the cores: BLAS is held at one thread, and every pass, GEMMs
    included, is split over the pool's threads (by default one per CPU).

    Why: after each GEMM, OpenBLAS's idle threads spin (2^28 cycles by default) on the cores a
    pass of ours would take, so its threads and ours cannot share them; a convolutional network's
    step is mostly passes between GEMMs. Held at one thread, BLAS runs in whichever thread calls
    it, and the pool's threads run the GEMMs on their own blocks of the batch side by side. A
    no-op when ``active`` is False (an MLP: its GEMMs are most of its step, and BLAS's own
    threads do them well) and when nested."""
    if not active or _POOL.owned:
        yield
        return
    # threadpoolctl's own context re-reads every library's state: 17 us a call, against 6 us
    # for setting the count through its controllers directly.
    libraries = _blas_libraries() if num_threads_owned() > 1 else []
    before = [lib.get_num_threads() for lib in libraries]
    _POOL.owned = True
    try:
        for lib in libraries:
            lib.set_num_threads(1)
        yield
    finally:
        _POOL.owned = False
        for lib, n in zip(libraries, before):
            lib.set_num_threads(n)


def num_threads_owned() -> int:
    """How many threads a split pass uses inside ``owned``."""
    if _POOL.threads is None:
        _POOL.threads = _default_threads()
    return _POOL.threads or _cpus()


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
    _side_by_side(task, [n * k // parts for k in range(parts + 1)])


def _side_by_side(task: Callable[[int, int], object], bounds: list[int]) -> None:
    """``task`` over each pair of consecutive ``bounds``, the first in the caller, the others in
    the pool's workers; the first error raised, once all have finished."""
    if _POOL.executor is None:
        _POOL.executor = ThreadPoolExecutor(num_threads() - 1, thread_name_prefix="mnistnp")
    futures: list[Future[object]] = [_POOL.executor.submit(task, bounds[k], bounds[k + 1])
                                     for k in range(1, len(bounds) - 1)]
    try:
        task(bounds[0], bounds[1])
    finally:
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error


def run_blocks(task: Callable[[int, int], object], n: int, block: int) -> None:
    """Call ``task(lo, hi)`` once for each block of ``block`` consecutive indices of
    ``range(n)`` (the last one shorter), the blocks spread over the threads in contiguous runs.

    The blocks do not depend on the thread count, so a sum taken block by block (a GEMM's share
    of a weight gradient, say) is the same bytes with any number of threads."""
    blocks = -(-n // block)

    def run_of_blocks(first: int, last: int) -> None:
        for k in range(first, last):
            task(k * block, min(n, (k + 1) * block))

    parts = min(num_threads(), blocks)
    if parts <= 1:
        run_of_blocks(0, blocks)
        return
    _side_by_side(run_of_blocks, [blocks * k // parts for k in range(parts + 1)])
