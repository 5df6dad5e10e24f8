"""Tests for MaxPool2D, GlobalAvgPool and BatchNorm: finite-difference gradient checks in float64
(BatchNorm in training, through the batch statistics, and in evaluation), hand-worked examples,
the running statistics and their state, buffers, arguments and specs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gradcheck import TOL, bind_random, gradient_errors

from mnistnp.nn.conv import Conv2D
from mnistnp.nn.layout import channel_major
from mnistnp.nn.norm import BatchNorm
from mnistnp.nn.pool import GlobalAvgPool, MaxPool2D


def distinct(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values at least 0.01 apart (a shuffled grid), so a finite-difference step of 1e-6 never
    changes which entry of a window is the largest."""
    return rng.permutation(np.arange(np.prod(shape)) * 0.01 - 1.0).reshape(shape)


# --- MaxPool2D ------------------------------------------------------------------------------

POOLS = [(2, None, 1), (2, None, 3), (3, 2, 3), (2, 1, 1), (3, None, 3), ((2, 3), (1, 2), 3)]


@pytest.mark.parametrize(("size", "stride", "n"), POOLS)
def test_maxpool_gradient_matches_finite_differences(size, stride, n) -> None:
    rng = np.random.default_rng(0)
    layer = MaxPool2D(size, stride)
    errors = gradient_errors(layer, distinct(rng, (n, 2, 7, 9)), rng)
    assert errors["x"] < TOL, errors


@pytest.mark.parametrize(("size", "stride", "n"), POOLS)
def test_maxpool_matches_a_loop_over_windows(size, stride, n) -> None:
    rng = np.random.default_rng(1)
    layer = MaxPool2D(size, stride)
    x = rng.standard_normal((n, 2, 7, 9))
    (kh, kw), (sh, sw) = layer.size, layer.stride
    _, ho, wo = layer.output_shape((2, 7, 9))
    assert (ho, wo) == ((7 - kh) // sh + 1, (9 - kw) // sw + 1)  # floor, as PyTorch
    expected = np.array([[[[x[a, b, i * sh:i * sh + kh, j * sw:j * sw + kw].max()
                            for j in range(wo)] for i in range(ho)] for b in range(2)]
                         for a in range(n)])
    np.testing.assert_array_equal(layer.forward(x, training=True), expected)
    np.testing.assert_array_equal(layer.forward(x), expected)


def test_maxpool_hand_worked_4x4() -> None:
    x = np.array([[1, 5, 2, 0],
                  [3, 4, 8, 7],
                  [0, 9, 6, 6],
                  [2, 1, 6, 3]], dtype=float).reshape(1, 1, 4, 4)
    layer = MaxPool2D(2)
    y = layer.forward(x, training=True)
    np.testing.assert_array_equal(y, [[[[5, 8], [9, 6]]]])
    dx = layer.backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]))
    # Each gradient lands on its window's maximum; the bottom-right window has three 6s and
    # the first in row-major order, (2, 2), takes it.
    np.testing.assert_array_equal(dx, [[[[0, 10, 0, 0],
                                          [0, 0, 20, 0],
                                          [0, 30, 40, 0],
                                          [0, 0, 0, 0]]]])


@pytest.mark.parametrize(("size", "stride"), [(2, None), (2, 1), (3, 2)])
def test_maxpool_ties_go_to_the_first_maximum(size, stride) -> None:
    """A window of zeros (what a ReLU often leaves) passes its gradient to one entry only."""
    layer = MaxPool2D(size, stride)
    x = np.zeros((1, 1, 5, 5))
    g = np.ones((1, 1, *layer.output_shape((1, 5, 5))[1:]))
    layer.forward(x, training=True)
    dx = layer.backward(g)
    sh, sw = layer.stride
    expected = np.zeros((5, 5))
    for i in range(g.shape[2]):
        for j in range(g.shape[3]):
            expected[i * sh, j * sw] += 1  # each window's top-left entry
    np.testing.assert_array_equal(dx[0, 0], expected)


def test_maxpool_drops_the_rows_and_columns_no_window_reaches() -> None:
    rng = np.random.default_rng(2)
    layer = MaxPool2D(2)
    x = distinct(rng, (2, 3, 7, 9))
    x[:, :, 6, :] = x[:, :, :, 8] = 100  # larger than anything, but outside every window
    y = layer.forward(x, training=True)
    assert y.shape == (2, 3, 3, 4) and y.max() < 100
    dx = layer.backward(np.ones_like(y))
    assert not dx[:, :, 6, :].any() and not dx[:, :, :, 8].any()
    assert dx.sum() == y.size


