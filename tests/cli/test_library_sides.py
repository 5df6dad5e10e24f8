"""Library and command line keep to their sides: the library's messages never name a command-line
option (the CLI adds the hint, from a field of the error), and the input check of evaluate and
predict and the fetching of a dataset are library functions."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import mnistnp
from mnistnp import mlp
from mnistnp.cli import main
from mnistnp.download import DatasetUnnamed, fetch_dataset
from mnistnp.errors import ShapeError, TrainingError
from mnistnp.optim import SGD
from mnistnp.sources import SourceUnknown, check_input, recorded_source

SRC = Path(mnistnp.__file__).parent


def library_strings() -> list[tuple[str, int, str]]:
    """Every string literal (f-string parts too) of the library outside ``cli/``."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        if "cli" in path.relative_to(SRC).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.append((str(path.relative_to(SRC)), node.lineno, node.value))
    return found


def test_no_library_string_names_a_command_line_option() -> None:
    import re

    flags = [(path, line, text) for path, line, text in library_strings()
             if re.search(r"(?<![\w-])--[a-z]", text)]
    assert flags == []


def test_a_training_error_names_its_setting_and_the_cli_adds_the_option(
        tmp_path: Path, session_idx_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = np.random.default_rng(0).integers(0, 256, (64, 8, 8), dtype=np.uint8)
    y = np.arange(64) % 4
    with pytest.raises(TrainingError) as info:
        mnistnp.fit(mlp([64, 16, 4], np.random.default_rng(0)), x, y, SGD(1e30), epochs=4,
                    batch_size=16, rng=np.random.default_rng(0))
    assert info.value.setting == "lr" and "--" not in str(info.value)
    assert "lower learning rate" in str(info.value)
    assert main(["train", "--data-dir", str(session_idx_dir), "--hidden", "8", "--epochs", "1",
                 "--optimizer", "sgd", "--lr", "1e30", "--schedule", "constant",
                 "--run-dir", str(tmp_path),
                 "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.strip().endswith("try a lower learning rate (--lr)")


def test_a_source_unknown_names_arguments_and_the_cli_names_options(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SourceUnknown) as info:
        recorded_source({}, "m.npz")
    assert info.value.options == ("dataset", "data_dir") and "--" not in str(info.value)
    model = tmp_path / "m.npz"
    mnistnp.save_model(model, mlp([784, 4, 10], np.random.default_rng(0)))
    assert main(["evaluate", "--model", str(model)]) == 1
    assert "give --dataset NAME or --data-dir DIR" in capsys.readouterr().err


def test_check_input_is_in_the_library() -> None:
    images = mlp([784, 4, 10])  # takes 28x28 images
    check_input("m.npz", images, (28, 28))
    with pytest.raises(ShapeError, match=r"^m.npz: the model takes 28x28 images \(784 inputs\) "
                                         r"but the images are 14x14$"):
        check_input("m.npz", images, (14, 14))
    with pytest.raises(ShapeError, match="but the images are 784"):
        check_input("m.npz", images, (784,))
    rows = mlp([12, 4, 3])  # rows: any shape of as many numbers, flattened
    check_input("m.npz", rows, (3, 4))
    check_input("m.npz", rows, (12,))
    with pytest.raises(ShapeError, match=r"^m.npz: the model takes 12 inputs but the images "
                                         r"are 3x5$"):
        check_input("m.npz", rows, (3, 5))


def test_fetch_dataset_is_in_the_library_and_names_no_option(tmp_path: Path) -> None:
    assert fetch_dataset("mnist") == mnistnp.datasets.bundled_dir()  # bundled: nothing fetched
    with pytest.raises(DatasetUnnamed) as info:
        fetch_dataset("my-folder", tmp_path)
    assert info.value.folder == tmp_path and "mnist" in info.value.known
    assert "--" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


# --- pixels scaled to [0, 1] given to a model that rescales 0-255 pixels itself ---------------

def _scaled_data() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(1).integers(0, 256, (64, 8, 8), dtype=np.uint8)
    return x, np.arange(64) % 4


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pixels_divided_by_255_are_refused_by_predict_and_fit(dtype: str) -> None:
    # The model's Rescale divides by 255: x / 255 would be divided twice and read as near
    # blank (9.82% on MNIST's test set), silently. It is one clear error instead.
    from mnistnp.errors import InputError

    x, y = _scaled_data()
    model = mlp([64, 16, 4], np.random.default_rng(0))
    scaled = (x / 255).astype(dtype)
    for call in (lambda: model.predict(scaled), lambda: model.predict_proba(scaled),
                 lambda: mnistnp.fit(model, scaled, y, SGD(0.1), rng=np.random.default_rng(0)),
                 lambda: mnistnp.fit(model, x, y, SGD(0.1), rng=np.random.default_rng(0),
                                     validation=(scaled[:8], y[:8]))):
        with pytest.raises(InputError) as info:
            call()
        message = str(info.value)
        assert "in [0, 1]" in message and "0-255" in message
        assert "multiply by 255" in message and isinstance(info.value, ValueError)


def test_what_is_not_pixels_scaled_twice_is_taken() -> None:
    x, y = _scaled_data()
    model = mlp([64, 16, 4], np.random.default_rng(0))
    model.predict(x)  # uint8 pixels
    model.predict(x.astype(np.float32))  # float pixels 0-255
    model.predict(np.zeros((3, 8, 8), np.float32))  # blank images: nothing tells them apart
    model.predict((x[:2] > 128).astype(np.uint8))  # integers are pixels, however dark
    plain = mlp([64, 16, 4], np.random.default_rng(0), input_scale=1.0)  # takes [0, 1] itself
    plain.predict(x / 255)
    mnistnp.fit(plain, x / 255, y, SGD(0.1), rng=np.random.default_rng(0))
