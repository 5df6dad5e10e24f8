"""What the tests of files written by older code share: the tiny data those files were trained
on, and a comparison with that code's numbers that allows for another CPU's rounding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import tiny_arrays

DATA = Path(__file__).parent / "data"  # the files, and what the code that wrote them computed
Split = tuple[np.ndarray, np.ndarray]


def tiny_data() -> tuple[Split, Split]:
    """(train, test) of the tiny generated set, as the old code's runs were given it."""
    a = tiny_arrays(0)
    return ((a["train_images"], a["train_labels"].astype(np.int64)),
            (a["test_images"], a["test_labels"].astype(np.int64)))


def assert_same_arithmetic(actual: np.ndarray, expected: np.ndarray) -> None:
    """The old code's numbers, up to the order of floating-point sums. The expected values were
    computed on one machine; another CPU or BLAS thread count sums matrix products in another
    order (OpenBLAS picks a kernel per CPU), which moves the last bits, and a few training steps
    carry that along. Anything the code itself changed (a scale, a layer, an order of
    operations in the maths) moves the numbers by far more than this."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    rtol = 1e-4 if actual.dtype == np.float32 else 1e-9
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * np.abs(expected).max())