def test_maxpool_backward_needs_a_training_forward() -> None:
    layer = MaxPool2D(2)
    x = np.zeros((1, 1, 4, 4))
    layer.forward(x, training=True)
    layer.forward(x)
    with pytest.raises(RuntimeError, match="training-mode forward"):
        layer.backward(np.ones((1, 1, 2, 2)))


def test_maxpool_rejects_images_smaller_than_the_window() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        MaxPool2D(3).output_shape((2, 2, 5))


# --- GlobalAvgPool --------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 3])
def test_global_avg_pool_gradient_and_values(n: int) -> None:
    rng = np.random.default_rng(3)
    layer = GlobalAvgPool()
    x = rng.standard_normal((n, 4, 7, 9))
    np.testing.assert_allclose(layer.forward(x), x.reshape(n, 4, -1).mean(axis=2))
    assert layer.output_shape((4, 7, 9)) == (4,)
    assert gradient_errors(layer, x, rng)["x"] < TOL


# --- BatchNorm ------------------------------------------------------------------------------

BN_SHAPES = [(5, 4), (3, 4), (2, 3, 5, 7), (1, 3, 4, 5), (3, 2, 1, 1)]


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batchnorm_training_gradients_go_through_the_batch_statistics(shape) -> None:
    rng = np.random.default_rng(4)
    layer = BatchNorm(shape[1], dtype="float64")
    x = 2 * rng.standard_normal(shape) + 1
    errors = gradient_errors(layer, x, rng, training=True)
    assert all(e < TOL for e in errors.values()), errors


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batchnorm_evaluation_gradients_use_constant_running_statistics(shape) -> None:
    rng = np.random.default_rng(5)
    layer = BatchNorm(shape[1], dtype="float64")
    layer.running_mean[...] = rng.standard_normal(shape[1])
    layer.running_var[...] = rng.uniform(0.5, 2.0, shape[1])
    errors = gradient_errors(layer, rng.standard_normal(shape), rng, training=False)
    assert all(e < TOL for e in errors.values()), errors


def per_feature(x: np.ndarray) -> np.ndarray:
    """(features, values): each feature's values over the batch (and the image)."""
    return np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5, 5)])
def test_batchnorm_training_output_and_running_statistics(shape) -> None:
    rng = np.random.default_rng(6)
    f = shape[1]
    layer = BatchNorm(f, momentum=0.2, eps=1e-3, dtype="float64")
    gamma, beta = rng.standard_normal(f), rng.standard_normal(f)
    layer.bind([gamma, beta], [np.empty(f), np.empty(f)])
    mean, var = np.zeros(f), np.ones(f)
    for _ in range(3):
        x = 3 * rng.standard_normal(shape) - 2
        cols = per_feature(x)
        y = per_feature(layer.forward(x, training=True))
        xhat = (cols - cols.mean(1, keepdims=True)) / np.sqrt(cols.var(1, keepdims=True) + 1e-3)
        np.testing.assert_allclose(y, gamma[:, None] * xhat + beta[:, None], atol=1e-12)
        mean = 0.8 * mean + 0.2 * cols.mean(1)
        var = 0.8 * var + 0.2 * cols.var(1, ddof=1)  # the unbiased variance, as PyTorch
        np.testing.assert_allclose(layer.running_mean, mean, atol=1e-12)
        np.testing.assert_allclose(layer.running_var, var, atol=1e-12)
    # Evaluation: the running statistics, so a sample's output is the same alone or in a batch
    x = rng.standard_normal(shape)
    y = layer.forward(x)
    expected = gamma[:, None] * (per_feature(x) - mean[:, None]) / np.sqrt(var[:, None] + 1e-3)
    np.testing.assert_allclose(per_feature(y), expected + beta[:, None], atol=1e-12)
    np.testing.assert_allclose(layer.forward(x[:1]), y[:1], atol=1e-12)


def test_batchnorm_state_is_named_saved_and_loaded() -> None:
    layer = BatchNorm(3)
    assert layer.state_names == ("running_mean", "running_var")
    assert layer.state_shapes == ((3,), (3,))
    state = layer.state()
    assert list(state) == list(layer.state_names)
    assert state["running_mean"].dtype == np.float32
    np.testing.assert_array_equal(state["running_var"], 1)
    saved = {"running_mean": np.array([1.0, 2.0, 3.0]), "running_var": np.array([4.0, 5, 6])}
    other = BatchNorm(3)
    other.load_state(saved)
    np.testing.assert_array_equal(other.running_mean, [1, 2, 3])
    np.testing.assert_array_equal(other.state()["running_var"], [4, 5, 6])
    with pytest.raises(ValueError, match="running_var"):
        other.load_state({"running_mean": saved["running_mean"], "running_var": np.ones(2)})
    with pytest.raises(ValueError, match=r"running_var.*missing"):
        other.load_state({"running_mean": saved["running_mean"]})


