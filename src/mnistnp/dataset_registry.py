"""The dataset registry: the four standard file names, what mnistnp knows of each named dataset
(``DatasetInfo``: its checksums, mirrors and class names) in ``REGISTRY``, and ``class_names``."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

Split = tuple[np.ndarray, np.ndarray]  # a set's images and labels


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
    # mirrors serve them (taken from copies of torchvision's lists, not from a download). A
    # download from a mirror that recompressed the files is accepted when it decompresses to the
    # raw `sha256` above (see download.py).
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
        # The official MNIST checksums (data/mnist/SHA256SUMS.raw, beside the bundled files).
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


def class_names(dataset: str | None, num_classes: int) -> tuple[str, ...]:
    """Names of classes 0 to num_classes - 1.

    A registered dataset's own (Fashion-MNIST's "T-shirt/top", ...) when it has that many classes,
    else the class numbers.
    """
    info = REGISTRY.get(dataset) if dataset else None
    if info is not None and len(info.class_names) == num_classes:
        return info.class_names
    return tuple(str(c) for c in range(num_classes))
