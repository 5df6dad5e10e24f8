"""Model file format 2 (input shape recorded, names from the layers), and the files and
checkpoints the code before it wrote (tests/data, see its README): they load, upgraded, and
give the answers the old code gave (up to the order of floating-point sums, which the CPU and
its BLAS decide), or are refused saying how to re-save them. The
recipes build the same networks, with the same weights, as before."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import write_idx_dir
from old_files import DATA, assert_same_arithmetic, tiny_data

from mnistnp import TrainConfig, load_model, save_model
from mnistnp.checkpoint import load_checkpoint
from mnistnp.cli import main
from mnistnp.config import RECIPES
from mnistnp.errors import ModelFileError
from mnistnp.model_file import upgrade_v1, upgrade_v2
from mnistnp.pipeline import build_model, train

EXPECTED = dict(np.load(DATA / "v1_expected.npz"))


def meta(path: Path) -> dict:
    with np.load(path) as npz:
        return json.loads(npz["meta.json"].tobytes())


# --- format 2 --------------------------------------------------------------------------------


def test_format_2_records_the_input_shape_and_names_from_the_layers(tmp_path: Path) -> None:
    model = build_model(TrainConfig(), (28, 28), 10, np.random.default_rng(0))
    save_model(tmp_path / "m.npz", model)
    written = meta(tmp_path / "m.npz")
    assert written["format_version"] == 3
    assert written["model"]["input_shape"] == [28, 28]
    assert [layer["type"] for layer in written["model"]["layers"][:3]] == \
        ["Rescale", "Flatten", "Dense"]
    with np.load(tmp_path / "m.npz") as npz:
        names = sorted(n for n in npz.files if n != "meta.json")
    assert names == sorted(f"layers.{i}.{p}" for i in (2, 4, 6, 8) for p in ("W", "b"))
    assert load_model(tmp_path / "m.npz").input_shape == (28, 28)


def test_a_file_whose_layers_do_not_fit_its_input_shape_is_refused(tmp_path: Path) -> None:
    model = build_model(TrainConfig(), (28, 28), 10, np.random.default_rng(0))
    save_model(tmp_path / "m.npz", model)
    arrays = dict(np.load(tmp_path / "m.npz"))
    spec = meta(tmp_path / "m.npz")
    spec["model"]["input_shape"] = [27, 28]
    arrays["meta.json"] = np.frombuffer(json.dumps(spec).encode(), np.uint8)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"bad.npz: .*layer 2 \(Dense\): expects 784 "
                                             r"inputs, gets 756"):
        load_model(tmp_path / "bad.npz")


# --- format 1, as the old code wrote it --------------------------------------------------------


def test_a_v1_file_from_mnistnp_train_loads_and_predicts_as_before() -> None:
    assert meta(DATA / "v1_train_cli.npz")["format_version"] == 1
    model = load_model(DATA / "v1_train_cli.npz")
    assert model.input_shape == (28, 28)  # from the image shape its info records
    assert [layer.kind for layer in model.layers] == [
        "RandomShift", "Rescale", "Flatten", "Dense", "ReLU", "Dropout", "Dense"]
    assert model.info["dataset"] == "tiny" and model.info["config"]["hidden"] == [8]
    # The same arithmetic in the same order: bit-identical probabilities.
    assert_same_arithmetic(model.predict_proba(tiny_data()[1][0]), EXPECTED["train_cli_proba"])


def test_a_v1_file_without_its_image_shape_of_784_inputs_takes_28x28_images() -> None:
    model = load_model(DATA / "v1_784_no_info.npz")
    assert model.input_shape == (28, 28) and model.dtype == np.float64
    assert_same_arithmetic(model.predict_proba(tiny_data()[1][0]), EXPECTED["784_no_info_proba"])


def test_a_v1_file_whose_image_shape_cannot_be_told_is_refused_saying_how_to_resave(
        tmp_path: Path) -> None:
    path = DATA / "v1_shift_36_no_info.npz"
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert str(path) in message and "36 pixels" in message
    assert "input_shape=(height, width)" in message and "save_model" in message
    # Doing as it says: loaded with the shape, and saved again in the current format.
    model = load_model(path, input_shape=(6, 6))
    x = EXPECTED["shift_36_images"]
    assert_same_arithmetic(model.predict_proba(x), EXPECTED["shift_36_proba"])
    save_model(tmp_path / "v2.npz", model, model.info)
    again = load_model(tmp_path / "v2.npz")
    assert again.input_shape == (6, 6) and meta(tmp_path / "v2.npz")["format_version"] == 3
    with pytest.raises(ModelFileError, match=r"input shape \(5, 7\) does not fit"):
        load_model(path, input_shape=(5, 7))


def test_the_cli_refuses_such_a_file_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--model", str(DATA / "v1_shift_36_no_info.npz"),
                 "--dataset", "mnist"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mnistnp: error: ") and "--" not in err


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_the_cli_refuses_a_file_of_a_newer_format_in_one_line(
        command: str, trained_model: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A file a later mnistnp wrote (the next format version) is refused by name, not read as
    if it were the format this one writes."""
    from PIL import Image

    image = tmp_path / "digit.png"
    Image.fromarray(tiny_data()[1][0][0]).save(image)
    where = ["--data-dir", str(write_idx_dir(tmp_path / "tiny"))] if command == "evaluate" \
        else [str(image)]
    assert main([command, "--model", str(trained_model), *where]) == 0  # the file as written
    with np.load(trained_model, allow_pickle=False) as f:
        arrays = {name: f[name] for name in f.files}
    meta = json.loads(arrays["meta.json"].tobytes())
    newer = meta["format_version"] + 1
    meta["format_version"] = newer
    arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path = tmp_path / "newer.npz"
    np.savez(path, **arrays)
    capsys.readouterr()
    assert main([command, "--model", str(path), *where]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith(f"mnistnp: error: {path}: ")
    assert f"version {newer}" in err


def test_evaluate_and_predict_work_on_a_v1_file(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    data = write_idx_dir(tmp_path / "tiny")
    model = DATA / "v1_train_cli.npz"
    assert main(["evaluate", "--model", str(model), "--data-dir", str(data)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    labels = tiny_data()[1][1]
    expected = 100 * np.mean(EXPECTED["train_cli_proba"].argmax(1) == labels)
    assert first == f"accuracy: {expected:.2f}%"
    from PIL import Image

    image = tmp_path / "digit.png"
    Image.fromarray(tiny_data()[1][0][0]).save(image)
    assert main(["predict", "--model", str(model), str(image)]) == 0
    assert re.fullmatch(r".*digit.png: \d \(p=\d\.\d\d\)\n", capsys.readouterr().out)


def test_the_upgrade_renames_the_arrays_after_the_split_flatten() -> None:
    arrays = dict(np.load(DATA / "v1_train_cli.npz"))
    old = json.loads(arrays.pop("meta.json").tobytes())
    spec, renamed = upgrade_v1(DATA / "v1_train_cli.npz", old["model"], arrays, old["info"])
    assert sorted(arrays) == ["layers.2.W", "layers.2.b", "layers.5.W", "layers.5.b"]
    assert sorted(renamed) == ["layers.3.W", "layers.3.b", "layers.6.W", "layers.6.b"]
    np.testing.assert_array_equal(renamed["layers.6.W"], arrays["layers.5.W"])
    assert spec["layers"][1] == {"type": "Rescale", "scale": 1 / 255}
    assert spec["layers"][2] == {"type": "Flatten"}


# --- the same networks and weights as before ----------------------------------------------------


# The recipes there were when recipe_weights_v1.json was written; a newer one has no "before".
OLD_RECIPES = ("best", "default", "notebook")


@pytest.mark.parametrize("recipe", OLD_RECIPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_each_recipe_builds_the_same_network_and_weights_as_before(recipe: str,
                                                                    seed: int) -> None:
    before = json.loads((DATA / "recipe_weights_v1.json").read_text())[f"{recipe}/seed-{seed}"]
    model = build_model(RECIPES[recipe], (28, 28), 10, np.random.default_rng(seed))
    assert hashlib.sha256(model.params.tobytes()).hexdigest() == before["sha256"]
    assert model.params.dtype.name == before["dtype"] and model.params.size == before["size"]
    upgraded, _ = upgrade_v1(Path("recipe"), {"dtype": before["dtype"],
                                              "layers": before["layers"]}, {}, {})
    assert [layer.spec() for layer in model.layers] == upgrade_v2(upgraded)["layers"]


def test_training_from_scratch_gives_the_weights_it_gave_before() -> None:
    """Mini-batches with dropout and shifts, and full-batch float64 descent (the fixed
    prefix, Rescale and Flatten, computed once): the old code's weights."""
    config = TrainConfig.from_dict({"hidden": [8], "dropout": 0.2, "shift": 1, "epochs": 3,
                                    "batch_size": 64, "dataset": "tiny", "seed": 1,
                                    "val_split": 100})
    result = train(config, tiny_data(), progress=False)
    assert_same_arithmetic(result.model.params, EXPECTED["fresh_mlp_params"])
    full = TrainConfig.from_dict({"hidden": [8, 6], "iterations": 3, "batch_size": None,
                                  "optimizer": "sgd", "lr": 0.1, "schedule": "constant",
                                  "dtype": "float64", "dataset": "tiny", "seed": 2,
                                  "val_split": 0})
    result = train(full, tiny_data(), progress=False)
    assert_same_arithmetic(result.model.params, EXPECTED["fullbatch_params"])


def test_a_checkpoint_from_before_resumes_to_the_same_weights(tmp_path: Path) -> None:
    shutil.copy(DATA / "v1_checkpoint.npz", tmp_path / "old.npz")
    ckpt = load_checkpoint(tmp_path / "old.npz")
    assert ckpt.model is None and ckpt.layer_state == {}  # version 1 had neither
    assert ckpt.config.model.layers == "shift:1,dense:8,dropout:0.2"  # from its flat config
    result = train(ckpt.config, tiny_data(), progress=False, resume=ckpt)
    assert_same_arithmetic(result.model.params, EXPECTED["checkpoint_resumed_params"])
