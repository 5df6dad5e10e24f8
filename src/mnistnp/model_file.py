"""Model files: a NumPy ``.npz`` of named arrays plus JSON metadata that rebuilds the model.

Written atomically; read with ``allow_pickle=False`` and checked before any weight is trusted.
Format 2 records the input shape; format 3 names each layer's settings by its constructor's
arguments. Files of the formats before are upgraded as they load, and so is a recorded
config that holds its optimizer's and schedule's settings flat.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import atomic_write
from .errors import ModelFileError
from .model_info import ModelInfo
from .nn import Sequential, layer_from_spec
from .nn.model import output_shapes
from .npzfile import read_npz
from .optim_config import upgrade_flat

FORMAT_VERSION = 3
META_KEY = "meta.json"
# A format-1 file of this many inputs that does not record its image shape was trained on
# 28x28 images: every dataset mnistnp knew then (and every one it knows now) has that shape.
V1_SQUARE = {784: (28, 28)}
# Format 2's names of layer settings that format 3 calls by the constructor's argument.
V2_RENAMED = {"Dense": {"in": "in_features", "out": "out_features"},
              "Conv2D": {"in": "in_channels", "out": "out_channels", "kernel": "kernel_size"},
              "BatchNorm": {"features": "num_features"}}


def named_params(model: Sequential) -> dict[str, np.ndarray]:
    """Every parameter by its name in a file, ``layers.<index>.<name>``.

    The layer says the name, the model the index: names are made only here, at the file
    boundary.

    Parameters
    ----------
    model : Sequential
        The model.

    Returns
    -------
    dict of str to ndarray
        Each parameter (a view into ``model.params``, of its layer's ``param_shapes`` shape
        and the model's dtype), such as ``"layers.3.W"``.
    """
    return {f"layers.{i}.{name}": array for i, layer in enumerate(model.layers)
            for name, array in zip(layer.param_names, layer.parameters(), strict=True)}


def named_state(model: Sequential) -> dict[str, np.ndarray]:
    """Every layer's non-trainable state (batch norm's running statistics) by name.

    Named as parameters are.

    Parameters
    ----------
    model : Sequential
        The model.

    Returns
    -------
    dict of str to ndarray
        The live state arrays (not copies), such as ``"layers.2.running_mean"`` of shape
        (num_features,); empty for a model without state.
    """
    return {f"layers.{i}.{name}": array for i, layer in enumerate(model.layers)
            for name, array in layer.state().items()}


def state_dict(model: Sequential) -> dict[str, np.ndarray]:
    """What a model file holds of ``model`` besides its metadata.

    Parameters
    ----------
    model : Sequential
        The model.

    Returns
    -------
    dict of str to ndarray
        Every layer's parameters and state by name (``named_params``, ``named_state``), the
        live arrays.
    """
    return {**named_params(model), **named_state(model)}


def load_state(model: Sequential, arrays: dict[str, np.ndarray]) -> None:
    """Give each layer its state from ``arrays``.

    Parameters
    ----------
    model : Sequential
        The model whose layers take the state.
    arrays : dict of str to ndarray
        State arrays named as ``named_state`` names them (other names are ignored).

    Raises
    ------
    KeyError
        If a layer's state array is missing.
    ValueError
        Naming the array, if one is misshapen.
    """
    for i, layer in enumerate(model.layers):
        if layer.state_names:
            layer.load_state({name: arrays[f"layers.{i}.{name}"] for name in layer.state_names})


def save_model(path: str | os.PathLike[str], model: Sequential,
               info: Mapping[str, Any] | None = None) -> None:
    """Write ``model`` to exactly ``path``, atomically.

    The file holds the architecture, weights, state and ``info`` (such as seed, dataset, metrics);
    an earlier file there stays intact until the new one is whole.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (.npz).
    model : Sequential
        The model.
    info : mapping, optional
        JSON-ready data recorded with it (seed, dataset, metrics), read back as ``model.info``.
    """
    meta = {"format_version": FORMAT_VERSION, "model": model.spec(), "info": dict(info or {})}
    arrays = state_dict(model)
    arrays[META_KEY] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with atomic_write(path) as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]


def load_model(path: str | os.PathLike[str],
               input_shape: Sequence[int] | None = None) -> Sequential:
    """Read a model file written by ``save_model``; its ``info`` lands on ``model.info``.

    A file of an earlier format is upgraded as it is read (see ``upgrade_v1``, ``upgrade_v2``);
    ``input_shape`` gives the shape of a format-1 file's images when it does not record it
    and it cannot be told.

    Parameters
    ----------
    path : str or os.PathLike
        The model file (.npz), read without pickle.
    input_shape : sequence of int, optional
        One image's shape, such as (28, 28), for a format-1 file that does not record it.

    Returns
    -------
    Sequential
        The model, with its recorded ``info`` as a ``ModelInfo``.

    Raises
    ------
    ModelFileError
        Naming the file, for anything missing, inconsistent or non-finite.
    """
    path = Path(path)
    arrays = read_npz(path)
    meta = _read_meta(path, arrays.pop(META_KEY, None))
    info = meta.get("info") or {}
    if not isinstance(info, dict):
        raise ModelFileError(f"{path}: metadata 'info' is not a JSON object")
    spec = meta.get("model")
    if meta["format_version"] == 1:
        spec, arrays = upgrade_v1(path, spec, arrays, info, input_shape)
    if meta["format_version"] < 3:
        spec = upgrade_v2(spec)
    if isinstance(info.get("config"), dict):  # its optimizer's and schedule's settings flat
        info = {**info, "config": upgrade_flat(info["config"])}
    model = _build(path, spec, arrays)
    for name, target in named_params(model).items():
        target[...] = arrays[name]
    try:
        load_state(model, arrays)
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: bad layer state ({e})") from None
    model.info = ModelInfo(info)
    return model


def _build(path: Path, spec: Any, arrays: dict[str, np.ndarray]) -> Sequential:
    """The (zero) model ``spec`` describes, checked: its layers chain, it has weights, it
    gives one score per class, and ``arrays`` hold every parameter and state array it
    declares, of the declared shape, finite floats, and nothing else. All of this is checked
    on what the layers declare, before the model allocates anything: a spec declaring
    billions of weights is refused without allocating them."""
    if not isinstance(spec, dict):
        raise ModelFileError(f"{path}: no architecture in metadata")
    try:
        layers, input_shape, dtype = Sequential.parts_from_spec(spec)
        shapes = output_shapes(layers, input_shape)
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path}: bad architecture in metadata ({e})") from None
    declared = {f"layers.{i}.{name}": shape for i, layer in enumerate(layers)
                for name, shape in zip((*layer.param_names, *layer.state_names),
                                       (*layer.param_shapes, *layer.state_shapes), strict=True)}
    if not any(layer.param_shapes for layer in layers):
        raise ModelFileError(f"{path}: the model has no weights")
    if shapes and len(shapes[-1]) != 1:
        raise ModelFileError(f"{path}: the model's output {shapes[-1]} is not one score per "
                             "class")
    missing = [name for name in declared if name not in arrays]
    if missing:
        raise ModelFileError(f"{path}: missing weights {', '.join(missing)}")
    extra = sorted(set(arrays) - set(declared))
    if extra:
        raise ModelFileError(f"{path}: unexpected members {', '.join(extra)}")
    for name, shape in declared.items():
        _check_array(path, name, arrays[name], shape)
    try:
        return Sequential(layers, input_shape, dtype)
    except ValueError as e:  # more than a model file may hold, or than a sample may take
        raise ModelFileError(f"{path}: bad architecture in metadata ({e})") from None


def _check_array(path: Path, name: str, value: np.ndarray, shape: tuple[int, ...]) -> None:
    if value.shape != shape:
        raise ModelFileError(f"{path}: {name} has shape {value.shape}, expected {shape}")
    if value.dtype.kind != "f":
        raise ModelFileError(f"{path}: {name} has dtype {value.dtype}, not floating point")
    if not np.isfinite(value).all():
        raise ModelFileError(f"{path}: {name} holds non-finite values")


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
    if version not in range(1, FORMAT_VERSION + 1) or isinstance(version, bool):
        raise ModelFileError(f"{path}: format version {version!r} is not supported "
                             f"(this mnistnp reads versions 1 to {FORMAT_VERSION})")
    return meta


def upgrade_v1(path: Path, spec: Any, arrays: dict[str, np.ndarray], info: dict[str, Any],
               input_shape: Sequence[int] | None = None
               ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A format-1 model spec and its arrays as format 2 has them.

    Format 1's first layer, Flatten, also scaled the pixels: it becomes Rescale then Flatten,
    and the arrays of the layers after it are renamed for their new index. Format 1 did not
    record the input shape: it is ``input_shape`` if given, else the image shape ``info``
    records (``mnistnp train`` wrote it from version 0.1), else 28x28 for 784 inputs, else
    rows of the first layer's inputs if the layers take rows.

    Parameters
    ----------
    path : Path
        The file, named in messages.
    spec : object
        The file's format-1 model spec (checked here).
    arrays : dict of str to ndarray
        The file's arrays by format-1 name.
    info : dict
        The file's recorded info (its ``image_shape``, if any).
    input_shape : sequence of int, optional
        The shape of one image, for a file that does not record it.

    Returns
    -------
    spec : dict
        The format-2 model spec.
    arrays : dict of str to ndarray
        The same arrays under their format-2 names.

    Raises
    ------
    ModelFileError
        If the input shape cannot be told, saying how to load the file and save it again.
    """
    layers: list[dict[str, Any]] = []
    index: dict[int, int] = {}  # a layer's index in format 1 -> in format 2
    try:
        for old, layer in enumerate(spec["layers"]):
            index[old] = len(layers)
            if layer.get("type") == "Flatten":  # format 1's Flatten scaled as well
                layers += [{"type": "Rescale", "scale": layer["scale"]}, {"type": "Flatten"}]
            else:
                layers.append(layer)
        inputs = next(layer["in"] for layer in layers if "in" in layer)
        new = {"dtype": spec["dtype"], "layers": layers}
    except (KeyError, TypeError, AttributeError, StopIteration) as e:
        raise ModelFileError(f"{path}: bad architecture in format-1 metadata ({e!r})") from None
    if not _whole_numbers([inputs]):
        raise ModelFileError(f"{path}: bad architecture in format-1 metadata (the first "
                             f"layer's inputs are {inputs!r})")
    renamed = {}
    for name, array in arrays.items():
        i, dot, rest = name.removeprefix("layers.").partition(".")
        old = int(i) if name.startswith("layers.") and dot and i.isdigit() else -1
        renamed[f"layers.{index[old]}.{rest}" if old in index else name] = array
    candidates: list[Any] = ([input_shape] if input_shape is not None else
                             [info.get("image_shape"), V1_SQUARE.get(inputs), (inputs,)])
    shapes = [tuple(s) for s in candidates if _whole_numbers(s)]
    for shape in shapes:
        if math.prod(shape) == inputs and _fits(new, shape):
            return {**new, "input_shape": list(shape)}, renamed
    if input_shape is not None:
        raise ModelFileError(f"{path}: input shape {tuple(input_shape)} does not fit the "
                             f"model, which takes {inputs} numbers")
    raise ModelFileError(
        f"{path}: a format-1 model file that does not record the shape of its images ({inputs} "
        f"pixels; its first layers need images); load it with mnistnp.load_model(path, "
        f"input_shape=(height, width)) and save it with mnistnp.save_model to write format "
        f"{FORMAT_VERSION}")


