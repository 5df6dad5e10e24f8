"""The data files a user may get wrong: empty files, files of the wrong kind and labels whose
classes do not add up are each one clear line."""

from __future__ import annotations

import gzip
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import FILE_NAMES, MakeIdxDir, tiny_arrays

from mnistnp import datasets
from mnistnp.cli import main
from mnistnp.config import TrainConfig
from mnistnp.data import idx_bytes, parse_idx
from mnistnp.errors import DatasetError, MnistnpWarning
from mnistnp.nn import mlp
from mnistnp.pipeline import train as pipeline_train
from mnistnp.training import fit

FAST = ("--hidden", "16", "--epochs", "1", "--no-progress")


def cli(*argv: object) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as e:
        return 0 if e.code is None else int(e.code)


def one_line(stderr: str, prefix: str = "mnistnp: error:") -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(prefix), stderr
    return lines[0]


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
    config = TrainConfig(hidden=(8,), epochs=1)
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
