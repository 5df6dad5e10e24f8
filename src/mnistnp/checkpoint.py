"""Checkpoints: everything a run needs to resume bit-identically (weights and layer state,
optimizer and schedule state, random streams, epoch and batch, History), in one atomically
written ``.npz``. Version 2 adds the architecture and the layers' non-trainable state (and
early stopping's copy of it); version 3 names the layers' settings as model-file format 3
does (see ``model_file.upgrade_v2``)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .atomic import atomic_write
from .errors import ModelFileError
from .loop_state import History, TrainState
from .model_file import load_state, named_state, upgrade_v2
from .nn import Layer, RandomLayer, Sequential
from .npzfile import read_npz
from .train_config import TrainConfig

if TYPE_CHECKING:
    from .callbacks import EarlyStopping
    from .nn import Sequential
    from .optim import Optimizer, Schedule

KIND = "mnistnp-checkpoint"
VERSION = 3
# Earlier versions resume as well: version 1 has no model spec and no layer state, version 2
# a model spec of format 2.
READS = (1, 2, 3)
META_KEY = "checkpoint.json"
BEST = "best."  # early stopping's copies of the layer state: best.layers.<i>.<name>


@dataclass
class Checkpoint:
    """A run frozen between two batches."""

    config: TrainConfig
    state: TrainState
    params: np.ndarray
    optimizer: dict[str, np.ndarray] = field(default_factory=dict)
    schedule: dict[str, float] = field(default_factory=dict)
    # The random streams' states (``RandomLayer.random_state``), in layer order.
    layer_rngs: list[dict[str, Any]] = field(default_factory=list)
    early_stopping: dict[str, Any] = field(default_factory=dict)  # scalars; best params below
    best_params: np.ndarray | None = None
    # The architecture (``Sequential.spec()``), checked against the model a resume rebuilds;
    # None in a version-1 checkpoint.
    model: dict[str, Any] | None = None
    # Copies of the layers' non-trainable state, by file name (``io.named_state``).
    layer_state: dict[str, np.ndarray] = field(default_factory=dict)
    # Early stopping's copies of the best epoch's layer state, named alike.
    best_state: dict[str, np.ndarray] = field(default_factory=dict)


def model_state(model: Sequential) -> dict[str, np.ndarray]:
    """Copies of ``model``'s layer state by file name, for a Checkpoint."""
    return {name: array.copy() for name, array in named_state(model).items()}


def check_network(ckpt: Checkpoint, layers: Sequence[Layer], input_shape: Sequence[int],
                  dtype: np.dtype | str) -> None:
    """ModelFileError unless ``layers`` for samples of ``input_shape`` (built from the
    checkpoint's config for this data, but not yet put in a model, so nothing is allocated)
    are the network the checkpoint was taken of, with as many weights as it holds: a
    checkpoint whose settings declare a huge network is refused before it is allocated."""
    spec = {"input_shape": list(input_shape), "dtype": np.dtype(dtype).name,
            "layers": [layer.spec() for layer in layers]}
    if ckpt.model is not None and ckpt.model != spec:
        raise ModelFileError(f"the checkpoint was taken of the network {_outline(ckpt.model)}, "
                             f"but its settings build {_outline(spec)} for this data")
    declared = sum(math.prod(shape) for layer in layers for shape in layer.param_shapes)
    if ckpt.params.size != declared:
        raise ModelFileError(f"checkpoint weights hold {ckpt.params.size:,} numbers but the "
                             f"model has {declared:,}")


def restore_model(ckpt: Checkpoint, model: Sequential) -> None:
    """Put a checkpoint's weights and layer state into ``model``, freshly built from its
    config; ModelFileError if the model is not the one the checkpoint was taken of."""
    check_network(ckpt, model.layers, model.input_shape, model.dtype)
    names = set(named_state(model))
    if set(ckpt.layer_state) != names:
        raise ModelFileError(f"the checkpoint holds layer state {sorted(ckpt.layer_state)}, "
                             f"the model {sorted(names)}")
    model.params[...] = ckpt.params
    try:
        load_state(model, ckpt.layer_state)
    except (KeyError, ValueError) as e:
        raise ModelFileError(f"bad layer state in the checkpoint ({e})") from None


