"""What keeps the ranks of a data-parallel run in step: the gradient's one in-place
``Allreduce`` (``AllreduceMean``), and ``InStep``, the callback that starts every rank from rank
0's weights and agrees on each step's cost, stop request, layer state and validation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..callbacks import Callback
from ..loop_state import TrainContext
from ..model_file import named_state
from ..nn import RandomLayer, Sequential
from ..training import evaluate
from .sharding import ShardedBatches, share


class AllreduceMean:
    """A gradient hook: the whole world's mean gradient, in place, on every rank.

    Each rank's gradient is the mean over its rows; weighted by its share of the batch
    (``ShardedBatches.fraction``, 0 for a rank without rows) and summed by one ``Allreduce`` on
    the contiguous buffer (the uppercase, buffer API: no pickling), it is the mean over the
    global batch, as one process computes it with the sums reordered.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
        The ranks training together.
    sampler : ShardedBatches
        This rank's sampler, whose ``fraction`` is the share of the batch being taken.
    """

    def __init__(self, comm: Any, sampler: ShardedBatches) -> None:
        from mpi4py import MPI

        self.comm, self.sampler, self.in_place = comm, sampler, MPI.IN_PLACE

    def __call__(self, grads: np.ndarray) -> None:
        if self.sampler.fraction != 1.0:
            grads *= grads.dtype.type(self.sampler.fraction)
        self.comm.Allreduce(self.in_place, grads)


class ShardedScorer:
    """Score a set as ``training.evaluate`` does, each rank its share of the rows.

    Each rank's loss and count of right answers over its rows, summed by one small
    ``Allreduce``: every rank gets the whole set's mean loss and accuracy, in 1/N of the time.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
        The ranks training together.
    """

    def __init__(self, comm: Any) -> None:
        from mpi4py import MPI

        self.comm, self.in_place = comm, MPI.IN_PLACE
        self.rank, self.size = comm.Get_rank(), comm.Get_size()

    def __call__(self, model: Sequential, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        lo, hi = share(len(x), self.rank, self.size)
        sums = np.zeros(2)  # (the loss summed over this rank's rows, its right answers)
        if hi > lo:
            loss, accuracy = evaluate(model, x[lo:hi], y[lo:hi])
            sums[:] = loss * (hi - lo), round(accuracy * (hi - lo))
        self.comm.Allreduce(self.in_place, sums)
        return float(sums[0] / len(x)), float(sums[1] / len(x))


class InStep(Callback):
    """Keep every rank's copy of the run the same as rank 0's.

    At the start, rank 0's weights and layer state go to all (``Bcast``). After each step one
    small ``Allreduce`` gives every rank the global batch's cost (each rank's mean weighted by
    its share) and whether any rank was asked to stop, and the layer state (batch norm's running
    statistics, from each rank's own rows) is averaged, weighted by rows. At each epoch's end,
    rank 0's validation figures go to all, so schedules and early stopping decide alike.

    Random layers (dropout, the augmentations) draw a stream of each rank's own for a step, made
    from the shared stream and the rank; between steps they hold the shared stream, which is
    what a checkpoint saves, so a resume with as many ranks draws the same.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
        The ranks training together.
    sampler : ShardedBatches
        This rank's sampler.
    local_stop : callable, optional
        This rank's own stop request (Ctrl-C or SIGTERM), polled after each step.
    """

    def __init__(self, comm: Any, sampler: ShardedBatches,
                 local_stop: Callable[[], bool] | None = None) -> None:
        from mpi4py import MPI

        self.comm, self.sampler, self.local_stop = comm, sampler, local_stop
        self.rank, self.in_place = comm.Get_rank(), MPI.IN_PLACE
        self.stop = False
        self._step = np.zeros(2)  # (the cost times this rank's share, a stop request)
        self._shared: list[tuple[RandomLayer, np.random.Generator]] = []
        self._state: np.ndarray | None = None

    def should_stop(self) -> bool:
        """Whether any rank was asked to stop, as agreed after the last step."""
        return self.stop

    def on_train_begin(self, ctx: TrainContext) -> None:
        self.comm.Bcast(ctx.model.params, root=0)
        for array in named_state(ctx.model).values():
            self.comm.Bcast(array, root=0)
        self._shared = [(layer, layer.rng) for layer in ctx.model.layers
                        if isinstance(layer, RandomLayer)]
        state = named_state(ctx.model)
        size = sum(a.size for a in state.values())
        self._state = np.empty(size, ctx.model.dtype) if size else None

    def on_batch_begin(self, ctx: TrainContext) -> None:
        for layer, shared in self._shared:
            key = int(shared.integers(2**63))  # the same on every rank
            layer.rng = np.random.default_rng([key, self.rank])

    def on_batch_end(self, ctx: TrainContext) -> None:
        for layer, shared in self._shared:
            layer.rng = shared
        costs = ctx.history.costs
        self._step[0] = costs[-1] * self.sampler.fraction
        self._step[1] = bool(self.local_stop and self.local_stop())
        self.comm.Allreduce(self.in_place, self._step)
        costs[-1] = float(self._step[0])
        self.stop = bool(self._step[1])
        if self._state is not None:
            self._average_state(ctx)

    def _average_state(self, ctx: TrainContext) -> None:
        """Batch norm's running statistics, each rank's weighted by its rows, summed."""
        assert self._state is not None
        arrays = list(named_state(ctx.model).values())
        start = 0
        for array in arrays:
            self._state[start:start + array.size] = array.ravel()
            start += array.size
        self._state *= self._state.dtype.type(self.sampler.fraction)
        self.comm.Allreduce(self.in_place, self._state)
        start = 0
        for array in arrays:
            array[...] = self._state[start:start + array.size].reshape(array.shape)
            start += array.size

    def on_epoch_end(self, ctx: TrainContext) -> None:
        h = ctx.history
        figures = np.array([h.epoch_val_loss[-1], h.epoch_val_accuracy[-1]])
        self.comm.Bcast(figures, root=0)
        h.epoch_val_loss[-1], h.epoch_val_accuracy[-1] = map(float, figures)
