"""Stopping cleanly on Ctrl-C or SIGTERM: the first signal asks training to stop after the
batch (``StopRequest``, which ``StopOnRequest`` polls); later ones wait for the checkpoint."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

from .callbacks import Callback
from .loop_state import Interrupted, TrainContext


class StopRequest:
    """A context manager that catches SIGINT and SIGTERM; call it to ask "should I stop?".

    ``signum`` is the first signal received (None if none), so the caller can exit with
    128 + signum (130 for Ctrl-C, 143 for SIGTERM).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._told = False
        self._old: dict[int, Any] = {}

    def __call__(self) -> bool:
        if self.signum is not None and not self._told:
            self._tell()  # deferred from the handler: a progress bar is on the screen
        return self.signum is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            # With a progress bar, the line waits for the next poll (the batch's end): a signal
            # can land in the middle of a line being written, and the bar must be cleared
            # between whole writes to leave nothing behind. Without one, say it at once.
            if not _bar_shown():
                self._tell()
        else:
            _say("mnistnp: still writing the checkpoint; it will not be torn")

    def _tell(self) -> None:
        self._told = True
        assert self.signum is not None
        _say(f"mnistnp: {signal.Signals(self.signum).name} received: finishing the current "
             "batch and writing a checkpoint", after_echo=True)

    def __enter__(self) -> StopRequest:
        for sig in self.SIGNALS:
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


class StopOnRequest(Callback):
    """After every batch, ask ``should_stop`` (a StopRequest, say); when it answers True, hand
    the run to ``save`` (``Checkpoints.save_now``; None for a process that does not write) and
    raise Interrupted, whose ``state`` says where the run stopped."""

    def __init__(self, should_stop: Callable[[], bool],
                 save: Callable[[TrainContext], None] | None = None) -> None:
        self.should_stop, self.save = should_stop, save

    def on_batch_end(self, ctx: TrainContext) -> None:
        if self.should_stop():
            if self.save is not None:
                self.save(ctx)
            raise Interrupted(ctx.state)


def _bar_shown() -> bool:
    from tqdm.auto import tqdm

    return any(not bar.disable for bar in list(getattr(tqdm, "_instances", ())))


def _say(message: str, after_echo: bool = False) -> None:
    """``message`` as one line on stderr; ``after_echo``: on a line of its own after the
    terminal's "^C" echo.

    A live progress bar (on a terminal, and leaving room for the echo on its line) is cleared
    and its line wiped, echo included, the message written there and the bar redrawn below it;
    so when the bar closes, no stale copy of it stays on the screen.
    """
    from tqdm.auto import tqdm

    if not _bar_shown():
        print(f"\n{message}" if after_echo else message, file=sys.stderr, flush=True)
        return
    with tqdm.external_write_mode(file=sys.stderr, nolock=True):
        sys.stderr.write(f"\r\x1b[K{message}\n")
        sys.stderr.flush()
