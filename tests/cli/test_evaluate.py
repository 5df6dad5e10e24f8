"""Which data a model is scored on, and the data files a user may get wrong: ``evaluate`` uses
the data the model records (or stops and says which option to give), checks a dataset
against the model, names classes; empty files, files of the wrong kind and labels whose
classes do not add up are each one clear line."""

from __future__ import annotations

import gzip
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FILE_NAMES, MakeIdxDir, cli, tiny_arrays

from mnistnp import datasets
from mnistnp.data import idx_bytes, parse_idx
from mnistnp.errors import DatasetError, MnistnpWarning
from mnistnp.model_config import ModelConfig
from mnistnp.model_file import load_model, save_model
from mnistnp.nn import mlp
from mnistnp.pipeline import train as pipeline_train
from mnistnp.train_config import TrainConfig
from mnistnp.training import fit

FAST = ("--hidden", "16", "--epochs", "2", "--no-progress")



def one_line(stderr: str, prefix: str = "mnistnp: error:") -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(prefix), stderr
    return lines[0]


def first_accuracy(stdout: str) -> float:
    match = re.fullmatch(r"accuracy: (\d+\.\d\d)%", stdout.splitlines()[0])
    assert match, stdout
    return float(match.group(1))


def expected_accuracy(model_path: Path, arrays: dict[str, np.ndarray]) -> float:
    """The model's test accuracy on ``arrays``, in percent, from NumPy alone."""
    logits = load_model(model_path).forward(arrays["test_images"])
    return 100 * float(np.mean(np.argmax(logits, axis=1) == arrays["test_labels"]))


def with_info(tmp_path: Path, model_path: Path, info: dict[str, Any]) -> Path:
    """A copy of the model whose file records ``info`` (what an older or API-saved file says)."""
    out = tmp_path / "recorded.npz"
    save_model(out, load_model(model_path), info)
    return out


# --- empty files --------------------------------------------------------------------------------

