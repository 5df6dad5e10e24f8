"""Tests for Conv2D and its im2col/col2im helpers: finite-difference gradient checks in float64
over kernels, strides, paddings and batch sizes, and of a whole CNN stack in Sequential; a
direct-loop reference; hand-worked examples; the 'same' padding geometry; buffers, arguments,
specs and initialisation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from gradcheck import (
    TOL,
    bind_random,
    gradient_errors,
    model_gradient_error,
    rel_error,
)

from mnistnp.nn import ReLU, Sequential
from mnistnp.nn.columns import col2im, im2col
from mnistnp.nn.conv import Conv2D, conv_geometry
from mnistnp.nn.layout import channel_major
from mnistnp.nn.norm import BatchNorm
from mnistnp.nn.pool import GlobalAvgPool, MaxPool2D

# (in, out, kernel, stride, padding, batch): kernels 1, 3, 5, even and oblong ones with 'same',
# strides 1 and 2, a batch of 1 and a remainder-like batch of 3, all on 7x9 images.
CONFIGS = [
    (2, 3, 1, 1, "valid", 3),
    (2, 3, 3, 1, "valid", 3),
    (3, 2, 3, 1, "same", 1),
    (2, 4, 5, 1, "same", 3),
    (2, 3, 5, 1, "valid", 1),
    (2, 3, 3, 2, "valid", 3),
    (3, 2, 3, 2, "same", 3),
    (2, 3, 5, 2, "same", 1),
    (2, 3, 2, 1, "same", 3),
    (1, 2, 4, 1, "same", 3),
    (2, 2, 4, 2, "same", 3),
    (2, 3, (3, 2), (2, 1), "same", 3),
    (2, 3, (1, 3), (1, 2), "valid", 1),
]


def ids(config: tuple) -> str:
    c, f, k, s, p, n = config
    return f"c{c}-f{f}-k{k}-s{s}-{p}-n{n}"


def direct_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: tuple[int, int],
                pads: tuple[int, int, int, int]) -> np.ndarray:
    """The definition, one output pixel at a time: y[n, f, i, j] = b[f] +
    sum_{c, u, v} w[f, c, u, v] * xpad[n, c, i*sh + u, j*sw + v]."""
    top, bottom, left, right = pads
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    f, _, kh, kw = w.shape
    sh, sw = stride
    ho, wo = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    y = np.empty((len(x), f, ho, wo))
    for i in range(ho):
        for j in range(wo):
            window = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]  # (N, C, kh, kw)
            y[:, :, i, j] = np.einsum("nchw,fchw->nf", window, w) + b
    return y


def pads_of(layer: Conv2D, h: int, w: int) -> tuple[int, int, int, int]:
    (_, top, bottom), (_, left, right) = layer._geometry(h, w)
    return top, bottom, left, right


# --- finite-difference gradient checks ------------------------------------------------------


@pytest.mark.parametrize("config", CONFIGS, ids=ids)
def test_conv_gradients_match_finite_differences(config: tuple) -> None:
    c, f, k, s, p, n = config
    rng = np.random.default_rng(len(ids(config)))
    layer = Conv2D(c, f, k, s, p)
    x = rng.standard_normal((n, c, 7, 9))
    errors = gradient_errors(layer, x, rng)
    assert all(e < TOL for e in errors.values()), errors


@pytest.mark.parametrize("config", CONFIGS, ids=ids)
def test_conv_forward_matches_the_direct_definition(config: tuple) -> None:
    c, f, k, s, p, n = config
    rng = np.random.default_rng(1)
    layer = Conv2D(c, f, k, s, p)
    params, _ = bind_random(layer, rng)
    x = rng.standard_normal((n, c, 7, 9))
    expected = direct_conv(x, params[0], params[1], layer.stride, pads_of(layer, 7, 9))
    assert layer.output_shape((c, 7, 9)) == expected.shape[1:]
    np.testing.assert_allclose(layer.forward(x, training=True), expected, atol=1e-12)
    np.testing.assert_allclose(layer.forward(x), expected, atol=1e-12)


def test_first_layer_skips_the_input_gradient_but_not_the_weights() -> None:
    rng = np.random.default_rng(3)
    layer = Conv2D(2, 3, 3, 1, "same")
    layer.needs_input_grad = False
    _, grads = bind_random(layer, rng)
    x = rng.standard_normal((3, 2, 7, 9))
    g = rng.standard_normal((3, 3, 7, 9))
    layer.forward(x, training=True)
    dx = layer.backward(g)
    assert dx.size == 0
    twin = Conv2D(2, 3, 3, 1, "same")
    _, twin_grads = bind_random(twin, np.random.default_rng(3))
    twin.forward(x, training=True)
    twin.backward(g)
    for ours, theirs in zip(grads, twin_grads, strict=True):
        np.testing.assert_array_equal(ours, theirs)


# --- hand-worked examples -------------------------------------------------------------------


def test_hand_worked_3x3_input_2x2_kernel() -> None:
    """x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]], w = [[1, 2], [3, 4]], b = 1, 'valid':
    y[0, 0] = 1*1 + 2*2 + 4*3 + 5*4 + 1 = 38, and so on. With dL/dy all ones, dW is the sum of
    the four windows, db the number of outputs, and dx counts each pixel's kernel weights."""
    layer = Conv2D(1, 1, 2)
    w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    dw, db = np.zeros_like(w), np.zeros(1)
    layer.bind([w, np.ones(1)], [dw, db])
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    y = layer.forward(x, training=True)
    np.testing.assert_array_equal(y, [[[[38, 48], [68, 78]]]])
    dx = layer.backward(np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(dw, [[[[12, 16], [24, 28]]]])
    np.testing.assert_array_equal(db, [4])
    np.testing.assert_array_equal(dx, [[[[1, 3, 2], [4, 10, 6], [3, 7, 4]]]])


def test_even_kernel_same_padding_pads_bottom_and_right() -> None:
    """A 2x2 kernel of ones, 'same', on [[1, 2], [3, 4]]: the extra zero row and column go
    after, so each output sums the pixel, its right, lower and lower-right neighbours."""
    layer = Conv2D(1, 1, 2, padding="same")
    layer.bind([np.ones((1, 1, 2, 2)), np.zeros(1)], [np.zeros((1, 1, 2, 2)), np.zeros(1)])
    y = layer.forward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    np.testing.assert_array_equal(y, [[[[10, 6], [7, 4]]]])


@pytest.mark.parametrize(("size", "kernel", "stride", "expected"), [
    (7, 3, 1, (7, 1, 1)), (7, 5, 1, (7, 2, 2)), (7, 2, 1, (7, 0, 1)), (7, 4, 1, (7, 1, 2)),
    (7, 3, 2, (4, 1, 1)), (8, 3, 2, (4, 0, 1)), (7, 1, 2, (4, 0, 0)), (28, 5, 1, (28, 2, 2)),
])
def test_same_padding_geometry(size: int, kernel: int, stride: int,
                               expected: tuple[int, int, int]) -> None:
    """Output ceil(size / stride); total padding (out - 1) * stride + kernel - size, the odd
    one after (PyTorch's 'same' for stride 1, TensorFlow's 'SAME' for any stride)."""
    assert conv_geometry(size, kernel, stride, "same") == expected


def test_valid_geometry_drops_what_no_window_reaches() -> None:
    assert conv_geometry(9, 3, 2, "valid") == (4, 0, 0)
    assert conv_geometry(8, 3, 2, "valid") == (3, 0, 0)  # the last column is never read
    with pytest.raises(ValueError, match="does not fit"):
        conv_geometry(2, 3, 1, "valid")


def test_output_shape_per_sample() -> None:
    assert Conv2D(1, 32, 5, padding="same").output_shape((1, 28, 28)) == (32, 28, 28)
    assert Conv2D(1, 32, 5).output_shape((1, 28, 28)) == (32, 24, 24)
    assert Conv2D(32, 64, 3, 2, "same").output_shape((32, 14, 14)) == (64, 7, 7)
    with pytest.raises(ValueError, match="expects"):
        Conv2D(3, 8, 3).output_shape((1, 28, 28))


# --- im2col / col2im ------------------------------------------------------------------------


@pytest.mark.parametrize(("kernel", "stride"), [((3, 3), (1, 1)), ((2, 3), (2, 1)),
                                                ((5, 5), (2, 2))])
def test_im2col_picks_the_windows_and_col2im_is_its_adjoint(kernel: tuple[int, int],
                                                           stride: tuple[int, int]) -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, 9, 8))
    kh, kw = kernel
    ho, wo = (9 - kh) // stride[0] + 1, (8 - kw) // stride[1] + 1
    cols = im2col(x, kernel, stride, np.empty((2, kh, kw, 3, ho, wo)))
    n, c, i, j, h, w = 2, 1, kh - 1, kw - 1, ho - 1, wo - 1
    assert cols[c, i, j, n, h, w] == x[n, c, h * stride[0] + i, w * stride[1] + j]
    # <im2col(x), g> == <x, col2im(g)> for all x and g: col2im is the transpose.
    g = rng.standard_normal(cols.shape)
    # (C, N, H, W), fully written; the scratch's leftovers must not leak in
    back = col2im(g, stride, np.full((2, 3, 9, 8), np.nan), np.full((2, 3, 9, 8), np.nan))
    assert np.isclose(np.sum(cols * g), np.sum(x.transpose(1, 0, 2, 3) * back))
    # the same bytes as the plain strided adds, offset by offset
    plain = np.zeros((2, 3, 9, 8))
    for i in range(kh):
        for j in range(kw):
            plain[:, :, i:i + stride[0] * (ho - 1) + 1:stride[0],
                  j:j + stride[1] * (wo - 1) + 1:stride[1]] += g[:, i, j]
    assert back.tobytes() == plain.tobytes()


