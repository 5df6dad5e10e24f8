"""Tests for RandomStroke (nn.augment.stroke): the grey dilation and erosion against hand-worked
bars, fractions as blends, and the layer's sampling, seeding, modes, specs and layer string."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mnistnp.nn import Rescale, Sequential
from mnistnp.nn.arch import LayerStringError, build_layers
from mnistnp.nn.augment.stroke import RandomStroke, stroke_resample


def bar(width: int = 1, size: int = 11, value: float = 200.0) -> np.ndarray:
    """(1, size, size) float32: a horizontal bar ``width`` rows thick across the middle, its
    ends two pixels from the edges."""
    img = np.zeros((1, size, size), np.float32)
    top = size // 2 - width // 2
    img[0, top:top + width, 2:size - 2] = value
    return img


def test_a_whole_pixel_grows_a_bar_by_one_pixel_on_every_side() -> None:
    out = stroke_resample(bar(1), np.array([1.0]))[0]
    rows = np.flatnonzero(out[:, 5] == 200)
    assert list(rows) == [4, 5, 6]
    # a cross, not a square: the corners beyond the bar's ends stay dark
    assert out[5, 1] == 200 and out[4, 1] == 0 and out[5, 0] == 0


def test_a_whole_pixel_thins_a_bar_three_wide_to_one() -> None:
    out = stroke_resample(bar(3), np.array([-1.0]))[0]
    assert list(np.flatnonzero(out[:, 5] == 200)) == [5]
    assert out[:, 5].sum() == 200


def test_two_pixels_are_two_steps() -> None:
    once = stroke_resample(bar(1), np.array([1.0]))
    np.testing.assert_array_equal(stroke_resample(bar(1), np.array([2.0])),
                                  stroke_resample(once, np.array([1.0])))


@pytest.mark.parametrize("amount", [0.25, 0.5, -0.25, 1.5, -1.75])
def test_a_fraction_blends_towards_the_next_step(amount: float) -> None:
    whole = math.floor(abs(amount))
    sign = 1.0 if amount > 0 else -1.0
    before = stroke_resample(bar(5), np.array([sign * whole]))
    after = stroke_resample(bar(5), np.array([sign * (whole + 1)]))
    frac = abs(amount) - whole
    np.testing.assert_allclose(stroke_resample(bar(5), np.array([amount])),
                               before + frac * (after - before), atol=1e-4)


def test_each_image_takes_its_own_amount_and_zero_leaves_it() -> None:
    x = np.concatenate([bar(3), bar(3), bar(3)])
    out = stroke_resample(x, np.array([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(out[0], stroke_resample(bar(3), np.array([1.0]))[0])
    np.testing.assert_array_equal(out[1], x[1])
    np.testing.assert_array_equal(out[2], stroke_resample(bar(3), np.array([-1.0]))[0])


def test_channels_change_alike_and_the_input_is_left_alone() -> None:
    x = np.stack([bar(3)[0], bar(3)[0] / 2], axis=0)[None]  # (1, 2, 11, 11)
    kept = x.copy()
    out = stroke_resample(x, np.array([0.5]))
    np.testing.assert_allclose(out[0, 1], out[0, 0] / 2, atol=1e-4)
    np.testing.assert_array_equal(x, kept)


# --- the layer ------------------------------------------------------------------------------


def layer(grow: float = 1.0, thin: float = 0.5, seed: int = 0) -> RandomStroke:
    aug = RandomStroke(grow, thin)
    aug.init(np.random.default_rng(seed))
    return aug


def digits(n: int = 6) -> np.ndarray:
    """uint8 (n, 28, 28): bars of 1 to 3 rows, as light strokes on black."""
    x = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        x[i, 10:11 + i % 3, 4:24] = 255
    return x


def test_evaluation_and_no_change_are_the_identity() -> None:
    x = digits()
    assert layer().forward(x) is x
    assert layer(0, 0).forward(x, training=True) is x


def test_training_changes_strokes_and_keeps_shape_and_dtype() -> None:
    x = digits(8)
    out = layer().forward(x, training=True)
    assert out.shape == x.shape and out.dtype == np.uint8
    ink = out.astype(float).sum(axis=(1, 2)) - x.astype(float).sum(axis=(1, 2))
    assert (ink > 0).any() and (ink < 0).any()  # some grown, some thinned


def test_drawn_amounts_stay_in_range_and_cover_it() -> None:
    amounts = layer(1.5, 0.5).sample_amounts(4000)
    assert amounts.max() <= 1.5 and amounts.min() >= -0.5
    assert amounts.max() > 1.4 and amounts.min() < -0.45
    assert 0.45 < np.mean(amounts > 0) < 0.55


def test_the_same_seed_gives_the_same_strokes_and_another_seed_others() -> None:
    x = digits(8)
    a, b, c = layer(seed=0), layer(seed=0), layer(seed=1)
    out = a.forward(x, training=True)
    np.testing.assert_array_equal(out, b.forward(x, training=True))
    assert not np.array_equal(out, c.forward(x, training=True))


def test_its_stream_is_a_child_of_the_models_generator() -> None:
    models = [Sequential([RandomStroke(1, 1), Rescale(1 / 255)], (28, 28)).init(
        np.random.default_rng(seed)) for seed in (7, 7, 8)]
    x = digits(8)
    outs = [m.layers[0].forward(x, training=True) for m in models]
    np.testing.assert_array_equal(outs[0], outs[1])
    assert not np.array_equal(outs[0], outs[2])


def test_backward_is_refused_and_shapes_pass_through() -> None:
    with pytest.raises(NotImplementedError):
        layer().backward(np.zeros((1, 28, 28)))
    assert layer().output_shape((28, 28)) == (28, 28)
    assert layer().output_shape((1, 28, 28)) == (1, 28, 28)
    with pytest.raises(ValueError, match="expects"):
        layer().output_shape((784,))


def test_spec_round_trip() -> None:
    spec = json.loads(json.dumps(layer(1.5, 0.5).spec()))
    assert spec == {"type": "RandomStroke", "grow": 1.5, "thin": 0.5}
    assert RandomStroke.from_spec(spec).spec() == spec


@pytest.mark.parametrize("bad", [{"grow": -0.5}, {"grow": 2.5}, {"thin": math.inf},
                                 {"thin": "1"}, {"grow": True}])
def test_bad_settings_are_refused_with_the_value(bad: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        RandomStroke(**bad)


def test_the_layer_string_item() -> None:
    both = build_layers("stroke:1,dense:10", (28, 28), 10, np.dtype("float32"))
    assert repr(both[0]) == "RandomStroke(grow=1, thin=1)"
    apart = build_layers("stroke:1.5:0.5,dense:10", (28, 28), 10, np.dtype("float32"))
    assert repr(apart[0]) == "RandomStroke(grow=1.5, thin=0.5)"
    with pytest.raises(LayerStringError, match="first"):
        build_layers("dense:10,stroke:1", (28, 28), 10, np.dtype("float32"))
    with pytest.raises(LayerStringError, match="stroke:3"):
        build_layers("stroke:3,dense:10", (28, 28), 10, np.dtype("float32"))
