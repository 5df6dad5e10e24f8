"""``MPIWorld``: the ranks of ``mpiexec`` training one model, each with its share of every global
batch, its share of the node's cores, and rank 0 alone writing and printing."""

from __future__ import annotations

import contextlib
import os
import pickle
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import MnistnpError
from ..loop_state import Interrupted
from ..nn import threads as mnistnp_threads
from ..training_world import Seams, World
from .faults import abort_on_error, install_excepthook
from .sharding import ShardedBatches, share
from .shared_data import node_shared
from .sync import AllreduceMean, InStep, ShardedScorer

T = TypeVar("T")
SAID_IDS = 8  # process ids on the start line; more would not fit a line


def cores_per_rank(ranks_on_node: int) -> int:
    """The cores each rank of a node may keep busy, at least 1.

    The cores this process may run on, shared by the ranks on its node.

    Parameters
    ----------
    ranks_on_node : int
        Ranks sharing this node.

    Returns
    -------
    int
        Threads per rank.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, ranks_on_node))


def limit_threads(n: int) -> None:
    """Let BLAS and mnistnp's own passes use at most ``n`` threads in this process.

    BLAS through threadpoolctl (NumPy has loaded it by now, so its environment variables come
    too late), unless the user set its thread count in the environment; mnistnp's pool counts
    ``n`` cores as the process's own (``MNISTNP_NUM_THREADS``, if set, still wins).

    Parameters
    ----------
    n : int
        Threads, >= 1.
    """
    blas_set = any(os.environ.get(v) for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                 "MKL_NUM_THREADS"))
    if not blas_set:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n, user_api="blas")
    mnistnp_threads.share_cores(n)


class MPIWorld(World):
    """The ranks of an MPI communicator training one model (data parallel).

    Every rank builds the same model from the same seed and draws the same batch order; each
    trains on its slice of every global batch (``ShardedBatches``), and one in-place
    ``Allreduce`` per step on the contiguous gradient buffer gives all the global batch's mean
    gradient before the clipping and the same optimizer step (``AllreduceMean``). Rank 0's
    weights are broadcast at the start (``InStep``). Only rank 0 writes and prints.

    Making one sets each rank's threads (BLAS and mnistnp's) to the cores of its node shared
    by the ranks on it, and makes an uncaught error on any rank end the job.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm, optional
        The ranks; by default ``MPI.COMM_WORLD``.
    threads : int, optional
        Threads per rank, instead of the node's cores shared by its ranks.
    """

    def __init__(self, comm: Any = None, threads: int | None = None) -> None:
        from mpi4py import MPI

        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        self.ranks_on_node = self.node.Get_size()
        self._windows: list[Any] = []  # the shared memory the data lives in
        # Each rank's process id: mpiexec names a killed rank only by it.
        self.process_ids = self.comm.allgather(os.getpid())
        self.threads = threads or cores_per_rank(self.ranks_on_node)
        limit_threads(self.threads)
        install_excepthook(self.comm)

    def seams(self, n: int, batch_size: int | None,
              should_stop: Callable[[], bool] | None = None) -> Seams:
        """This rank's sampler, the gradient's allreduce, and the callback that keeps step.

        Parameters
        ----------
        n : int
            Rows of the training set.
        batch_size : int or None
            Rows of each global batch; None for the whole set.
        should_stop : callable, optional
            This rank's own stop request, which ``InStep`` shares with the others.

        Returns
        -------
        Seams
            ``ShardedBatches``, ``AllreduceMean``, ``InStep``, the agreed stop request and
            the validation shared out (``ShardedScorer``).
        """
        sampler = ShardedBatches(n, batch_size, self.rank, self.size)
        step = InStep(self.comm, sampler, should_stop)
        return Seams(sampler, [AllreduceMean(self.comm, sampler)], [step],
                     step.should_stop if should_stop is not None else None,
                     ShardedScorer(self.comm))

    def agree(self, setup: Callable[[], T]) -> T:
        """Run ``setup`` on every rank; if it failed on any, raise on all.

        A rank that failed raises its own error; the others raise the first failing rank's
        (of the same kind, so every rank exits with the same status), rank 0 naming that rank.

        Parameters
        ----------
        setup : callable
            What must succeed everywhere before training starts.

        Returns
        -------
        object
            What ``setup`` returned here.
        """
        error: Exception | None = None
        result = None
        try:
            result = setup()
        except Exception as e:  # shared below, then raised again
            error = e
        # The lowercase, pickling allgather: an exception or None from each, once per run.
        said = self.comm.allgather(None if error is None else _portable(error))
        if error is not None:
            raise error
        failed = next(((rank, e) for rank, e in enumerate(said) if e is not None), None)
        if failed is not None:
            rank, first = failed
            raise _named(first, f"rank {rank} of {self.size}") if self.rank == 0 else first
        return result  # type: ignore[return-value]

    def share_data(self, load: Callable[[], T]) -> T:
        """The data, loaded by the first rank of each node into memory its ranks share.

        Parameters
        ----------
        load : callable
            Loads ``((x_train, y_train), (x_test, y_test))``.

        Returns
        -------
        ((x_train, y_train), (x_test, y_test)) : tuple of two (ndarray, ndarray) tuples
            Views of the node's shared memory.
        """
        return node_shared(self.node, load, self._windows)  # type: ignore[arg-type,return-value]

    def guard(self) -> contextlib.AbstractContextManager[None]:
        """End every rank, with one line naming this one, if the block fails here.

        A stop all ranks agreed on (Interrupted) and Ctrl-C pass through.

        Returns
        -------
        context manager
            ``faults.abort_on_error``.
        """
        return abort_on_error(self.comm, agreed=(Interrupted, KeyboardInterrupt))

    def describe(self, batch_size: int) -> str:
        """The start line's words for the work's share.

        Parameters
        ----------
        batch_size : int
            Rows of each global batch.

        Returns
        -------
        str
            Such as ``"2 processes, global batch 256, 128 per process, 1 thread each;
            process ids by rank: 7096, 7098"`` (the first ``SAID_IDS``).
        """
        sizes = {hi - lo for lo, hi in (share(batch_size, r, self.size)
                                         for r in range(self.size))}
        per = "-".join(str(s) for s in sorted(sizes))
        # mpiexec names a killed process by its id alone: said here, the id maps to the rank
        # in the same output (settings.json lists them all).
        ids = ", ".join(str(i) for i in self.process_ids[:SAID_IDS])
        more = ", ..." if self.size > SAID_IDS else ""
        return (f"{self.size} process{'es' * (self.size != 1)}, global batch {batch_size:,}, "
                f"{per} per process, {self.threads} thread{'s' * (self.threads != 1)} each; "
                f"process ids by rank: {ids}{more}")

    def settings(self) -> dict[str, Any]:
        """What settings.json records: the processes, their threads and their ids.

        Returns
        -------
        dict
            ``{"processes": N, "threads_per_process": t, "process_ids": [...]}``, the ids
            by rank.
        """
        return {"processes": self.size, "threads_per_process": self.threads,
                "process_ids": self.process_ids}


def _portable(error: Exception) -> Exception:
    """``error`` if it can be sent to another rank (pickled and made again), else an
    MnistnpError with its message."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # a kind whose constructor takes more than its args
        return MnistnpError(str(error))
    return error


def _named(error: Exception, rank: str) -> Exception:
    """``error`` of the same kind with ``rank`` before its message, when its one argument
    is its message; else ``error`` itself."""
    if error.args != (str(error),):
        return error
    try:
        return type(error)(f"{rank}: {error}")
    except Exception:  # a kind that takes more than a message
        return MnistnpError(f"{rank}: {error}")