def test_col2im_refuses_an_output_whose_channels_are_not_contiguous() -> None:
    cols = np.zeros((2, 3, 3, 4, 5, 5))
    out = np.zeros((4, 2, 7, 7)).transpose(1, 0, 2, 3)  # (C, N, ...) view of (N, C, ...) memory
    with pytest.raises(ValueError, match="contiguous"):
        col2im(cols, (1, 1), out, np.zeros((2, 4, 7, 7)))


# --- buffers, arguments, dtype ---------------------------------------------------------------


def test_forward_and_backward_do_not_mutate_arguments() -> None:
    rng = np.random.default_rng(6)
    layer = Conv2D(2, 3, 3, 2, "same")
    bind_random(layer, rng)
    x = rng.standard_normal((3, 2, 7, 9))
    x_copy = x.copy()
    y = layer.forward(x, training=True)
    g = rng.standard_normal(y.shape)
    g_copy = g.copy()
    layer.backward(g)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(g, g_copy)


def test_a_smaller_then_larger_batch_reuses_buffers_correctly() -> None:
    """The remainder batch of an epoch (3) after full ones (5), then a full one again: each
    gives what a fresh layer gives, output and every gradient."""
    rng = np.random.default_rng(8)
    layer = Conv2D(2, 3, 3, 1, "same")
    params, grads = bind_random(layer, rng)
    for n in (5, 3, 5):
        x = rng.standard_normal((n, 2, 7, 9))
        g = rng.standard_normal((n, 3, 7, 9))
        y, dx = layer.forward(x, training=True).copy(), layer.backward(g).copy()
        fresh = Conv2D(2, 3, 3, 1, "same")
        fresh_grads = [np.empty_like(p) for p in params]
        fresh.bind(params, fresh_grads)
        np.testing.assert_array_equal(fresh.forward(x, training=True), y)
        np.testing.assert_array_equal(fresh.backward(g), dx)
        for ours, theirs in zip(grads, fresh_grads, strict=True):
            np.testing.assert_array_equal(ours, theirs)


