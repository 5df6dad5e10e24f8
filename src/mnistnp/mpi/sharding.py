"""Each process's share of every global batch (``ShardedBatches``): the permutation one process
would draw, each batch cut into consecutive slices, one per rank, some of them empty."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..sampling import Batch, ShuffledBatches


def share(rows: int, rank: int, size: int) -> tuple[int, int]:
    """Rank ``rank``'s slice of a batch of ``rows`` rows shared by ``size`` processes.

    Consecutive slices whose lengths differ by at most one; with fewer rows than processes
    the last ranks get none.

    Parameters
    ----------
    rows : int
        Rows of the global batch.
    rank : int
        The process, in [0, size).
    size : int
        Processes sharing the batch.

    Returns
    -------
    (start, stop) : tuple of int
        The slice's bounds within the batch.
    """
    return rows * rank // size, rows * (rank + 1) // size


class ShardedBatches:
    """The batches one process trains on: its slice of each global batch.

    The global batches are exactly ``ShuffledBatches``' (the same permutation from the same
    generator, seeded alike on every rank), so N processes together take the steps one would.
    ``fraction`` is this rank's share of the batch last yielded, by which its mean gradient is
    weighted before the sum across ranks.

    Parameters
    ----------
    n : int
        Rows of the training set.
    batch_size : int or None
        Rows of each global batch; None for the whole set.
    rank : int
        This process, in [0, size).
    size : int
        Processes sharing each batch.
    """

    in_range = True  # slices of a permutation of range(n)

    def __init__(self, n: int, batch_size: int | None, rank: int, size: int) -> None:
        self.whole = ShuffledBatches(n, batch_size)
        self.n, self.batch_size = self.whole.n, self.whole.batch_size
        self.steps_per_epoch = self.whole.steps_per_epoch
        self.rank, self.size = rank, size
        self.fraction = 1.0

    def epoch_batches(self, epoch: int, rng: np.random.Generator) -> Iterator[Batch]:
        """This rank's slice of each batch of epoch ``epoch`` (1-based), in order.

        Parameters
        ----------
        epoch : int
            The epoch, from 1.
        rng : numpy.random.Generator
            The run's generator, in the same state on every rank.

        Yields
        ------
        ndarray of shape (rows,), dtype intp, or slice
            This rank's rows of each global batch (possibly none).
        """
        for batch in self.whole.epoch_batches(epoch, rng):
            if isinstance(batch, slice):
                start, stop, _ = batch.indices(self.n)
                lo, hi = share(stop - start, self.rank, self.size)
                self.fraction = (hi - lo) / (stop - start)
                yield slice(start + lo, start + hi)
            else:
                lo, hi = share(len(batch), self.rank, self.size)
                self.fraction = (hi - lo) / len(batch)
                yield batch[lo:hi]

    def rows(self, steps: int) -> int:
        """How many rows the first ``steps`` global batches of an epoch hold, on all ranks.

        Parameters
        ----------
        steps : int
            Batches taken from the start of an epoch.

        Returns
        -------
        int
            The rows they hold together (samples/s count the whole world's work).
        """
        return self.whole.rows(steps)

    def most_rows(self) -> int:
        """The most rows this rank takes of one batch (for the start line).

        Returns
        -------
        int
            Rows of the largest share.
        """
        lo, hi = share(self.batch_size, self.rank, self.size)
        return hi - lo
