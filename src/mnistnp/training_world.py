"""How many processes share a run's training, and what that changes in it (``World``); the one
process of a plain ``mnistnp train`` is ``World()``, and ``mnistnp.mpi`` gives one over MPI."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .callbacks import Callback
from .grad_hooks import GradHook
from .sampling import Sampler, ShuffledBatches
from .training import Scorer

T = TypeVar("T")


@dataclass
class Seams:
    """What one seed's training loop takes from its world.

    Attributes
    ----------
    sampler : Sampler
        The batches this process trains on.
    grad_hooks : list of GradHook
        Join the processes' gradients, before any clipping.
    callbacks : list of Callback
        Keep the processes in step; first in the loop's list.
    should_stop : callable or None
        The stop request every process answers alike (None: no stop request).
    scorer : callable or None
        Scores the validation set each epoch (None: ``training.evaluate``).
    """

    sampler: Sampler
    grad_hooks: list[GradHook] = field(default_factory=list)
    callbacks: list[Callback] = field(default_factory=list)
    should_stop: Callable[[], bool] | None = None
    scorer: Scorer | None = None


class World:
    """The processes that train one model together: here only this one.

    A run asks its world for what differs between one process and several: the loop's seams
    (``seams``: which rows this process trains on, what joins the gradients, what keeps the
    processes in step), whether this process writes and prints (``writes``), and whether a
    run may start (``agree``). A data-parallel world (``mnistnp.mpi.MPIWorld``) overrides them.
    """

    rank = 0  # this process, from 0
    size = 1  # processes sharing each batch

    @property
    def writes(self) -> bool:
        """Whether this process writes the run's files and prints: the first one only."""
        return self.rank == 0

    def seams(self, n: int, batch_size: int | None,
              should_stop: Callable[[], bool] | None = None) -> Seams:
        """The loop's seams for one seed's training on ``n`` rows.

        Parameters
        ----------
        n : int
            Rows of the training set.
        batch_size : int or None
            Rows of each batch of the whole world (the global batch); None for the whole set.
        should_stop : callable, optional
            This process's own stop request (a ``signals.StopRequest``).

        Returns
        -------
        Seams
            Here every row of each batch (``ShuffledBatches``), no hooks or callbacks, and
            ``should_stop`` itself.
        """
        return Seams(ShuffledBatches(n, batch_size), should_stop=should_stop)

    def agree(self, setup: Callable[[], T]) -> T:
        """Run ``setup`` (checks, loading) on every process; raise if it failed on any.

        Parameters
        ----------
        setup : callable
            What must succeed everywhere before training starts.

        Returns
        -------
        object
            What ``setup`` returned here.
        """
        return setup()

    def share_data(self, load: Callable[[], T]) -> T:
        """The run's data, loaded by ``load`` where this world keeps it: here in this process.

        Parameters
        ----------
        load : callable
            Loads the data.

        Returns
        -------
        object
            What ``load`` returned.
        """
        return load()

    def guard(self) -> contextlib.AbstractContextManager[None]:
        """What a failure in the run does to the other processes: here there are none.

        Returns
        -------
        context manager
            Here one that does nothing.
        """
        return contextlib.nullcontext()

    def describe(self, batch_size: int) -> str | None:
        """The start line's words for how the work is shared: none for one process.

        Parameters
        ----------
        batch_size : int
            Rows of each global batch.

        Returns
        -------
        str or None
            Here None.
        """
        return None

    def settings(self) -> dict[str, Any]:
        """What settings.json records of the world: nothing for one process.

        Returns
        -------
        dict
            Here empty.
        """
        return {}
