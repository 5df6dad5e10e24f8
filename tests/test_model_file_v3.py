"""Model file format 3: a layer's spec is its kind and its constructor's arguments by name.
Model files and checkpoints written in format 2 (tests/data/v2_*, see its README) load with
today's code, upgraded, and give the answers the code that wrote them gave (up to the order
of floating-point sums)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from old_files import DATA, assert_same_arithmetic, tiny_data

from mnistnp import load_model
from mnistnp.checkpoint import load_checkpoint, save_checkpoint
from mnistnp.model_file import V2_RENAMED, upgrade_v2
from mnistnp.nn import BatchNorm, Conv2D, Dense, Flatten, layer_from_spec
from mnistnp.pipeline import train

EXPECTED = dict(np.load(DATA / "v2_expected.npz"))


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_a_format_2_model_file_predicts_as_it_did(name: str) -> None:
    model = load_model(DATA / f"v2_{name}.npz")
    _, (x_test, _) = tiny_data()
    assert_same_arithmetic(model.predict_proba(x_test), EXPECTED[f"{name}_proba"])


def test_a_version_2_checkpoint_resumes_to_the_same_weights(tmp_path: Path) -> None:
    shutil.copy(DATA / "v2_cnn_checkpoint.npz", tmp_path / "old.npz")
    ckpt = load_checkpoint(tmp_path / "old.npz")
    assert ckpt.layer_rngs and ckpt.layer_state  # the affine layer's stream, the batch norm's
    result = train(ckpt.config, tiny_data(), progress=False, resume=ckpt)
    state = np.concatenate([v.ravel() for layer in result.model.layers
                            for v in layer.state().values()])
    for actual, expected in ((result.model.params, EXPECTED["cnn_checkpoint_resumed_params"]),
                             (state, EXPECTED["cnn_checkpoint_resumed_state"])):
        # Adam moves a weight by up to its rate each step whatever the gradient's size, so
        # where a gradient is near zero, another CPU's order of sums (which moves its last
        # bits) can move that weight by a fraction of the rate: seen up to 3e-4 (rate 2e-3)
        # on one weight of 6,418 after 2 epochs. The whole vector stays within 1e-3 of its
        # norm; a change to the maths (a scale, a layer, an order of operations) moves it more.
        assert actual.dtype == expected.dtype and actual.shape == expected.shape
        assert np.linalg.norm(actual - expected) <= 1e-3 * np.linalg.norm(expected)
        np.testing.assert_allclose(actual, expected, rtol=1e-3, atol=ckpt.config.value("lr") / 4)


def test_a_layer_spec_is_its_kind_and_its_constructors_arguments() -> None:
    conv = Conv2D(2, 3, (3, 2), 2, "same", "glorot")
    assert conv.spec() == {"type": "Conv2D", "in_channels": 2, "out_channels": 3,
                           "kernel_size": [3, 2], "stride": [2, 2], "padding": "same",
                           "init": "glorot"}
    assert Dense(7, 3).config() == {"in_features": 7, "out_features": 3, "init": "he"}
    assert BatchNorm(4, 0.2).config() == {"num_features": 4, "momentum": 0.2, "eps": 1e-5}
    assert Flatten().spec() == {"type": "Flatten"}
    rebuilt = layer_from_spec({"type": "BatchNorm", "num_features": 4}, "float64")
    assert isinstance(rebuilt, BatchNorm) and rebuilt.dtype == np.float64  # the model's dtype
    assert rebuilt.config() == {"num_features": 4, "momentum": 0.1, "eps": 1e-5}  # defaults


@pytest.mark.parametrize(("spec", "words"), [
    ({"type": "Dense", "in": 3, "out_features": 4}, ["Dense has no setting 'in'",
                                                     "in_features, out_features, init"]),
    ({"type": "Dense", "in_features": 3}, ["Dense needs the setting 'out_features'"]),
    ({"type": "ReLU", "slope": 0.1}, ["ReLU has no setting 'slope'", "it takes none"]),
    ({"type": "BatchNorm", "num_features": 3, "dtype": "float64"}, ["no setting 'dtype'"]),
])
def test_a_bad_setting_is_named_with_the_layer_kind(spec: dict, words: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        layer_from_spec(spec)
    assert all(word in str(info.value) for word in words)


def test_the_upgrade_names_format_2_settings_by_the_constructors_arguments() -> None:
    with np.load(DATA / "v2_cnn.npz") as npz:
        old = json.loads(npz["meta.json"].tobytes())
    assert old["format_version"] == 2
    new = upgrade_v2(old["model"])
    assert [sorted(layer) for layer in new["layers"] if layer["type"] in V2_RENAMED] == [
        ["in_channels", "init", "kernel_size", "out_channels", "padding", "stride", "type"],
        ["eps", "momentum", "num_features", "type"],
        ["in_features", "init", "out_features", "type"],
        ["in_features", "init", "out_features", "type"]]
    assert new["layers"][0] == old["model"]["layers"][0]  # RandomAffine: named as before
    assert [layer.spec() for layer in load_model(DATA / "v2_cnn.npz").layers] == new["layers"]


def test_a_resumed_version_2_checkpoint_is_saved_as_version_3(tmp_path: Path) -> None:
    ckpt = load_checkpoint(DATA / "v2_cnn_checkpoint.npz")
    save_checkpoint(tmp_path / "new.npz", ckpt)
    again = load_checkpoint(tmp_path / "new.npz")
    assert again.model == ckpt.model and again.model is not None
    assert again.model["layers"][3]["type"] == "Conv2D"
    assert "in_channels" in again.model["layers"][3]
    with np.load(tmp_path / "new.npz") as npz:
        assert json.loads(npz["checkpoint.json"].tobytes())["version"] == 3
