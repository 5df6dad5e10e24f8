"""What a saved model is (layers, totals, metrics, provenance), as JSON-ready data (``describe``)
and as text (``format_description``): what ``mnistnp info`` prints and a run report reads."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from . import datasets
from .errors import MnistnpWarning
from .model_info import ModelInfo
from .nn import Layer, Sequential
from .nn.base import Shape
from .nn.table import batch_shape, byte_size, table

# What the FLOP counts mean, in one phrase (``Layer.flops`` states the whole convention).
FLOPS_CONVENTION = "per sample in inference, a multiply-add counted as 2"


def layer_flops(layer: Layer, input_shape: Shape) -> int | None:
    """The FLOPs ``layer`` takes for one sample in inference (``Layer.flops``), if its kind counts.

    A kind gives no count when it does not override ``flops``, or only inherits the count of
    another kind it derives from (which need not be its own). A subclass that keeps its
    parent's kind (a variant) keeps its parent's count.

    Parameters
    ----------
    layer : Layer
        The layer.
    input_shape : tuple of int
        The shape of one sample going into it, without the batch axis.

    Returns
    -------
    int or None
        The count (a multiply-add counted as 2), or None when the kind gives none.
    """
    cls = type(layer)
    kind_owner = next(c for c in cls.__mro__ if "kind" in c.__dict__)
    counter = next(c for c in cls.__mro__ if "flops" in c.__dict__)
    if not issubclass(counter, kind_owner):
        return None
    try:
        return int(layer.flops(input_shape))
    except NotImplementedError:
        return None


def describe(model: Sequential, info: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``model`` and what its file records, as JSON-ready data.

    Parameters
    ----------
    model : Sequential
        The model, as ``load_model`` gives it.
    info : mapping, optional
        What the model file records beside the weights (a ``ModelInfo``); by default
        ``model.info``. Values of the wrong type (a hand-edited file) read as not recorded.

    Returns
    -------
    dict
        ``dtype`` (str), ``input_shape`` and ``output_shape`` (lists of int, one sample's,
        no batch axis);
        ``layers``: one dict per layer, in order: ``index``, ``name`` (its repr), ``kind``,
        ``config`` (its settings), ``input_shape``, ``output_shape``, ``parameters`` (int),
        ``parameter_shapes`` and ``state_shapes`` ({name: shape as a list}) and ``flops``
        (int, or None if its kind gives no count);
        ``totals``: ``parameters``, ``parameter_bytes``, ``state_values``, ``bytes``
        (parameters and state as a model file holds them) and ``flops`` (per sample in
        inference, the sum over the layers; None if any layer gives no count);
        ``flops_convention`` (str); ``metrics`` (as recorded: accuracies are fractions);
        ``provenance``: ``dataset`` (name), ``data_dir``, ``checksums`` ({file: SHA-256}
        that mnistnp checks a registered dataset's files against when it loads them, None
        for a folder of one's own), ``recipe``, ``seed``, ``image_shape``, ``settings`` (the
        training settings), ``mnistnp`` (the version that saved it) and ``saved`` (the date,
        ISO 8601), each None if not recorded;
        ``warnings``: lines saying what could not be counted.

    The layers' FLOPs are those of ``Layer.flops``; the softmax that turns the last layer's
    scores into probabilities is not a layer and is not counted.
    """
    record = ModelInfo(model.info if info is None else info)
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for i, (layer, shape_in, shape_out) in enumerate(
            zip(model.layers, [model.input_shape, *model.shapes], model.shapes)):
        flops = layer_flops(layer, shape_in)
        if flops is None:
            note = f"layer kind {layer.kind} gives no FLOP count"
            if note not in notes:
                notes.append(note)
                warnings.warn(f"{note}; the total FLOPs are unknown", MnistnpWarning,
                              stacklevel=2)
        rows.append({
            "index": i, "name": repr(layer), "kind": layer.kind, "config": layer.config(),
            "input_shape": list(shape_in), "output_shape": list(shape_out),
            "parameters": layer.num_params,
            "parameter_shapes": _shapes(layer.param_names, layer.param_shapes),
            "state_shapes": _shapes(layer.state_names, layer.state_shapes),
            "flops": flops})
    state = sum(math.prod(s) for layer in model.layers for s in layer.state_shapes)
    counts: list[int | None] = [row["flops"] for row in rows]
    totals = {"parameters": model.num_params, "parameter_bytes": int(model.params.nbytes),
              "state_values": state,
              "bytes": (model.num_params + state) * model.dtype.itemsize,
              "flops": None if None in counts else sum(c or 0 for c in counts)}
    return {"dtype": model.dtype.name, "input_shape": list(model.input_shape),
            "output_shape": list(model.output_shape), "layers": rows, "totals": totals,
            "flops_convention": FLOPS_CONVENTION, "metrics": dict(record.metrics),
            "provenance": provenance(record), "warnings": notes}


