"""Holding out the last part of a training set to validate on (``validation_split``), refused
when either side would be too small to learn from or to measure."""

from __future__ import annotations

import numpy as np

from .dataset_registry import Split
from .errors import SettingError

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
