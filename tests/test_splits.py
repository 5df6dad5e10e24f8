"""Tests for mnistnp.splits: a validation split holds out the last rows, as a fraction or a
count, and one that leaves too little on either side is refused with a message that says how."""

from __future__ import annotations

import numpy as np
import pytest

from mnistnp.errors import SettingError
from mnistnp.splits import validation_split


@pytest.mark.parametrize(("n", "val_split", "n_val"), [
    (60_000, 1 / 12, 5_000),  # the default: MNIST's 5,000 of 60,000
    (60_000, 0.1, 6_000),
    (60_000, 5_000, 5_000),  # a count
    (300, 50, 50),
    (300, 290, 290),  # 10 left to train on: the least there may be
    (20, 0.5, 10),
    (1, 0, 0),
    (300, 0, 0),  # 0 turns it off
])
def test_split_sizes(n: int, val_split: float, n_val: int) -> None:
    x, y = np.arange(n * 2).reshape(n, 2), np.arange(n)
    (x_train, y_train), val = validation_split(x, y, val_split)
    assert len(x_train) == len(y_train) == n - n_val
    if n_val == 0:
        assert val is None
        return
    assert val is not None
    x_val, y_val = val
    assert len(x_val) == len(y_val) == n_val
    # the last rows, in order, and no row on both sides
    np.testing.assert_array_equal(y_val, np.arange(n - n_val, n))
    np.testing.assert_array_equal(np.concatenate([y_train, y_val]), y)


@pytest.mark.parametrize(("n", "val_split", "words"), [
    (60_000, 60_000, "holds out 60,000 of the 60,000 training images, leaving 0 to train on"),
    (60_000, 0.99999, "holds out 59,999 of the 60,000 training images, leaving 1 to train on"),
    (60_000, 1, "holds out 1 of the 60,000 training images to validate on, too few"),
    (60_000, 0.0001, "holds out 6 of the 60,000 training images to validate on, too few"),
    (15, 0.5, "the 15 training images are too few to split"),
])
def test_a_split_that_leaves_too_little_on_either_side_is_refused(
        n: int, val_split: float, words: str) -> None:
    x, y = np.zeros((n, 2), np.uint8), np.zeros(n, np.uint8)
    with pytest.raises(SettingError) as e:
        validation_split(x, y, val_split)
    assert str(e.value).startswith(f"val-split {val_split:g}: {words}"), str(e.value)
    assert e.value.setting == "val_split" and "0 to turn validation off" in str(e.value)