def provenance(info: ModelInfo) -> dict[str, Any]:
    """Where a model came from, as its file records it.

    Parameters
    ----------
    info : ModelInfo
        What the model file records beside the weights.

    Returns
    -------
    dict
        ``describe``'s ``provenance``: ``dataset``, ``data_dir``, ``checksums``, ``recipe``,
        ``seed``, ``image_shape``, ``settings``, ``mnistnp`` and ``saved``, each None if not
        recorded.
    """
    name = info.dataset
    known = datasets.REGISTRY.get(name) if name is not None else None
    checksums = None
    if known is not None:  # the raw files' sums, else those of the .gz files (KMNIST)
        checksums = (dict(known.sha256) if known.sha256 else
                     {f"{stem}.gz": sha for stem, sha in known.gz_sha256.items()}) or None
    image_shape = info.image_shape
    return {"dataset": name, "data_dir": info.data_dir, "checksums": checksums,
            "recipe": info.recipe, "seed": info.seed,
            "image_shape": None if image_shape is None else list(image_shape),
            "settings": dict(info.config) or None, "mnistnp": _text(info.get("mnistnp")),
            "saved": _text(info.get("saved"))}


def format_description(d: Mapping[str, Any]) -> str:
    """``describe`` data as text, one item a line.

    Parameters
    ----------
    d : mapping
        What ``describe`` returns (or its JSON read back).

    Returns
    -------
    str
        The layer table (``Sequential.summary``'s, with a FLOPs column), the totals, the
        metrics (accuracies as percentages) and the provenance, without a final newline.
    """
    rows = [("input", batch_shape(d["input_shape"]), "0", "0")] + [
        (row["name"], batch_shape(row["output_shape"]), f"{row['parameters']:,}",
         "?" if row["flops"] is None else f"{row['flops']:,}") for row in d["layers"]]
    totals = d["totals"]
    state = f", {totals['state_values']:,} state values" if totals["state_values"] else ""
    flops = ("unknown (" + "; ".join(d["warnings"]) + ")" if totals["flops"] is None
             else f"{totals['flops']:,}")
    lines = [f"Sequential model, {d['dtype']}",
             *table(("layer", "output shape", "parameters", "FLOPs"), rows),
             f"total: {totals['parameters']:,} parameters "
             f"({byte_size(totals['parameter_bytes'])}){state}",
             f"FLOPs ({d['flops_convention']}): {flops}"]
    metrics = [(key, _metric(key, value)) for key, value in d["metrics"].items()
               if value is not None]
    lines += ["metrics:" if metrics else "metrics: none recorded",
              *(f"  {key}: {value}" for key, value in metrics)]
    lines += ["provenance:", *_provenance_lines(d["provenance"])]
    return "\n".join(lines)


def _provenance_lines(p: Mapping[str, Any]) -> list[str]:
    unknown = "not recorded"
    where = [p["dataset"]] if p["dataset"] else []
    where += [f"the files in {p['data_dir']}"] if p["data_dir"] else []
    dataset = ", ".join(where) or unknown
    lines = [f"  dataset: {dataset}"]
    if p["checksums"]:
        lines.append(f"  SHA-256 of its files (as mnistnp checks {p['dataset']}'s on loading):")
        width = max(map(len, p["checksums"]))
        lines += [f"    {name:<{width}}  {sha}" for name, sha in p["checksums"].items()]
    elif p["dataset"] or p["data_dir"]:
        lines.append("  SHA-256 of its files: not recorded (not a registered dataset, whose "
                     "files mnistnp checks)")
    for key in ("recipe", "seed"):
        lines.append(f"  {key}: {unknown if p[key] is None else p[key]}")
    settings = p["settings"] or {}
    lines.append("  settings:" if settings else f"  settings: {unknown}")
    lines += [f"    {key}: {_setting(value)}" for key, value in settings.items()
              if value is not None]
    lines.append(f"  mnistnp version: {p['mnistnp'] or unknown}")
    lines.append(f"  saved: {p['saved'] or unknown}")
    return lines


def _shapes(names: Sequence[str], shapes: Sequence[Shape]) -> dict[str, list[int]]:
    return {name: list(shape) for name, shape in zip(names, shapes, strict=True)}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _metric(key: str, value: Any) -> str:
    """'97.92%' for an accuracy (a fraction), '5.4 s' for a time, '8,600' for a count."""
    if _number(value) and key.endswith("accuracy"):
        return f"{100 * value:.2f}%"
    if _number(value) and key.endswith("seconds"):
        return f"{value:,.1f} s"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _setting(value: Any) -> str:
    """A setting on one line: a group of settings (the optimizer's) as 'name=value, ...'."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_setting(v)}" for k, v in value.items() if v is not None)
    if isinstance(value, bool):  # as the settings' JSON spells it
        return "true" if value else "false"
    return str(value)
