"""``python -m mnistnp``: the same as the ``mnistnp`` command (``python -m mpi4py.futures -m
mnistnp sweep`` runs it under MPI's pool)."""

import sys

from .cli import main

# mpi4py.futures' workers run this module too, under another name, to find what the pool
# sends them: only the first rank runs the command.
if __name__ == "__main__":
    sys.exit(main())
