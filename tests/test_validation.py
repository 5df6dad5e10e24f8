"""Validation, early stopping and the training record: the command line's refusal of a split
too large and that the split never reaches a training batch (its sizes: test_splits.py), early
stopping putting back the best epoch's weights, the same seed giving the same History and
weights with every optimizer, and metrics.jsonl."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import cli, tiny_arrays, write_idx_dir
from test_training import X, Y, quadrant_data

from mnistnp import training
from mnistnp.callbacks import (
    Callback,
    EarlyStopping,
    LearningRateScheduler,
    MetricsLog,
    TrainContext,
)
from mnistnp.model_config import ModelConfig
from mnistnp.nn import Sequential, mlp
from mnistnp.optim import SGD, Adam, AdamW, Cosine, Optimizer, ReduceOnPlateau
from mnistnp.pipeline import train
from mnistnp.sampling import ShuffledBatches
from mnistnp.train_config import TrainConfig
from mnistnp.training import ClipGlobalNorm, History, Trainer, TrainState, fit

TIMINGS = {"epoch_seconds", "epoch_samples_per_s"}  # the only fields allowed to differ


# --- the split -------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "words"), [
    ("600", "--val-split 600: holds out 600 of the 600 training images, leaving 0 to train on"),
    ("0.99999", "--val-split 0.99999: holds out 600 of the 600 training images, leaving 0"),
    ("0.99", "--val-split 0.99: holds out 594 of the 600 training images, leaving 6 to train"),
    ("1", "--val-split 1: holds out 1 of the 600 training images to validate on, too few"),
])
def test_the_command_line_refuses_such_a_split_before_writing_anything(
        tmp_path: Path, session_idx_dir: Path, value: str, words: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    assert cli("train", "--data-dir", session_idx_dir, "--val-split", value, "--run-dir", run,
               "--no-progress") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"mnistnp train: error: {words}"), err
    assert not run.exists()


def test_validation_rows_never_reach_a_training_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row a training step sees, over every epoch, is one of the first 250 of 300."""
    assert len(np.unique(X.reshape(len(X), -1), axis=0)) == len(X)  # rows are tellable apart
    key = {X[i].tobytes(): i for i in range(len(X))}
    seen: list[set[int]] = []
    real_step = training.train_step

    def spy(model: Sequential, x: np.ndarray, y: np.ndarray, batch: training.Batch,
            *args: Any) -> float:
        if not seen or len(seen[-1]) == len(x):
            seen.append(set())
        seen[-1].update(key[row.tobytes()] for row in x[batch])
        return real_step(model, x, y, batch, *args)

    monkeypatch.setattr(training, "train_step", spy)
    config = TrainConfig(model=ModelConfig("dense:8"),
                         epochs=3, batch_size=32, dataset="tiny", val_split=50)
    result = train(config, data=((X, Y), (X[:10], Y[:10])), progress=False)
    assert result.val_accuracy is not None
    assert len(seen) == 3
    for epoch in seen:  # each epoch trains on exactly the 250 training rows
        assert epoch == set(range(250))


# --- early stopping --------------------------------------------------------------------------


class Snapshots(Callback):
    """Keeps a copy of the weights at every epoch's end."""

    def __init__(self) -> None:
        self.params: list[np.ndarray] = []

    def on_epoch_end(self, ctx: TrainContext) -> None:
        self.params.append(ctx.model.params.copy())


def test_early_stopping_restores_the_best_epochs_weights() -> None:
    """Validation labels one class off: the better the model learns the training rule, the
    worse its validation loss, so the best epoch is early and training stops after it."""
    x_val, y_val = quadrant_data(80, seed=7)
    y_val = (y_val + 1) % 4
    model = mlp([64, 16, 4], np.random.default_rng(0), "float64")
    snaps, early = Snapshots(), EarlyStopping(patience=3)
    history = fit(model, X, Y, Adam(0.01), rng=np.random.default_rng(0), epochs=30,
                  batch_size=32, validation=(x_val, y_val), callbacks=[snaps, early])
    best = int(np.argmin(history.epoch_val_loss)) + 1
    assert history.epochs == best + 3 < 30  # stopped after 3 epochs without improvement
    assert history.best_epoch == best == early.best_epoch
    np.testing.assert_array_equal(model.params, snaps.params[best - 1])
    assert not np.array_equal(model.params, snaps.params[-1])
    # the restored weights really score the best validation loss that was recorded
    assert training.evaluate(model, x_val, y_val)[0] == pytest.approx(min(history.epoch_val_loss))


