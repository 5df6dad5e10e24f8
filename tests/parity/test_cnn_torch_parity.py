"""Optional: Conv2D, MaxPool2D, BatchNorm and GlobalAvgPool agree with PyTorch, forward and
backward, alone and stacked (needs torch; skipped without it)."""

from __future__ import annotations

import numpy as np
import pytest

from mnistnp.nn.conv import Conv2D
from mnistnp.nn.layers import ReLU
from mnistnp.nn.norm import BatchNorm
from mnistnp.nn.pool import GlobalAvgPool, MaxPool2D

torch = pytest.importorskip("torch")
F = torch.nn.functional

TOLERANCE = {"float64": 1e-10, "float32": 2e-4}


def bound(layer, rng: np.random.Generator, dtype: str) -> list[np.ndarray]:
    """Bind random parameters of ``dtype`` (and zeroed gradients); returns the gradients."""
    params = [rng.standard_normal(s).astype(dtype) for s in layer.param_shapes]
    grads = [np.zeros(s, dtype) for s in layer.param_shapes]
    layer.bind(params, grads)
    return grads


def leaf(a: np.ndarray):
    return torch.tensor(a, requires_grad=True)


def torch_same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'SAME' split, worked out here from its definition, for torch's F.pad."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


# (in, out, kernel, stride, padding, height, width, batch)
CONV_CONFIGS = [
    (1, 32, 5, 1, "same", 28, 28, 4),
    (3, 8, 3, 1, "valid", 7, 9, 3),
    (2, 5, 5, 2, "valid", 11, 12, 2),
    (4, 3, 1, 1, "valid", 6, 5, 1),
    (2, 3, 2, 1, "same", 7, 9, 3),  # even kernel: torch pads one more at the bottom/right
    (2, 3, 4, 1, "same", 8, 7, 2),
    (3, 4, 3, 2, "same", 7, 9, 3),  # torch refuses 'same' with stride 2: padded by hand
    (2, 6, 5, 2, "same", 14, 14, 2),
]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("config", CONV_CONFIGS, ids=lambda c: "-".join(map(str, c)))
def test_conv_matches_torch(config, dtype) -> None:
    c, f, k, s, padding, h, w, n = config
    rng = np.random.default_rng(0)
    layer = Conv2D(c, f, k, s, padding)
    dw, db = bound(layer, rng, dtype)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    y = layer.forward(x, training=True)
    g = rng.standard_normal(y.shape).astype(dtype)
    dx = layer.backward(g)

    xt, wt, bt = leaf(x), leaf(layer.W), leaf(layer.b)
    if padding == "same" and s > 1:
        (top, bottom), (left, right) = torch_same_pads(h, k, s), torch_same_pads(w, k, s)
        yt = F.conv2d(F.pad(xt, (left, right, top, bottom)), wt, bt, stride=s)
    else:
        yt = F.conv2d(xt, wt, bt, stride=s, padding=padding)
    (yt * torch.from_numpy(g)).sum().backward()
    tol = TOLERANCE[dtype]
    scale = max(1.0, float(np.abs(y).max()))
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=tol * scale, rtol=tol)
    np.testing.assert_allclose(layer.forward(x), y, atol=tol * scale, rtol=tol)
    for ours, theirs in ((dx, xt.grad), (dw, wt.grad), (db, bt.grad)):
        big = max(1.0, theirs.abs().max().item())
        np.testing.assert_allclose(ours, theirs.numpy(), atol=tol * big, rtol=tol)


