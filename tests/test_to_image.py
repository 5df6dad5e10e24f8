"""Tests for ToImage, a CNN's input layer: uint8 or float images to scaled float (n, c, h, w)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mnistnp.nn.to_image import ToImage


@pytest.mark.parametrize("training", [False, True])
def test_grey_images_become_one_channel_scaled(training: bool) -> None:
    x = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    out = ToImage(1 / 255).forward(x, training)
    assert out.shape == (2, 1, 3, 4) and out.dtype == np.float32
    np.testing.assert_allclose(out[:, 0], x / 255, rtol=1e-6)


def test_channels_are_kept_and_the_dtype_follows_the_model() -> None:
    x = np.random.default_rng(0).random((2, 3, 4, 5))
    out = ToImage(2.0, "float64").forward(x)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, 2 * x)


def test_backward_scales_and_reshapes_to_the_input() -> None:
    layer = ToImage(0.5)
    x = np.zeros((2, 3, 4), np.uint8)
    layer.forward(x, training=True)
    g = np.ones((2, 1, 3, 4), np.float32)
    np.testing.assert_array_equal(layer.backward(g), np.full((2, 3, 4), 0.5))


def test_evaluation_returns_a_fresh_array_and_the_input_is_untouched() -> None:
    layer = ToImage(1 / 255)
    x = np.full((2, 3, 4), 255, np.uint8)
    trained = layer.forward(x, training=True)
    kept = trained.copy()
    fresh = layer.forward(x[:1])
    assert not np.shares_memory(fresh, trained)
    np.testing.assert_array_equal(trained, kept)
    np.testing.assert_array_equal(x, 255)


def test_output_shape_spec_and_bad_values() -> None:
    layer = ToImage(1 / 255)
    assert layer.output_shape((28, 28)) == (1, 28, 28)
    assert layer.output_shape((3, 28, 28)) == (3, 28, 28)
    with pytest.raises(ValueError, match="ToImage expects"):
        layer.output_shape((784,))
    spec = json.loads(json.dumps(layer.spec()))
    assert ToImage.from_spec(spec).spec() == spec == {"type": "ToImage", "scale": 1 / 255}
    with pytest.raises(ValueError, match="scale"):
        ToImage("0.5")  # type: ignore[arg-type]