def test_early_stopping_counts_only_real_improvements() -> None:
    model = mlp([4, 2], np.random.default_rng(0))
    early = EarlyStopping(patience=2, min_delta=0.1)
    history = History()
    ctx = TrainContext(model, SGD(0.1), TrainState(history=history), epochs=9, iterations=9,
                       steps_per_epoch=1, validation=(X, Y))
    stops = []
    # 0.85 beats the best (1.0) by more than 0.1 and resets the count; 0.95, 0.8, 0.78 do not
    for loss in [1.0, 0.95, 0.85, 0.8, 0.78]:
        history.epoch_loss.append(0.0)
        history.epoch_val_loss.append(loss)
        early.on_epoch_end(ctx)
        stops.append(ctx.state.finished)
    assert stops == [False, False, False, False, True]
    assert early.best_epoch == 3 and early.best_loss == 0.85


@pytest.mark.parametrize(("changes", "weight_decay"), [
    ({"seed": 1}, 0.1),
    ({"optimizer": "adamw"}, 0.1),  # the same optimizer keeps its decay
    ({"optimizer": "adam"}, 0.0),  # another would read adamw's 0.1 as an L2 penalty
    ({"optimizer": "adam", "weight_decay": 1e-4}, 1e-4),
    ({"optimizer": "adam", "weight_decay": None}, 0.0),  # None means not given
])
def test_another_optimizer_starts_without_the_configs_weight_decay(
        changes: dict[str, Any], weight_decay: float) -> None:
    base = TrainConfig(optimizer={"name": "adamw", "lr": 0.002, "weight_decay": 0.1})
    assert base.with_overrides(**changes).optimizer.weight_decay == weight_decay


def test_early_stopping_without_validation_is_refused() -> None:
    with pytest.raises(ValueError, match="validation"):
        fit(mlp([64, 4], np.random.default_rng(0)), X, Y, SGD(0.1),
            rng=np.random.default_rng(0), epochs=2, callbacks=[EarlyStopping(1)])
    with pytest.raises(ValueError, match="patience"):
        TrainConfig(patience=2, val_split=0).validate()


# --- the same seed, the same run, with every optimizer -----------------------------------------


OPTIMIZERS: dict[str, Callable[[], Optimizer]] = {
    "sgd": lambda: SGD(0.1),
    "sgd-momentum": lambda: SGD(0.05, momentum=0.9),
    "sgd-nesterov-l2": lambda: SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda: Adam(0.01),
    "adamw": lambda: AdamW(0.01, weight_decay=0.05),
}


def full_run(seed: int, make_opt: Callable[[], Optimizer]) -> tuple[Sequential, History]:
    """Dropout, a schedule, clipping, validation and early stopping: every random and every
    stateful part of a run."""
    rng = np.random.default_rng(seed)
    model = mlp([64, 16, 16, 4], rng, "float32", dropout=0.2)
    x_val, y_val = quadrant_data(60, seed=9)
    trainer = Trainer(model, make_opt(), ShuffledBatches(len(X), 32),
                      grad_hooks=[ClipGlobalNorm(1.0)],
                      callbacks=[LearningRateScheduler(Cosine(0.01, 40, 5)), EarlyStopping(2)])
    history = trainer.fit(X, Y, rng=rng, epochs=4, validation=(x_val, y_val))
    return model, history


def without_timings(history: History) -> dict[str, Any]:
    return {k: v for k, v in history.to_dict().items() if k not in TIMINGS}


