"""Tests for mnistnp.nn layers and models: finite-difference gradient checks in float64 for every
layer, the fused loss and a whole MLP; no argument is mutated; depth is data; He init; spec round
trips; one contiguous parameter buffer."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable

import numpy as np
import pytest
from gradcheck import TOL, model_gradient_error, numerical_grad, rel_error

from mnistnp.nn import (
    Dense,
    Dropout,
    Flatten,
    RandomAffine,
    RandomLayer,
    RandomShift,
    ReLU,
    Rescale,
    Sequential,
    mlp,
    network,
    softmax_cross_entropy,
)
from mnistnp.step import fixed_prefix

SEEDS = [0, 1, 2, 3, 4]


def bound_dense(rng: np.random.Generator, n_in: int, n_out: int) -> Dense:
    """A Dense layer bound directly to random float64 arrays (non-zero biases too)."""
    layer = Dense(n_in, n_out)
    params = [rng.standard_normal((n_in, n_out)), rng.standard_normal(n_out)]
    grads = [np.full((n_in, n_out), np.nan), np.full(n_out, np.nan)]
    layer.bind(params, grads)
    return layer


def random_shape(rng: np.random.Generator) -> tuple[int, int, int]:
    """(n_samples, in_features, out_features), each small."""
    return int(rng.integers(1, 6)), int(rng.integers(1, 7)), int(rng.integers(1, 6))


# --- finite-difference gradient checks ------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_dense_gradients_match_finite_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, n_in, n_out = random_shape(rng)
    layer = bound_dense(rng, n_in, n_out)
    x = rng.standard_normal((n, n_in))
    g = rng.standard_normal((n, n_out))  # L = sum(y * g), so dL/dy = g

    layer.forward(x, training=True)
    dx = layer.backward(g)
    dW, db = layer.dW.copy(), layer.db.copy()

    def loss() -> float:
        return float(np.sum(layer.forward(x, training=True) * g))

    assert dx.shape == x.shape
    assert rel_error(dW, numerical_grad(loss, layer.W)) < TOL
    assert rel_error(db, numerical_grad(loss, layer.b)) < TOL
    assert rel_error(dx, numerical_grad(loss, x)) < TOL


def test_dense_gradients_via_sequential_binding() -> None:
    """Bound through Sequential, the layer's dW and db land in the model's ``grads`` buffer."""
    rng = np.random.default_rng(7)
    layer = Dense(4, 3)
    model = Sequential([layer], (4,), dtype="float64").init(rng)
    model.params += rng.standard_normal(model.params.shape)  # non-zero biases
    x = rng.standard_normal((5, 4))
    g = rng.standard_normal((5, 3))

    assert model_gradient_error(model, x, g) < TOL


@pytest.mark.parametrize("seed", SEEDS)
def test_relu_gradient_matches_finite_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, d, _ = random_shape(rng)
    # Magnitudes in [0.1, 2] keep every input far from the kink at 0 (eps is 1e-6).
    x = rng.choice([-1.0, 1.0], (n, d)) * rng.uniform(0.1, 2.0, (n, d))
    g = rng.standard_normal((n, d))
    layer = ReLU()

    layer.forward(x, training=True)
    dx = layer.backward(g)

    def loss() -> float:
        return float(np.sum(layer.forward(x, training=True) * g))

    assert rel_error(dx, numerical_grad(loss, x)) < TOL


@pytest.mark.parametrize("seed", SEEDS)
def test_rescale_backward_matches_finite_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    scale = float(rng.uniform(0.01, 3.0))
    layer = Rescale(scale, dtype="float64")
    x = rng.standard_normal(shape)
    g = rng.standard_normal(shape)

    out = layer.forward(x, training=True)
    dx = layer.backward(g)

    def loss() -> float:
        return float(np.sum(layer.forward(x, training=True) * g))

    assert out.shape == dx.shape == x.shape
    assert rel_error(dx, numerical_grad(loss, x)) < TOL


@pytest.mark.parametrize("seed", SEEDS)
def test_flatten_backward_matches_finite_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    layer = Flatten()
    x = rng.standard_normal(shape)
    g = rng.standard_normal((shape[0], shape[1] * shape[2]))

    out = layer.forward(x, training=True)
    dx = layer.backward(g)

    def loss() -> float:
        return float(np.sum(layer.forward(x, training=True) * g))

    assert out.shape == g.shape
    assert dx.shape == x.shape
    assert rel_error(dx, numerical_grad(loss, x)) < TOL


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scale", [None, 1.0, 0.37])
def test_softmax_cross_entropy_gradient_matches_finite_differences(
    seed: int, scale: float | None
) -> None:
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 6)), int(rng.integers(2, 7))
    logits = 3 * rng.standard_normal((n, k))
    labels = rng.integers(0, k, n)

    _, grad = softmax_cross_entropy(logits, labels, scale=scale)

    def loss() -> float:
        return softmax_cross_entropy(logits, labels, scale=scale)[0]

    assert rel_error(grad, numerical_grad(loss, logits)) < TOL


@pytest.mark.parametrize("seed", SEEDS)
def test_mlp_gradient_wrt_flat_params_matches_finite_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    model = mlp([6, 5, 4, 3], rng, "float64", input_shape=(2, 3))
    model.params += 0.1 * rng.standard_normal(model.params.shape)  # biases off zero too
    n = int(rng.integers(2, 6))
    x = rng.integers(0, 256, (n, 2, 3), dtype=np.uint8)  # images: Flatten is exercised as well
    y = rng.integers(0, 3, n)

    _, grad = softmax_cross_entropy(model.forward(x, training=True), y)
    model.backward(grad)
    analytic = model.grads.copy()

    def loss() -> float:
        return softmax_cross_entropy(model.forward(x, training=True), y)[0]

    # model.params is perturbed in place: the layers hold views into it.
    numeric = numerical_grad(loss, model.params)
    assert np.all(np.isfinite(analytic))
    assert rel_error(analytic, numeric) < TOL


@pytest.mark.parametrize("seed", SEEDS)
def test_dropout_gradient_matches_finite_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, d, _ = random_shape(rng)
    layer = Dropout(0.4)
    x = rng.standard_normal((n, d))
    g = rng.standard_normal((n, d))

    def forward() -> np.ndarray:
        layer.rng = np.random.default_rng(100 + seed)  # the same mask on every call
        return layer.forward(x, training=True)

    forward()
    dx = layer.backward(g)

    def loss() -> float:
        return float(np.sum(forward() * g))

    assert rel_error(dx, numerical_grad(loss, x)) < TOL


def test_dropout_is_inverted_and_identity_in_evaluation() -> None:
    rng = np.random.default_rng(0)
    layer = Dropout(0.25)
    layer.init(rng)
    x = rng.uniform(1.0, 2.0, (400, 500))
    np.testing.assert_array_equal(layer.forward(x, training=False), x)
    out = layer.forward(x, training=True)
    kept = out != 0
    assert kept.mean() == pytest.approx(0.75, abs=0.01)
    np.testing.assert_allclose(out[kept], x[kept] / 0.75)  # survivors scaled by 1 / (1 - p)
    assert out.mean() == pytest.approx(x.mean(), rel=0.01)  # expectation unchanged


# --- no argument is mutated ------------------------------------------------------------------


def assert_unchanged(call: Callable[..., object], *args: np.ndarray) -> object:
    """Call ``call(*args)`` and check that every argument array is exactly as before."""
    before = [a.copy() for a in args]
    result = call(*args)
    for old, new in zip(before, args):
        np.testing.assert_array_equal(old, new)
    return result


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_layer_forward_and_backward_do_not_mutate_arguments(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, n_in, n_out = random_shape(rng)
    x = rng.standard_normal((n, n_in))
    g = rng.standard_normal((n, n_out))

    dense = bound_dense(rng, n_in, n_out)
    assert_unchanged(lambda a: dense.forward(a, True), x)
    assert_unchanged(dense.backward, g)

    relu = ReLU()
    assert_unchanged(lambda a: relu.forward(a, True), x)
    assert_unchanged(relu.backward, rng.standard_normal((n, n_in)))

    dropout = Dropout(0.5)
    assert_unchanged(lambda a: dropout.forward(a, True), x)
    assert_unchanged(dropout.backward, rng.standard_normal((n, n_in)))

    rescale = Rescale(0.5, dtype="float64")
    images = rng.standard_normal((n, 2, 3))
    assert_unchanged(lambda a: rescale.forward(a, True), images)
    assert_unchanged(rescale.backward, rng.standard_normal((n, 2, 3)))
    # Same dtype in and out with scale 1: still a new array, not a view of the caller's memory.
    rows = rng.standard_normal((n, 6))
    out = Rescale(1.0, dtype="float64").forward(rows)
    out += 1.0
    assert not np.shares_memory(out, rows)

    flatten = Flatten()
    assert_unchanged(lambda a: flatten.forward(a, True), images)
    assert_unchanged(flatten.backward, rng.standard_normal((n, 6)))


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_loss_and_model_do_not_mutate_arguments(seed: int) -> None:
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((4, 3))
    labels = rng.integers(0, 3, 4)
    assert_unchanged(softmax_cross_entropy, logits, labels)

    model = mlp([6, 5, 4, 3], rng, "float64")
    x = rng.integers(0, 256, (4, 6), dtype=np.uint8)
    out = assert_unchanged(lambda a: model.forward(a, True), x)
    assert isinstance(out, np.ndarray)
    _, grad = softmax_cross_entropy(out, labels)
    assert_unchanged(model.backward, grad)


# --- depth is data ---------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [[3, 2], [4, 3, 2], [6, 5, 4, 3], [9, 8, 7, 6, 5, 4, 3]])
def test_mlp_depth_follows_the_sizes_list(sizes: list[int]) -> None:
    model = mlp(sizes, np.random.default_rng(0), "float64")
    kinds = [type(layer) for layer in model.layers]
    head = [Rescale, Flatten] if len(model.input_shape) > 1 else [Rescale]  # images flattened
    assert kinds[:len(head)] == head
    assert kinds.count(Dense) == len(sizes) - 1
    assert kinds.count(ReLU) == len(sizes) - 2
    expected = head + [Dense, ReLU] * (len(sizes) - 2) + [Dense]
    assert kinds == expected  # alternating, last layer linear
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    assert [(d.in_features, d.out_features) for d in dense] == list(itertools.pairwise(sizes))
    assert model.num_classes == sizes[-1]


@pytest.mark.parametrize("sizes", [[3, 2], [6, 5, 4, 3]])
def test_mlp_dropout_follows_every_hidden_relu(sizes: list[int]) -> None:
    model = mlp(sizes, np.random.default_rng(0), "float64", dropout=0.3)
    kinds = [type(layer) for layer in model.layers]
    head = [Rescale, Flatten] if len(model.input_shape) > 1 else [Rescale]  # images flattened
    assert kinds == head + [Dense, ReLU, Dropout] * (len(sizes) - 2) + [Dense]
    assert all(layer.p == 0.3 for layer in model.layers if isinstance(layer, Dropout))


def test_mlp_output_layer_is_linear() -> None:
    """No ReLU after the last Dense: the logits take negative values."""
    rng = np.random.default_rng(1)
    model = mlp([20, 16, 10], rng, "float64")
    logits = model.forward(rng.integers(0, 256, (50, 20), dtype=np.uint8))
    assert logits.shape == (50, 10)
    assert (logits < 0).any()


def test_mlp_needs_two_sizes() -> None:
    with pytest.raises(ValueError, match=r"\[5\]"):
        mlp([5])


# --- initialisation --------------------------------------------------------------------------


def test_he_init_statistics() -> None:
    fan_in, fan_out = 1000, 300  # fan_in != fan_out, so the wrong fan would show
    layer = Dense(fan_in, fan_out)
    W = np.full((fan_in, fan_out), 7.0)
    b = np.full(fan_out, 7.0)  # garbage: init must zero the biases, not rely on a zero buffer
    layer.bind([W, b], [np.empty_like(W), np.empty_like(b)])
    layer.init(np.random.default_rng(0))

    expected = math.sqrt(2.0 / fan_in)
    assert W.std() == pytest.approx(expected, rel=0.02)
    assert abs(W.mean()) < 0.01 * expected
    np.testing.assert_array_equal(b, 0.0)


def test_glorot_init_is_uniform_within_its_bound() -> None:
    """Dense(init="glorot"): U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), so the weights
    fill the interval (largest near a, standard deviation a / sqrt(3)) and biases are 0."""
    fan_in, fan_out = 1000, 300
    layer = Dense(fan_in, fan_out, init="glorot")
    W, b = np.empty((fan_in, fan_out)), np.full(fan_out, 7.0)
    layer.bind([W, b], [np.empty_like(W), np.empty_like(b)])
    layer.init(np.random.default_rng(0))
    a = math.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(W).max() <= a and np.abs(W).max() == pytest.approx(a, rel=1e-3)
    assert W.std() == pytest.approx(a / math.sqrt(3), rel=0.01)
    np.testing.assert_array_equal(b, 0.0)


def test_init_is_reproducible_from_the_seed() -> None:
    a = mlp([30, 20, 10], np.random.default_rng(3), "float64")
    b = mlp([30, 20, 10], np.random.default_rng(3), "float64")
    c = mlp([30, 20, 10], np.random.default_rng(4), "float64")
    assert np.array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)


def test_dense_rejects_unknown_init() -> None:
    with pytest.raises(ValueError, match="xavier"):
        Dense(3, 2, init="xavier")


# --- spec round trip -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_spec_round_trip_gives_the_same_layers(dtype: str) -> None:
    rng = np.random.default_rng(0)
    model = Sequential(
        [Rescale(0.25, dtype), Flatten(), Dense(6, 5), ReLU(), Dropout(0.2),
         Dense(5, 4, init="glorot"), ReLU(), Dense(4, 3)], (2, 3), dtype).init(rng)
    spec = json.loads(json.dumps(model.spec()))  # JSON-ready
    rebuilt = Sequential.from_spec(spec)

    assert rebuilt.spec() == model.spec()
    assert rebuilt.dtype == model.dtype
    assert [type(a) for a in rebuilt.layers] == [type(a) for a in model.layers]
    assert [a.param_shapes for a in rebuilt.layers] == [a.param_shapes for a in model.layers]
    assert rebuilt.input_shape == (2, 3)
    assert rebuilt.layers[0].scale == 0.25
    assert rebuilt.layers[4].p == 0.2
    assert rebuilt.layers[5].init_name == "glorot"
    assert rebuilt.params.shape == model.params.shape
    np.testing.assert_array_equal(rebuilt.params, 0)  # rebuilt uninitialised

    rebuilt.params[:] = model.params
    x = rng.standard_normal((3, 2, 3))
    np.testing.assert_array_equal(rebuilt.forward(x), model.forward(x))


# --- one contiguous parameter buffer ---------------------------------------------------------


def test_params_are_one_contiguous_buffer_viewed_by_the_layers() -> None:
    sizes = [6, 5, 4, 3]
    model = mlp(sizes, np.random.default_rng(0), "float64")
    expected_size = sum(a * b + b for a, b in itertools.pairwise(sizes))

    for buf in (model.params, model.grads):
        assert buf.ndim == 1
        assert buf.size == expected_size
        assert buf.flags.c_contiguous
        assert buf.dtype == np.float64

    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    for layer in dense:
        for p in (layer.W, layer.b):
            assert np.shares_memory(p, model.params)
        for g in (layer.dW, layer.db):
            assert np.shares_memory(g, model.grads)
    assert len(model.param_arrays) == 2 * len(dense)

    # The views tile the buffer in layer order, without overlap or gaps.
    model.params[:] = np.arange(model.params.size)
    flat = np.concatenate([p.ravel() for p in model.param_arrays])
    np.testing.assert_array_equal(flat, np.arange(model.params.size))

    # Writing through the buffer is seen by the layers, and the other way round.
    model.params[0] = -42.0
    assert dense[0].W[0, 0] == -42.0
    dense[-1].b[-1] = 99.0
    assert model.params[-1] == 99.0


def test_the_layers_with_a_random_stream_share_one_base_that_saves_it() -> None:
    """Dropout and the augmentations are RandomLayers (what a checkpoint looks for): each
    stream a child of the model's generator, its state JSON-ready and put back exactly."""
    model = network("affine:10:0.1,dense:8,dropout:0.2", (28, 28), 10,
                    rng=np.random.default_rng(0))
    streams = [layer for layer in model.layers if isinstance(layer, RandomLayer)]
    assert [type(layer) for layer in streams] == [RandomAffine, Dropout]
    assert isinstance(RandomShift(1), RandomLayer)
    assert not any(layer.deterministic for layer in streams)
    assert fixed_prefix(model) == 0  # the affine layer draws: nothing before it is fixed
    dropout = streams[1]
    saved = json.loads(json.dumps(dropout.random_state()))
    first = dropout.rng.random(5)
    dropout.load_random_state(saved)
    np.testing.assert_array_equal(dropout.rng.random(5), first)
    other = network("affine:10:0.1,dense:8,dropout:0.2", (28, 28), 10,
                    rng=np.random.default_rng(0))
    assert other.layers[-2].random_state() == saved  # the same seed, the same stream


def test_release_scratch_drops_every_layers_scratch() -> None:
    model = network("conv:2:3,bn,maxpool:2,dense:8", (8, 8), 3, rng=np.random.default_rng(0))
    model.forward(np.ones((4, 8, 8), np.uint8), training=True)
    assert any(layer.__dict__.get("_scratch_arrays") for layer in model.layers)
    model.release_scratch()
    assert not any(layer.__dict__.get("_scratch_arrays") for layer in model.layers)
