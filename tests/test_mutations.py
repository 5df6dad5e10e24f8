"""Checks for bugs a mutation run showed the rest of the suite missed or caught only indirectly:
the configured warmup reaching the schedule, train_step's division by the batch size, and the
pipeline's accuracy being argmax accuracy. Expected values are computed here in plain NumPy."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import tiny_arrays
from reference import argmax_accuracy, model_weights

from mnistnp import training
from mnistnp.cli import main
from mnistnp.config import RECIPES
from mnistnp.model_config import ModelConfig
from mnistnp.nn import mlp
from mnistnp.optim import SGD
from mnistnp.pipeline import train
from mnistnp.train_config import TrainConfig

ARRAYS = tiny_arrays()  # 600 training and 200 test images of the conftest dataset, 10 classes
DATA = ((ARRAYS["train_images"], ARRAYS["train_labels"]),
        (ARRAYS["test_images"], ARRAYS["test_labels"]))


def record_rates(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The learning rate the optimizer holds at each training step, as the step is taken."""
    rates: list[float] = []
    real_step = training.train_step

    def step(model: Any, x: Any, y: Any, batch: Any, optimizer: Any, *rest: Any) -> float:
        rates.append(optimizer.lr)
        return real_step(model, x, y, batch, optimizer, *rest)

    monkeypatch.setattr(training, "train_step", step)
    return rates


def warmup_cosine(lr: float, total: int, warmup: int) -> list[float]:
    """Linear warmup to lr over ``warmup`` steps, then a half cosine to 0 over the rest."""
    return ([lr * (t + 1) / warmup for t in range(warmup)]
            + [lr * 0.5 * (1 + math.cos(math.pi * (t - warmup) / (total - warmup)))
               for t in range(warmup, total)])


# --- the configured warmup reaches the schedule ------------------------------------------------

WARMUP_RECIPES = [name for name, config in RECIPES.items()
                  if (config.value("warmup_epochs") or 0) > 0]


def test_the_recipes_that_warm_up_are_the_documented_ones() -> None:
    # The README says the first three warm up; docs/notebook.md says why the notebook does.
    assert WARMUP_RECIPES == ["default", "best", "cnn", "notebook"]


