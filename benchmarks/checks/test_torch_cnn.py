"""The speed benchmark's PyTorch CNN twins compute what mnistnp does: from the same weights, on
the same batches, the same losses step by step and the same probabilities (needs torch)."""

import sys
from pathlib import Path

import numpy as np
import pytest

import mnistnp

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).parents[1]))  # benchmarks/
import cnn_speed  # noqa: E402
import torch_cnn  # noqa: E402


def tiny_set(n: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


@pytest.mark.parametrize("layers, optimizer", [(cnn_speed.FIXED, "adam"),
                                               (cnn_speed.recipe_layers(), "nesterov")])
def test_twins_take_the_same_steps(layers, optimizer, monkeypatch) -> None:
    monkeypatch.setattr(cnn_speed, "BATCH", 32)
    x, y = tiny_set()
    state = dict(np.random.default_rng(5).bit_generator.state)
    order = np.random.default_rng(5).permutation(len(x))  # what fit draws from that state
    model = cnn_speed.build(layers)
    net = torch_cnn.twin(model)
    _, ours = cnn_speed.mnistnp_steps(model, cnn_speed.OPTIMIZERS[optimizer](), x, y, state, 3)
    images, labels = torch_cnn.as_tensors(x, y)
    theirs = torch_cnn.losses(net, torch_cnn.OPTIMIZERS[optimizer](net.parameters()), images,
                              labels, order, 32)
    assert len(ours) == len(theirs) == 3
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-4)  # losses reach ~100
    # and the weights moved alike: the first conv's after three steps (float32 rounding
    # through batch norm on noise images moves them apart by a few 1e-5)
    np.testing.assert_allclose(model.layers[2].W, net[0].weight.detach().numpy(), atol=3e-4)


def test_recipe_twin_leaves_out_only_the_random_layers() -> None:
    kinds = [layer.kind for layer in cnn_speed.build(cnn_speed.recipe_layers()).layers]
    full = mnistnp.network(mnistnp.RECIPES["cnn"].model.layers, (28, 28), 10).layers
    assert kinds == [layer.kind for layer in full
                     if layer.kind not in ("RandomStroke", "RandomAffine", "Dropout")]
    assert "BatchNorm" in kinds


def test_twin_gives_the_same_probabilities() -> None:
    x, _ = tiny_set(2)
    model = cnn_speed.build(cnn_speed.FIXED)
    proba = torch_cnn.proba(torch_cnn.twin(model), x[:1])
    np.testing.assert_allclose(proba().numpy(), model.predict_proba(x[:1]), atol=1e-6)


def test_each_side_runs_alone_and_the_mnistnp_side_never_imports_torch() -> None:
    value, ran = cnn_speed.side("mnistnp", "cnn-latency", 0)  # it raises if torch was imported
    assert value > 0 and "blas" in ran and "torch threads" not in ran
    value, ran = cnn_speed.side("pytorch", "cnn-latency", 0)
    assert value > 0 and int(ran["torch threads"]) >= 1