@pytest.mark.parametrize("split", ["train", "test"])
def test_a_file_of_zero_images_is_one_line(split: str, tmp_path: Path, make_idx_dir: MakeIdxDir,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    arrays = tiny_arrays()
    folder = make_idx_dir("data", **{f"{split}_{kind}": arrays[f"{split}_{kind}"][:0]
                                     for kind in ("images", "labels")})
    monkeypatch.chdir(tmp_path)
    assert cli("train", "--data-dir", folder, *FAST, "--out", "m.npz", "--run-dir", "run") == 1
    captured = capsys.readouterr()
    line = one_line(captured.err)
    name = FILE_NAMES[f"{split}_images"]
    assert f"{folder / name}.gz: holds no images" in line
    assert captured.out == "" and os.listdir(tmp_path) == ["data"]


def test_the_api_refuses_empty_sets_in_one_clear_error() -> None:
    x, y = tiny_arrays()["train_images"], tiny_arrays()["train_labels"]
    model = mlp([784, 8, 10], np.random.default_rng(0))
    from mnistnp.optim import SGD
    with pytest.raises(ValueError, match="training set holds no samples"):
        fit(model, x[:0], y[:0], SGD(0.1), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="validation set holds no samples"):
        fit(model, x, y, SGD(0.1), rng=np.random.default_rng(0), validation=(x[:0], y[:0]))
    config = TrainConfig(model=ModelConfig("dense:8"), epochs=1)
    with pytest.raises(DatasetError, match="the training set holds no images"):
        pipeline_train(config, ((x[:0], y[:0]), (x, y)))
    with pytest.raises(DatasetError, match="the test set holds no images"):
        pipeline_train(config, ((x, y), (x[:0], y[:0])))


# --- files of the wrong kind --------------------------------------------------------------------

def labels_with_magic(magic_ndim: int) -> bytes:
    """A valid labels file whose header's dimension byte says otherwise."""
    data = bytearray(idx_bytes(tiny_arrays()["train_labels"]))
    data[3] = magic_ndim
    return bytes(data)


@pytest.mark.parametrize(("key", "content", "declared"), [
    ("train_labels", labels_with_magic(3), "3-D unsigned bytes"),  # the magic of images
    ("test_labels", idx_bytes(tiny_arrays()["test_images"]), "3-D unsigned bytes"),
    ("train_labels", idx_bytes(tiny_arrays()["train_labels"].astype(">f4")), "1-D float32"),
    ("train_images", idx_bytes(tiny_arrays()["train_labels"]), "1-D unsigned bytes"),
    ("test_images", idx_bytes(tiny_arrays()["test_images"].reshape(200, 784)),
     "2-D unsigned bytes"),
])
def test_a_file_of_the_wrong_kind_says_so(key: str, content: bytes, declared: str,
                                          tmp_path: Path, make_idx_dir: MakeIdxDir,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_idx_dir("data")
    path = folder / (FILE_NAMES[key] + ".gz")
    path.write_bytes(gzip.compress(content))
    monkeypatch.chdir(tmp_path)
    assert cli("train", "--data-dir", folder, *FAST, "--run-dir", "run") == 1
    captured = capsys.readouterr()
    line = one_line(captured.err)
    kind = "a labels" if key.endswith("labels") else "an images"
    want = "1-D" if key.endswith("labels") else "3-D"
    assert line == (f"mnistnp: error: {path}: not {kind} file: its IDX header (magic "
                    f"{content[:4].hex()}) declares {declared}, not {want} unsigned bytes")
    assert captured.out == "" and os.listdir(tmp_path) == ["data"]


def test_parse_idx_checks_the_kind_before_the_payload() -> None:
    data = labels_with_magic(3)
    with pytest.raises(DatasetError, match="payload truncated"):
        parse_idx(data, "f")  # without a kind, only the payload shows something is wrong
    with pytest.raises(DatasetError, match=r"^f: not a labels file: .* declares 3-D"):
        parse_idx(data, "f", "labels")
    labels = tiny_arrays()["test_labels"]
    np.testing.assert_array_equal(parse_idx(idx_bytes(labels), "f", "labels"), labels)


# --- classes ------------------------------------------------------------------------------------

def load_warnings(folder: Path) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        datasets.load(None, folder)
    assert all(issubclass(w.category, MnistnpWarning) for w in caught)
    return [str(w.message) for w in caught]


def test_the_classes_found_are_reported(tmp_path: Path, make_idx_dir: MakeIdxDir,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_idx_dir("data")
    monkeypatch.chdir(tmp_path)
    assert cli("train", "--data-dir", folder, *FAST, "--run-dir", "run") == 0
    arrays = tiny_arrays()
    n_classes = len(np.unique(arrays["train_labels"]))
    assert (f"data in {folder}: {len(arrays['train_images']):,} training and "
            f"{len(arrays['test_images']):,} test images of 28x28, {n_classes} classes "
            f"(0-{n_classes - 1})") in capsys.readouterr().out.splitlines()


def test_a_stray_label_is_named_before_training(tmp_path: Path, make_idx_dir: MakeIdxDir,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    labels = tiny_arrays()["train_labels"].copy()
    labels[123] = 10  # one typo among 600 labels, 60 per class
    folder = make_idx_dir("data", train_labels=labels)
    monkeypatch.chdir(tmp_path)
    assert cli("train", "--data-dir", folder, *FAST, "--run-dir", "run") == 0
    captured = capsys.readouterr()
    line = one_line(captured.err, "mnistnp: warning:")
    assert str(folder / (FILE_NAMES["train_labels"] + ".gz")) in line
    assert "class 10 has only 1 label (index 123) of 600" in line
    assert "11 classes (0-10)" in captured.out  # and the network it trains has 11 outputs
    assert re.search(r"^training 784-16-11 ", captured.out, re.M)


def test_a_stray_label_far_off_names_the_empty_classes_too(make_idx_dir: MakeIdxDir) -> None:
    labels = tiny_arrays()["train_labels"].copy()
    labels[7] = 255
    stray, gaps = load_warnings(make_idx_dir(train_labels=labels))
    assert "class 255 has only 1 label (index 7)" in stray
    assert "no labels of classes 10-254 (classes 0-9, 255)" in gaps and "256 in all" in gaps


def test_a_rare_but_real_class_stays_quiet(make_idx_dir: MakeIdxDir) -> None:
    arrays = tiny_arrays()
    labels = arrays["train_labels"]
    keep = (labels != 9) | (np.cumsum(labels == 9) <= 3)  # 3 of class 9 against 60 of others
    folder = make_idx_dir(train_labels=labels[keep], train_images=arrays["train_images"][keep])
    assert load_warnings(folder) == []


def test_a_test_class_the_training_labels_lack_is_refused(
        tmp_path: Path, make_idx_dir: MakeIdxDir, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    labels = tiny_arrays()["test_labels"].copy()
    labels[[4, 9]] = 12
    folder = make_idx_dir("data", test_labels=labels)
    monkeypatch.chdir(tmp_path)
    assert cli("train", "--data-dir", folder, *FAST, "--run-dir", "run") == 1
    captured = capsys.readouterr()
    line = one_line(captured.err)
    assert str(folder / (FILE_NAMES["test_labels"] + ".gz")) in line
    assert "2 labels of class 12" in line and "classes 0-9" in line
    assert captured.out == "" and os.listdir(tmp_path) == ["data"]


def test_a_training_class_missing_from_the_test_labels_warns(make_idx_dir: MakeIdxDir) -> None:
    arrays = tiny_arrays()
    keep = arrays["test_labels"] != 4
    folder = make_idx_dir(test_labels=arrays["test_labels"][keep],
                          test_images=arrays["test_images"][keep])
    (message,) = load_warnings(folder)
    assert FILE_NAMES["test_labels"] in message and "no test labels of class 4" in message


def test_a_class_number_no_label_has_warns(make_idx_dir: MakeIdxDir) -> None:
    arrays = tiny_arrays()
    # Classes 1-10, numbered from one: class 0 would be an output that never learns.
    folder = make_idx_dir(train_labels=arrays["train_labels"] + 1,
                          test_labels=arrays["test_labels"] + 1)
    (message,) = load_warnings(folder)
    assert FILE_NAMES["train_labels"] in message
    assert "no labels of class 0 (classes 1-10)" in message and "11 in all" in message


def test_a_registered_dataset_still_refuses_a_label_outside_its_classes(
        monkeypatch: pytest.MonkeyPatch, make_idx_dir: MakeIdxDir) -> None:
    monkeypatch.setitem(datasets.REGISTRY, "tiny10", datasets.DatasetInfo(name="tiny10"))
    labels = tiny_arrays()["train_labels"].copy()
    labels[5] = 10
    with pytest.raises(DatasetError, match=r"label 10 at index 5 is out of range 0-9"):
        datasets.load("tiny10", make_idx_dir(train_labels=labels))


# --- evaluate scores the data the model was trained on ------------------------------------------

def test_evaluate_without_data_options_uses_the_models_folder(
        trained_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # anywhere: the folder is recorded absolute
    assert cli("evaluate", "--model", trained_model) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    expected = expected_accuracy(trained_model, tiny_arrays())
    assert expected >= 90  # not the bundled MNIST's ~10% for a model of the tiny blocks
    assert first_accuracy(captured.out) == pytest.approx(expected, abs=0.006)
    assert os.listdir(tmp_path) == []


def test_train_records_the_folder_absolute(tmp_path: Path, make_idx_dir: MakeIdxDir,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_idx_dir("data")
    monkeypatch.chdir(tmp_path)
    assert cli("train", "--data-dir", "data", *FAST, "--out", "m.npz", "--run-dir", "run") == 0
    config = load_model(tmp_path / "m.npz").info["config"]
    assert config["data_dir"] == str(folder) and Path(config["data_dir"]).is_absolute()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    assert cli("evaluate", "--model", tmp_path / "m.npz") == 0
    out = capsys.readouterr().out
    assert first_accuracy(out) == pytest.approx(expected_accuracy(tmp_path / "m.npz",
                                                                  tiny_arrays()), abs=0.006)


@pytest.mark.parametrize(("info", "says", "option"), [
    # the folder has gone since training
    ({"dataset": "tiny", "config": {"dataset": "tiny", "data_dir": "/no/such/folder/tiny"}},
     ["/no/such/folder/tiny", "gone"], "give --data-dir DIR"),
    # an older file: the folder as given, relative to a working folder nobody knows
    ({"dataset": "tiny", "config": {"dataset": "tiny", "data_dir": "tiny"}},
     ["tiny", "relative"], "give --data-dir DIR"),
    # an older file that names only an unregistered label
    ({"dataset": "tiny"}, ["'tiny'", "not a known dataset"], "give --data-dir DIR"),
    # saved through the API without a word on its data
    ({}, ["does not record"], "give --dataset NAME or --data-dir DIR"),
])
def test_evaluate_stops_when_the_models_data_cannot_be_found(
        info: dict[str, Any], says: list[str], option: str, trained_model: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    model = with_info(tmp_path, trained_model, info)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny").mkdir()  # a folder of that name here proves nothing about the data
    assert cli("evaluate", "--model", model) == 1
    captured = capsys.readouterr()
    line = one_line(captured.err)
    assert str(model) in line and line.endswith(option)
    for words in says:
        assert words in line
    assert captured.out == ""


@pytest.fixture
def registered_tiny(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                    session_idx_dir: Path) -> str:
    """The tiny dataset registered (with Fashion-MNIST's class names) as found in a system
    folder, so the registry lookup, not a recorded folder, finds it."""
    monkeypatch.setenv("MNISTNP_DATA", str(tmp_path / "empty-store"))
    monkeypatch.setitem(datasets.REGISTRY, "tinyfashion", datasets.DatasetInfo(
        name="tinyfashion", system_dirs=(str(session_idx_dir),),
        class_names=datasets.REGISTRY["fashion-mnist"].class_names))
    return "tinyfashion"


def test_a_registered_dataset_is_found_again_when_its_folder_is_gone(
        registered_tiny: str, trained_model: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    model = with_info(tmp_path, trained_model, {"dataset": registered_tiny, "config": {
        "dataset": registered_tiny, "data_dir": str(tmp_path / "gone")}})
    assert cli("evaluate", "--model", model) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert first_accuracy(captured.out) == pytest.approx(
        expected_accuracy(model, tiny_arrays()), abs=0.006)


def test_evaluate_prints_class_names(registered_tiny: str, trained_model: Path,
                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = with_info(tmp_path, trained_model, {"dataset": registered_tiny})
    assert cli("evaluate", "--model", model) == 0
    lines = capsys.readouterr().out.splitlines()
    names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
             "Sneaker", "Bag", "Ankle boot"]
    per_class = [re.fullmatch(r"\s+(\d) (.+?): +(\d+\.\d\d)% of 20", line) for line in lines]
    assert [(int(m.group(1)), m.group(2)) for m in per_class if m] == list(enumerate(names))
    start = lines.index("confusion matrix (rows: true class, columns: predicted class):")
    assert lines[start + 1].split() == [str(c) for c in range(10)]
    rows = lines[start + 2:start + 12]
    for c, (name, row) in enumerate(zip(names, rows)):
        assert row.split()[0] == str(c) and row.split(maxsplit=1)[1].startswith(name)
        cells = [int(v) for v in row[row.index(name) + len(name):].split()]
        assert len(cells) == 10 and sum(cells) == 20
    assert len({len(row) for row in rows}) == 1  # the columns line up


def test_class_names_lookup() -> None:
    assert datasets.class_names("fashion-mnist", 10)[9] == "Ankle boot"
    assert datasets.class_names("mnist", 10) == tuple("0123456789")
    assert datasets.class_names("fashion-mnist", 11) == tuple(str(c) for c in range(11))
    assert datasets.class_names("my-folder", 3) == ("0", "1", "2")
    assert datasets.class_names(None, 2) == ("0", "1")


# --- evaluate on data the user names: checked against the model ---------------------------------

def test_images_with_the_same_pixel_count_but_another_shape_are_refused(
        trained_model: Path, make_idx_dir: MakeIdxDir,
        capsys: pytest.CaptureFixture[str]) -> None:
    arrays = tiny_arrays()
    folder = make_idx_dir("tall", **{key: np.ascontiguousarray(arrays[key].reshape(-1, 14, 56))
                                     for key in ("train_images", "test_images")})
    assert cli("evaluate", "--model", trained_model, "--data-dir", folder) == 1
    captured = capsys.readouterr()
    line = one_line(captured.err)
    assert str(trained_model) in line and "28x28" in line and "14x56" in line
    assert captured.out == ""


def test_a_dataset_with_more_classes_than_the_model_is_refused(
        trained_model: Path, make_idx_dir: MakeIdxDir,
        capsys: pytest.CaptureFixture[str]) -> None:
    arrays = tiny_arrays()
    labels = {key: np.where(arrays[key] == 9, 10, arrays[key]).astype(np.uint8)
              for key in ("train_labels", "test_labels")}  # classes 0-8 and 10
    folder = make_idx_dir("eleven", **labels)
    assert cli("evaluate", "--model", trained_model, "--data-dir", folder) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert lines[0].startswith("mnistnp: warning:") and "class 9" in lines[0]  # the gap
    line = one_line("\n".join(lines[1:]))
    assert str(trained_model) in line and "10 classes" in line and "11" in line
    assert captured.out == ""


def test_a_dataset_with_fewer_classes_than_the_model_warns(
        trained_model: Path, make_idx_dir: MakeIdxDir,
        capsys: pytest.CaptureFixture[str]) -> None:
    arrays = tiny_arrays()
    keep = {split: arrays[f"{split}_labels"] < 8 for split in ("train", "test")}
    folder = make_idx_dir("eight", **{f"{split}_{kind}": arrays[f"{split}_{kind}"][keep[split]]
                                      for split in ("train", "test")
                                      for kind in ("images", "labels")})
    assert cli("evaluate", "--model", trained_model, "--data-dir", folder) == 0
    captured = capsys.readouterr()
    line = one_line(captured.err, "mnistnp: warning:")
    assert str(trained_model) in line and "10 classes" in line and "8 (0-7)" in line
    subset = {key: arrays[key][keep["test"]] for key in ("test_images", "test_labels")}
    assert first_accuracy(captured.out) == pytest.approx(
        expected_accuracy(trained_model, subset), abs=0.006)


def test_another_registered_datasets_classes_are_named_in_a_warning(
        registered_tiny: str, monkeypatch: pytest.MonkeyPatch, trained_model: Path,
        session_idx_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(datasets.REGISTRY, "tinydigits", datasets.DatasetInfo(name="tinydigits"))
    model = with_info(tmp_path, trained_model, {"dataset": registered_tiny})
    assert cli("evaluate", "--model", model, "--dataset", "tinydigits",
               "--data-dir", session_idx_dir) == 0
    captured = capsys.readouterr()
    line = one_line(captured.err, "mnistnp: warning:")
    assert registered_tiny in line and "tinydigits" in line
    assert "Trouser" not in captured.out  # the data's own class names are shown


# --- a data folder from the command line: what is looked for, and what a checksum means ------

def test_train_on_an_empty_folder_names_the_four_files(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("train", "--data-dir", empty, "--run-dir", tmp_path / "run") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(empty / "empty") not in err
    assert all(stem in err for stem in FILE_NAMES.values())
    assert not (tmp_path / "run").exists()


def test_a_named_dataset_whose_checksums_fail_in_a_data_dir_hints_to_drop_dataset(
        tmp_path: Path, make_idx_dir: MakeIdxDir, capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_idx_dir("mine")
    args = ["--data-dir", folder, "--run-dir", tmp_path / "run", "--epochs", "1"]
    assert cli("train", "--dataset", "mnist", *args) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SHA-256" in err
    assert "drop --dataset mnist" in err and "unchecked" in err
    assert cli("train", *args, "--no-progress") == 0  # as the hint says: checked no more


def test_a_folder_named_after_a_dataset_whose_checksums_fail_says_the_name_counts(
        tmp_path: Path, make_idx_dir: MakeIdxDir, capsys: pytest.CaptureFixture[str]) -> None:
    # Without --dataset, train takes a folder's name for its dataset: dropping --dataset
    # would not help here, so the hint says what would.
    folder = make_idx_dir("data/mnist")
    assert cli("train", "--data-dir", folder, "--run-dir", tmp_path / "run") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SHA-256" in err and "drop --dataset" not in err
    assert "folder of another name" in err


def test_evaluate_with_a_named_dataset_in_a_data_dir_hints_to_drop_dataset(
        trained_model: Path, make_idx_dir: MakeIdxDir, capsys: pytest.CaptureFixture[str]
        ) -> None:
    folder = make_idx_dir("mine")
    assert cli("evaluate", "--model", trained_model, "--dataset", "mnist",
               "--data-dir", folder) == 1
    err = capsys.readouterr().err
    assert "SHA-256" in err and "drop --dataset mnist" in err


# --- calibration --------------------------------------------------------------------------------

def test_evaluate_prints_the_expected_calibration_error_third(
        trained_model: Path, session_idx_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mnistnp.metrics import expected_calibration_error

    assert cli("evaluate", "--model", trained_model, "--data-dir", session_idx_dir) == 0
    lines = capsys.readouterr().out.splitlines()
    arrays = tiny_arrays()
    proba = load_model(trained_model).predict_proba(arrays["test_images"])
    ece = expected_calibration_error(proba, arrays["test_labels"])
    assert lines[2] == f"expected calibration error: {100 * ece:.2f}% (15 bins of confidence)"
    assert ece > 0  # a trained model is sure, but not exactly as sure as it is right