def upgrade_v2(spec: Any) -> Any:
    """A format-2 model spec as format 3 has it.

    The settings of Dense (``in``, ``out``), Conv2D (``in``, ``out``, ``kernel``) and BatchNorm
    (``features``) named by their constructor's arguments (``in_features``, ...). Anything else is
    left as it is, for loading to say what is wrong with it.
    """
    if not (isinstance(spec, dict) and isinstance(spec.get("layers"), list)):
        return spec
    layers = []
    for layer in spec["layers"]:
        renamed = V2_RENAMED.get(str(layer.get("type")), {}) if isinstance(layer, dict) else {}
        layers.append({renamed.get(key, key): value for key, value in layer.items()}
                      if renamed else layer)
    return {**spec, "layers": layers}


def _fits(spec: dict[str, Any], shape: tuple[int, ...]) -> bool:
    """Whether the layers of format-2 ``spec`` take samples of ``shape``; True if the layers
    cannot even be built (loading the model then says what is wrong with them)."""
    try:
        layers = [layer_from_spec(layer, spec["dtype"]) for layer in upgrade_v2(spec)["layers"]]
    except (KeyError, TypeError, ValueError):
        return True
    try:
        output_shapes(layers, shape)
    except ValueError:
        return False
    return True


def _whole_numbers(shape: Any) -> bool:
    return isinstance(shape, (list, tuple)) and bool(shape) and all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in shape)
