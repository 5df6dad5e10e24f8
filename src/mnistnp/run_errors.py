"""How a run fails to start (``RunSetupError``, naming the argument at fault) or stops on request
(``RunInterrupted``, with the checkpoint that resumes it)."""

from __future__ import annotations

from pathlib import Path

from .errors import MnistnpError
from .training import Interrupted


class RunSetupError(MnistnpError):
    """The run cannot start as asked, and the argument at fault is named.

    Its folder holds another run, a file cannot be written, or a resume asks for what it
    cannot do.

    Parameters
    ----------
    message : str
        What is wrong, naming the value or file.
    option : str
        The argument at fault, as ``Run`` names it (``"run_dir"``, ``"out"``, ``"plot"``,
        ``"metrics"``, ``"repeats"``, ``"resume"``), for a front end to name its option.
    unwritable : bool, default False
        True if the argument is fine but its file cannot be written.
    """

    def __init__(self, message: str, option: str, unwritable: bool = False) -> None:
        super().__init__(message)
        self.option, self.unwritable = option, unwritable


class RunInterrupted(Interrupted):
    """A run stopped on request; ``checkpoint`` resumes it (``Run.resume``).

    Parameters
    ----------
    interrupted : Interrupted
        What the training loop raised; its ``state`` is kept.
    checkpoint : Path
        The checkpoint written as it stopped.
    """

    def __init__(self, interrupted: Interrupted, checkpoint: Path) -> None:
        super().__init__(interrupted.state)
        self.checkpoint = checkpoint