def _outline(spec: dict[str, Any]) -> str:
    """'(28, 28) -> Rescale -> Flatten -> Dense(784, 50) -> ...' for messages."""
    layers = [", ".join(f"{v}" for k, v in layer.items() if k != "type") for layer in
              spec.get("layers", [])]
    kinds = [f"{layer.get('type')}({args})" if args else str(layer.get("type"))
             for layer, args in zip(spec.get("layers", []), layers)]
    return " -> ".join([str(tuple(spec.get("input_shape", ()))), *kinds])


def save_checkpoint(path: str | os.PathLike[str], ckpt: Checkpoint) -> None:
    """Write ``ckpt`` to exactly ``path``, atomically (an earlier checkpoint stays whole)."""
    meta = {
        "kind": KIND, "version": VERSION, "config": ckpt.config.to_dict(),
        "state": {"epoch": ckpt.state.epoch, "batch": ckpt.state.batch,
                  "epoch_rng": ckpt.state.epoch_rng, "finished": ckpt.state.finished},
        "history": ckpt.state.history.to_dict(), "schedule": ckpt.schedule,
        "layer_rngs": ckpt.layer_rngs, "early_stopping": ckpt.early_stopping,
        "model": ckpt.model,
    }
    arrays = {"params": ckpt.params, **ckpt.layer_state}
    arrays.update({f"optimizer.{k}": v for k, v in ckpt.optimizer.items()})
    if ckpt.best_params is not None:
        arrays["best_params"] = ckpt.best_params
    arrays.update({f"{BEST}{name}": array for name, array in ckpt.best_state.items()})
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
        if meta.get("kind") != KIND or meta.get("version") not in READS:
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
    layer_state = {k: v for k, v in arrays.items() if k.startswith("layers.")}
    best_state = {k.removeprefix(BEST): v for k, v in arrays.items() if k.startswith(BEST)}
    for name, value in [*layer_state.items(), *best_state.items()]:
        if value.dtype.name != config.dtype or not np.isfinite(value).all():
            raise ModelFileError(f"{path}: {name} is not finite {config.dtype} numbers")
    if best_state and set(best_state) != set(layer_state):
        raise ModelFileError(f"{path}: early stopping's best layer state "
                             f"{sorted(best_state)} is not the model's {sorted(layer_state)}")
    model = meta.get("model")
    if meta["version"] == 2:
        model = upgrade_v2(model)
    if not isinstance(model, (dict, type(None))):
        raise ModelFileError(f"{path}: not a usable mnistnp checkpoint (model {model!r})")
    return Checkpoint(config, state, params, optimizer, meta.get("schedule") or {},
                      meta.get("layer_rngs") or [], meta.get("early_stopping") or {},
                      arrays.get("best_params"), model, layer_state, best_state)


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
        [layer.random_state() for layer in _random_layers(model)],
        early.state_dict() if early else {}, early.best_params if early else None,
        model.spec(), model_state(model), dict(early.best_state) if early else {})


def restore(ckpt: Checkpoint, model: Sequential, optimizer: Optimizer, schedule: Schedule,
            early: EarlyStopping | None) -> None:
    """Put a checkpoint's state back into freshly built objects of the same config."""
    restore_model(ckpt, model)
    optimizer.load_state_dict(ckpt.optimizer)
    schedule.load_state_dict(ckpt.schedule)
    for layer, random_state in zip(_random_layers(model), ckpt.layer_rngs):
        layer.load_random_state(random_state)
    if early is not None and ckpt.early_stopping:
        early.load_state_dict(ckpt.early_stopping, ckpt.best_params, ckpt.best_state)


def _random_layers(model: Sequential) -> list[RandomLayer]:
    """The layers that own a random stream (Dropout, RandomShift, ...), in order."""
    return [layer for layer in model.layers if isinstance(layer, RandomLayer)]
