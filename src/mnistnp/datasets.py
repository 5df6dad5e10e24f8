"""Loading a dataset: its four IDX files found (``locate``), checked and read (``load``); the
one module users import, so it also gathers the names of the registry, classes and splits."""

from __future__ import annotations

import hashlib
import os
from importlib import resources
from pathlib import Path

import numpy as np

from .classes import check_classes, class_list, describe
from .data.idx import parse_idx, read_bytes
from .dataset_registry import (
    FILES,
    REGISTRY,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    DatasetInfo,
    Split,
    class_names,
)
from .errors import DatasetError
from .splits import validation_split

__all__ = ["FILES", "REGISTRY", "TEST_IMAGES", "TEST_LABELS", "TRAIN_IMAGES", "TRAIN_LABELS",
           "ChecksumMismatch", "DatasetInfo", "Split", "bundled_dir", "cache_dir", "check_classes",
           "class_list", "class_names", "describe", "load", "locate", "validation_split"]

# What a folder must hold, for messages: the four names, and the spellings also taken.
LOOKED_FOR = (f"{', '.join(FILES[:3])} and {FILES[3]} (each may end in .gz, and be spelt "
              "with a dot, as train-images.idx3-ubyte)")


class ChecksumMismatch(DatasetError):
    """A file found for registered dataset ``dataset`` is not the one registered.

    Its SHA-256 differs. (A user's own files in that dataset's place, or a corrupt copy.)
    """

    def __init__(self, message: str, dataset: str) -> None:
        super().__init__(message)
        self.dataset = dataset


