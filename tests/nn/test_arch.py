"""The architecture as data: the layer string (``--layers``), its grammar and its one-line
usage errors, the model config it fills, and a network described by it trained, saved,
evaluated, used by predict and resumed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_arrays

from mnistnp import ModelConfig, TrainConfig, load_model
from mnistnp.cli import main
from mnistnp.cli.train import config_from_args
from mnistnp.cli.train_options import add_parser
from mnistnp.metrics import confusion_matrix
from mnistnp.nn import LayerStringError, mlp, mlp_layers, network, parse_layers
from mnistnp.nn.arch import mlp_parts
from mnistnp.pipeline import train
from mnistnp.training import Interrupted

NET = "shift:1,dense:16,dropout:0.2,dense:8"


def cli(*argv: object) -> int:
    return main([str(a) for a in argv])


def usage_error(capsys: pytest.CaptureFixture[str], *argv: object) -> str:
    """The one line of a usage error (exit 2) of ``mnistnp train`` with ``argv``."""
    with pytest.raises(SystemExit) as info:
        cli("train", *argv)
    err = capsys.readouterr().err
    status = info.value.code
    assert status == 2, err
    return err.strip().splitlines()[-1]


# --- the grammar -----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ("dens:256", r"unknown layer 'dens' in 'dens:256'; did you mean dense\? \(known: .*dense"),
    ("dense:256,lstm:32", r"unknown layer 'lstm' in 'lstm:32' \(known: "),
    ("dense", r"^dense: missing N; write dense:N$"),
    ("dense:0", r"^dense:0: N must be a whole number >= 1, got '0'$"),
    ("dense:wide", r"^dense:wide: N must be a whole number >= 1, got 'wide'$"),
    ("dropout:1.5", r"^dropout:1.5: P must be a number in \[0, 1\), got '1.5'$"),
    ("dense:8:3", r"^dense:8:3: dense takes 1 value; write dense:N$"),
    ("relu:2", r"^relu:2: relu takes no value; write relu$"),
    ("shift:9", r"^shift:9: PX must be a whole number from 1 to 8, got '9'$"),
    ("dense:8,shift:2", r"^shift:2 must come first: it works on the raw images"),
    ("dense:8,,dense:4", r"^item 2 of 'dense:8,,dense:4' is empty$"),
    (" ", r"^no layers given; e.g. dense:256"),
], ids=["misspelt", "unknown", "missing", "zero", "word", "p-too-big", "extra", "relu-value",
        "shift-too-far", "shift-not-first", "empty-item", "empty"])
def test_each_mistake_is_one_clear_message(text: str, message: str) -> None:
    with pytest.raises(LayerStringError, match=message):
        parse_layers(text)


@pytest.mark.parametrize(("text", "kinds"), [
    ("dense:16", ["Rescale", "Flatten", "Dense", "ReLU", "Dense"]),
    ("dense:16,relu", ["Rescale", "Flatten", "Dense", "ReLU", "Dense"]),  # the ReLU it has
    ("linear:16", ["Rescale", "Flatten", "Dense", "Dense"]),
    ("linear:16,relu,dropout:0.5", ["Rescale", "Flatten", "Dense", "ReLU", "Dropout", "Dense"]),
    ("flatten,dense:16", ["Rescale", "Flatten", "Dense", "ReLU", "Dense"]),
    ("shift:2,dense:16", ["RandomShift", "Rescale", "Flatten", "Dense", "ReLU", "Dense"]),
    ("dropout:0.1", ["Rescale", "Dropout", "Flatten", "Dense"]),
])
def test_what_each_string_builds(text: str, kinds: list[str]) -> None:
    model = network(text, (28, 28), 10)
    assert [layer.kind for layer in model.layers] == kinds
    assert model.layers[-1].spec()["out_features"] == 10  # the output layer, one unit per class
    assert model.input_shape == (28, 28) and model.output_shape == (10,)


@pytest.mark.parametrize(("text", "kinds"), [
    ("dense:64,dropout:0.2,relu,bn", ["Rescale", "Flatten", "Dense", "ReLU", "Dropout", "ReLU",
                                      "BatchNorm", "Dense"]),
    ("conv:4:3,dropout:0.2,relu,maxpool:2", ["Rescale", "AddChannel", "Conv2D", "ReLU",
                                             "Dropout", "ReLU", "MaxPool2D", "Flatten",
                                             "Dense"]),
    ("maxpool:2,relu,bn", ["Rescale", "AddChannel", "MaxPool2D", "ReLU", "BatchNorm", "Flatten",
                           "Dense"]),
    ("shift:1,flatten,relu,bn", ["RandomShift", "Rescale", "Flatten", "ReLU", "BatchNorm",
                                 "Dense"]),
    ("shift:1,relu,bn", ["RandomShift", "Rescale", "ReLU", "AddChannel", "BatchNorm", "Flatten",
                         "Dense"]),
    ("linear:16,relu,bn", ["Rescale", "Flatten", "Dense", "ReLU", "BatchNorm", "Dense"]),
    # dense's own ReLU goes after the first bn; the written relu repeats it and keeps the
    # second bn after it
    ("dense:8,bn,relu,bn", ["Rescale", "Flatten", "Dense", "BatchNorm", "ReLU", "BatchNorm",
                            "Dense"]),
    ("conv:4:3,maxpool:2,relu,bn", ["Rescale", "AddChannel", "Conv2D", "MaxPool2D", "ReLU",
                                    "BatchNorm", "Flatten", "Dense"]),
], ids=["after-dropout", "pool-after-dropout", "after-maxpool", "after-flatten", "after-shift",
        "after-linear", "after-dense-bn", "after-conv-pool"])
def test_a_written_relu_keeps_batch_norm_and_pooling_after_it(text: str,
                                                              kinds: list[str]) -> None:
    """Only the ReLU that dense:N or conv adds of its own lets bn and maxpool go before it; a
    relu the user wrote stays where it is written, whatever it follows."""
    model = network(text, (28, 28), 10)
    assert [layer.kind for layer in model.layers] == kinds


def test_a_string_that_does_not_fit_the_data_names_its_item() -> None:
    from mnistnp.errors import ShapeError

    with pytest.raises(ShapeError, match=r"^shift:2: takes images \(height, width\), gets"):
        network("shift:2,dense:8", (784,), 10)


@pytest.mark.parametrize(("hidden", "dropout", "shift"), [
    ((50, 50, 50), 0.0, 0), ((800, 800), 0.2, 2), ((16,), 0.5, 0), ((7, 3), 0.0, 8)])
def test_an_mlp_string_builds_what_mlp_builds_and_reads_back(hidden: tuple[int, ...],
                                                             dropout: float, shift: int) -> None:
    text = mlp_layers(hidden, dropout, shift)
    assert mlp_parts(text) == (hidden, dropout, shift)
    a = network(text, (28, 28), 10, "float64", np.random.default_rng(5))
    b = mlp([784, *hidden, 10], np.random.default_rng(5), "float64", dropout=dropout,
            shift=shift)
    assert a.spec() == b.spec()
    np.testing.assert_array_equal(a.params, b.params)


def test_strings_that_are_not_an_mlps_have_no_mlp_settings() -> None:
    for text in ("dense:8,relu", "linear:8", "dense:8,dropout:0.1,dense:4", "dropout:0.1"):
        assert mlp_parts(text) is None
        assert ModelConfig(text).mlp_settings() is None


# --- the config ------------------------------------------------------------------------------


def parse(*argv: str) -> TrainConfig:
    import argparse

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    add_parser(sub)
    return config_from_args(parser.parse_args(["train", *argv]))


def test_the_options_fill_the_model_config() -> None:
    assert parse().model == ModelConfig("dense:50,dense:50,dense:50")
    assert parse("--layers", " dense:256 , dropout:0.2,dense:128").model.layers == \
        "dense:256,dropout:0.2,dense:128"
    assert parse("--hidden", "16,8").model.layers == "dense:16,dense:8"
    # An MLP option changes the recipe's MLP and keeps the rest of it.
    assert parse("--recipe", "best", "--dropout", "0.3").model.layers == \
        "shift:2,dense:800,dropout:0.3,dense:800,dropout:0.3"
    assert parse("--recipe", "best", "--hidden", "16").model.layers == \
        "shift:2,dense:16,dropout:0.2"
    # --layers replaces the recipe's network, shifts and dropout included.
    best = parse("--recipe", "best", "--layers", "dense:16")
    assert best.model.layers == "dense:16" and best.optimizer.lr == 1e-3


@pytest.mark.parametrize(("option", "value"), [("--hidden", "16"), ("--dropout", "0.2"),
                                               ("--shift", "2")])
def test_an_mlp_option_with_layers_is_a_usage_error(option: str, value: str,
                                                    capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    assert cli("train", "--layers", "dense:16", option, value, "--run-dir", tmp_path) == 2
    line = capsys.readouterr().err.strip()
    assert line.count("\n") == 0 and f"{option} with --layers" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text", ["dens:256", "dense", "dropout:2", "dense:8,shift:1"])
def test_a_bad_layer_string_is_a_usage_error_naming_the_option(
        text: str, capsys: pytest.CaptureFixture[str]) -> None:
    line = usage_error(capsys, "--layers", text)
    assert line.startswith("mnistnp train: error: argument --layers: ")


def test_the_model_config_round_trips_and_reads_the_old_flat_settings() -> None:
    config = TrainConfig(model=ModelConfig(NET), epochs=2)
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    old = {"hidden": [800, 800], "dropout": 0.2, "shift": 2, "epochs": 20}
    assert TrainConfig.from_dict(old).model == RECIPES_BEST_MODEL


RECIPES_BEST_MODEL = ModelConfig("shift:2,dense:800,dropout:0.2,dense:800,dropout:0.2")


def test_the_library_checks_the_model_config() -> None:
    with pytest.raises(ValueError, match=r"^layers 'dense:8,relu:1': relu:1: relu takes no"):
        TrainConfig(model=ModelConfig("dense:8,relu:1")).validate()
    with pytest.raises(ValueError, match="cannot be given too"):
        TrainConfig().with_overrides(layers="dense:8", dropout=0.1)
    with pytest.raises(ValueError, match="not an MLP's"):
        TrainConfig(model=ModelConfig("linear:8")).with_overrides(dropout=0.1)
    with pytest.raises(ValueError, match=r"^shift 9: must be 0 to 8 pixels$"):
        ModelConfig.mlp((8,), shift=9)


# --- a network from a layer string, end to end -------------------------------------------------


def test_train_save_evaluate_predict_with_layers(tmp_path: Path, session_idx_dir: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out, run = tmp_path / "m.npz", tmp_path / "run"
    assert cli("train", "--data-dir", session_idx_dir, "--layers", NET, "--epochs", "2",
               "--out", out, "--run-dir", run, "--no-progress") == 0
    stdout = capsys.readouterr().out
    assert re.search(rf"^training 784-\[{re.escape(NET)}\]-10 on ", stdout, re.M), stdout
    settings = json.loads((run / "settings.json").read_text())
    assert settings["config"]["model"] == {"layers": NET}
    model = load_model(out)
    assert model.info["config"]["model"] == {"layers": NET}
    assert [layer.kind for layer in model.layers] == [
        "RandomShift", "Rescale", "Flatten", "Dense", "ReLU", "Dropout", "Dense", "ReLU",
        "Dense"]
    assert model.spec()["input_shape"] == [28, 28]
    assert cli("evaluate", "--model", out) == 0  # the data its file records
    first = capsys.readouterr().out.splitlines()[0]
    arrays = tiny_arrays()
    accuracy = np.mean(model.predict(arrays["test_images"]) == arrays["test_labels"])
    assert first == f"accuracy: {100 * accuracy:.2f}%"
    from PIL import Image

    image = tmp_path / "digit.png"
    Image.fromarray(arrays["test_images"][0]).save(image)
    assert cli("predict", "--model", out, image) == 0
    assert capsys.readouterr().out.startswith(f"{image}: ")


def test_evaluate_scores_a_file_that_augments_as_its_weights_without_augmentation(
        tmp_path: Path, session_idx_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Augmentation is for training only: ``mnistnp evaluate`` on a model file that turns and
    shifts its images prints the confusion matrix of the same weights with no augmentation
    layers at all."""
    out = tmp_path / "m.npz"
    assert cli("train", "--data-dir", session_idx_dir, "--layers", "affine:30:0.3:3,shift:3,"
               "dense:16", "--epochs", "2", "--out", out, "--run-dir", tmp_path / "run",
               "--no-progress") == 0
    model = load_model(out)
    plain = network("dense:16", model.input_shape, model.num_classes, model.dtype)
    plain.params[...] = model.params  # augmentation layers have no parameters
    arrays = tiny_arrays()
    x, y = arrays["test_images"], arrays["test_labels"]
    expected = confusion_matrix(y, plain.predict(x), model.num_classes)
    # Control: augmented, these images would get other answers.
    assert not np.array_equal(model.forward(x, training=True).argmax(1), plain.predict(x))
    capsys.readouterr()
    assert cli("evaluate", "--model", out, "--data-dir", session_idx_dir) == 0
    lines = capsys.readouterr().out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("confusion matrix"))
    printed = [[int(v) for v in line.split()[1:]] for line in lines[start + 2:]]
    np.testing.assert_array_equal(printed, expected)


