"""Sweeps (``mnistnp sweep SWEEP.toml``): a grid or a random search over training settings, each
trial a full run, on a local process pool or MPI's."""

from .runner import Sweep, local_pool, run_trial
from .spec import SweepError, SweepSpec, load_spec

__all__ = ["Sweep", "SweepError", "SweepSpec", "load_spec", "local_pool", "run_trial"]
