"""Which data a saved model belongs to: the source its file records or the one a user names,
and whether that data fits the model (image shape, classes) before it is scored."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import datasets
from .errors import DatasetError, MnistnpWarning, ShapeError
from .model_info import ModelInfo
from .nn import Sequential

Data = tuple[datasets.Split, datasets.Split]


@dataclass(frozen=True)
class DataSource:
    """A dataset as ``datasets.load`` takes it: a registered name, a folder, or both."""

    name: str | None = None
    data_dir: str | None = None

    @property
    def registered(self) -> str | None:
        """The registered dataset this is (class count and names known), else None."""
        return self.name if self.name in datasets.REGISTRY else None

    def load(self) -> Data:
        """The data, as ``datasets.load`` gives it (DatasetError naming the file if not)."""
        return datasets.load(self.name, self.data_dir)

    def __str__(self) -> str:
        if self.data_dir is None:
            return str(self.name)
        return f"{self.name} in {self.data_dir}" if self.registered else str(self.data_dir)


class SourceUnknown(DatasetError):
    """A model file does not say, or can no longer say, where its data is.

    ``options`` names the arguments (``dataset``, ``data_dir``) that would.
    """

    def __init__(self, what: str, options: tuple[str, ...]) -> None:
        super().__init__(f"{what}; say which data to use (the {' or '.join(options)} "
                         "argument)")
        self.what, self.options = what, options


def trained_on(info: Mapping[str, Any]) -> str | None:
    """The registered dataset a model's ``info`` says it was trained on, else None."""
    name = ModelInfo(info).dataset
    return name if name in datasets.REGISTRY else None


def refits(model: Sequential) -> bool:
    """Whether an image already in the dataset's 28x28 format is still fitted for ``model``.

    A model of digits framed as MNIST frames them gets such an image fitted and centred unless
    it is framed so already; Fashion-MNIST's clothes fill the frame, and are read as they are.

    Parameters
    ----------
    model : Sequential
        The model, as ``load_model`` gives it.

    Returns
    -------
    bool
        The ``refit`` argument of ``images.prepare_digit`` for this model.
    """
    dataset = trained_on(model.info)
    return dataset is not None and datasets.REGISTRY[dataset].framed_digits


def recorded_source(info: Mapping[str, Any], path: str | os.PathLike[str]) -> DataSource:
    """The data the model in ``path`` was trained on, from its ``info``.

    SourceUnknown when it cannot be found again without a guess.

    A folder is used only as an absolute path that still exists (older files recorded it as
    given, relative to a working folder now unknown). A registered name alone is enough: its
    files are found the usual way and checked against its checksums.
    """
    recorded = ModelInfo(info)
    name, data_dir = recorded.dataset, recorded.data_dir
    registered = name in datasets.REGISTRY
    if data_dir is not None:
        folder = Path(data_dir)
        if folder.is_absolute() and folder.is_dir():
            return DataSource(name, data_dir)
        if registered:  # the folder is gone, but the registered files are the same anywhere
            return DataSource(name)
        why = "which is gone" if folder.is_absolute() else "relative to where it was trained"
        raise SourceUnknown(f"{path} was trained on the files in {data_dir}, {why}",
                            ("data_dir",))
    if registered:
        return DataSource(name)
    if name is not None:
        raise SourceUnknown(f"{path} was trained on {name!r}, which is not a known dataset",
                            ("data_dir",))
    raise SourceUnknown(f"{path} does not record the data it was trained on",
                        ("dataset", "data_dir"))


def source_for(model: Sequential, path: str | os.PathLike[str], dataset: str | None = None,
               data_dir: str | os.PathLike[str] | None = None) -> DataSource:
    """The data to score ``model`` (read from ``path``) on.

    The dataset and/or folder given, else the one its file records (see ``recorded_source``).
    """
    if dataset is None and data_dir is None:
        return recorded_source(model.info, path)
    return DataSource(dataset, None if data_dir is None else os.fspath(data_dir))


def check_fits(model: Sequential, path: str | os.PathLike[str], data: Data,
               source: DataSource) -> None:
    """Check that the data of ``source`` fit ``model``.

    DatasetError unless the images of ``source`` have the shape ``model`` was trained on and its
    classes are among the model's; an MnistnpWarning when the data have fewer classes than the model
    (a subset can be meant), or are a registered dataset whose classes are not those of the one the
    model was trained on.
    """
    (_, y_train), (x_test, y_test) = data
    shape, trained = x_test.shape[1:], ModelInfo(model.info).image_shape
    if trained is not None and trained != shape:
        raise DatasetError(f"{path} takes {'x'.join(map(str, trained))} images "
                           f"({model.input_size} inputs) but those of {source} are "
                           f"{'x'.join(map(str, shape))}")
    check_input(path, model, shape, f"the images of {source}")
    n, info = model.num_classes, datasets.REGISTRY.get(source.registered or "")
    found = datasets.class_list(np.concatenate([y_train, y_test]))
    classes = info.num_classes if info else max(int(y_train.max()), int(y_test.max())) + 1
    if classes > n:
        raise DatasetError(f"{path} has {n} classes (0-{n - 1}) but {source} has {classes} "
                           f"({found})")
    if classes < n:
        warnings.warn(f"{path} has {n} classes but {source} only {classes} ({found}); its "
                      f"other outputs can only be wrong answers", MnistnpWarning, stacklevel=2)
    own = trained_on(model.info)
    if (own and info and own != info.name
            and datasets.class_names(own, n) != datasets.class_names(info.name, n)):
        warnings.warn(f"{path} was trained on {own}, whose classes are not those of "
                      f"{info.name}: class numbers are compared, under {info.name}'s names",
                      MnistnpWarning, stacklevel=2)


def check_input(path: str | os.PathLike[str], model: Sequential, shape: tuple[int, ...],
                what: str = "the images") -> None:
    """Check that samples of ``shape`` are what the model read from ``path`` takes.

    ShapeError unless they are: its input shape or, for a model of rows, any shape of as many
    numbers (flattened). ``shape`` is one sample's shape, such as (28, 28).
    """
    shape = tuple(shape)
    if shape == model.input_shape:
        return
    if len(model.input_shape) == 1 and math.prod(shape) == model.input_size:
        return
    takes = (f"{model.input_size} inputs" if len(model.input_shape) == 1 else
             f"{'x'.join(map(str, model.input_shape))} images ({model.input_size} inputs)")
    raise ShapeError(f"{path}: the model takes {takes} but {what} are "
                     f"{'x'.join(map(str, shape))}")