def test_evaluation_returns_fresh_arrays_and_leaves_the_training_output_alone() -> None:
    """A training output stays valid until the next training call, evaluation calls in
    between included; backward differentiates the last forward, so it needs a training one."""
    rng = np.random.default_rng(9)
    layer = Conv2D(2, 3, 3, 1, "same")
    bind_random(layer, rng)
    x, other = rng.standard_normal((4, 2, 7, 9)), rng.standard_normal((6, 2, 7, 9))
    y = layer.forward(x, training=True)
    kept = y.copy()
    first, second = layer.forward(other), layer.forward(other)
    assert first is not second and not np.shares_memory(first, y)
    # laid out as in training (the GEMM's output, not copied), or C-contiguous in chunks
    assert channel_major(first) and channel_major(second)
    np.testing.assert_array_equal(y, kept)
    with pytest.raises(RuntimeError, match="training-mode forward"):
        layer.backward(rng.standard_normal((4, 3, 7, 9)))


def test_evaluation_in_chunks_matches_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(10)
    layer = Conv2D(2, 3, 3, 2, "same")
    bind_random(layer, rng)
    x = rng.standard_normal((7, 2, 7, 9))
    whole = layer.forward(x)
    monkeypatch.setattr("mnistnp.nn.conv.EVAL_COLUMN_LIMIT", 2 * 18 * 4 * 5)  # 2 samples
    np.testing.assert_allclose(layer.forward(x), whole, rtol=1e-14, atol=1e-14)


