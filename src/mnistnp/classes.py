"""The classes of a loaded dataset's labels: checked where no registry knows them
(``check_classes``), listed as ranges (``class_list``), and the dataset told in one line."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from .dataset_registry import Split
from .errors import DatasetError, MnistnpWarning

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


def describe(data: tuple[Split, Split]) -> str:
    """One line on a loaded dataset.

    For example "600 training and 200 test images of 28x28, 10 classes (0-9)".
    """
    (x_train, y_train), (x_test, y_test) = data
    classes = np.union1d(y_train, y_test)
    return (f"{len(x_train):,} training and {len(x_test):,} test images of "
            f"{'x'.join(map(str, x_train.shape[1:]))}, {_count(len(classes), 'class', 'classes')}"
            f" ({_ranges(classes)})")
