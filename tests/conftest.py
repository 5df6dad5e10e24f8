"""Tiny generated IDX datasets (and a model trained on one) for the data, io and CLI tests;
MNIST itself and a small model of it for the tests that read users' images.

Each class is a bright 6x6 block at its own place on a noisy 28x28 canvas, so a small MLP
learns the classes in a few epochs and every run of the test suite stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import mnistnp
from mnistnp import Adam, datasets, fit, mlp
from mnistnp.cli import main
from mnistnp.data import write_idx
from mnistnp.nn import Sequential

FILE_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
N_TRAIN, N_TEST = 600, 200
# Top-left corner of each class's block: a 3x4 grid, of which the first ten places are used.
CORNERS = [(r, c) for r in (2, 11, 20) for c in (1, 8, 15, 21)][:10]

MakeIdxDir = Callable[..., Path]


def blob_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """uint8 images of shape (len(labels), 28, 28): a block at the label's place, plus noise."""
    images = rng.integers(0, 40, size=(len(labels), 28, 28), dtype=np.uint8)
    for i, label in enumerate(labels):
        # A pixel of jitter either way; every corner leaves room for it on the canvas.
        r, c = np.add(CORNERS[int(label)], rng.integers(-1, 2, size=2))
        images[i, r:r + 6, c:c + 6] = rng.integers(200, 256, size=(6, 6), dtype=np.uint8)
    return images


def tiny_arrays(seed: int = 0, n_train: int = N_TRAIN, n_test: int = N_TEST
                ) -> dict[str, np.ndarray]:
    """The four arrays of a tiny dataset, keyed like FILE_NAMES; every class equally common."""
    rng = np.random.default_rng(seed)
    y_train = rng.permutation(np.arange(n_train) % 10).astype(np.uint8)
    y_test = rng.permutation(np.arange(n_test) % 10).astype(np.uint8)
    return {"train_images": blob_images(y_train, rng), "train_labels": y_train,
            "test_images": blob_images(y_test, rng), "test_labels": y_test}


def write_idx_dir(folder: Path, compress: bool = True, seed: int = 0,
                  **overrides: np.ndarray | None) -> Path:
    """Write a tiny dataset's four files into ``folder`` (created) and return it.

    ``overrides`` replace an array by key (``train_images``, ``train_labels``, ``test_images``,
    ``test_labels``); None leaves that file out. ``compress`` picks .gz files or raw ones.
    """
    unknown = set(overrides) - set(FILE_NAMES)
    if unknown:
        raise TypeError(f"unknown overrides {sorted(unknown)}")
    arrays: dict[str, np.ndarray | None] = {**tiny_arrays(seed), **overrides}
    folder.mkdir(parents=True, exist_ok=True)
    for key, array in arrays.items():
        if array is not None:
            write_idx(folder / (FILE_NAMES[key] + (".gz" if compress else "")), array)
    return folder


def cli(*argv: object) -> int:
    """``mnistnp argv...`` in this process; argparse's own exits become return codes too."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as e:
        return 0 if e.code is None else int(e.code)


@pytest.fixture
def tiny_idx_dir(tmp_path: Path) -> Path:
    """A folder holding the four standard gzip IDX files of the tiny dataset (600/200 images)."""
    return write_idx_dir(tmp_path / "tiny")


@pytest.fixture
def make_idx_dir(tmp_path: Path) -> MakeIdxDir:
    """``make_idx_dir(name="variant", **overrides)``: a tiny dataset folder with changes."""
    def make(name: str = "variant", **overrides: object) -> Path:
        return write_idx_dir(tmp_path / name, **overrides)  # type: ignore[arg-type]
    return make


@pytest.fixture(scope="session")
def session_idx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny dataset, written once for the tests that only read it."""
    return write_idx_dir(tmp_path_factory.mktemp("data") / "tiny")


@pytest.fixture(scope="session")
def trained_model(tmp_path_factory: pytest.TempPathFactory, session_idx_dir: Path) -> Path:
    """A 784-32-10 model trained on the tiny dataset by ``mnistnp train``; its file's path."""
    out = tmp_path_factory.mktemp("model") / "tiny.npz"
    run_dir = tmp_path_factory.mktemp("run")
    status = main(["train", "--data-dir", str(session_idx_dir), "--hidden", "32",
                   "--epochs", "4", "--batch-size", "32", "--lr", "0.003", "--seed", "1",
                   "--out", str(out), "--run-dir", str(run_dir), "--no-progress"])
    assert status == 0 and out.is_file()
    return out


Mnist = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@pytest.fixture(scope="session")
def mnist() -> Mnist:
    """The bundled MNIST: (train images, labels), (test images, labels)."""
    return datasets.load("mnist")


@pytest.fixture(scope="session")
def model(mnist: Mnist) -> Sequential:
    """A 784-100-10 MLP trained for three epochs on 20,000 MNIST digits (a few seconds)."""
    (x_train, y_train), _ = mnist
    rng = np.random.default_rng(0)
    net = mlp([784, 100, 10], rng)
    fit(net, x_train[:20_000], y_train[:20_000], Adam(0.002), rng=rng, epochs=3, batch_size=128)
    return net


def constant_model(path: Path, dataset: str, winner: int) -> Path:
    """A model that, whatever the image, gives class ``winner`` the highest probability."""
    model = mnistnp.mlp([784, 4, 10], np.random.default_rng(0))
    last = model.param_arrays[-2:]  # the last layer's weights and biases
    last[0][...] = 0
    last[1][...] = np.arange(10) == winner
    mnistnp.save_model(path, model, {"dataset": dataset})
    return path
