"""Stopping cleanly on Ctrl-C or SIGTERM: the first signal asks training to stop after the
current batch; later ones are ignored until the checkpoint is safely written."""

from __future__ import annotations

import signal
import sys
from types import FrameType, TracebackType
from typing import Any


class StopRequest:
    """A context manager that catches SIGINT and SIGTERM; call it to ask "should I stop?".

    ``signum`` is the first signal received (None if none), so the caller can exit with
    128 + signum (130 for Ctrl-C, 143 for SIGTERM).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def __call__(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            print(f"\nmnistnp: {signal.Signals(signum).name} received: finishing the current "
                  "batch and writing a checkpoint", file=sys.stderr, flush=True)
        else:
            print("mnistnp: still writing the checkpoint; it will not be torn", file=sys.stderr,
                  flush=True)

    def __enter__(self) -> StopRequest:
        for sig in self.SIGNALS:
            self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
