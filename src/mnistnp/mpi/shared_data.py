"""One copy of the data per node: the first rank of each node loads the arrays into MPI shared
memory and the node's other ranks map them (``node_shared``), so a rank's own memory does not
hold the dataset."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import MnistnpError

Data = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def node_shared(node: Any, load: Callable[[], Data], keep: list[Any]) -> Data:
    """The data ``load`` gives, loaded once per node and shared by its ranks.

    Parameters
    ----------
    node : mpi4py.MPI.Comm
        The ranks of this node (``Split_type(COMM_TYPE_SHARED)``).
    load : callable
        Loads ``((x_train, y_train), (x_test, y_test))``; called on the node's rank 0 only.
    keep : list
        Receives the shared-memory windows, which must live as long as the arrays.

    Returns
    -------
    ((x_train, y_train), (x_test, y_test)) : tuple of two (ndarray, ndarray) tuples
        Views of the node's shared memory, as ``load`` gave them.

    Raises
    ------
    MnistnpError
        On the node's other ranks, with the message of the error ``load`` raised on its
        rank 0 (which raises that error itself).
    """
    from mpi4py import MPI

    leader = node.Get_rank() == 0
    arrays: list[np.ndarray] = []
    error: Exception | None = None
    if leader:
        try:
            (x, y), (xt, yt) = load()
            arrays = [x, y, xt, yt]
        except Exception as e:  # said to the node's other ranks, then raised
            error = e
    # The lowercase bcast: four shapes and dtypes (or an error's words), once per run.
    layout = node.bcast([(a.shape, a.dtype.str) for a in arrays] if error is None
                        else str(error), root=0)
    if error is not None:
        raise error
    if isinstance(layout, str):
        raise MnistnpError(layout)
    shared = []
    for k, (shape, dtype) in enumerate(layout):
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        win = MPI.Win.Allocate_shared(nbytes if leader else 0, 1, comm=node)
        keep.append(win)
        buffer: Any = win.Shared_query(0)[0]  # rank 0's memory, mapped here
        view = np.frombuffer(buffer, dtype=np.dtype(dtype), count=int(np.prod(shape)))
        view = view.reshape(shape)
        if leader:
            view[...] = arrays[k]
        shared.append(view)
    del arrays  # the leader's own copy goes; the shared one stays
    node.Barrier()  # the leader has filled every window
    return (shared[0], shared[1]), (shared[2], shared[3])
