"""Callbacks for ``fit``: early stopping with best-weight restore, and the metrics.jsonl log."""

from __future__ import annotations

import json
import math
import os
from typing import IO

import numpy as np

from .nn import Sequential
from .training import History


class EarlyStopping:
    """Stop when the validation loss has not improved for ``patience`` epochs, then put back
    the weights of the best epoch (so the model is the best seen, not the last)."""

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience!r}")
        self.patience, self.min_delta = int(patience), float(min_delta)
        self.best_loss, self.best_epoch, self.waited = math.inf, 0, 0
        self.best_params: np.ndarray | None = None

    def on_epoch_end(self, history: History, model: Sequential) -> bool:
        loss = history.epoch_val_loss[-1]
        if math.isnan(loss):
            raise ValueError("early stopping needs a validation split")
        if loss < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.waited = loss, history.epochs, 0
            if self.best_params is None:
                self.best_params = model.params.copy()
            else:
                self.best_params[...] = model.params
            return False
        self.waited += 1
        return self.waited >= self.patience

    def state_dict(self) -> dict[str, float | int]:
        """The counters, for checkpoints (``best_params`` is saved beside them)."""
        return {"best_loss": self.best_loss, "best_epoch": self.best_epoch,
                "waited": self.waited}

    def load_state_dict(self, state: dict[str, float | int],
                        best_params: np.ndarray | None) -> None:
        self.best_loss, self.best_epoch = float(state["best_loss"]), int(state["best_epoch"])
        self.waited = int(state["waited"])
        self.best_params = None if best_params is None else best_params.copy()

    def on_train_end(self, history: History, model: Sequential) -> None:
        if self.best_params is not None and self.best_epoch != history.epochs:
            model.params[...] = self.best_params
            history.best_epoch = self.best_epoch


class MetricsLog:
    """Write one JSON object per epoch to ``target``: a path (line-buffered, so `tail -f`
    follows a run and a crash loses at most the line being written) or an open text stream
    such as ``sys.stdout`` (flushed at each line and left open).

    ``history``, the record of a run being resumed, is written first, so the log holds each
    epoch the run has finished exactly once: lines a crash left after the checkpoint (a torn
    line, or epochs the checkpoint does not have, which would come again) are cut away.
    """

    def __init__(self, target: str | os.PathLike[str] | IO[str],
                 history: History | None = None) -> None:
        self._owned = isinstance(target, str | os.PathLike)
        self._file: IO[str] | None = (
            open(target, "w", buffering=1, encoding="utf-8")
            if isinstance(target, str | os.PathLike) else target)
        if history is not None:
            for epoch in range(1, history.epochs + 1):
                self._write(history.record(epoch))

    def _write(self, record: dict[str, float | int | None]) -> None:
        if self._file is not None:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()

    def on_epoch_end(self, history: History, model: Sequential) -> bool:
        self._write(history.record(history.epochs))
        return False

    def on_train_end(self, history: History, model: Sequential) -> None:
        self.close()

    def close(self) -> None:
        if self._file is not None and self._owned:
            self._file.close()
        self._file = None
