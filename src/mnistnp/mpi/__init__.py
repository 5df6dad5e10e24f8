"""Data-parallel training and sweeps over MPI (``mpiexec -n N mnistnp train``): the one part of
mnistnp that imports mpi4py, only when an ``MPIWorld`` or a trial pool is made."""

from .launch import launch_rank, launched, quiet_followers
from .pool import trial_pool
from .sharding import ShardedBatches, share
from .world import MPIWorld, cores_per_rank

__all__ = ["MPIWorld", "ShardedBatches", "cores_per_rank", "launch_rank", "launched",
           "quiet_followers", "share", "trial_pool"]
