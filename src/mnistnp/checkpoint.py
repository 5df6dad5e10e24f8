"""Checkpoints: everything a run needs to resume bit-identically (weights, optimizer and
schedule state, random streams, epoch and batch, History), in one atomically written ``.npz``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .atomic import atomic_write
from .config import TrainConfig
from .errors import ModelFileError
from .npzfile import read_npz
from .training import History, TrainState

if TYPE_CHECKING:
    from .callbacks import EarlyStopping
    from .nn import Sequential
    from .optim import Optimizer, Schedule

KIND = "mnistnp-checkpoint"
VERSION = 1
META_KEY = "checkpoint.json"


@dataclass
class Checkpoint:
    """A run frozen between two batches."""

    config: TrainConfig
    state: TrainState
    params: np.ndarray
    optimizer: dict[str, np.ndarray] = field(default_factory=dict)
    schedule: dict[str, float] = field(default_factory=dict)
    layer_rngs: list[dict[str, Any]] = field(default_factory=list)  # dropout streams, in order
    early_stopping: dict[str, Any] = field(default_factory=dict)  # scalars; best params below
    best_params: np.ndarray | None = None


def save_checkpoint(path: str | os.PathLike[str], ckpt: Checkpoint) -> None:
    """Write ``ckpt`` to exactly ``path``, atomically (an earlier checkpoint stays whole)."""
    meta = {
        "kind": KIND, "version": VERSION, "config": ckpt.config.to_dict(),
        "state": {"epoch": ckpt.state.epoch, "batch": ckpt.state.batch,
                  "epoch_rng": ckpt.state.epoch_rng, "finished": ckpt.state.finished},
        "history": ckpt.state.history.to_dict(), "schedule": ckpt.schedule,
        "layer_rngs": ckpt.layer_rngs, "early_stopping": ckpt.early_stopping,
    }
    arrays = {"params": ckpt.params}
    arrays.update({f"optimizer.{k}": v for k, v in ckpt.optimizer.items()})
    if ckpt.best_params is not None:
        arrays["best_params"] = ckpt.best_params
    # JSON cannot hold NaN in strict mode; History uses NaN for "no validation".
    text = json.dumps(meta, allow_nan=True)
    arrays[META_KEY] = np.frombuffer(text.encode(), dtype=np.uint8)
    with atomic_write(path) as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint``; ModelFileError if it is not one."""
    path = Path(path)
    arrays = read_npz(path)
    raw = arrays.pop(META_KEY, None)
    if raw is None:
        raise ModelFileError(f"{path}: not an mnistnp checkpoint (no {META_KEY})")
    try:
        meta = json.loads(raw.tobytes().decode())
        if meta.get("kind") != KIND or meta.get("version") != VERSION:
            raise ValueError(f"kind {meta.get('kind')!r} version {meta.get('version')!r}")
        config = TrainConfig.from_dict(meta["config"]).validate()
        s = meta["state"]
        names = {f.name for f in fields(History)}
        history = History(**{k: v for k, v in meta["history"].items() if k in names})
        state = TrainState(int(s["epoch"]), int(s["batch"]), s["epoch_rng"], history,
                           bool(s.get("finished", False)))
        params = arrays["params"]
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{path}: not a usable mnistnp checkpoint ({e})") from None
    if params.ndim != 1 or params.dtype.name != config.dtype or not np.isfinite(params).all():
        raise ModelFileError(f"{path}: the weights are not finite {config.dtype} numbers")
    optimizer = {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("optimizer.")}
    return Checkpoint(config, state, params, optimizer, meta.get("schedule") or {},
                      meta.get("layer_rngs") or [], meta.get("early_stopping") or {},
                      arrays.get("best_params"))


def extend(ckpt: Checkpoint, epochs: int | None = None, iterations: int | None = None
           ) -> Checkpoint:
    """``ckpt`` with its run planned longer: more ``epochs``, or more ``iterations`` for a run
    counted in iterations. Resuming it lays the schedule out over the new length, as for a run
    planned that long from the start, from the step reached.

    Raises ValueError if the new length is not longer, counts the other unit, or the run was
    ended by early stopping (it would stop again at once).
    """
    config = ckpt.config
    unit, planned = ("iterations", config.iterations) if config.iterations else (
        "epochs", config.epochs)
    wanted = iterations if unit == "iterations" else epochs
    other = epochs if unit == "iterations" else iterations
    if other is not None:
        raise ValueError(f"the run is counted in {unit} ({planned}); give more {unit}")
    if wanted is None or wanted <= planned:
        raise ValueError(f"{unit} {wanted}: give more than the {planned} planned")
    waited = int(ckpt.early_stopping.get("waited", 0))
    if ckpt.state.finished and config.patience and waited >= config.patience:
        raise ValueError(f"early stopping ended the run at epoch {ckpt.state.epoch} (no better "
                         f"validation loss for {waited} epochs); it would stop again")
    longer = (replace(config, iterations=wanted) if unit == "iterations"
              else replace(config, epochs=wanted))
    return replace(ckpt, config=longer, state=replace(ckpt.state, finished=False))


def snapshot(config: TrainConfig, state: TrainState, model: Sequential, optimizer: Optimizer,
             schedule: Schedule, early: EarlyStopping | None) -> Checkpoint:
    """Everything needed to resume, copied out of the live objects: the loop's ``state``
    (epoch, batch, the batch order's random state, History), the weights, the optimizer's and
    the schedule's state, the layers' random streams and early stopping's bests."""
    return Checkpoint(
        config, state, model.params.copy(), optimizer.state_dict(), schedule.state_dict(),
        [dict(layer.rng.bit_generator.state) for layer in _random_layers(model)],
        early.state_dict() if early else {}, early.best_params if early else None)


def restore(ckpt: Checkpoint, model: Sequential, optimizer: Optimizer, schedule: Schedule,
            early: EarlyStopping | None) -> None:
    """Put a checkpoint's state back into freshly built objects of the same config."""
    if ckpt.params.shape != model.params.shape:
        raise ModelFileError(f"checkpoint weights hold {ckpt.params.size:,} numbers but the "
                             f"model has {model.params.size:,}")
    model.params[...] = ckpt.params
    optimizer.load_state_dict(ckpt.optimizer)
    schedule.load_state_dict(ckpt.schedule)
    for layer, rng_state in zip(_random_layers(model), ckpt.layer_rngs):
        layer.rng.bit_generator.state = rng_state
    if early is not None and ckpt.early_stopping:
        early.load_state_dict(ckpt.early_stopping, ckpt.best_params)


def _random_layers(model: Sequential) -> list[Any]:
    """Layers that own a random stream (Dropout, RandomShift, ...), in order."""
    return [layer for layer in model.layers if isinstance(getattr(layer, "rng", None),
                                                          np.random.Generator)]
