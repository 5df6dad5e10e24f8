"""A rank that fails ends the whole job at once, saying which rank and why in one line
(``abort_on_error``, and ``sys.excepthook`` for a script's uncaught error): the other ranks would
otherwise wait in their next collective for ever."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any

from ..errors import MnistnpError

# Seconds a rank whose MPI call failed waits before ending the job, so that the supervisor of
# a rank that died says which one (it does within milliseconds).
PEER_GRACE = 0.5
# Seconds a failing rank waits between saying why and ending the job: MPI_Abort tears down
# mpiexec's forwarding of the ranks' output, and a line still in the pipe is lost with it (seen
# in test runs under load: the job ended with nothing said at all).
SAID_GRACE = 0.2


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
    rank = f"rank {comm.Get_rank()} of {comm.Get_size()}"
    if _from_mpi(error):
        # A collective failed under this rank: most often because another rank died in it
        # (killed, out of memory). Its supervisor names it within milliseconds, and this
        # rank's MPI_Abort would end that supervisor too: give it time to speak first.
        first = str(error).split(", error stack")[0].splitlines()[0] if str(error) else "?"
        stream.write(f"mnistnp: error: {rank} stopped: MPI failed ({first}), as it does when "
                     "another rank dies; ending all ranks\n")
        stream.flush()
        time.sleep(PEER_GRACE)
    else:
        stream.write(f"mnistnp: error: {rank} failed: {why(error)}; ending all ranks\n")
        stream.flush()
        time.sleep(SAID_GRACE)
    comm.Abort(status)


def _from_mpi(error: BaseException) -> bool:
    """Whether MPI itself raised ``error`` (mpi4py's ``MPI.Exception``)."""
    return type(error).__module__.startswith("mpi4py")


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


def end_shared_job(status: int) -> None:
    """End every rank when this one stops outside a stop all agreed on (a Ctrl-C at start-up
    or while scoring): the others may be waiting in MPI, where no signal reaches Python.

    Does nothing without MPI, or before it starts, or with one rank.

    Parameters
    ----------
    status : int
        The job's exit status.
    """
    if "mpi4py" not in sys.modules:
        return
    from mpi4py import MPI

    if MPI.Is_initialized() and not MPI.Is_finalized() and MPI.COMM_WORLD.Get_size() > 1:
        MPI.COMM_WORLD.Abort(status)
