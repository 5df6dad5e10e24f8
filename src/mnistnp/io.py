"""Model files: a NumPy ``.npz`` of named weights plus JSON metadata that rebuilds the model.

Written atomically; read with ``allow_pickle=False`` and checked before any weight is trusted.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write
from .errors import ModelFileError
from .nn import Dense, Sequential
from .npzfile import read_npz

FORMAT_VERSION = 1
META_KEY = "meta.json"


def _param_names(model: Sequential) -> list[str]:
    """Names are made only here, at the file boundary: ``layers.<index>.<W|b>``."""
    return [f"layers.{i}.{name}" for i, layer in enumerate(model.layers)
            for name in ("W", "b")[:len(layer.param_shapes)]]


def save_model(path: str | os.PathLike[str], model: Sequential,
               info: dict[str, Any] | None = None) -> None:
    """Write ``model`` (architecture, weights and ``info`` such as seed, dataset, metrics) to
    exactly ``path``, atomically: an earlier file there stays intact until the new one is whole.
    """
    meta = {"format_version": FORMAT_VERSION, "model": model.spec(), "info": info or {}}
    arrays = dict(zip(_param_names(model), model.param_arrays))
    arrays[META_KEY] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with atomic_write(path) as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]


def load_model(path: str | os.PathLike[str]) -> Sequential:
    """Read a model file written by ``save_model``; its ``info`` lands on ``model.info``.

    Raises ModelFileError naming the file for anything missing, inconsistent or non-finite.
    """
    path = Path(path)
    arrays = read_npz(path)
    meta = _read_meta(path, arrays.pop(META_KEY, None))
    try:
        model = Sequential.from_spec(meta["model"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: bad architecture in metadata ({e!r})") from None
    _check_chain(path, model)
    names = _param_names(model)
    missing = [n for n in names if n not in arrays]
    if missing:
        raise ModelFileError(f"{path}: missing weights {', '.join(missing)}")
    extra = sorted(set(arrays) - set(names))
    if extra:
        raise ModelFileError(f"{path}: unexpected members {', '.join(extra)}")
    for name, target in zip(names, model.param_arrays):
        value = arrays[name]
        if value.shape != target.shape:
            raise ModelFileError(f"{path}: {name} has shape {value.shape}, "
                                 f"expected {target.shape}")
        if value.dtype.kind != "f":
            raise ModelFileError(f"{path}: {name} has dtype {value.dtype}, not floating point")
        if not np.isfinite(value).all():
            raise ModelFileError(f"{path}: {name} holds non-finite values")
        target[...] = value
    info = meta.get("info") or {}
    if not isinstance(info, dict):
        raise ModelFileError(f"{path}: metadata 'info' is not a JSON object")
    model.info = info
    return model


def _read_meta(path: Path, raw: np.ndarray | None) -> dict[str, Any]:
    if raw is None:
        raise ModelFileError(f"{path}: no {META_KEY} member; not an mnistnp model file")
    try:
        meta = json.loads(raw.astype(np.uint8).tobytes().decode())
    except (ValueError, UnicodeDecodeError) as e:
        raise ModelFileError(f"{path}: unreadable metadata ({e})") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: metadata is not a JSON object")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{path}: format version {version!r} is not supported "
                             f"(this mnistnp reads version {FORMAT_VERSION})")
    return meta


def _check_chain(path: Path, model: Sequential) -> None:
    """Each Dense layer's input size must be the previous one's output size."""
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    if not dense:
        raise ModelFileError(f"{path}: the model has no Dense layer")
    for prev, nxt in itertools.pairwise(dense):
        if prev.out_features != nxt.in_features:
            raise ModelFileError(f"{path}: layer sizes do not chain "
                                 f"({prev.out_features} outputs feed {nxt.in_features} inputs)")
