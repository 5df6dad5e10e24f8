"""Layers register themselves: every kind rebuilds from its spec through ``LAYERS``, each name of
the layer string comes from its class, and a layer kind mnistnp does not have drops in (model
file, layer string, training, checkpoints) without a change anywhere else."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from toy_layers import impostor, toy_layers

from mnistnp import ModelConfig, TrainConfig, load_model, save_model
from mnistnp.checkpoint import load_checkpoint
from mnistnp.nn import (
    LAYERS,
    SHORTHANDS,
    AddChannel,
    Dense,
    Dropout,
    Flatten,
    Layer,
    RandomShift,
    ReLU,
    Rescale,
    layer_from_spec,
    network,
    parse_layers,
)
from mnistnp.nn.augment import RandomAffine, RandomStroke
from mnistnp.nn.conv import Conv2D
from mnistnp.nn.norm import BatchNorm
from mnistnp.nn.pool import GlobalAvgPool, MaxPool2D
from mnistnp.nn.shorthand import Shorthand
from mnistnp.pipeline import train
from mnistnp.training import Interrupted

# One instance of every kind mnistnp has, with settings away from the defaults.
EXAMPLES = [Rescale(0.5, "float64"), Flatten(), Dense(7, 3, init="glorot"), ReLU(),
            Dropout(0.3), RandomShift(2), Conv2D(2, 3, (3, 2), 2, "same", "glorot"),
            MaxPool2D(3, 2), BatchNorm(4, 0.2, 1e-3, "float64"), GlobalAvgPool(),
            RandomAffine(10, (0.9, 1.1), 2), RandomStroke(1.0, 0.5), AddChannel()]


def test_every_kind_has_an_example_here() -> None:
    """A new kind must be added to EXAMPLES, so the round trip below covers it."""
    assert {type(layer).kind for layer in EXAMPLES} == set(LAYERS)


@pytest.mark.parametrize("layer", EXAMPLES, ids=lambda layer: layer.kind)
def test_each_kind_rebuilds_from_its_spec_through_the_registry(layer: Layer) -> None:
    spec = json.loads(json.dumps(layer.spec()))  # JSON-ready
    assert LAYERS[spec["type"]] is type(layer)
    rebuilt = layer_from_spec(spec, "float64")
    assert type(rebuilt) is type(layer) and rebuilt.spec() == layer.spec()
    assert rebuilt.param_shapes == layer.param_shapes


def test_each_layer_string_name_belongs_to_a_registered_kind() -> None:
    for name, (cls, shorthand) in SHORTHANDS.items():
        assert LAYERS[cls.kind] is cls and name in cls.shorthands
        assert shorthand.usage(name).startswith(name)
    assert {"dense", "linear", "relu", "dropout", "shift", "flatten"} <= set(SHORTHANDS)


@pytest.mark.parametrize("spec", [{"type": "Conv9000"}, {"type": "Flatten", "scale": 0.5},
                                  {"type": "ReLU", "slope": 0.1}, {"no": "type"}, ["Dense"]],
                         ids=["unknown", "v1-flatten", "extra-setting", "no-type", "a-list"])
def test_a_spec_the_registry_cannot_rebuild_is_an_error(spec: object) -> None:
    with pytest.raises((KeyError, TypeError, ValueError)):
        layer_from_spec(spec)  # type: ignore[arg-type]


def test_another_class_cannot_take_a_kind_or_a_name() -> None:
    with pytest.raises(TypeError, match=r"'Dense'.*taken by mnistnp\.nn\.layers\.Dense"):
        type("Impostor", (Layer,), {"kind": "Dense"})
    with pytest.raises(TypeError, match=r"'relu'.*taken by mnistnp\.nn\.layers\.ReLU"):
        type("Impostor2", (Layer,), {"kind": "Impostor2", "shorthands": {"relu": Shorthand()}})
    assert LAYERS["Dense"] is Dense and SHORTHANDS["relu"][0] is ReLU
    assert "Impostor2" not in LAYERS  # nothing of a refused class is registered


@contextlib.contextmanager
def registries_kept() -> Iterator[None]:
    """Put LAYERS and SHORTHANDS back as they were, whatever a test managed to register."""
    layers, shorthands = dict(LAYERS), dict(SHORTHANDS)
    try:
        yield
    finally:
        LAYERS.clear()
        LAYERS.update(layers)
        SHORTHANDS.clear()
        SHORTHANDS.update(shorthands)


@pytest.mark.parametrize(("name", "kind", "shorthands", "owner"), [
    ("Dense", "Dense", {}, Dense),
    ("ReLU", "ReLU", {}, ReLU),
    ("ReLU", "ToyReLU", {"relu": Shorthand()}, ReLU),  # a new kind, but mnistnp's word for it
    ("Dense", "ToyDense", {"dense": Shorthand()}, Dense),
], ids=["Dense-kind", "ReLU-kind", "relu-name", "dense-name"])
def test_a_class_of_the_same_name_from_another_module_cannot_take_a_kind_or_a_name(
        name: str, kind: str, shorthands: dict[str, Shorthand], owner: type[Layer]) -> None:
    """A kind or a name is owned by one class, known by its module and qualified name: a class
    ``toy_layers.Dense`` is not ``mnistnp.nn.layers.Dense`` reloaded."""
    assert owner.__qualname__ == name and owner.__module__ != "toy_layers"
    taken_by = re.escape(f"taken by {owner.__module__}.{owner.__qualname__}")
    with registries_kept():
        with pytest.raises(TypeError, match=taken_by):
            impostor(name, kind, shorthands)
        assert LAYERS[owner.kind] is owner
        assert all(SHORTHANDS[word][0] is owner for word in owner.shorthands)
        assert kind == owner.kind or kind not in LAYERS  # nothing of it is registered


def test_a_subclass_without_its_own_kind_is_a_variant_not_a_kind() -> None:
    class SpyDense(Dense):
        pass

    assert LAYERS["Dense"] is Dense
    assert type(layer_from_spec(SpyDense(3, 2).spec())) is Dense


def test_each_nn_module_imports_on_its_own() -> None:
    """No import cycle between the layer files (augment used to import layers, and layers
    augment, inside a function)."""
    for module in ("base", "graph", "random_layer", "spec", "table", "layers", "augment", "model",
                   "arch"):
        done = subprocess.run([sys.executable, "-c", f"import mnistnp.nn.{module}"],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_a_new_kind_goes_into_a_model_file_with_its_params_and_state(tmp_path: Path) -> None:
    with toy_layers():
        model = network("dense:6,toynorm", (4, 4), 3, "float64", np.random.default_rng(0))
        norm = model.layers[4]
        assert norm.kind == "ToyNorm"
        norm.running_mean[...] = np.arange(6.0)  # state that is not the initial one
        model.params += 0.1
        save_model(tmp_path / "m.npz", model)
        with np.load(tmp_path / "m.npz") as npz:
            names = set(npz.files)
        # Named by the layer, indexed by the model: no special case in the file's code.
        assert {"layers.4.gain", "layers.4.bias", "layers.4.running_mean"} <= names
        back = load_model(tmp_path / "m.npz")
        assert back.spec() == model.spec()
        np.testing.assert_array_equal(back.params, model.params)
        np.testing.assert_array_equal(back.layers[4].running_mean, np.arange(6.0))
        x = np.random.default_rng(1).integers(0, 256, (5, 4, 4), dtype=np.uint8)
        np.testing.assert_array_equal(back.predict_proba(x), model.predict_proba(x))


def test_the_output_layer_need_not_be_dense() -> None:
    with toy_layers() as toys:
        model = network("dense:6", (4, 4), 3)
        project = toys["ToyProject"](3, 5)
        from mnistnp import Sequential

        longer = Sequential([*model.layers, project], (4, 4))
        # Sizes come from shapes, not from a search for Dense layers.
        assert longer.num_classes == 5 and longer.input_size == 16


def test_a_new_kind_trains_and_resumes_bit_identically_with_its_state(tmp_path: Path) -> None:
    """A run of a network with state is interrupted and resumed; the resumed run ends exactly
    as the uninterrupted one, state included, so checkpoints carry the state as well."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (120, 4, 4), dtype=np.uint8)
    y = (x.reshape(120, -1).mean(axis=1) > 127).astype(np.int64)
    data = ((x, y), (x[:20], y[:20]))
    with toy_layers():
        config = TrainConfig(model=ModelConfig("dense:8,toynorm,dropout:0.1"), epochs=3,
                             batch_size=16, val_split=0, dataset="toy",
                             optimizer={"name": "adam", "lr": 0.01})
        whole = train(config, data, progress=False)
        calls = iter(range(1000))
        ckpt = tmp_path / "ckpt.npz"
        with pytest.raises(Interrupted):
            train(config, data, progress=False, checkpoint_path=str(ckpt),
                  should_stop=lambda: next(calls) == 10)
        saved = load_checkpoint(ckpt)
        assert set(saved.layer_state) == {"layers.4.running_mean"}
        assert saved.model == whole.model.spec()
        resumed = train(config, data, progress=False, resume=saved)
        np.testing.assert_array_equal(resumed.model.params, whole.model.params)
        np.testing.assert_array_equal(resumed.model.layers[4].running_mean,
                                      whole.model.layers[4].running_mean)
        assert np.any(whole.model.layers[4].running_mean != 0)


def test_a_new_kind_takes_its_place_in_the_layer_string() -> None:
    with toy_layers():
        items = parse_layers("dense:6,toyproject:4")
        assert [item.name for item in items] == ["dense", "toyproject"]
    with pytest.raises(ValueError, match="unknown layer 'toyproject'"):
        parse_layers("dense:6,toyproject:4")  # gone again with its class


def test_mnistnp_nn_exports_every_kind_and_the_pieces_of_a_model() -> None:
    """As torch.nn: every layer class, the base classes, the models and the loss, by name."""
    import mnistnp.nn as nn
    from mnistnp.nn import BatchNorm, Conv2D, Dense, Layer, Sequential, network  # noqa: F401

    assert all(hasattr(nn, name) for name in nn.__all__)
    assert {cls.__name__ for cls in LAYERS.values()} <= set(nn.__all__)
    assert {"Layer", "RandomLayer", "Sequential", "mlp", "network", "softmax_cross_entropy",
            "INITIALIZERS"} <= set(nn.__all__)
