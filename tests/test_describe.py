"""``describe``: a model read through its layers' own descriptions, the totals, the metrics and
the provenance its file records; ``format_description``, the same as text; and a layer kind
that gives no FLOP count, shown as unknown by name, never as 0."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from toy_layers import toy_layers

from mnistnp import datasets, mlp, save_model
from mnistnp.describe import describe, format_description, layer_flops
from mnistnp.errors import MnistnpWarning
from mnistnp.model_file import load_model
from mnistnp.model_info import ModelInfo
from mnistnp.nn import LAYERS, BatchNorm, Dense, Layer, ReLU, Sequential, network

INFO = {"seed": 7, "dataset": "mnist", "recipe": "default", "image_shape": [28, 28],
        "config": {"model": {"layers": "dense:4"}, "epochs": 3, "dataset": "mnist",
                   "optimizer": {"name": "sgd", "lr": 0.1, "nesterov": True},
                   "iterations": None},
        "metrics": {"test_accuracy": 0.9123, "train_seconds": 2.5, "iterations": 1200,
                    "best_epoch": None},
        "mnistnp": "0.1.0", "saved": "2026-12-06T01:02:03"}


def cnn(dtype: str = "float32") -> Sequential:
    return network("conv:3:3:2,bn,maxpool:2,dense:5", (12, 12), 10, dtype,
                   np.random.default_rng(0))


def test_the_layers_are_read_through_their_own_description() -> None:
    model = cnn()
    d = describe(model)
    assert [row["index"] for row in d["layers"]] == list(range(len(model.layers)))
    assert [row["name"] for row in d["layers"]] == [repr(layer) for layer in model.layers]
    assert [row["kind"] for row in d["layers"]] == [layer.kind for layer in model.layers]
    assert [tuple(row["output_shape"]) for row in d["layers"]] == model.shapes
    assert [tuple(row["input_shape"]) for row in d["layers"]] == [model.input_shape,
                                                                  *model.shapes[:-1]]
    conv = d["layers"][model.layers.index(next(
        layer for layer in model.layers if layer.kind == "Conv2D"))]
    assert conv["parameter_shapes"] == {"W": [3, 1, 3, 3], "b": [3]}
    assert conv["config"]["stride"] == [2, 2]
    norm = next(row for row in d["layers"] if row["kind"] == "BatchNorm")
    assert norm["state_shapes"] == {"running_mean": [3], "running_var": [3]}
    assert d["input_shape"] == [12, 12] and d["output_shape"] == [10]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_totals_add_up_the_layers(dtype: str) -> None:
    model = cnn(dtype)
    d = describe(model)
    totals = d["totals"]
    assert totals["parameters"] == model.num_params == sum(r["parameters"] for r in d["layers"])
    state = sum(math.prod(s) for layer in model.layers for s in layer.state_shapes)
    assert state == 6 and totals["state_values"] == state
    size = np.dtype(dtype).itemsize
    assert totals["parameter_bytes"] == model.num_params * size
    assert totals["bytes"] == (model.num_params + state) * size
    assert totals["flops"] == sum(r["flops"] for r in d["layers"])
    assert totals["flops"] == sum(layer.flops(shape) for layer, shape
                                  in zip(model.layers, [model.input_shape, *model.shapes]))


def test_an_mlp_counts_as_worked_out_by_hand() -> None:
    model = mlp([784, 50, 10], np.random.default_rng(0))
    # Rescale 784 multiplications, Dense 2*784*50 + 50, ReLU 50, Dense 2*50*10 + 10
    assert describe(model)["totals"]["flops"] == 784 + 78_450 + 50 + 1_010


def test_metrics_and_provenance_are_what_the_file_records(tmp_path: Path) -> None:
    model = mlp([784, 4, 10], np.random.default_rng(0))
    save_model(tmp_path / "m.npz", model, INFO)
    d = describe(load_model(tmp_path / "m.npz"))
    assert d["metrics"] == INFO["metrics"]
    p = d["provenance"]
    assert p["dataset"] == "mnist" and p["seed"] == 7 and p["recipe"] == "default"
    assert p["settings"]["epochs"] == 3 and p["image_shape"] == [28, 28]
    assert p["mnistnp"] == "0.1.0" and p["saved"] == "2026-12-06T01:02:03"
    assert p["checksums"] == datasets.REGISTRY["mnist"].sha256
    assert json.loads(json.dumps(d)) == d  # JSON-ready as it is


def test_info_given_apart_from_the_model_is_used() -> None:
    model = mlp([784, 4, 10], np.random.default_rng(0))
    assert describe(model)["provenance"]["seed"] is None
    assert describe(model, ModelInfo({"seed": 3}))["provenance"]["seed"] == 3


def test_kmnist_gives_the_checksums_of_its_gz_files() -> None:
    model = mlp([784, 4, 10], np.random.default_rng(0))
    sums = describe(model, {"dataset": "kmnist"})["provenance"]["checksums"]
    assert sums == {f"{stem}.gz": sha for stem, sha
                    in datasets.REGISTRY["kmnist"].gz_sha256.items()}


def test_a_folder_of_ones_own_has_no_checksums() -> None:
    model = mlp([784, 4, 10], np.random.default_rng(0))
    d = describe(model, {"dataset": "digits", "config": {"data_dir": "/data/digits"}})
    assert d["provenance"]["checksums"] is None
    assert d["provenance"]["data_dir"] == "/data/digits"
    text = format_description(d)
    assert "dataset: digits, the files in /data/digits" in text
    assert "SHA-256 of its files: not recorded" in text


def test_values_of_the_wrong_type_read_as_not_recorded() -> None:
    model = mlp([784, 4, 10], np.random.default_rng(0))
    hostile = {"seed": "0", "dataset": ["mnist"], "recipe": 3, "metrics": "99%",
               "config": [1, 2], "mnistnp": {"v": 1}, "saved": 5, "image_shape": ["a"]}
    d = describe(model, hostile)
    assert d["metrics"] == {}
    assert set(d["provenance"].values()) == {None}
    text = format_description(d)
    assert "metrics: none recorded" in text and "seed: not recorded" in text


def test_the_text_is_the_summary_table_with_a_flops_column() -> None:
    model = cnn()
    d = describe(model)
    text = format_description(d).splitlines()
    summary = model.summary().splitlines()
    assert text[0] == summary[0]  # "Sequential model, float32"
    assert text[1].split() == [*summary[1].split(), "FLOPs"]
    for line, row in zip(text[4:], d["layers"]):  # after the head, the rule and the input
        assert line.startswith(row["name"])
        assert line.split()[-2:] == [f"{row['parameters']:,}", f"{row['flops']:,}"]
    assert f"total: {model.num_params:,} parameters" in format_description(d)
    assert f": {d['totals']['flops']:,}" in format_description(d)


def test_the_text_shows_metrics_and_settings_readably() -> None:
    model = mlp([784, 4, 10], np.random.default_rng(0))
    text = format_description(describe(model, INFO))
    assert "  test_accuracy: 91.23%" in text
    assert "  train_seconds: 2.5 s" in text
    assert "  iterations: 1,200" in text
    assert "best_epoch" not in text  # not recorded: left out
    assert "    optimizer: name=sgd, lr=0.1, nesterov=true" in text
    assert datasets.REGISTRY["mnist"].sha256[datasets.TRAIN_IMAGES] in text


# --- a layer kind without its count -----------------------------------------------------------

def test_a_new_kind_without_a_count_is_named_never_counted_as_0() -> None:
    with toy_layers() as toys:
        model = Sequential([Dense(4, 3), toys["ToyNorm"](3), ReLU(), Dense(3, 2)], (4,))
        with pytest.warns(MnistnpWarning, match="layer kind ToyNorm gives no FLOP count"):
            d = describe(model)
    assert [row["flops"] for row in d["layers"]] == [2 * 4 * 3 + 3, None, 3, 2 * 3 * 2 + 2]
    assert d["totals"]["flops"] is None
    assert d["warnings"] == ["layer kind ToyNorm gives no FLOP count"]
    text = format_description(d)
    assert "unknown (layer kind ToyNorm gives no FLOP count)" in text
    toy_line = next(line for line in text.splitlines() if line.startswith("ToyNorm"))
    assert toy_line.split()[-1] == "?"


def test_a_new_kind_does_not_inherit_the_count_of_the_kind_it_derives_from() -> None:
    class Leaky(ReLU):
        kind: ClassVar[str] = "Leaky"

    class CountingReLU(ReLU):  # a variant of ReLU (no kind of its own): ReLU's count
        pass

    try:
        assert layer_flops(Leaky(), (5,)) is None
        assert layer_flops(CountingReLU(), (5,)) == 5
        assert layer_flops(ReLU(), (5,)) == 5
    finally:
        LAYERS.pop("Leaky", None)


def test_a_layer_whose_flops_raise_not_implemented_gives_no_count() -> None:
    class Unnamed(Layer):  # no kind of its own: the base's flops, which gives none
        pass

    class Sometimes(ReLU):
        kind: ClassVar[str] = "Sometimes"

        def flops(self, input_shape: Any) -> int:
            if len(input_shape) > 1:
                raise NotImplementedError("counted for rows only")
            return math.prod(input_shape)

    try:
        assert layer_flops(Unnamed(), (3,)) is None
        assert layer_flops(Sometimes(), (3,)) == 3
        assert layer_flops(Sometimes(), (3, 3)) is None
    finally:
        LAYERS.pop("Sometimes", None)


def test_a_new_kind_with_its_count_is_totalled() -> None:
    class Doubler(ReLU):
        kind: ClassVar[str] = "Doubler"

        def flops(self, input_shape: Any) -> int:
            return 2 * math.prod(input_shape)

    try:
        model = Sequential([Dense(4, 3), Doubler(), BatchNorm(3), Dense(3, 2)], (4,))
        d = describe(model)
    finally:
        LAYERS.pop("Doubler", None)
    assert d["warnings"] == []
    assert d["totals"]["flops"] == (2 * 4 * 3 + 3) + 6 + 6 + (2 * 3 * 2 + 2)
