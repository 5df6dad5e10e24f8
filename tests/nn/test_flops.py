"""Each layer kind's FLOP count for one sample in inference (``Layer.flops``) against counts
worked out by hand, with the convention ``Layer.flops`` states: a multiply-add is 2, an add,
multiply, comparison or maximum 1, a reshape or view 0, training-only layers 0."""

from __future__ import annotations

import pytest

from mnistnp.nn import (
    LAYERS,
    AddChannel,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    GlobalAvgPool,
    Layer,
    MaxPool2D,
    RandomAffine,
    RandomShift,
    RandomStroke,
    ReLU,
    Rescale,
)

CASES = {
    # 784 * 50 multiply-adds, then 50 bias additions
    "dense 784->50": (Dense(784, 50), (784,), 2 * 784 * 50 + 50),
    "dense 3->2": (Dense(3, 2), (3,), 14),
    # 'same', stride 2 on 9x9: 5x5 outputs per filter, each 3*3*3 multiply-adds and a bias
    "conv same stride 2": (Conv2D(3, 4, 3, stride=2, padding="same"), (3, 9, 9),
                           4 * 5 * 5 * (2 * 27 + 1)),
    # 'valid' 3x2 kernel on 6x7: 4x6 outputs per filter, each 2*3*2 multiply-adds and a bias
    "conv valid 3x2": (Conv2D(2, 5, (3, 2)), (2, 6, 7), 5 * 4 * 6 * (2 * 12 + 1)),
    # 1 channel, 28x28 'same' 5x5: the zero border's products count too
    "conv same 5x5": (Conv2D(1, 1, 5, padding="same"), (1, 28, 28), 28 * 28 * 51),
    # 2x2 windows on 7x7: 3x3 outputs (the last row and column dropped), 3 comparisons each
    "maxpool 2": (MaxPool2D(2), (3, 7, 7), 3 * 3 * 3 * 3),
    # 3x3 windows one pixel apart on 5x5: 3x3 outputs, 8 comparisons each
    "maxpool 3 stride 1": (MaxPool2D(3, 1), (1, 5, 5), 9 * 8),
    # per channel 14 additions and a division
    "global average": (GlobalAvgPool(), (4, 3, 5), 4 * 15),
    # x * scale + shift: one multiply-add per value
    "batch norm rows": (BatchNorm(4), (4,), 8),
    "batch norm images": (BatchNorm(4), (4, 3, 3), 2 * 36),
    "relu": (ReLU(), (5,), 5),
    "relu images": (ReLU(), (2, 3, 3), 18),
    "rescale": (Rescale(1 / 255), (28, 28), 784),
    "flatten": (Flatten(), (28, 28), 0),
    "add channel": (AddChannel(), (28, 28), 0),
    # training only: the identity in inference
    "dropout": (Dropout(0.5), (256,), 0),
    "shift": (RandomShift(2), (28, 28), 0),
    "affine": (RandomAffine(10, (0.9, 1.1), 2), (28, 28), 0),
    "stroke": (RandomStroke(1.0, 0.5), (28, 28), 0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_flops_match_the_hand_count(case: str) -> None:
    layer, shape, expected = CASES[case]
    count = layer.flops(shape)
    assert isinstance(count, int)
    assert count == expected


def test_every_kind_is_counted_here() -> None:
    kinds = {layer.kind for layer, _, _ in CASES.values()}
    ours = {kind for kind, cls in LAYERS.items() if cls.__module__.startswith("mnistnp.")}
    assert ours <= kinds, f"no hand count for {sorted(ours - kinds)}"


def test_every_kind_of_mnistnp_gives_its_own_count() -> None:
    """The count is defined in the class that sets the kind, not inherited."""
    for kind, cls in LAYERS.items():
        if cls.__module__.startswith("mnistnp."):
            assert "flops" in cls.__dict__, kind


def test_counts_grow_with_the_work() -> None:
    """Not constants: twice the filters or the image area is twice the work."""
    small, wide = Conv2D(1, 4, 3, padding="same"), Conv2D(1, 8, 3, padding="same")
    assert wide.flops((1, 8, 8)) == 2 * small.flops((1, 8, 8))
    assert small.flops((1, 8, 16)) == 2 * small.flops((1, 8, 8))
    assert MaxPool2D(2).flops((2, 8, 8)) == 2 * MaxPool2D(2).flops((1, 8, 8))


def test_a_shape_the_layer_cannot_take_is_refused() -> None:
    with pytest.raises(ValueError, match="expects"):
        Conv2D(3, 4, 3).flops((2, 9, 9))
    with pytest.raises(ValueError, match="does not fit"):
        MaxPool2D(4).flops((1, 3, 3))


def test_the_base_gives_no_count_and_names_the_kind() -> None:
    class Squash(Layer):
        pass  # no kind of its own: it would be called "Layer"

    with pytest.raises(NotImplementedError, match="layer kind Layer gives no FLOP count"):
        Squash().flops((3,))