@pytest.mark.parametrize(("size", "stride"), [(2, None), (3, 2), (2, 1), (3, None)])
def test_maxpool_matches_torch_including_ties(size, stride) -> None:
    rng = np.random.default_rng(1)
    x = np.maximum(rng.standard_normal((3, 4, 9, 7)), 0)  # ReLU-like: many tied zeros
    x[0, 0, :4, :4] = 1.0  # and ties between non-zero values
    layer = MaxPool2D(size, stride)
    y = layer.forward(x, training=True)
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g)
    xt = leaf(x)
    yt = F.max_pool2d(xt, size, stride)
    (yt * torch.from_numpy(g)).sum().backward()
    np.testing.assert_array_equal(y, yt.detach().numpy())
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("shape", [(16, 5), (8, 3, 6, 7), (1, 4, 5, 5)])
def test_batchnorm_matches_torch_in_training_and_evaluation(shape, dtype) -> None:
    rng = np.random.default_rng(2)
    features = shape[1]
    layer = BatchNorm(features, momentum=0.1, eps=1e-5, dtype=dtype)
    dgamma, dbeta = bound(layer, rng, dtype)
    module = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(
        features, dtype=getattr(torch, dtype))
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(layer.gamma))
        module.bias.copy_(torch.from_numpy(layer.beta))
    tol = TOLERANCE[dtype]
    for step in range(4):  # running statistics after a few steps, then evaluation
        training = step < 3
        module.train(training)
        x = (3 * rng.standard_normal(shape) + 1).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        y = layer.forward(x, training)
        dx = layer.backward(g)
        xt = leaf(x)
        module.weight.grad = module.bias.grad = None
        yt = module(xt)
        (yt * torch.from_numpy(g)).sum().backward()
        np.testing.assert_allclose(y, yt.detach().numpy(), atol=10 * tol, rtol=tol)
        for ours, theirs in ((dx, xt.grad), (dgamma, module.weight.grad),
                             (dbeta, module.bias.grad)):
            big = max(1.0, theirs.abs().max().item())
            np.testing.assert_allclose(ours, theirs.numpy(), atol=10 * tol * big, rtol=tol)
        np.testing.assert_allclose(layer.running_mean, module.running_mean.numpy(), rtol=tol,
                                   atol=tol)
        np.testing.assert_allclose(layer.running_var, module.running_var.numpy(), rtol=tol,
                                   atol=tol)


def test_a_small_cnn_stack_matches_torch() -> None:
    """conv -> BN -> ReLU -> pool -> conv -> ReLU -> pool -> global average, float32 and the
    layers' own buffers and layouts end to end: loss-free sum(y * g) and every gradient."""
    rng = np.random.default_rng(3)
    convs = [Conv2D(1, 8, 5, padding="same"), Conv2D(8, 16, 3, padding="same")]
    bn = BatchNorm(8)
    stack = [convs[0], bn, ReLU(), MaxPool2D(2), convs[1], ReLU(), MaxPool2D(2),
             GlobalAvgPool()]
    grads = [bound(layer, rng, "float32") for layer in (convs[0], bn, convs[1])]
    convs[0].needs_input_grad = False
    x = rng.random((6, 1, 13, 15), dtype=np.float32)
    g = rng.standard_normal((6, 16)).astype(np.float32)
    for _ in range(2):  # twice: the second pass runs on reused buffers
        h = x
        for layer in stack:
            h = layer.forward(h, training=True)
        out = h.copy()
        d = g
        for layer in reversed(stack):
            d = layer.backward(d)

    w1, b1, w2, b2 = (leaf(a) for a in (convs[0].W, convs[0].b, convs[1].W, convs[1].b))
    gamma, beta = leaf(bn.gamma), leaf(bn.beta)
    h = F.conv2d(torch.from_numpy(x), w1, b1, padding="same")
    h = F.batch_norm(h, None, None, gamma, beta, training=True, eps=1e-5)
    h = F.max_pool2d(F.relu(h), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, w2, b2, padding="same")), 2)
    yt = h.mean(dim=(2, 3))
    (yt * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(out, yt.detach().numpy(), atol=1e-5, rtol=1e-4)
    theirs = [(w1.grad, b1.grad), (gamma.grad, beta.grad), (w2.grad, b2.grad)]
    for ours_pair, theirs_pair in zip(grads, theirs, strict=True):
        # The scale of a layer's weight gradient: the bias before a batch norm has a zero
        # gradient in exact arithmetic, so only rounding noise to compare there.
        big = theirs_pair[0].abs().max().item()
        for ours, t in zip(ours_pair, theirs_pair, strict=True):
            np.testing.assert_allclose(ours, t.numpy(), atol=1e-4 * big, rtol=1e-3)


def test_global_avg_pool_matches_torch() -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 5, 7, 9))
    layer = GlobalAvgPool()
    y = layer.forward(x, training=True)
    g = rng.standard_normal(y.shape)
    dx = layer.backward(g)
    xt = leaf(x)
    yt = F.adaptive_avg_pool2d(xt, 1).flatten(1)
    (yt * torch.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)