def test_a_run_with_layers_resumes_from_its_checkpoint(tmp_path: Path, session_idx_dir: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    run = tmp_path / "run"
    assert cli("train", "--data-dir", session_idx_dir, "--layers", NET, "--epochs", "2",
               "--checkpoint-every", "1", "--run-dir", run, "--no-progress") == 0
    assert cli("train", "--resume", run / "checkpoint.npz", "--epochs", "3",
               "--no-progress") == 0
    assert "resuming at epoch 3" in capsys.readouterr().out
    model = load_model(run / "model.npz")
    assert model.info["config"]["model"] == {"layers": NET} and model.info["config"]["epochs"] == 3
    settings = json.loads((run / "settings.json").read_text())
    assert settings["config"]["model"] == {"layers": NET} and len(settings["resumed"]) == 1
    assert cli("train", "--resume", run / "checkpoint.npz", "--epochs", "4", "--layers",
               "dense:8", "--no-progress") == 2  # the checkpoint's network, not another


def test_an_interrupted_run_with_layers_resumes_bit_identically(tmp_path: Path) -> None:
    a = tiny_arrays()
    data = ((a["train_images"], a["train_labels"]), (a["test_images"], a["test_labels"]))
    config = TrainConfig(model=ModelConfig(NET + ",linear:12,relu"), epochs=2, batch_size=64,
                         dataset="tiny", val_split=100, seed=4)
    whole = train(config, data, progress=False)
    calls = iter(range(1000))
    with pytest.raises(Interrupted):
        train(config, data, progress=False, checkpoint_path=str(tmp_path / "c.npz"),
              should_stop=lambda: next(calls) == 5)
    from mnistnp.checkpoint import load_checkpoint

    resumed = train(config, data, progress=False, resume=load_checkpoint(tmp_path / "c.npz"))
    np.testing.assert_array_equal(resumed.model.params, whole.model.params)