@pytest.mark.parametrize("make_opt", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_same_seed_gives_identical_history_and_weights(make_opt: Callable[[], Optimizer]
                                                       ) -> None:
    a, hist_a = full_run(3, make_opt)
    b, hist_b = full_run(3, make_opt)
    c, hist_c = full_run(4, make_opt)
    assert np.array_equal(a.params, b.params)
    assert without_timings(hist_a) == without_timings(hist_b)
    assert hist_a.epochs >= 1 and all(map(math.isfinite, hist_a.epoch_val_loss))
    assert not np.array_equal(a.params, c.params)
    assert without_timings(hist_a) != without_timings(hist_c)


def test_plateau_schedule_in_fit_follows_the_validation_loss() -> None:
    """Validation one class off worsens as training goes on, so the rate drops."""
    x_val, y_val = quadrant_data(80, seed=7)
    model = mlp([64, 16, 4], np.random.default_rng(0), "float64")
    schedule = ReduceOnPlateau(0.01, 100, gamma=0.5, patience=0)
    history = fit(model, X, Y, Adam(0.01), rng=np.random.default_rng(0), epochs=6,
                  batch_size=32, validation=(x_val, (y_val + 1) % 4),
                  callbacks=[LearningRateScheduler(schedule)])
    # epoch k's rate is the one set after the losses of epochs 1..k-1
    replay = ReduceOnPlateau(0.01, 100, gamma=0.5, patience=0)
    for k in range(history.epochs):
        assert history.epoch_lr[k] == replay.lr_at(0)
        replay.epoch_end(history.epoch_val_loss[k])
    assert history.epoch_lr[-1] < history.epoch_lr[0]


# --- metrics.jsonl ---------------------------------------------------------------------------


def test_metrics_log_writes_one_object_per_epoch_as_it_goes(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    x_val, y_val = quadrant_data(40, seed=2)
    lines_during: list[int] = []

    class Peek(Callback):
        """After the log's own line for an epoch, read what is on disk already."""

        def on_epoch_end(self, ctx: TrainContext) -> None:
            lines_during.append(len(path.read_text().splitlines()))

    log = MetricsLog(path)
    history = fit(mlp([64, 8, 4], np.random.default_rng(0)), X, Y, SGD(0.1),
                  rng=np.random.default_rng(0), epochs=3, batch_size=64,
                  validation=(x_val, y_val), callbacks=[log, Peek()])
    assert lines_during == [1, 2, 3]  # line-buffered: each epoch is on disk at once
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [list(r) for r in records] == [
        ["epoch", "loss", "val_loss", "val_accuracy", "lr", "seconds", "samples_per_s"]] * 3
    for i, r in enumerate(records):
        assert r["epoch"] == i + 1
        assert r["loss"] == history.epoch_loss[i]
        assert r["val_loss"] == history.epoch_val_loss[i]
        assert r["val_accuracy"] == history.epoch_val_accuracy[i]
        assert r["lr"] == 0.1 and r["seconds"] > 0 and r["samples_per_s"] > 0


def test_metrics_without_validation_are_null_not_nan(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    fit(mlp([64, 8, 4], np.random.default_rng(0)), X, Y, SGD(0.1),
        rng=np.random.default_rng(0), epochs=1, callbacks=[MetricsLog(path)])
    record = json.loads(path.read_text())  # json.loads reads NaN as nan, not None
    assert record["val_loss"] is None and record["val_accuracy"] is None


def test_a_recipes_split_too_large_for_small_data_is_said_to_be_the_recipes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 100 training images: the default recipe's twelfth is 8, too few to validate on. The
    # user gave no --val-split, so the message must not read as if they had.
    data = write_idx_dir(tmp_path / "small", **tiny_arrays(0, n_train=100))
    assert cli("train", "--data-dir", data, "--run-dir", tmp_path / "run", "--no-progress") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("mnistnp train: error: the default recipe's --val-split 0.0833"), err
    assert "give 0 to turn validation off" in err[-1]