def test_batchnorm_init_resets_parameters_and_state() -> None:
    layer = BatchNorm(2)
    gamma, beta = np.full(2, 5.0, np.float32), np.full(2, 5.0, np.float32)
    layer.bind([gamma, beta], [np.empty(2, np.float32), np.empty(2, np.float32)])
    layer.running_mean[...], layer.running_var[...] = 7, 7
    layer.init(np.random.default_rng(0))
    np.testing.assert_array_equal(gamma, 1)
    np.testing.assert_array_equal(beta, 0)
    np.testing.assert_array_equal(layer.running_mean, 0)
    np.testing.assert_array_equal(layer.running_var, 1)


def test_batchnorm_needs_two_values_per_feature_in_training() -> None:
    layer = BatchNorm(3, dtype="float64")
    bind_random(layer, np.random.default_rng(0))
    with pytest.raises(ValueError, match="more than one value"):
        layer.forward(np.ones((1, 3)), training=True)
    assert layer.forward(np.ones((1, 3))).shape == (1, 3)  # evaluation is per sample


@pytest.mark.parametrize("bad", [{"num_features": 0}, {"momentum": 1.5}, {"eps": 0.0}])
def test_batchnorm_bad_arguments_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError, match=repr(next(iter(bad.values())))):
        BatchNorm(**({"num_features": 3} | bad))


def test_batchnorm_output_shape() -> None:
    assert BatchNorm(8).output_shape((8, 5, 5)) == (8, 5, 5)
    assert BatchNorm(8).output_shape((8,)) == (8,)
    with pytest.raises(ValueError, match="expects"):
        BatchNorm(8).output_shape((4, 5, 5))


# --- all of them: arguments, buffers, dtypes, specs -----------------------------------------


def all_layers() -> list:
    return [MaxPool2D(2), MaxPool2D(3, 2), GlobalAvgPool(), BatchNorm(2, dtype="float64")]


@pytest.mark.parametrize("index", range(4))
@pytest.mark.parametrize("training", [True, False])
def test_forward_and_backward_do_not_mutate_arguments(index: int, training: bool) -> None:
    rng = np.random.default_rng(7)
    layer = all_layers()[index]
    bind_random(layer, rng)
    x = rng.standard_normal((3, 2, 7, 9))
    x_copy = x.copy()
    y = layer.forward(x, training)
    if training or isinstance(layer, BatchNorm):
        g = rng.standard_normal(y.shape)
        g_copy = g.copy()
        layer.backward(g)
        np.testing.assert_array_equal(g, g_copy)
    np.testing.assert_array_equal(x, x_copy)


@pytest.mark.parametrize("index", range(4))
def test_buffers_follow_the_batch_size_and_evaluation_returns_fresh_arrays(index: int) -> None:
    """Batches of 5, 3 (a remainder), 5 give what a fresh layer gives; an evaluation call
    after a training forward leaves its output alone."""
    rng = np.random.default_rng(8)
    layer = all_layers()[index]
    params, grads = bind_random(layer, rng)
    for n in (5, 3, 5):
        x = distinct(rng, (n, 2, 7, 9))
        y = layer.forward(x, training=True)
        kept = y.copy()
        evaluated = layer.forward(distinct(rng, (4, 2, 7, 9)))
        assert not np.shares_memory(evaluated, y)
        np.testing.assert_array_equal(y, kept)
        g = rng.standard_normal(y.shape)
        layer.forward(x, training=True)  # backward differentiates the last forward
        dx = layer.backward(g).copy()
        fresh = all_layers()[index]
        fresh_grads = [np.empty_like(p) for p in params]
        if params:
            fresh.bind(params, fresh_grads)
        np.testing.assert_array_equal(fresh.forward(x, training=True), kept)
        np.testing.assert_array_equal(fresh.backward(g), dx)
        for ours, theirs in zip(grads, fresh_grads, strict=True):
            np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("index", range(4))
