"""The benchmark's copy of the seed notebook computes what mnistnp does, and scores as it did."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import mnistnp

PATH = Path(__file__).parents[1] / "seed_notebook.py"


@pytest.fixture
def seed():
    spec = importlib.util.spec_from_file_location("seed_notebook", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # a fresh module: the notebook's globals start empty
    return module


def tiny_data(n: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    return (images, labels), (images[:16], labels[:16])


def test_one_notebook_step_is_one_full_batch_gradient_step_of_fit(seed):
    # Same weights in, same cost and same weights out: the speed benchmark times equal work.
    data = tiny_data()
    model = mnistnp.mlp([784, 50, 50, 50, 10], np.random.default_rng(1), "float64")
    dense = [layer for layer in model.layers if isinstance(layer, mnistnp.Dense)]
    for i, d in enumerate(dense, 1):
        seed.parameters[f"W{i}"] = d.W.T.copy()
        seed.parameters[f"b{i}"] = d.b[:, None].copy()
    seed.load(data)
    cost = seed.steps(1, 0.1)
    (x, y), _ = data
    history = mnistnp.fit(model, x, y, mnistnp.SGD(0.1), rng=np.random.default_rng(0),
                          epochs=1, batch_size=None)
    assert cost == pytest.approx(history.costs[-1], rel=1e-12)
    for i, d in enumerate(dense, 1):
        np.testing.assert_allclose(seed.parameters[f"W{i}"], d.W.T, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(seed.parameters[f"b{i}"][:, 0], d.b, rtol=1e-10, atol=1e-13)


def test_the_notebook_metric_gives_90_percent_to_a_model_that_predicts_nothing(seed):
    data = tiny_data()
    seed.load(data)
    for i, (n_out, n_in) in enumerate([(50, 784), (50, 50), (50, 50), (10, 50)], 1):
        seed.parameters[f"W{i}"] = np.zeros((n_out, n_in))  # every softmax output is 0.1
        seed.parameters[f"b{i}"] = np.zeros((n_out, 1))
    notebook, true = seed.scores(seed.parameters, seed.X_test, seed.Y_test, seed.Y_test_orig)
    assert notebook == pytest.approx(90.0)
    # Equal outputs: argmax picks class 0, so the true accuracy is the share of zeros.
    assert true == pytest.approx(100 * np.mean(data[1][1] == 0))
