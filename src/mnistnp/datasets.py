"""The dataset registry and ``load``: find a dataset's four IDX files, verify and check them."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from .data.idx import parse_idx, read_bytes
from .errors import DatasetError

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

Split = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class DatasetInfo:
    """What mnistnp knows of a named dataset: where it lies and what its files must hash to."""

    name: str
    # SHA-256 of each decompressed IDX file; checked on every load, so a corrupt file never trains.
    sha256: dict[str, str] = field(default_factory=dict)
    # Folders searched, in order, after data_dir, $MNISTNP_DATA and the cache (system installs).
    system_dirs: tuple[str, ...] = ()
    bundled: bool = False
    # Where `mnistnp download` fetches the .gz files from, in order, and their SHA-256 as the
    # mirrors serve them (taken from a public code index's copies of torchvision's lists, not
    # from a download: this machine has no internet). A download from a mirror that recompressed
    # the files is accepted when it decompresses to the raw `sha256` above (see download.py).
    mirrors: tuple[str, ...] = ()
    gz_sha256: dict[str, str] = field(default_factory=dict)
    num_classes: int = 10
    class_names: tuple[str, ...] = tuple(str(d) for d in range(10))


REGISTRY: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        name="mnist",
        bundled=True,
        # The official MNIST checksums (shared/data/mnist/SHA256SUMS.raw).
        sha256={
            TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        },
        mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
                 "https://storage.googleapis.com/cvdf-datasets/mnist/",
                 "http://yann.lecun.com/exdb/mnist/"),
        gz_sha256={
            TRAIN_IMAGES: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            TRAIN_LABELS: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            TEST_IMAGES: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            TEST_LABELS: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    ),
    "fashion-mnist": DatasetInfo(
        name="fashion-mnist",
        # Hashes of the decompressed files of Debian's dataset-fashion-mnist 0.0~git20200523.
        sha256={
            TEST_IMAGES: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            TEST_LABELS: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            TRAIN_IMAGES: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            TRAIN_LABELS: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        },
        system_dirs=("/usr/share/datasets/fashion-mnist",),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                 "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/"),
        gz_sha256={
            TRAIN_IMAGES: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            TRAIN_LABELS: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            TEST_IMAGES: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            TEST_LABELS: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
        class_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    ),
    "kmnist": DatasetInfo(
        name="kmnist",
        # No SHA-256 of the decompressed files is known; the .gz hashes are checked on download
        # and, when the cached file is the .gz itself, on every load.
        mirrors=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
        gz_sha256={
            TRAIN_IMAGES: "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
            TRAIN_LABELS: "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
            TEST_IMAGES: "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
            TEST_LABELS: "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c",
        },
        # Ten hiragana: o, ki, su, tsu, na, ha, ma, ya, re, wo.
        class_names=("お", "き", "す", "つ", "な", "は", "ま", "や", "れ", "を"),
    ),
}


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
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _candidate_dirs(name: str | None, data_dir: str | os.PathLike[str] | None) -> list[Path]:
    info = REGISTRY.get(name) if name else None
    if data_dir is not None:
        base = Path(data_dir)
        return [base, base / name] if name else [base]
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
    hint = " (apt-get install dataset-fashion-mnist)" if name == "fashion-mnist" else ""
    where = ", ".join(str(d) for d in dirs)
    raise DatasetError(f"dataset {name or 'files'} not found in {where}{hint}")


def _read_checked(path: Path, sha256: str | None, gz_sha256: str | None = None) -> np.ndarray:
    """Parse ``path`` after checking the decompressed bytes' SHA-256 or, when only the
    download's hash is known (KMNIST), the .gz file's own."""
    if sha256 is None and gz_sha256 is not None and path.suffix == ".gz":
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != gz_sha256:
            raise DatasetError(f"{path}: SHA-256 {digest[:12]}… does not match "
                               f"{gz_sha256[:12]}…")
    data = read_bytes(path)
    if sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != sha256:
            raise DatasetError(f"{path}: SHA-256 {digest[:12]}… does not match {sha256[:12]}…")
    return parse_idx(data, path.name)


def _check_split(images: np.ndarray, labels: np.ndarray, img_path: Path, lbl_path: Path,
                 num_classes: int) -> None:
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DatasetError(f"{img_path.name}: expected 3-D unsigned-byte images, "
                           f"got {images.ndim}-D {images.dtype}")
    if labels.ndim != 1 or labels.dtype != np.uint8:
        raise DatasetError(f"{lbl_path.name}: expected 1-D unsigned-byte labels, "
                           f"got {labels.ndim}-D {labels.dtype}")
    if len(labels) != len(images):
        raise DatasetError(f"{lbl_path.name}: {len(labels):,} labels but {len(images):,} images")
    if len(labels) and int(labels.max()) >= num_classes:
        bad = int(np.argmax(labels >= num_classes))
        raise DatasetError(f"{lbl_path.name}: label {labels[bad]} at index {bad:,} is out of "
                           f"range 0-{num_classes - 1}")


def load(
    name: str | None = "mnist", data_dir: str | os.PathLike[str] | None = None
) -> tuple[Split, Split]:
    """Load a dataset as ``(x_train, y_train), (x_test, y_test)``, like Keras' ``load_data()``.

    Images are uint8 arrays of shape (n_samples, height, width), labels uint8 of shape
    (n_samples,). ``name`` picks a registered dataset ("mnist" is bundled, "fashion-mnist" is
    looked for in ``data_dir``, ``$MNISTNP_DATA`` and Debian's folder). With ``data_dir``, any
    folder holding the four standard files works; a registered name's checksums are then checked.
    Every problem raises :class:`DatasetError` naming the file.
    """
    info = REGISTRY.get(name) if name else None
    folder = locate(name, data_dir)
    num_classes = info.num_classes if info else 256
    paths = {stem: _find_file(folder, stem) for stem in FILES}
    arrays = {}
    for stem, path in paths.items():
        assert path is not None  # locate() found all four
        arrays[stem] = _read_checked(path, info.sha256.get(stem) if info else None,
                                     info.gz_sha256.get(stem) if info else None)
    for img, lbl in ((TRAIN_IMAGES, TRAIN_LABELS), (TEST_IMAGES, TEST_LABELS)):
        _check_split(arrays[img], arrays[lbl], paths[img], paths[lbl], num_classes)  # type: ignore[arg-type]
    train_shape, test_shape = arrays[TRAIN_IMAGES].shape[1:], arrays[TEST_IMAGES].shape[1:]
    if train_shape != test_shape:
        raise DatasetError(f"{paths[TEST_IMAGES]}: test images are "
                           f"{'x'.join(map(str, test_shape))} but train images are "
                           f"{'x'.join(map(str, train_shape))}")
    return (arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS]), (arrays[TEST_IMAGES], arrays[TEST_LABELS])


def validation_split(
    x: np.ndarray, y: np.ndarray, val_split: float
) -> tuple[Split, Split | None]:
    """Hold out the last part of a training set: ``val_split`` is a fraction (< 1) or a count.

    Returns views (no copies): ``(x_train, y_train), (x_val, y_val)``, or None for the second
    when ``val_split`` is 0. At least one sample is kept for training and, if asked for, one
    for validation, so small sets still work.
    """
    n = len(x)
    size = int(val_split) if val_split >= 1 else round(n * val_split)
    if val_split > 0:
        size = max(1, size)
    size = min(size, n - 1)
    if size <= 0:
        return (x, y), None
    return (x[:-size], y[:-size]), (x[-size:], y[-size:])
