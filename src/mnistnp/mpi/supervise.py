"""A killed rank is named: under mpiexec, ``mnistnp`` runs each rank as the child of a small
supervisor that outlives it and says which rank was killed, by what, in one line.

A process killed by a signal (``kill -9``, the kernel's out-of-memory killer) cannot speak, and
mpiexec kills the other ranks at once (SIGKILL, no handler runs) and names the dead one by its
process id alone. So the process mpiexec starts becomes this file, run as a script (only the
standard library: a few MB, not mnistnp's imports), which starts the real rank as its child,
passes it the signals a launcher sends (Ctrl-C, SIGTERM), and when the child dies by a signal
writes the line, then exits with 137 after a SIGKILL or dies by the same signal after any other,
which makes mpiexec end the job. The child dies with its supervisor (``PR_SET_PDEATHSIG``), so
mpiexec's own clean-up still ends it.

Linux only (``prctl``); elsewhere, or when another program already owns MPI in the process
(``mpi4py.futures``), the rank runs unsupervised as before.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence

# Set in the child's environment to the supervisor's process id: the child is the rank.
CHILD = "MNISTNP_SUPERVISOR"
# As launch.py reads them: this file runs as a script, importing nothing of mnistnp.
_SIZE = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE")
_RANK = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
WHY = {signal.SIGKILL: " (the out-of-memory killer, or kill -9)",
       signal.SIGSEGV: " (a crash in compiled code)", signal.SIGBUS: " (a crash in compiled code)"}


def _first(names: tuple[str, ...]) -> str:
    return next((os.environ[n] for n in names if os.environ.get(n, "").strip().isdigit()), "?")


def wanted(argv: Sequence[str] | None) -> bool:
    """Whether this ``mnistnp`` command should hand its rank to a supervisor.

    Parameters
    ----------
    argv : sequence of str or None
        The arguments ``main`` was given: None for the real command line (a call from Python
        with its own arguments is never supervised).

    Returns
    -------
    bool
        True when an MPI launcher started this process, on Linux, not as a supervised child
        already, and with mpi4py not yet imported by whoever runs it.
    """
    return (argv is None and sys.platform == "linux" and CHILD not in os.environ
            and any(n in os.environ for n in _SIZE) and "mpi4py" not in sys.modules)


def become(args: list[str]) -> None:
    """Replace this process by the supervisor of ``python -m mnistnp.cli ARGS`` (no return).

    Parameters
    ----------
    args : list of str
        The command's arguments, without the program's name.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    # -I: no user site, no PYTHON* variables and not this folder on sys.path (a script in a
    # package would otherwise see its neighbours as top-level modules).
    os.execv(sys.executable, [sys.executable, "-I", os.path.abspath(__file__), *args])


def die_with_supervisor() -> None:
    """In the supervised child: be killed when the supervisor dies (mpiexec kills the
    process it started, not its children), and exit now if it already has."""
    supervisor = os.environ.pop(CHILD, None)
    if supervisor is None or sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != int(supervisor):  # died before prctl took effect
        os._exit(128 + signal.SIGKILL)


def supervise(args: list[str]) -> int:
    """Run the rank as a child, pass it signals, and say it if a signal killed it.

    Parameters
    ----------
    args : list of str
        The ``mnistnp`` command's arguments.

    Returns
    -------
    int
        The child's exit status, or 137 if SIGKILL killed it (another signal kills this
        process too, before it returns).
    """
    env = dict(os.environ, **{CHILD: str(os.getpid())})
    child = subprocess.Popen([sys.executable, "-m", "mnistnp.cli", *args], env=env,
                             close_fds=False, start_new_session=True)
    passed_on: set[int] = set()

    def pass_on(signum: int, frame: object) -> None:
        passed_on.add(signum)
        child.send_signal(signum)

    for sig in FORWARDED:  # its own session: each signal reaches it once, from here
        signal.signal(sig, pass_on)
    status = child.wait()  # retried after each signal handled (PEP 475)
    if status >= 0:
        return status
    killed = signal.Signals(-status)
    if killed not in passed_on:  # not the user's own Ctrl-C or the launcher's SIGTERM
        sys.stderr.write(f"mnistnp: error: rank {_first(_RANK)} of {_first(_SIZE)} (process "
                         f"{child.pid}) was killed by {killed.name}{WHY.get(killed, '')}; "
                         "ending all ranks\n")
        sys.stderr.flush()
    if killed != signal.SIGKILL:
        # Die as the rank did, so mpiexec sees what it would have seen without this
        # supervisor (a death by a signal, which it answers by ending every rank). For
        # SIGKILL, the exit status says it as well, without mpiexec's own block of lines
        # naming this process's id.
        signal.signal(killed, signal.SIG_DFL)
        os.kill(os.getpid(), killed)
    return 128 - status


if __name__ == "__main__":
    sys.exit(supervise(sys.argv[1:]))
