"""The dataset registry and ``load``: find a dataset's four IDX files, verify and check them."""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from .data.idx import parse_idx, read_bytes
from .errors import DatasetError, MnistnpWarning, SettingError

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

Split = tuple[np.ndarray, np.ndarray]
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
    # Whether its images are framed as MNIST's digits are (the ink fitted into 20x20, centred by
    # mass in 28x28), so a user's 28x28 image framed otherwise is fitted and centred before a
    # model of it reads the image; other datasets' 28x28 images are read as they are.
    framed_digits: bool = False


REGISTRY: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        name="mnist",
        bundled=True,
        framed_digits=True,
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


# A class with fewer training labels than this fraction of the median class's is reported:
# one label among thousands is more often a typo than a class (MNIST's smallest class has
# 91% of the median's; a 1:20 imbalance stays quiet).
RARE_FRACTION = 1 / 50


def check_classes(y_train: np.ndarray, y_test: np.ndarray, train_path: Path | str,
                  test_path: Path | str) -> None:
    """Check the classes of labels that have no registered class count (uint8 labels).

    A test class the training labels lack is an error: no model can learn it. A nearly empty
    training class (a stray label), a training class with no test labels, or a class number
    that never appears (the model still gets an output for it) is an MnistnpWarning: each
    can be meant, and training on it works, but the user should know.

    Parameters
    ----------
    y_train, y_test : ndarray of shape (n_samples,), dtype uint8
        The training and test labels.
    train_path, test_path : Path or str
        Their files, named in the messages.

    Raises
    ------
    DatasetError
        If the test labels hold a class the training labels lack.
    """
    train, test = np.bincount(y_train, minlength=256), np.bincount(y_test, minlength=256)
    found = f"classes {class_list(y_train)}"
    unseen = np.flatnonzero((test > 0) & (train == 0))
    if unseen.size:
        raise DatasetError(f"{test_path}: {_count(int(test[unseen].sum()), 'label')} of "
                           f"{_classes(unseen)}, which the training labels lack ({found} in "
                           f"{train_path})")
    median = float(np.median(train[train > 0]))
    rare = np.flatnonzero((train > 0) & (train < RARE_FRACTION * median))
    for c in rare:
        at = np.flatnonzero(y_train == c)
        where = ", ".join(f"{i:,}" for i in at[:3]) + (", ..." if len(at) > 3 else "")
        _warn(f"{train_path}: class {c} has only {_count(len(at), 'label')} (index {where}) of "
              f"{len(y_train):,}, against {median:,.0f} for the median class: a stray label? "
              f"The model gets an output for it")
    untested = np.setdiff1d(np.flatnonzero((train > 0) & (test == 0)), rare)
    if untested.size:
        _warn(f"{test_path}: no test labels of {_classes(untested)}, which the training labels "
              f"have: the test accuracy says nothing of {'them' if untested.size > 1 else 'it'}")
    top = int(y_train.max())
    gaps = np.flatnonzero(train[:top] == 0)
    if gaps.size:
        _warn(f"{train_path}: no labels of {_classes(gaps)} ({found}); the model still gets "
              f"an output for each, {top + 1} in all")


def class_list(labels: np.ndarray) -> str:
    """The classes present in ``labels`` as ranges, e.g. "0-9" or "0-4, 6-9, 255".

    Parameters
    ----------
    labels : ndarray of shape (n_samples,), dtype integer
        Class labels.

    Returns
    -------
    str
        The distinct classes, runs of consecutive ones as ranges.
    """
    return _ranges(np.unique(labels))


def _ranges(values: np.ndarray) -> str:
    runs = np.split(values, np.flatnonzero(np.diff(values) != 1) + 1)
    return ", ".join(f"{r[0]}" if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs if len(r))


def _classes(values: np.ndarray) -> str:
    return f"class{'es' if len(values) > 1 else ''} {_ranges(values)}"


def _count(n: int, word: str, plural: str = "") -> str:
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def _warn(message: str) -> None:
    warnings.warn(message, MnistnpWarning, stacklevel=4)  # at the caller of load()


def class_names(dataset: str | None, num_classes: int) -> tuple[str, ...]:
    """Names of classes 0 to num_classes - 1.

    A registered dataset's own (Fashion-MNIST's "T-shirt/top", ...) when it has that many classes,
    else the class numbers.
    """
    info = REGISTRY.get(dataset) if dataset else None
    if info is not None and len(info.class_names) == num_classes:
        return info.class_names
    return tuple(str(c) for c in range(num_classes))


def describe(data: tuple[Split, Split]) -> str:
    """One line on a loaded dataset.

    For example "600 training and 200 test images of 28x28, 10 classes (0-9)".
    """
    (x_train, y_train), (x_test, y_test) = data
    classes = np.union1d(y_train, y_test)
    return (f"{len(x_train):,} training and {len(x_test):,} test images of "
            f"{'x'.join(map(str, x_train.shape[1:]))}, {_count(len(classes), 'class', 'classes')}"
            f" ({_ranges(classes)})")


# The fewest images a validation split may leave on either side: fewer leave nothing to learn
# from, or a validation accuracy of a few coarse steps (1 image: 0% or 100%).
MIN_SPLIT = 10


def validation_split(
    x: np.ndarray, y: np.ndarray, val_split: float
) -> tuple[Split, Split | None]:
    """Hold out the last part of a training set: ``val_split`` is a fraction (< 1) or a count.

    Parameters
    ----------
    x : ndarray of shape (n_samples, height, width), dtype uint8
        The training images.
    y : ndarray of shape (n_samples,), dtype uint8
        Their labels.
    val_split : float
        The fraction held out (< 1), or how many images (>= 1); 0 holds none out.

    Returns
    -------
    (x_train, y_train) : (ndarray, ndarray) tuple
        Views of the first rows of ``x`` and ``y`` (no copies).
    (x_val, y_val) : (ndarray, ndarray) tuple or None
        Views of the last rows, or None when ``val_split`` is 0.

    Raises
    ------
    SettingError
        If the split leaves fewer than MIN_SPLIT samples to train on or to validate on,
        saying how many it leaves and what would do.
    """
    if val_split <= 0:
        return (x, y), None
    n = len(x)
    size = int(val_split) if val_split >= 1 else round(n * val_split)
    if size < MIN_SPLIT or n - size < MIN_SPLIT:
        raise SettingError(f"val-split {val_split:g}: {_split_problem(n, size)}; give 0 to "
                           f"turn validation off", "val_split")
    return (x[:-size], y[:-size]), (x[-size:], y[-size:])


def _split_problem(n: int, size: int) -> str:
    least = f"at least {MIN_SPLIT} are needed to train on and {MIN_SPLIT} to validate on"
    if n < 2 * MIN_SPLIT:
        return f"the {n:,} training images are too few to split ({least})"
    if n - size < MIN_SPLIT:
        most = n - MIN_SPLIT
        return (f"holds out {size:,} of the {n:,} training images, leaving {max(n - size, 0):,}"
                f" to train on ({least}): hold out at most {most:,}, or a fraction up to "
                f"{most / n:.4g}")
    return (f"holds out {size:,} of the {n:,} training images to validate on, too few for a "
            f"validation accuracy ({least}): hold out at least {MIN_SPLIT}, or a fraction of at "
            f"least {MIN_SPLIT / n:.2g}")
