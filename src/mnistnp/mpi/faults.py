"""A rank that fails ends the whole job at once, saying which rank and why in one line
(``abort_on_error``, and ``sys.excepthook`` for a script's uncaught error): the other ranks would
otherwise wait in their next collective for ever."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from ..errors import MnistnpError


def why(error: BaseException) -> str:
    """A failure as the clause of one line: the message, and the kind when it is not ours.

    Parameters
    ----------
    error : BaseException
        What the rank raised.

    Returns
    -------
    str
        Such as ``"out of memory (MemoryError: ...)"`` or an mnistnp error's own message.
    """
    if isinstance(error, MnistnpError):
        return str(error)
    if isinstance(error, MemoryError):
        return f"out of memory (MemoryError{': ' + str(error) if str(error) else ''})"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def abort(comm: Any, error: BaseException, status: int = 1) -> None:
    """Say on the original standard error which rank failed and why, then end every rank.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
        The ranks to end (``Abort``).
    error : BaseException
        What this rank raised.
    status : int, default 1
        The job's exit status.
    """
    stream = sys.__stderr__ or sys.stderr
    stream.write(f"mnistnp: error: rank {comm.Get_rank()} of {comm.Get_size()} failed: "
                 f"{why(error)}; ending all ranks\n")
    stream.flush()
    comm.Abort(status)


@contextlib.contextmanager
def abort_on_error(comm: Any, agreed: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Abort the job on any error in the block but those all ranks raise together (``agreed``).

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
        The ranks training together.
    agreed : tuple of exception classes, default ()
        Errors every rank raises at the same point (a stop all agreed on), passed on.

    Yields
    ------
    None
        The guarded block runs.
    """
    try:
        yield
    except agreed:
        raise
    except BaseException as e:  # any error here would leave the others waiting
        abort(comm, e)
        raise


def install_excepthook(comm: Any) -> None:
    """Make an uncaught error in this process end every rank, as ``abort_on_error`` does.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
        The ranks training together.
    """
    previous = sys.excepthook

    def hook(kind: type[BaseException], value: BaseException,
             tb: TracebackType | None) -> None:
        if isinstance(value, KeyboardInterrupt | SystemExit):
            previous(kind, value, tb)
            return
        abort(comm, value)

    sys.excepthook = hook
