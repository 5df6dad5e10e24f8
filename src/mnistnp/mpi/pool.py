"""The sweep's trials over MPI: ``mpi4py.futures``' pool of the ranks ``mpiexec -n N python -m
mpi4py.futures`` started, the first rank handing out trials to the others."""

from __future__ import annotations

from typing import Any


def trial_pool() -> Any:
    """The MPI ranks but the first, as a ``concurrent.futures`` executor.

    Returns
    -------
    mpi4py.futures.MPIPoolExecutor
        Its ``num_workers`` says how many trials run at once.
    """
    from mpi4py.futures import MPIPoolExecutor

    return MPIPoolExecutor()
