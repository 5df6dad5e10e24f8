"""Optional: mnistnp and PyTorch agree on the loss, the gradients and the optimizer steps."""

from __future__ import annotations

import numpy as np
import pytest

from mnistnp import SGD, Adam, mlp, softmax_cross_entropy
from mnistnp.optim import AdamW

torch = pytest.importorskip("torch")


def torch_twin(model):
    """A torch.nn.Sequential holding copies of ``model``'s weights (Linear stores W.T)."""
    layers, dense = [], [layer for layer in model.layers if hasattr(layer, "W")]
    for i, layer in enumerate(dense):
        linear = torch.nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.W.T.copy()))
            linear.bias.copy_(torch.from_numpy(layer.b.copy()))
        layers.append(linear)
        if i < len(dense) - 1:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_weights_and_batch_give_the_same_loss_and_gradients(seed):
    rng = np.random.default_rng(seed)
    model = mlp([784, 50, 50, 50, 10], rng, "float64")
    images = rng.integers(0, 256, size=(128, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=128)
    loss, grad = softmax_cross_entropy(model.forward(images, training=True), labels)
    model.backward(grad)
    twin = torch_twin(model)
    x = torch.from_numpy(images.reshape(128, -1).astype(np.float64) / 255)
    t_loss = torch.nn.functional.cross_entropy(twin(x), torch.from_numpy(labels))
    t_loss.backward()
    assert abs(loss - t_loss.item()) < 1e-5
    dense = [layer for layer in model.layers if hasattr(layer, "W")]
    linears = [m for m in twin if isinstance(m, torch.nn.Linear)]
    for layer, linear in zip(dense, linears, strict=True):
        np.testing.assert_allclose(layer.dW, linear.weight.grad.numpy().T, atol=1e-5, rtol=0)
        np.testing.assert_allclose(layer.db, linear.bias.grad.numpy(), atol=1e-5, rtol=0)


@pytest.mark.parametrize(("ours", "theirs"), [
    (lambda: SGD(0.1, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    (lambda: SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    (lambda: Adam(1e-2, weight_decay=1e-3),
     lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=1e-3)),
    (lambda: AdamW(1e-2, weight_decay=0.1),
     lambda p: torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1)),
])
def test_optimizer_steps_match_torch(ours, theirs):
    rng = np.random.default_rng(7)
    params = rng.standard_normal(40)
    grads = [rng.standard_normal(40) for _ in range(5)]
    p = torch.nn.Parameter(torch.from_numpy(params.copy()))
    opt, t_opt = ours(), theirs([p])
    for g in grads:
        opt.step(params, g)
        p.grad = torch.from_numpy(g.copy())
        t_opt.step()
    np.testing.assert_allclose(params, p.detach().numpy(), rtol=1e-10, atol=1e-12)