def cache_dir() -> Path:
    """Where downloads go: $MNISTNP_DATA, else $XDG_CACHE_HOME/mnistnp, else ~/.cache/mnistnp."""
    if os.environ.get("MNISTNP_DATA"):
        return Path(os.environ["MNISTNP_DATA"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "mnistnp"
    return Path.home() / ".cache" / "mnistnp"


def bundled_dir() -> Path:
    """The folder inside the installed package that holds the bundled MNIST files."""
    return Path(str(resources.files("mnistnp.data") / "mnist"))


def _find_file(folder: Path, stem: str) -> Path | None:
    """The file of ``stem`` in ``folder``: named as MNIST's site names it or with a dot before
    the kind (``train-images.idx3-ubyte``, as many copies are named), gzipped or not."""
    dotted = stem.replace("-idx", ".idx")
    for candidate in (folder / stem, folder / f"{stem}.gz", folder / dotted,
                      folder / f"{dotted}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _candidate_dirs(name: str | None, data_dir: str | os.PathLike[str] | None) -> list[Path]:
    info = REGISTRY.get(name) if name else None
    if data_dir is not None:
        base = Path(data_dir)
        return [base, base / info.name] if info else [base]  # a registered one's subfolder
    if info is None:
        known = ", ".join(sorted(REGISTRY))
        raise DatasetError(f"unknown dataset {name!r} (known: {known}; or give a data folder)")
    if info.bundled:
        return [bundled_dir()]
    dirs = []
    env = os.environ.get("MNISTNP_DATA")
    if env:
        dirs += [Path(env) / info.name, Path(env)]
    cache = cache_dir() / info.name
    if cache not in dirs:
        dirs.append(cache)
    return dirs + [Path(d) for d in info.system_dirs]


def locate(name: str | None = "mnist", data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder that holds all four standard files of the dataset, or a DatasetError."""
    if data_dir is not None and not Path(data_dir).is_dir():
        raise DatasetError(f"{data_dir}: no such data folder")
    dirs = _candidate_dirs(name, data_dir)
    for folder in dirs:
        if all(_find_file(folder, stem) for stem in FILES):
            return folder
    for folder in dirs:  # name the first missing file of the most complete folder
        present = [stem for stem in FILES if _find_file(folder, stem)]
        if present:
            missing = next(stem for stem in FILES if stem not in present)
            raise DatasetError(f"{folder}: missing {missing}[.gz]")
    if data_dir is not None:
        also = f" (nor in {dirs[1]})" if len(dirs) > 1 else ""
        raise DatasetError(f"{data_dir}: no dataset files found{also}; a data folder holds "
                           f"{LOOKED_FOR}")
    hint = " (apt-get install dataset-fashion-mnist)" if name == "fashion-mnist" else ""
    where = ", ".join(str(d) for d in dirs)
    raise DatasetError(f"dataset {name} not found in {where}{hint}")


def _read_checked(path: Path, kind: str, sha256: str | None,
                  gz_sha256: str | None = None, dataset: str = "") -> np.ndarray:
    """Parse ``path`` as ``kind`` ("images" or "labels") after checking the decompressed bytes'
    SHA-256 or, when only the download's hash is known (KMNIST), the .gz file's own;
    ChecksumMismatch naming ``dataset`` if it differs."""
    if sha256 is None and gz_sha256 is not None and path.suffix == ".gz":
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != gz_sha256:
            raise ChecksumMismatch(f"{path}: SHA-256 {digest[:12]}… does not match "
                                   f"{dataset}'s {gz_sha256[:12]}…", dataset)
    data = read_bytes(path)
    if sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise ChecksumMismatch(f"{path}: SHA-256 {digest[:12]}… does not match "
                                   f"{dataset}'s {sha256[:12]}…", dataset)
    return parse_idx(data, str(path), kind)


def _check_split(images: np.ndarray, labels: np.ndarray, img_path: Path, lbl_path: Path,
                 num_classes: int) -> None:
    # The kinds (3-D and 1-D unsigned bytes) were checked from the headers.
    if not len(images):
        raise DatasetError(f"{img_path}: holds no images")
    if len(labels) != len(images):
        raise DatasetError(f"{lbl_path}: {len(labels):,} labels but {len(images):,} images")
    if int(labels.max()) >= num_classes:
        bad = int(np.argmax(labels >= num_classes))
        raise DatasetError(f"{lbl_path}: label {labels[bad]} at index {bad:,} is out of "
                           f"range 0-{num_classes - 1}")


def load(
    name: str | None = "mnist", data_dir: str | os.PathLike[str] | None = None
) -> tuple[Split, Split]:
    """Load a dataset as ``(x_train, y_train), (x_test, y_test)``, like Keras' ``load_data()``.

    Images are uint8 arrays of shape (n_samples, height, width), labels uint8 of shape
    (n_samples,). ``name`` picks a registered dataset ("mnist" is bundled, "fashion-mnist" is
    looked for in ``data_dir``, ``$MNISTNP_DATA`` and Debian's folder). With ``data_dir``, any
    folder holding the four standard files works; a registered name's checksums are then checked.

    Parameters
    ----------
    name : str or None, default "mnist"
        A registered dataset, or None for unregistered data in ``data_dir``.
    data_dir : str or os.PathLike, optional
        A folder holding the four standard IDX files (raw or gzip).

    Returns
    -------
    (x_train, y_train), (x_test, y_test) : tuple of two (ndarray, ndarray) tuples
        ``x_train`` is an ndarray of shape (n_samples, 28, 28), dtype uint8 for MNIST (in
        general (n_samples, height, width)); ``y_train`` an ndarray of shape (n_samples,),
        dtype uint8; the test pair alike (10,000 images for MNIST, 60,000 to train).

    Raises
    ------
    DatasetError
        For every problem, naming the file.
    """
    info = REGISTRY.get(name) if name else None
    folder = locate(name, data_dir)
    num_classes = info.num_classes if info else 256
    paths: dict[str, Path] = {}
    arrays = {}
    for stem in FILES:
        path = _find_file(folder, stem)
        assert path is not None  # locate() found all four
        kind = "images" if stem in (TRAIN_IMAGES, TEST_IMAGES) else "labels"
        paths[stem] = path
        arrays[stem] = _read_checked(path, kind, info.sha256.get(stem) if info else None,
                                     info.gz_sha256.get(stem) if info else None,
                                     info.name if info else "")
    for img, lbl in ((TRAIN_IMAGES, TRAIN_LABELS), (TEST_IMAGES, TEST_LABELS)):
        _check_split(arrays[img], arrays[lbl], paths[img], paths[lbl], num_classes)
    train_shape, test_shape = arrays[TRAIN_IMAGES].shape[1:], arrays[TEST_IMAGES].shape[1:]
    if train_shape != test_shape:
        raise DatasetError(f"{paths[TEST_IMAGES]}: test images are "
                           f"{'x'.join(map(str, test_shape))} but train images are "
                           f"{'x'.join(map(str, train_shape))}")
    if info is None:  # only the labels say what the classes are: check that they agree
        check_classes(arrays[TRAIN_LABELS], arrays[TEST_LABELS], paths[TRAIN_LABELS],
                      paths[TEST_LABELS])
    return (arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS]), (arrays[TEST_IMAGES], arrays[TEST_LABELS])
