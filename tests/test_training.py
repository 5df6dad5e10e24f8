"""Tests for mnistnp.training and pipeline.train on tiny generated data: learning happens, seeds
reproduce bit for bit, chunked full batches equal unchunked ones, iteration and batch
bookkeeping, and a diverging run stops with a TrainingError."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from reference import argmax_accuracy, model_weights

from mnistnp import training
from mnistnp.errors import TrainingError
from mnistnp.model_config import ModelConfig
from mnistnp.nn import Sequential, mlp
from mnistnp.optim import SGD, Adam, Optimizer
from mnistnp.pipeline import train
from mnistnp.sampling import ShuffledBatches, batches
from mnistnp.train_config import TrainConfig
from mnistnp.training import Trainer, fit

CORNERS = [(0, 0), (0, 4), (4, 0), (4, 4)]  # top-left corner of each 4x4 quadrant


def quadrant_data(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images (n, 8, 8) on a dim noisy background; the class (0-3) is the bright quadrant."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    rng.shuffle(y)
    x = rng.integers(0, 60, (n, 8, 8), dtype=np.uint8)
    for k, (r, c) in enumerate(CORNERS):
        rows = np.flatnonzero(y == k)
        x[rows, r:r + 4, c:c + 4] = rng.integers(150, 256, (len(rows), 4, 4), dtype=np.uint8)
    return x, y


X, Y = quadrant_data()


def fresh_model(seed: int = 0, dtype: str = "float64") -> Sequential:
    return mlp([64, 16, 4], np.random.default_rng(seed), dtype)


def clone(model: Sequential) -> Sequential:
    copy = Sequential.from_spec(model.spec())
    copy.params[:] = model.params
    return copy


def run_fit(seed: int, make_opt: Callable[[], Optimizer],
            **kwargs: Any) -> tuple[Sequential, training.History]:
    model = fresh_model(seed)
    history = fit(model, X, Y, make_opt(), rng=np.random.default_rng(seed), **kwargs)
    return model, history


def test_the_data_rule_is_learnable_by_hand() -> None:
    """Sanity check of the generator: the brightest quadrant is the label."""
    means = np.stack([X[:, r:r + 4, c:c + 4].mean(axis=(1, 2)) for r, c in CORNERS], axis=1)
    np.testing.assert_array_equal(means.argmax(axis=1), Y)
    assert np.bincount(Y).tolist() == [75, 75, 75, 75]


# --- learning --------------------------------------------------------------------------------


@pytest.mark.parametrize("make_opt", [lambda: Adam(0.01), lambda: SGD(0.1, momentum=0.9)],
                         ids=["adam", "sgd-momentum"])
def test_fit_reduces_the_loss_and_learns(make_opt: Callable[[], Optimizer]) -> None:
    model = fresh_model()
    before = argmax_accuracy(model_weights(model), X, Y)
    history = fit(model, X, Y, make_opt(), rng=np.random.default_rng(0), epochs=10,
                  batch_size=32)
    assert len(history.epoch_loss) == 10
    assert history.epoch_loss[-1] < 0.25 * history.epoch_loss[0]
    assert history.costs[0] == pytest.approx(math.log(4), rel=0.5)  # near-chance start
    assert argmax_accuracy(model_weights(model), X, Y) >= 0.95 > before + 0.3


# --- reproducibility -------------------------------------------------------------------------


@pytest.mark.parametrize("make_opt", [lambda: SGD(0.1, momentum=0.9), lambda: Adam(0.01)],
                         ids=["sgd", "adam"])
def test_same_seed_gives_bit_identical_weights(make_opt: Callable[[], Optimizer]) -> None:
    a, hist_a = run_fit(3, make_opt, epochs=2, batch_size=32)
    b, hist_b = run_fit(3, make_opt, epochs=2, batch_size=32)
    c, _ = run_fit(4, make_opt, epochs=2, batch_size=32)
    assert np.array_equal(a.params, b.params)
    assert hist_a.costs == hist_b.costs
    assert not np.array_equal(a.params, c.params)


def test_different_batch_order_alone_changes_the_weights() -> None:
    """Same initial weights, different rng for the batches: the shuffling really happens."""
    a, b = fresh_model(0), fresh_model(0)
    fit(a, X, Y, SGD(0.1), rng=np.random.default_rng(1), epochs=1, batch_size=32)
    fit(b, X, Y, SGD(0.1), rng=np.random.default_rng(2), epochs=1, batch_size=32)
    assert not np.array_equal(a.params, b.params)


# --- iteration and batch bookkeeping ---------------------------------------------------------


class CountingSGD(SGD):
    """SGD that counts its steps, to check History against what really happened."""

    def __init__(self, lr: float) -> None:
        super().__init__(lr)
        self.steps = 0

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        self.steps += 1
        super().step(params, grads)


@pytest.mark.parametrize("iterations, batch_size, epoch_end", [
    (12, 64, [5, 10, 12]),  # 300 rows / 64 = 5 steps per epoch; stops inside epoch 3
    (3, 64, [3]),           # less than one epoch
    (10, 64, [5, 10]),      # exactly two epochs
    (4, None, [1, 2, 3, 4]),  # full batch: one step per epoch
])
def test_iterations_runs_exactly_that_many_steps(iterations: int, batch_size: int | None,
                                                 epoch_end: list[int]) -> None:
    opt = CountingSGD(0.01)
    history = Trainer(fresh_model(), opt, ShuffledBatches(len(X), batch_size)).fit(
        X, Y, rng=np.random.default_rng(0), iterations=iterations)
    assert history.iterations == iterations == opt.steps == len(history.costs)
    assert history.epoch_end == epoch_end
    assert len(history.epoch_loss) == len(epoch_end)


def test_epochs_without_iterations() -> None:
    opt = CountingSGD(0.01)
    history = fit(fresh_model(), X, Y, opt, rng=np.random.default_rng(0), epochs=2,
                  batch_size=128)
    assert opt.steps == history.iterations == 2 * 3  # ceil(300 / 128) = 3 per epoch
    assert history.epoch_end == [3, 6]


@pytest.mark.parametrize("n, batch_size", [(300, 64), (10, 3), (10, 1), (10, 10), (7, 100),
                                           (12, 4)])
def test_batches_cover_every_index_once_per_epoch(n: int, batch_size: int) -> None:
    rng = np.random.default_rng(0)
    for _ in range(2):  # two epochs from the same generator
        parts = [np.arange(n)[b] for b in batches(n, batch_size, rng)]
        assert len(parts) == math.ceil(n / min(batch_size, n))
        assert all(0 < len(p) <= batch_size for p in parts)
        everything = np.concatenate(parts)
        assert len(everything) == n  # no overlap ...
        np.testing.assert_array_equal(np.sort(everything), np.arange(n))  # ... and no gap


def test_batches_are_reshuffled_every_epoch() -> None:
    rng = np.random.default_rng(0)
    first = np.concatenate(list(batches(300, 64, rng)))
    second = np.concatenate(list(batches(300, 64, rng)))
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, np.arange(300))


# --- divergence ------------------------------------------------------------------------------


def test_non_finite_cost_raises_training_error() -> None:
    model = fresh_model(dtype="float32")
    with np.errstate(all="ignore"), pytest.raises(TrainingError) as info:
        fit(model, X, Y, SGD(1e30), rng=np.random.default_rng(0), epochs=3, batch_size=None)
    message = str(info.value)
    assert "epoch" in message
    assert "learning rate" in message


def test_nan_cost_message_names_the_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    """A NaN in the third step of epoch 2 (5 steps per epoch) is reported as epoch 2."""
    real_step = training.train_step
    calls = []

    def step(*args: Any, **kwargs: Any) -> float:
        calls.append(1)
        cost = real_step(*args, **kwargs)
        return math.nan if len(calls) == 8 else cost

    monkeypatch.setattr(training, "train_step", step)
    with pytest.raises(TrainingError, match=r"epoch 2\b.*learning rate"):
        fit(fresh_model(), X, Y, SGD(0.01), rng=np.random.default_rng(0), epochs=3,
            batch_size=64)
    assert len(calls) == 8


# --- the pipeline end to end -----------------------------------------------------------------


def test_pipeline_train_on_tiny_unregistered_data() -> None:
    x_test, y_test = quadrant_data(100, seed=1)
    config = TrainConfig(model=ModelConfig("dense:16"),
                         epochs=8, batch_size=32, optimizer={"name": "adam", "lr": 0.01},
                         dataset="tiny",
                         seed=0, val_split=0)
    lines: list[str] = []
    result = train(config, data=((X, Y), (x_test, y_test)), log=lines.append, progress=False)

    assert result.model.num_classes == 4  # from the labels: "tiny" is not registered
    assert result.model.layers[2].in_features == 64 and result.model.input_shape == X.shape[1:]
    assert result.history.iterations == 8 * math.ceil(300 / 32)
    assert len(lines) == 9 and all(line.startswith("epoch") for line in lines[:8])
    assert lines[8] == f"scoring the model on {len(X) + len(x_test):,} images"
    assert result.train_accuracy >= 0.95
    assert result.test_accuracy >= 0.9
    assert result.test_accuracy == argmax_accuracy(model_weights(result.model), x_test, y_test)
    assert result.metrics["iterations"] == result.history.iterations

    again = train(config, data=((X, Y), (x_test, y_test)), progress=False)
    assert np.array_equal(again.model.params, result.model.params)


def test_pipeline_holds_out_a_validation_split() -> None:
    x_test, y_test = quadrant_data(100, seed=1)
    config = TrainConfig(model=ModelConfig("dense:16"),
                         epochs=4, batch_size=32, optimizer={"name": "adam", "lr": 0.01},
                         dataset="tiny",
                         val_split=50)
    result = train(config, data=((X, Y), (x_test, y_test)), progress=False)
    # 50 of the 300 held out: 250 train rows, ceil(250 / 32) = 8 steps per epoch.
    assert result.history.iterations == 4 * 8
    assert result.val_accuracy is not None and result.val_accuracy >= 0.8
    assert result.val_accuracy == argmax_accuracy(model_weights(result.model), X[-50:], Y[-50:])
    assert result.train_accuracy == argmax_accuracy(model_weights(result.model), X[:-50],
                                                    Y[:-50])
    assert len(result.history.epoch_val_loss) == 4


def test_pipeline_rejects_a_bad_config() -> None:
    with pytest.raises(ValueError, match="lr"):
        train(TrainConfig(optimizer={"name": "adam", "lr": -1.0}, dataset="tiny"),
              data=((X, Y), (X, Y)), progress=False)


@pytest.mark.parametrize("labels", [np.full(len(Y), 4), np.full(len(Y), -1),
                                    Y.astype(np.float64)])
def test_fit_refuses_labels_the_model_cannot_have(labels: np.ndarray) -> None:
    model = mlp([64, 8, 4], np.random.default_rng(0))
    before = model.params.copy()
    with pytest.raises(ValueError, match="training labels"):
        fit(model, X, labels, SGD(0.1), rng=np.random.default_rng(0), epochs=1)
    with pytest.raises(ValueError, match="validation labels"):
        fit(model, X, Y, SGD(0.1), rng=np.random.default_rng(0), epochs=1,
            validation=(X, labels))
    np.testing.assert_array_equal(model.params, before)


def test_optimizer_type_is_respected_by_fit() -> None:
    """fit drives whatever Optimizer it is given (a sanity check of the protocol)."""

    class Frozen(Optimizer):
        def step(self, params: np.ndarray, grads: np.ndarray) -> None:
            pass

    model = fresh_model()
    before = model.params.copy()
    fit(model, X, Y, Frozen(0.1), rng=np.random.default_rng(0), epochs=1)  # 3 steps
    np.testing.assert_array_equal(model.params, before)