@pytest.mark.parametrize("recipe", WARMUP_RECIPES)
def test_a_recipes_warmup_reaches_every_step_of_the_run(recipe: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The recipe's first step runs at a fraction of its peak rate, rising linearly."""
    rates = record_rates(monkeypatch)
    base = RECIPES[recipe]
    if base.batch_size is None:  # full batch: one step an epoch, the run counted in iterations
        config = base.with_overrides(layers="dense:8", val_split=100, dataset="tiny",
                                     iterations=2 * round(base.schedule.warmup_epochs))
        steps_per_epoch, total = 1, config.iterations or 0
    else:
        config = base.with_overrides(layers="dense:8", epochs=3, batch_size=50, val_split=100,
                                     dataset="tiny")
        steps_per_epoch = (600 - 100) // 50  # 10
        total = 3 * steps_per_epoch
    train(config, data=DATA, progress=False)
    warmup = round(base.schedule.warmup_epochs * steps_per_epoch)
    assert warmup >= 2
    lr = base.optimizer.lr
    assert rates == pytest.approx(warmup_cosine(lr, total, warmup), rel=1e-12)
    assert rates[0] == pytest.approx(lr / warmup) and max(rates) == lr


@pytest.mark.parametrize(("argv", "lr", "warmup_epochs"), [
    *[(["--recipe", name], RECIPES[name].optimizer.lr, RECIPES[name].schedule.warmup_epochs)
      for name in ("default", "best", "cnn")],
    (["--warmup-epochs", "1.5", "--lr", "0.004"], 0.004, 1.5),
], ids=["default", "best", "cnn", "option"])
def test_the_commands_warmup_reaches_every_step_of_the_run(
        argv: list[str], lr: float, warmup_epochs: float, tmp_path: Path,
        session_idx_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rates = record_rates(monkeypatch)
    assert main(["train", "--data-dir", str(session_idx_dir), "--layers", "dense:8",
                 "--epochs", "3", "--batch-size", "50", "--val-split", "100",
                 "--run-dir", str(tmp_path), "--no-progress", *argv]) == 0
    warmup = round(warmup_epochs * 10)  # 500 training rows in batches of 50: 10 per epoch
    assert rates == pytest.approx(warmup_cosine(lr, 30, warmup), rel=1e-12)


# --- train_step: one SGD step in closed form ---------------------------------------------------

def reference_sgd_step(weights: list[np.ndarray], x: np.ndarray, y: np.ndarray,
                       lr: float) -> tuple[list[np.ndarray], float]:
    """One plain gradient-descent step on the mean cross-entropy of a 1-hidden-layer ReLU net,
    backpropagated by hand; returns the new (W1, b1, W2, b2) and the cost before the step."""
    w1, b1, w2, b2 = weights
    a = x.reshape(len(x), -1) / 255.0
    z = a @ w1 + b1
    h = np.maximum(z, 0.0)
    logits = h @ w2 + b2
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    n = len(y)
    cost = float(-np.mean(np.log(p[np.arange(n), y])))
    d_logits = (p - np.eye(w2.shape[1])[y]) / n  # the mean over the batch
    d_z = (d_logits @ w2.T) * (z > 0)
    grads = [a.T @ d_z, d_z.sum(axis=0), h.T @ d_logits, d_logits.sum(axis=0)]
    return [w - lr * g for w, g in zip(weights, grads, strict=True)], cost


@pytest.mark.parametrize("max_chunk", [8192, 3], ids=["whole", "chunked"])
@pytest.mark.parametrize("kind", ["indices", "slice"])
def test_one_train_step_is_the_mean_gradient_step(kind: str, max_chunk: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Nine samples: a step on the summed gradient would move the weights nine times as far."""
    monkeypatch.setattr("mnistnp.step.MAX_CHUNK", max_chunk)
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, (20, 3, 4), dtype=np.uint8)
    y = rng.integers(0, 3, 20)
    model = mlp([12, 5, 3], rng, "float64", input_shape=(3, 4))
    dense = model.layers[2::2]  # after Rescale and Flatten, Dense and ReLU alternate
    dense[0].b[...] = rng.normal(0, 0.1, 5)  # nonzero biases: their gradient counts too
    before = [p.copy() for layer in dense for p in (layer.W, layer.b)]
    batch = np.array([3, 17, 0, 8, 8, 12, 5, 19, 1]) if kind == "indices" else slice(4, 13)
    lr = 0.3
    cost = training.train_step(model, x, y, batch, SGD(lr))
    expected, expected_cost = reference_sgd_step(before, x[batch], y[batch], lr)
    after = [p for layer in dense for p in (layer.W, layer.b)]
    for got, want, old in zip(after, expected, before, strict=True):
        assert not np.allclose(want, old)  # every parameter moves, so each is checked
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert cost == pytest.approx(expected_cost, rel=1e-12)


# --- the pipeline's accuracy is argmax accuracy, on a model that is often wrong ----------------

def test_the_pipelines_accuracies_are_argmax_accuracy_of_an_imperfect_model() -> None:
    """Two small steps leave the model unsure and often wrong: the notebook's rounded
    probabilities compared cell by cell with one-hot labels would score it near 90%."""
    config = TrainConfig(model=ModelConfig("dense:16"),
                         iterations=2, batch_size=64, optimizer={"name": "sgd", "lr": 0.05},
                         schedule={"name": "constant"}, val_split=100, dtype="float64",
                         dataset="tiny")
    result = train(config, data=DATA, progress=False)
    weights = model_weights(result.model)
    (x_all, y_all), (x_test, y_test) = DATA
    expected = {
        "train": argmax_accuracy(weights, x_all[:500], y_all[:500]),
        "val": argmax_accuracy(weights, x_all[500:], y_all[500:]),
        "test": argmax_accuracy(weights, x_test, y_test),
    }
    for split, value in expected.items():
        assert 0.1 < value < 0.7, (split, value)  # learning started, far from perfect
    got = {"train": result.train_accuracy, "val": result.val_accuracy,
           "test": result.test_accuracy}
    assert got == expected
