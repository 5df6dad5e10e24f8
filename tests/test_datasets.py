"""mnistnp.datasets.load: the bundled MNIST, folders of IDX files, the registry and $MNISTNP_DATA,
and a DatasetError naming the file for every inconsistency."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import FILE_NAMES, MakeIdxDir, tiny_arrays

from mnistnp import datasets
from mnistnp.data import idx_bytes, read_idx
from mnistnp.errors import DatasetError

# From shared/data/mnist/README.md.
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def load_error(*args: object, **kwargs: object) -> str:
    with pytest.raises(DatasetError) as info:
        datasets.load(*args, **kwargs)  # type: ignore[arg-type]
    return str(info.value)


# --- the bundled MNIST --------------------------------------------------------------------------

def test_bundled_label_files_hold_the_published_class_counts() -> None:
    # Fast stand-in for the full load below: the label files are small.
    folder = datasets.bundled_dir()
    train = read_idx(folder / "train-labels-idx1-ubyte.gz")
    test = read_idx(folder / "t10k-labels-idx1-ubyte.gz")
    assert np.bincount(train, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(test, minlength=10).tolist() == MNIST_TEST_COUNTS


@pytest.mark.slow
def test_load_bundled_mnist() -> None:
    (x_train, y_train), (x_test, y_test) = datasets.load()
    assert (x_train.shape, y_train.shape) == ((60000, 28, 28), (60000,))
    assert (x_test.shape, y_test.shape) == ((10000, 28, 28), (10000,))
    for array in (x_train, y_train, x_test, y_test):
        assert array.dtype == np.uint8  # kept as stored: no float copy
    assert np.bincount(y_train, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(y_test, minlength=10).tolist() == MNIST_TEST_COUNTS
    assert x_train.max() == 255 and x_train.min() == 0


# --- any folder of the four files ---------------------------------------------------------------

def test_load_a_folder(tiny_idx_dir: Path) -> None:
    expected = tiny_arrays()
    (x_train, y_train), (x_test, y_test) = datasets.load(None, tiny_idx_dir)
    for key, array in (("train_images", x_train), ("train_labels", y_train),
                       ("test_images", x_test), ("test_labels", y_test)):
        assert array.dtype == np.uint8, key  # no float copy
        np.testing.assert_array_equal(array, expected[key], err_msg=key)


def test_load_a_folder_of_uncompressed_files(make_idx_dir: MakeIdxDir) -> None:
    folder = make_idx_dir("raw", compress=False)
    assert not list(folder.glob("*.gz"))
    (x_train, _), (_, y_test) = datasets.load(None, folder)
    np.testing.assert_array_equal(x_train, tiny_arrays()["train_images"])
    np.testing.assert_array_equal(y_test, tiny_arrays()["test_labels"])


def test_registered_name_with_a_folder_checks_the_checksums(tiny_idx_dir: Path) -> None:
    message = load_error("mnist", tiny_idx_dir)
    assert "SHA-256" in message
    assert str(tiny_idx_dir / "train-images-idx3-ubyte.gz") in message


def test_checksums_are_of_the_decompressed_files(monkeypatch: pytest.MonkeyPatch,
                                                 make_idx_dir: MakeIdxDir) -> None:
    arrays = tiny_arrays()
    sha = {FILE_NAMES[key]: hashlib.sha256(idx_bytes(a)).hexdigest() for key, a in arrays.items()}
    monkeypatch.setitem(datasets.REGISTRY, "tiny-sums",
                        datasets.DatasetInfo(name="tiny-sums", sha256=sha))
    for compress in (True, False):  # the same checksums hold for .gz and raw files
        (x_train, _), _ = datasets.load("tiny-sums", make_idx_dir(f"ok-{compress}",
                                                                  compress=compress))
        np.testing.assert_array_equal(x_train, arrays["train_images"])
    labels = arrays["test_labels"].copy()
    labels[0] = (labels[0] + 1) % 10  # one changed label: a valid file, but not the one registered
    message = load_error("tiny-sums", make_idx_dir("changed", test_labels=labels))
    assert "SHA-256" in message and FILE_NAMES["test_labels"] in message


def test_registered_name_checks_the_subfolder_named_after_it(tmp_path: Path,
                                                             make_idx_dir: MakeIdxDir) -> None:
    make_idx_dir("base/mnist")
    message = load_error("mnist", tmp_path / "base")
    assert str(tmp_path / "base" / "mnist" / "train-images-idx3-ubyte.gz") in message
    assert "SHA-256" in message


# --- inconsistent data --------------------------------------------------------------------------

def test_label_count_differs_from_image_count(make_idx_dir: MakeIdxDir) -> None:
    arrays = tiny_arrays(n_test=1200)
    folder = make_idx_dir(test_images=arrays["test_images"],
                          test_labels=arrays["test_labels"][:-1])
    message = load_error(None, folder)
    assert FILE_NAMES["test_labels"] in message
    assert re.search(r"\b1,?199 labels\b", message), message
    assert re.search(r"\b1,?200 images\b", message), message


def test_label_out_of_range(monkeypatch: pytest.MonkeyPatch, make_idx_dir: MakeIdxDir) -> None:
    # Labels are range-checked against a registered dataset's class count; register one with
    # no checksums so the tiny files get that far.
    monkeypatch.setitem(datasets.REGISTRY, "tiny10", datasets.DatasetInfo(name="tiny10"))
    labels = tiny_arrays()["train_labels"].copy()
    labels[123] = 10
    folder = make_idx_dir(train_labels=labels)
    message = load_error("tiny10", folder)
    assert FILE_NAMES["train_labels"] in message
    assert "10" in message and "123" in message and "0-9" in message
    datasets.load("tiny10", make_idx_dir("good"))  # and the unchanged files load


def test_train_and_test_image_shapes_differ(make_idx_dir: MakeIdxDir) -> None:
    test = tiny_arrays()["test_images"][:, :27, :26]
    message = load_error(None, make_idx_dir(test_images=np.ascontiguousarray(test)))
    assert FILE_NAMES["test_images"] in message
    assert "27x26" in message and "28x28" in message


def test_images_that_are_not_3d(make_idx_dir: MakeIdxDir) -> None:
    flat = tiny_arrays()["train_images"].reshape(600, 784)
    message = load_error(None, make_idx_dir(train_images=flat))
    assert FILE_NAMES["train_images"] in message and "2-D" in message


def test_labels_that_are_not_bytes(make_idx_dir: MakeIdxDir) -> None:
    labels = tiny_arrays()["test_labels"].astype(">i4")
    message = load_error(None, make_idx_dir(test_labels=labels))
    assert FILE_NAMES["test_labels"] in message and "int32" in message


@pytest.mark.parametrize("key", list(FILE_NAMES))
def test_a_missing_file_is_named(make_idx_dir: MakeIdxDir, key: str) -> None:
    folder = make_idx_dir(**{key: None})
    message = load_error(None, folder)
    assert FILE_NAMES[key] in message and "missing" in message
    assert str(folder) in message


def test_a_corrupt_file_is_named(make_idx_dir: MakeIdxDir) -> None:
    folder = make_idx_dir()
    path = folder / (FILE_NAMES["test_images"] + ".gz")
    path.write_bytes(path.read_bytes()[:-100])
    message = load_error(None, folder)
    assert path.name in message and "gzip" in message


def test_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    folder = tmp_path / "no-such-folder"
    message = load_error(None, folder)
    assert str(folder) in message and "no such" in message


def test_an_empty_folder_names_the_files_it_looks_for(tmp_path: Path) -> None:
    message = load_error(None, tmp_path)
    assert message.startswith(f"{tmp_path}: ")
    for stem in FILE_NAMES.values():
        assert stem in message
    assert ".gz" in message and "train-images.idx3-ubyte" in message


def test_a_labels_folder_is_not_searched_for_a_subfolder_of_its_name(tmp_path: Path) -> None:
    # Only a registered name has a subfolder of its own (DIR/fashion-mnist); the label the
    # command line gives a folder's files (its own name) does not.
    folder = tmp_path / "empty"
    folder.mkdir()
    assert str(folder / "empty") not in load_error("empty", folder)


@pytest.mark.parametrize("compress", [True, False])
def test_file_names_spelt_with_a_dot_load(make_idx_dir: MakeIdxDir, compress: bool) -> None:
    # Many copies of MNIST name their files train-images.idx3-ubyte, t10k-labels.idx1-ubyte.
    folder = make_idx_dir("dotted", compress=compress)
    for path in list(folder.iterdir()):
        path.rename(folder / path.name.replace("-idx", ".idx"))
    assert "train-images.idx3-ubyte" in " ".join(p.name for p in folder.iterdir())
    (x_train, _), (_, y_test) = datasets.load(None, folder)
    np.testing.assert_array_equal(x_train, tiny_arrays()["train_images"])
    np.testing.assert_array_equal(y_test, tiny_arrays()["test_labels"])


def test_an_unknown_dataset_name() -> None:
    message = load_error("no-such-set")
    assert "no-such-set" in message and "unknown dataset" in message
    assert "mnist" in message  # the known names are listed


# --- fashion-mnist: found via $MNISTNP_DATA or Debian's folder ------------------------------------

def test_fashion_mnist_found_via_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                     make_idx_dir: MakeIdxDir) -> None:
    folder = make_idx_dir("store/fashion-mnist")
    monkeypatch.setenv("MNISTNP_DATA", str(tmp_path / "store"))
    # The tiny files are not Fashion-MNIST, so the checksum refuses them: the error naming
    # the file shows the lookup went to $MNISTNP_DATA/fashion-mnist.
    message = load_error("fashion-mnist")
    assert str(folder / "train-images-idx3-ubyte.gz") in message
    assert "SHA-256" in message


def test_fashion_mnist_found_directly_in_env_folder(monkeypatch: pytest.MonkeyPatch,
                                                    make_idx_dir: MakeIdxDir) -> None:
    folder = make_idx_dir("flat")
    monkeypatch.setenv("MNISTNP_DATA", str(folder))
    assert str(folder / "train-images-idx3-ubyte.gz") in load_error("fashion-mnist")


def test_fashion_mnist_missing_everywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MNISTNP_DATA", str(tmp_path))
    monkeypatch.setitem(datasets.REGISTRY, "fashion-mnist", datasets.DatasetInfo(
        name="fashion-mnist", system_dirs=(str(tmp_path / "system"),)))
    message = load_error("fashion-mnist")
    assert "fashion-mnist" in message and str(tmp_path) in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_fashion_mnist_partial_copy_names_the_missing_file(monkeypatch: pytest.MonkeyPatch,
                                                           tmp_path: Path,
                                                           make_idx_dir: MakeIdxDir) -> None:
    make_idx_dir("store/fashion-mnist", test_labels=None)
    monkeypatch.setenv("MNISTNP_DATA", str(tmp_path / "store"))
    monkeypatch.setitem(datasets.REGISTRY, "fashion-mnist", datasets.DatasetInfo(
        name="fashion-mnist", system_dirs=(str(tmp_path / "system"),)))
    message = load_error("fashion-mnist")
    assert FILE_NAMES["test_labels"] in message and "missing" in message


@pytest.mark.slow
@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason=f"{FASHION_DIR} not installed")
def test_load_installed_fashion_mnist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MNISTNP_DATA", raising=False)
    (x_train, y_train), (x_test, y_test) = datasets.load("fashion-mnist")
    assert (x_train.shape, x_test.shape) == ((60000, 28, 28), (10000, 28, 28))
    assert x_train.dtype == np.uint8 and y_test.dtype == np.uint8
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10


def test_an_unreadable_folder_is_one_clean_error(tiny_idx_dir: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # Root reads anything, so the refusal is simulated where the bytes are read.
    real = Path.read_bytes

    def refuse(self: Path) -> bytes:
        if self.parent == tiny_idx_dir:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte.gz: permission denied"):
        datasets.load(None, tiny_idx_dir)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads anything")
def test_an_unreadable_folder_for_real(tiny_idx_dir: Path) -> None:
    tiny_idx_dir.chmod(0)
    try:
        with pytest.raises(DatasetError):
            datasets.load(None, tiny_idx_dir)
    finally:
        tiny_idx_dir.chmod(0o755)
