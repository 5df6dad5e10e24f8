"""Shapes are data: a model records its input shape, each layer says its output shape, and the
chain is checked once, when the model is built or loaded, naming the layer that does not fit.
Rescale and Flatten each do one job, and Flatten adds no copy on the training path."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from mnistnp import MnistnpError, Sequential, mlp, network
from mnistnp.errors import ShapeError
from mnistnp.nn import Dense, Dropout, Flatten, RandomShift, ReLU, Rescale


def test_a_chain_that_does_not_fit_names_the_layer_index_and_kind() -> None:
    layers = [Rescale(1 / 255), Flatten(), Dense(784, 40), ReLU(), Dense(50, 10)]
    with pytest.raises(ShapeError) as info:
        Sequential(layers, (28, 28))
    assert str(info.value) == "layer 4 (Dense): expects 50 inputs, gets 40"
    assert isinstance(info.value, ValueError) and isinstance(info.value, MnistnpError)


@pytest.mark.parametrize(("layers", "shape", "message"), [
    ([Rescale(), Dense(784, 10)], (28, 28), "layer 1 (Dense): expects 784 inputs, gets (28, 28)"),
    ([RandomShift(1), Rescale(), Dense(784, 10)], (784,),
     "layer 0 (RandomShift): takes images (height, width), gets (784,)"),
    ([Rescale(), Flatten(), Dense(780, 10)], (28, 28),
     "layer 2 (Dense): expects 780 inputs, gets 784"),
], ids=["images-into-dense", "shift-of-rows", "wrong-width"])
def test_each_misfit_is_one_message(layers: list, shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(ShapeError, match=f"^{message.replace('(', '[(]').replace(')', '[)]')}$"):
        Sequential(layers, shape)


def test_each_layer_says_its_output_shape() -> None:
    assert Rescale(0.5).output_shape((28, 28)) == (28, 28)
    assert Flatten().output_shape((1, 28, 28)) == (784,)
    assert Dense(784, 50).output_shape((784,)) == (50,)
    assert ReLU().output_shape((50,)) == (50,) and Dropout(0.5).output_shape((7, 3)) == (7, 3)
    assert RandomShift(2).output_shape((28, 28)) == (28, 28)


def test_the_model_records_its_shapes_and_derives_its_sizes_from_them() -> None:
    model = network("dense:32,dropout:0.1", (12, 9), 7)
    assert model.input_shape == (12, 9) and model.input_size == 108
    assert model.output_shape == (7,) and model.num_classes == 7
    assert model.shapes == [(12, 9), (108,), (32,), (32,), (32,), (7,)]
    assert model.spec()["input_shape"] == [12, 9]
    # The summary walks the same shapes.
    rows = model.summary().splitlines()[3:-2]
    assert "(N, 12, 9)" in rows[0] and "(N, 108)" in rows[2] and "(N, 7)" in rows[-1]


def test_mlp_records_square_images_or_rows() -> None:
    assert mlp([784, 10]).input_shape == (28, 28)
    assert mlp([64, 10]).input_shape == (8, 8)
    assert mlp([6, 3]).input_shape == (6,)
    assert mlp([6, 3], input_shape=(2, 3)).input_shape == (2, 3)
    with pytest.raises(ShapeError, match="holds 7 numbers"):
        mlp([6, 3], input_shape=(7,))


def test_rescale_casts_and_scales_in_one_pass_and_flatten_only_reshapes() -> None:
    x = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    rescale, flatten = Rescale(1 / 255, "float32"), Flatten()
    scaled = rescale.forward(x, training=True)
    assert scaled.dtype == np.float32 and scaled.shape == x.shape
    np.testing.assert_array_equal(scaled, x.astype(np.float32) * np.float32(1 / 255))
    rows = flatten.forward(scaled, training=True)
    assert rows.shape == (5, 12) and rows.dtype == np.float32
    assert np.shares_memory(rows, scaled)  # a view: no copy on the training path
    np.testing.assert_array_equal(rows, scaled.reshape(5, 12))
    # A strided input (a conv layer's layout) is copied into a reused buffer in training.
    strided = scaled.transpose(0, 2, 1)
    out = flatten.forward(strided, training=True)
    np.testing.assert_array_equal(out, np.ascontiguousarray(strided).reshape(5, 12))
    assert flatten.forward(strided, training=True).ctypes.data == out.ctypes.data


def test_in_the_model_flatten_hands_rescales_buffer_to_the_first_dense() -> None:
    model = mlp([12, 5, 3], np.random.default_rng(0), input_shape=(4, 3))
    x = np.random.default_rng(1).integers(0, 256, (6, 4, 3), dtype=np.uint8)
    rescaled = model.layers[0].forward(x, training=True)
    rows = model.layers[1].forward(rescaled, training=True)
    assert np.shares_memory(rows, rescaled)


@pytest.mark.parametrize("layer", [Dense(12, 4), Flatten(), ReLU(), Dropout(0.5),
                                   Rescale(0.5)], ids=lambda layer: layer.kind)
def test_evaluation_keeps_no_reference_to_its_input(layer) -> None:
    """What backward needs is kept in training only: an evaluation pass over a large array
    leaves nothing holding on to it."""
    rng = np.random.default_rng(0)
    if layer.param_shapes:
        layer.bind([rng.standard_normal(s) for s in layer.param_shapes],
                   [np.zeros(s) for s in layer.param_shapes])
    x = rng.standard_normal((50, 12))
    before = sys.getrefcount(x)
    out = layer.forward(x, training=False)
    del out
    assert sys.getrefcount(x) == before


def test_dense_keeps_its_input_in_training() -> None:
    """The control for the test above: in training, Dense does hold its input (for dW)."""
    layer = Dense(12, 4)
    layer.bind([np.ones((12, 4)), np.zeros(4)], [np.zeros((12, 4)), np.zeros(4)])
    x = np.ones((3, 12))
    before = sys.getrefcount(x)
    layer.forward(x, training=True)
    assert sys.getrefcount(x) == before + 1


def test_summary_with_another_input_shape_checks_the_chain_the_same_way() -> None:
    model = mlp([6, 4, 3], input_shape=(2, 3))
    assert "(N, 2, 3)" in model.summary((2, 3))
    with pytest.raises(ShapeError, match=r"^layer 2 \(Dense\): expects 6 inputs, gets 7$"):
        model.summary((7,))