def test_a_second_backward_without_forward_is_refused() -> None:
    """backward turns the kept columns into the column gradient, so it cannot run twice."""
    rng = np.random.default_rng(11)
    layer = Conv2D(1, 2, 3)
    bind_random(layer, rng)
    g = rng.standard_normal((2, 2, 5, 7))
    layer.forward(rng.standard_normal((2, 1, 7, 9)), training=True)
    layer.backward(g)
    with pytest.raises(RuntimeError, match="training-mode forward"):
        layer.backward(g)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_follows_the_parameters(dtype: str) -> None:
    rng = np.random.default_rng(12)
    layer = Conv2D(2, 3, 3, padding="same")
    shapes = layer.param_shapes
    layer.bind([np.zeros(s, dtype) for s in shapes], [np.zeros(s, dtype) for s in shapes])
    layer.init(rng)
    x = rng.standard_normal((2, 2, 7, 9)).astype(dtype)
    assert layer.forward(x).dtype == dtype
    y = layer.forward(x, training=True)
    assert y.dtype == dtype and layer.backward(np.ones_like(y)).dtype == dtype


# --- init, spec -----------------------------------------------------------------------------


def test_he_init_uses_fan_in_of_channels_times_kernel() -> None:
    layer = Conv2D(16, 64, 3)
    w, b = np.empty(layer.param_shapes[0]), np.full(64, 7.0)
    layer.bind([w, b], [np.empty_like(w), np.empty_like(b)])
    layer.init(np.random.default_rng(0))
    assert abs(w.std() / np.sqrt(2 / (16 * 9)) - 1) < 0.03
    assert abs(w.mean()) < 0.01 and not b.any()
    again = np.empty_like(w)
    layer.bind([again, b], [np.empty_like(w), np.empty_like(b)])
    layer.init(np.random.default_rng(0))
    np.testing.assert_array_equal(again, w)  # the seed decides the weights


def test_glorot_init_bounds() -> None:
    layer = Conv2D(4, 8, 3, init="glorot")
    w, b = np.empty(layer.param_shapes[0]), np.empty(8)
    layer.bind([w, b], [np.empty_like(w), np.empty_like(b)])
    layer.init(np.random.default_rng(0))
    a = np.sqrt(6 / (4 * 9 + 8 * 9))
    assert np.abs(w).max() <= a and np.abs(w).max() > 0.9 * a


@pytest.mark.parametrize("config", CONFIGS[:4] + CONFIGS[-2:], ids=ids)
def test_spec_round_trip(config: tuple) -> None:
    c, f, k, s, p, _ = config
    layer = Conv2D(c, f, k, s, p, init="glorot")
    spec = json.loads(json.dumps(layer.spec()))  # JSON-ready
    assert spec["type"] == Conv2D.kind == "Conv2D"
    rebuilt = Conv2D.from_spec(spec, "float64")
    assert rebuilt.spec() == layer.spec()
    assert rebuilt.param_shapes == layer.param_shapes
    assert len(Conv2D.param_names) == len(layer.param_shapes)


@pytest.mark.parametrize("bad", [
    {"kernel_size": 0}, {"kernel_size": (3, 3, 3)}, {"stride": 0}, {"padding": "full"},
    {"init": "zeros"}, {"kernel_size": 2.5},
])
def test_bad_arguments_are_refused_with_the_value(bad: dict) -> None:
    kwargs = {"in_channels": 1, "out_channels": 2, "kernel_size": 3} | bad
    with pytest.raises(ValueError, match=repr(next(iter(bad.values())))
                       .replace("(", r"\(").replace(")", r"\)")):
        Conv2D(**kwargs)


def test_rel_error_helper_sees_a_wrong_gradient() -> None:
    """The check itself can fail: a gradient off by 1% is well above the tolerance."""
    g = np.random.default_rng(0).standard_normal(20)
    assert rel_error(g, 1.01 * g) > 100 * TOL


# --- a whole stack ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_a_cnn_stack_in_sequential_matches_finite_differences(seed: int) -> None:
    """conv -> batch norm -> ReLU -> pool -> conv -> pool -> global average inside today's
    Sequential (one flat parameter buffer): every parameter's gradient, with the layouts the
    layers hand each other (Conv2D's channel-major views, ReLU's C-ordered buffers)."""
    rng = np.random.default_rng(seed)
    model = Sequential([Conv2D(2, 3, 3, padding="same"), BatchNorm(3, dtype="float64"), ReLU(),
                        MaxPool2D(2), Conv2D(3, 4, (3, 2), padding="same"), MaxPool2D(2),
                        GlobalAvgPool()], (2, 9, 8), dtype="float64").init(rng)
    model.params += 0.1 * rng.standard_normal(model.params.shape)  # non-zero biases and beta
    x = rng.standard_normal((3, 2, 9, 8))
    g = rng.standard_normal((3, 4))
    assert model_gradient_error(model, x, g) < TOL
