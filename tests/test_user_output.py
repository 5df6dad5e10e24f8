"""What a user sees: the help of every option, the progress bar and the lines training prints
(and a bar that leaves no trace on Ctrl-C), download messages, the model summary, and the
learning curve's axis and file format."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from mnistnp.cli import main
from mnistnp.nn import Dense, Flatten, RandomShift, mlp


def cli(*argv: object) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as e:
        return 0 if e.code is None else int(e.code)


# --- the model summary ------------------------------------------------------------------------


def test_summary_counts_parameters_and_follows_shapes() -> None:
    sizes = [784, 50, 30, 10]
    model = mlp(sizes, np.random.default_rng(0), dropout=0.1, shift=1)
    per_dense = [a * b + b for a, b in itertools.pairwise(sizes)]  # weights and biases
    text = model.summary()
    cells = [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()]
    rows = {row[0]: row[1:] for row in cells if len(row) == 3}
    assert rows["input"] == ["(N, 28, 28)", "0"]
    assert rows["RandomShift(shift=1)"] == ["(N, 28, 28)", "0"]
    assert rows["Flatten(scale=0.00392)"] == ["(N, 784)", "0"]
    for (a, b), count in zip(itertools.pairwise(sizes), per_dense):
        assert rows[f"Dense({a}, {b})"] == [f"(N, {b})", f"{count:,}"]
    assert text.splitlines()[-1] == (f"total: {sum(per_dense):,} parameters "
                                     f"({4 * sum(per_dense) / 1024:,.1f} KiB)")
    assert str(model) == text
    assert repr(model) == ("Sequential(RandomShift(shift=1) -> Flatten(scale=0.00392) -> "
                           "Dense(784, 50) -> ReLU -> Dropout(p=0.1) -> Dense(50, 30) -> ReLU "
                           f"-> Dropout(p=0.1) -> Dense(30, 10); {sum(per_dense):,} "
                           "parameters, float32)")


def test_summary_of_rows_and_of_a_shape_the_model_cannot_take() -> None:
    model = mlp([6, 4, 3])  # 6 inputs: not a square image, so rows
    assert "(N, 6)" in model.summary().splitlines()[3]
    assert "(N, 6)" in model.summary((2, 3)).splitlines()[4]  # (2, 3) images flattened
    with pytest.raises(ValueError, match=r"Dense\(6, 4\) takes rows of 6, got shape \(7,\)"):
        model.summary((7,))
    with pytest.raises(ValueError, match="RandomShift"):
        mlp([6, 3], shift=1).summary((6,))
    assert Dense(3, 2).output_shape((3,)) == (2,) and Flatten().output_shape((4, 5)) == (20,)
    assert RandomShift(1).output_shape((4, 5)) == (4, 5)