def test_dtype_is_kept(dtype: str, index: int) -> None:
    rng = np.random.default_rng(9)
    layer = all_layers()[index]
    if isinstance(layer, BatchNorm):
        layer = BatchNorm(2, dtype=dtype)
        layer.bind([np.ones(2, dtype), np.zeros(2, dtype)], [np.empty(2, dtype)] * 2)
    x = rng.standard_normal((3, 2, 7, 9)).astype(dtype)
    assert layer.forward(x).dtype == dtype
    y = layer.forward(x, training=True)
    assert y.dtype == dtype and layer.backward(np.ones_like(y)).dtype == dtype


@pytest.mark.parametrize("layer", [MaxPool2D(3, (1, 2)), MaxPool2D((2, 3)), GlobalAvgPool(),
                                   BatchNorm(6, 0.05, 1e-3)], ids=lambda layer: layer.kind)
def test_spec_round_trip(layer) -> None:
    spec = json.loads(json.dumps(layer.spec()))
    assert spec["type"] == layer.kind
    rebuilt = type(layer).from_spec(spec, "float64")
    assert rebuilt.spec() == layer.spec()
    assert rebuilt.param_shapes == layer.param_shapes
    assert len(type(layer).param_names) == len(layer.param_shapes)


# --- layouts: (N, C, H, W) arrays in C order or as views of (C, N, H, W) memory --------------


def as_layout(a: np.ndarray, channels_first: bool) -> np.ndarray:
    """``a`` as an (N, C, H, W) view of C-contiguous (C, N, H, W) memory (Conv2D's output
    layout), or C-contiguous."""
    if not channels_first:
        return np.ascontiguousarray(a)
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)


def layout_layers() -> list:
    return [MaxPool2D(2), MaxPool2D(3, 2), BatchNorm(3, dtype="float64"), GlobalAvgPool(),
            Conv2D(3, 2, 3, padding="same"), Conv2D(3, 2, 3, 2)]


@pytest.mark.parametrize("index", range(6))
@pytest.mark.parametrize(("x_first", "g_first"), [(True, False), (True, True), (False, True)])
def test_either_layout_gives_the_same_results(index: int, x_first: bool, g_first: bool) -> None:
    """Inputs and gradients in either layout give what C-ordered ones give; pooling and batch
    norm keep a channel-major input's layout for their output and input gradient."""
    rng = np.random.default_rng(10)
    x = distinct(rng, (4, 3, 7, 9))
    results = []
    for xf, gf in ((False, False), (x_first, g_first)):
        layer = layout_layers()[index]
        _, grads = bind_random(layer, np.random.default_rng(11))
        y = layer.forward(as_layout(x, xf), training=True)
        g = rng.standard_normal(y.shape) if not results else results[0][3]
        dx = layer.backward(as_layout(g, gf) if g.ndim == 4 else g)
        results.append((y.copy(), dx.copy(), [d.copy() for d in grads], g))
        if xf and isinstance(layer, (MaxPool2D, BatchNorm)):
            assert channel_major(y) and channel_major(dx)
    (y0, dx0, grads0, _), (y1, dx1, grads1, _) = results
    np.testing.assert_allclose(y1, y0, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx1, dx0, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads1, grads0, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("cls", "spec"), [
    (Conv2D, {"type": "Conv2D", "in_channels": 3.5, "out_channels": 4,
              "kernel_size": [3, 3], "stride": [1, 1],
              "padding": "same"}),
    (Conv2D, {"type": "Conv2D", "in_channels": "3", "out_channels": 4,
              "kernel_size": [3, 3], "stride": [1, 1],
              "padding": "same"}),
    (Conv2D, {"type": "Conv2D", "in_channels": 3, "out_channels": 4,
              "kernel_size": [3, 0], "stride": [1, 1],
              "padding": "same"}),
    (Conv2D, {"type": "Conv2D", "in_channels": 3, "out_channels": 4,
              "kernel_size": [3, 3], "stride": [1, 1], "padding": "full"}),
    (MaxPool2D, {"type": "MaxPool2D", "size": [2, 2.5], "stride": [2, 2]}),
    (MaxPool2D, {"type": "MaxPool2D", "size": "2", "stride": [2, 2]}),
    (BatchNorm, {"type": "BatchNorm", "num_features": 4.0, "momentum": 0.1, "eps": 1e-5}),
    (BatchNorm, {"type": "BatchNorm", "num_features": 4, "momentum": "0.1", "eps": 1e-5}),
])
def test_from_spec_refuses_bad_values_rather_than_coercing_them(cls, spec) -> None:
    """A model file's spec with 3.5 channels is refused, not read as 3."""
    with pytest.raises(ValueError):
        cls.from_spec(spec, "float32")
