"""Whether this process was started by ``mpiexec``, and which rank it is, read from the
environment the launcher sets: without importing mpi4py, so a plain run never loads MPI."""

from __future__ import annotations

import os
import sys

# What MPICH's Hydra (and Slurm's PMI), Open MPI and PMIx launchers set in every process.
_SIZE = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE")
_RANK = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")


def launched() -> bool:
    """Whether an MPI launcher (``mpiexec``, ``srun`` with PMI) started this process.

    Returns
    -------
    bool
        True when the launcher's variables are set, even for one process.
    """
    return any(name in os.environ for name in _SIZE)


def launch_rank() -> int:
    """This process's rank as the launcher set it (0 when not launched).

    Returns
    -------
    int
        The rank, from 0.
    """
    for name in _RANK:
        value = os.environ.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return 0


def quiet_followers() -> None:
    """Send the standard output and error of every rank but the first to the null device.

    Every rank parses the same options and meets the same bad value, so a mistake is said
    once, by rank 0; a rank's own failure is still said, on the original stream
    (``faults``), which ``sys.__stderr__`` keeps.
    """
    if launched() and launch_rank() > 0:
        sys.stdout = sys.stderr = open(os.devnull, "w", encoding="utf-8")
