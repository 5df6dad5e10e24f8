"""Where a training epoch's batches come from: the ``Sampler`` protocol the fit loop reads, and
``ShuffledBatches``, a fresh permutation of the training set every epoch."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Protocol

import numpy as np

# A batch is the rows of the training set one step trains on: an index array, or a slice
# (a view, so a whole-set batch costs no gather).
Batch = np.ndarray | slice


class Sampler(Protocol):
    """The batches of each epoch, as indices into a training set of ``n`` rows.

    A sampler keeps no state between epochs: its randomness is the ``rng`` the loop passes in,
    whose state at each epoch's start the loop saves with a checkpoint, so a resumed run draws
    the same batches again. A sampler for several processes (each rank a disjoint share of
    the same permutation, drawn from a generator seeded alike on every rank) fits the same
    protocol. A sampler whose index arrays are always within [0, n) may say so with a true
    ``in_range`` attribute: the loop then gathers them without a bounds check (twice as fast);
    without it each gather is checked, so a bad index raises instead of reading another row.
    """

    n: int  # rows of the training set the indices point into
    steps_per_epoch: int  # batches per epoch; 1 means every step sees the same rows

    def epoch_batches(self, epoch: int, rng: np.random.Generator) -> Iterator[Batch]:
        """The batches of epoch ``epoch`` (1-based), in order."""
        ...

    def rows(self, steps: int) -> int:
        """How many rows the first ``steps`` batches of an epoch hold (for samples/s)."""
        ...


class ShuffledBatches:
    """Mini-batches of ``batch_size`` rows from a fresh permutation each epoch.

    The last may be shorter. ``batch_size=None``, or one at least ``n``, is the whole set in order,
    in one batch (full-batch gradient descent).

    Parameters
    ----------
    n : int
        The rows to draw from.
    batch_size : int or None, default 128
        Rows per batch; None for the whole set.
    """

    in_range = True  # a permutation of range(n) and slices of it

    def __init__(self, n: int, batch_size: int | None = 128) -> None:
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch size must be >= 1 (or None for the whole set), got "
                             f"{batch_size!r}")
        self.n = int(n)
        self.batch_size = max(1, self.n if batch_size is None else min(batch_size, self.n))
        self.steps_per_epoch = math.ceil(self.n / self.batch_size)

    def epoch_batches(self, epoch: int, rng: np.random.Generator) -> Iterator[Batch]:
        """The batches of epoch ``epoch`` (1-based), in order: a fresh permutation from ``rng``.

        Parameters
        ----------
        epoch : int
            The epoch, from 1 (unused: the order comes from ``rng`` alone).
        rng : numpy.random.Generator
            The run's generator; the same seed gives the same batches.

        Yields
        ------
        ndarray of shape (batch_size,), dtype intp, or slice
            The row indices of each batch (the last may be smaller); one slice of every row,
            in order, when a batch holds the whole set.
        """
        return batches(self.n, self.batch_size, rng)

    def rows(self, steps: int) -> int:
        """How many rows the first ``steps`` batches of an epoch hold (for samples/s).

        Parameters
        ----------
        steps : int
            Batches taken from the start of an epoch.

        Returns
        -------
        int
            The rows they hold.
        """
        return min(steps * self.batch_size, self.n)


def batches(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[Batch]:
    """Index sets for one epoch: a fresh permutation cut into batches of ``batch_size``.

    A batch as large as the set is one slice in order (the full-batch gradient does not depend
    on order), so it costs no gather at all, and draws nothing from ``rng``.
    """
    if batch_size >= n:
        yield slice(0, n)
        return
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]
