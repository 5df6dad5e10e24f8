"""The fit loop's seams: gradient hooks between backward and the step (in order, so an allreduce
can come before the clipping), batches from a sampler object, callbacks for everything that
writes or prints, one writer of the learning rate, and fit's short signature."""

from __future__ import annotations

import inspect
import io
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_mutations import reference_sgd_step
from test_training import X, Y, fresh_model

from mnistnp import pipeline, progress
from mnistnp.callbacks import Callback, LearningRateScheduler, TrainContext, bound_hooks
from mnistnp.model_config import ModelConfig
from mnistnp.nn import Dense, mlp
from mnistnp.optim import OPTIMIZERS, SCHEDULES, SGD, Adam, Cosine
from mnistnp.sampling import Batch, ShuffledBatches
from mnistnp.train_config import TrainConfig
from mnistnp.training import ClipGlobalNorm, Trainer, TrainState, fit

# --- gradient hooks -----------------------------------------------------------------------


def test_a_hook_that_zeroes_the_gradient_leaves_the_weights_alone() -> None:
    model = fresh_model()
    before = model.params.copy()
    seen: list[float] = []

    def zero(grads: np.ndarray) -> None:
        seen.append(float(np.abs(grads).sum()))
        grads[...] = 0.0

    Trainer(model, SGD(0.5), ShuffledBatches(len(X), 32), grad_hooks=[zero]).fit(
        X, Y, rng=np.random.default_rng(0), epochs=2)
    assert len(seen) == 2 * math.ceil(len(X) / 32)  # once per step
    assert min(seen) > 0  # it was handed a real gradient, after backward ...
    np.testing.assert_array_equal(model.params, before)  # ... and the step used its zeros


def test_a_hook_sees_the_gradient_the_step_then_takes() -> None:
    """Plain SGD moves the weights by exactly -lr times what the hook saw."""
    model = fresh_model()
    before = model.params.copy()
    seen: list[np.ndarray] = []
    Trainer(model, SGD(0.25), ShuffledBatches(len(X), None),
            grad_hooks=[lambda g: seen.append(g.copy())]).fit(X, Y, rng=np.random.default_rng(0))
    (grads,) = seen
    np.testing.assert_allclose(model.params, before - 0.25 * grads, rtol=0, atol=1e-15)


def test_hooks_run_in_order_so_one_before_the_clipping_sees_the_raw_norm() -> None:
    before_clip: list[float] = []
    after_clip: list[float] = []

    def norm_into(out: list[float]) -> Any:
        return lambda g: out.append(float(np.linalg.norm(g)))

    Trainer(fresh_model(), SGD(0.1), ShuffledBatches(len(X), 32),
            grad_hooks=[norm_into(before_clip), ClipGlobalNorm(0.05), norm_into(after_clip)]
            ).fit(X, Y, rng=np.random.default_rng(0))
    assert len(before_clip) == len(after_clip) == 10
    assert min(before_clip) > 0.05  # every raw gradient is longer than the clip ...
    np.testing.assert_allclose(after_clip, 0.05, rtol=1e-5)  # ... and left clipped to it


# --- samplers -------------------------------------------------------------------------------


BATCHES: list[Batch] = [np.array([3, 17, 0, 8, 12]), slice(4, 13), np.array([5, 5, 19, 1])]


class FixedBatches:
    """The same batches every epoch (BATCHES: an index array, a slice, repeated indices)."""

    def __init__(self, n: int) -> None:
        self.batches = BATCHES
        self.n, self.steps_per_epoch = n, len(self.batches)
        self.epochs: list[int] = []

    def epoch_batches(self, epoch: int, rng: np.random.Generator) -> Iterator[Batch]:
        self.epochs.append(epoch)
        return iter(self.batches)

    def rows(self, steps: int) -> int:
        return 18


def test_a_custom_samplers_batches_are_exactly_the_ones_trained_on() -> None:
    """Replayed by hand (plain NumPy, one SGD step per batch), in the sampler's order."""
    rng = np.random.default_rng(7)
    x = rng.integers(0, 256, (20, 3, 4), dtype=np.uint8)
    y = rng.integers(0, 3, 20)
    model = mlp([12, 5, 3], rng, "float64", input_shape=(3, 4))
    weights = [p.copy() for layer in model.layers if isinstance(layer, Dense)
               for p in (layer.W, layer.b)]
    sampler = FixedBatches(len(x))
    history = Trainer(model, SGD(0.3), sampler).fit(x, y, rng=rng, epochs=2)
    costs = []
    for batch in BATCHES * 2:
        weights, cost = reference_sgd_step(weights, x[batch], y[batch], 0.3)
        costs.append(cost)
    got = [p for layer in model.layers if isinstance(layer, Dense)
               for p in (layer.W, layer.b)]
    for g, want in zip(got, weights, strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(history.costs, costs, rtol=1e-10)
    assert sampler.epochs == [1, 2]
    assert history.epoch_end == [3, 6]


def test_a_custom_samplers_indices_are_gathered_as_numpy_indexes() -> None:
    """Only a sampler that says its indices are in range gets the unchecked gather (which
    would take row 0 for index -1 while the label came from the last row)."""

    class Single(FixedBatches):
        def __init__(self, n: int, index: int) -> None:
            super().__init__(n)
            self.batches = [np.array([index])]
            self.steps_per_epoch = 1

    def trained(index: int) -> np.ndarray:
        model = fresh_model()
        Trainer(model, SGD(0.1), Single(len(X), index)).fit(X, Y, rng=np.random.default_rng(0))
        return model.params

    np.testing.assert_array_equal(trained(-1), trained(len(X) - 1))
    assert not np.array_equal(trained(0), trained(len(X) - 1))  # the row matters
    with pytest.raises(IndexError):
        trained(len(X))


def test_a_sampler_for_another_set_or_labels_that_do_not_pair_up_are_refused() -> None:
    with pytest.raises(ValueError, match=r"sampler draws from 299 rows.*holds 300"):
        Trainer(fresh_model(), SGD(0.1), ShuffledBatches(299, 32)).fit(
            X, Y, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="training set: 300 images but 299 labels"):
        fit(fresh_model(), X, Y[:-1], SGD(0.1), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="validation set: 10 images but 11 labels"):
        fit(fresh_model(), X, Y, SGD(0.1), rng=np.random.default_rng(0),
            validation=(X[:10], Y[:11]))


# --- callbacks ------------------------------------------------------------------------------


def test_a_fit_without_callbacks_writes_and_prints_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    screen, bars = io.StringIO(), []
    real = progress.tqdm

    def terminal_bar(*args: Any, **kwargs: Any) -> Any:  # a bar that would show, if made
        bars.append(1)
        return real(*args, **{**kwargs, "disable": False, "file": screen})

    monkeypatch.setattr(progress, "tqdm", terminal_bar)
    x_val, y_val = X[:40], Y[:40]
    history = fit(fresh_model(), X, Y, Adam(0.01), rng=np.random.default_rng(0), epochs=3,
                  batch_size=32, validation=(x_val, y_val))
    assert history.epochs == 3  # it trained ...
    out, err = capfd.readouterr()
    assert (out, err, screen.getvalue(), bars) == ("", "", "", [])  # ... silently
    assert os.listdir(tmp_path) == []


def test_the_progress_bar_is_a_callback_that_shows_when_given(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The other side of the test above: the same bar does show once the callback is given."""
    screen = io.StringIO()
    real = progress.tqdm
    monkeypatch.setattr(progress, "tqdm", lambda *a, **k: real(
        *a, **{**k, "disable": False, "file": screen, "mininterval": 0}))
    fit(fresh_model(), X, Y, Adam(0.01), rng=np.random.default_rng(0), epochs=1, batch_size=32,
        callbacks=[progress.ProgressBar()])
    assert "epoch 1/1" in screen.getvalue()


def test_only_callbacks_that_define_a_hook_are_called_for_it() -> None:
    """The per-batch lists hold only the hooks someone wrote: an epoch-only callback adds
    nothing to a step."""

    class EpochOnly(Callback):
        def on_epoch_end(self, ctx: TrainContext) -> None:
            pass

    class Duck:  # no base class
        def on_batch_end(self, ctx: TrainContext) -> None:
            pass

    epoch_only, duck = EpochOnly(), Duck()
    assert bound_hooks([epoch_only, duck], "on_batch_end") == [duck.on_batch_end]
    assert bound_hooks([epoch_only, duck], "on_epoch_end") == [epoch_only.on_epoch_end]
    assert bound_hooks([epoch_only, duck], "on_batch_begin") == []


def test_a_callback_is_told_of_every_step_and_epoch_in_order() -> None:
    events: list[tuple[str, int]] = []

    class Recorder(Callback):
        def on_train_begin(self, ctx: TrainContext) -> None:
            events.append(("train_begin", ctx.history.iterations))

        def on_epoch_begin(self, ctx: TrainContext) -> None:
            events.append(("epoch_begin", ctx.state.epoch + 1))

        def on_batch_begin(self, ctx: TrainContext) -> None:
            events.append(("batch_begin", ctx.history.iterations))

        def on_batch_end(self, ctx: TrainContext) -> None:
            events.append(("batch_end", ctx.history.iterations))

        def on_epoch_end(self, ctx: TrainContext) -> None:
            events.append(("epoch_end", ctx.history.epochs))

        def on_train_end(self, ctx: TrainContext) -> None:
            events.append(("train_end", ctx.history.iterations))

    fit(fresh_model(), X, Y, SGD(0.1), rng=np.random.default_rng(0), epochs=2, batch_size=150,
        callbacks=[Recorder()])
    epoch = [("batch_begin", 0), ("batch_end", 1), ("batch_begin", 1), ("batch_end", 2)]
    assert events == [("train_begin", 0), ("epoch_begin", 1), *epoch, ("epoch_end", 1),
                      ("epoch_begin", 2), *[(e, i + 2) for e, i in epoch], ("epoch_end", 2),
                      ("train_end", 4)]


def test_a_callback_can_stop_the_run_after_a_batch_or_an_epoch() -> None:
    class StopAt(Callback):
        def __init__(self, step: int) -> None:
            self.step, self.ends = step, 0

        def on_batch_end(self, ctx: TrainContext) -> None:
            if ctx.history.iterations == self.step:
                ctx.stop()

        def on_train_end(self, ctx: TrainContext) -> None:
            self.ends += 1

    mid = StopAt(7)  # 5 steps an epoch: the third of epoch 2
    history = fit(fresh_model(), X, Y, SGD(0.1), rng=np.random.default_rng(0), epochs=4,
                  batch_size=64, callbacks=[mid])
    assert (history.iterations, history.epoch_end, mid.ends) == (7, [5, 7], 1)
    # a stopped run's state says finished; given epochs left, it goes on from there
    trainer = Trainer(fresh_model(), SGD(0.1), ShuffledBatches(len(X), 64),
                      callbacks=[StopAt(5)])
    state = TrainState()
    trainer.fit(X, Y, rng=np.random.default_rng(0), epochs=4, state=state)
    assert state.finished and state.epoch == 1
    trainer.callbacks = []
    history = trainer.fit(X, Y, rng=np.random.default_rng(0), epochs=4, state=state)
    assert history.epoch_end == [5, 10, 15, 20] and state.finished


# --- the learning rate has one owner ------------------------------------------------------


class WatchedAdam(Adam):
    """Adam that records who writes its rate (after construction) and the rate of each step."""

    def __init__(self, lr: float, **kwargs: Any) -> None:
        self.writers: list[str] = []
        self.step_rates: list[float] = []
        super().__init__(lr, **kwargs)
        self.writers.clear()  # the constructor's own assignment is not a copy

    @property  # type: ignore[override]
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        caller = sys._getframe(1).f_code
        self.writers.append(f"{caller.co_filename.rsplit('/', 1)[-1]}:{caller.co_qualname}")
        self._lr = value

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        self.step_rates.append(self.lr)
        super().step(params, grads)


def test_the_schedule_is_the_only_writer_of_the_rate() -> None:
    opt = WatchedAdam(0.01)
    schedule = Cosine(0.01, 20, 4)
    fit(fresh_model(), X, Y, opt, rng=np.random.default_rng(0), epochs=2, batch_size=30,
        callbacks=[LearningRateScheduler(schedule)])
    # once a step, no one else
    assert opt.writers == ["callbacks.py:LearningRateScheduler.on_batch_begin"] * 20
    # each step ran at the rate the schedule gives for it, worked out here
    expected = [0.01 * (t + 1) / 4 for t in range(4)] + [
        0.01 * 0.5 * (1 + math.cos(math.pi * (t - 4) / 16)) for t in range(4, 20)]
    assert opt.step_rates == pytest.approx(expected, rel=1e-12)


def test_in_a_whole_run_the_schedule_is_the_only_writer_of_the_rate(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the pipeline, with clipping, logging and checkpoints around it."""
    opts: list[WatchedAdam] = []
    monkeypatch.setattr(pipeline, "make_optimizer",
                        lambda c: opts.append(WatchedAdam(c.optimizer.lr)) or opts[-1])
    config = TrainConfig(model=ModelConfig("dense:8"), epochs=2, batch_size=64,
                         optimizer={"name": "adam", "lr": 0.002},
                         schedule={"name": "cosine", "warmup_epochs": 1}, clip_norm=1.0,
                         val_split=50, dataset="tiny")
    pipeline.train(config, data=((X, Y), (X, Y)), log=lambda line: None, progress=False)
    (opt,) = opts
    assert set(opt.writers) == {"callbacks.py:LearningRateScheduler.on_batch_begin"}
    assert len(opt.writers) == len(opt.step_rates) == 2 * 4  # 250 rows in batches of 64


# --- the short signature and the factories ------------------------------------------------


def test_fit_keeps_a_short_signature() -> None:
    names = list(inspect.signature(fit).parameters)
    assert names == ["model", "x", "y", "optimizer", "rng", "epochs", "batch_size",
                     "validation", "callbacks"]


def test_every_optimizer_and_schedule_name_has_a_builder() -> None:
    for name, cls in OPTIMIZERS.items():
        built = pipeline.make_optimizer(TrainConfig(optimizer={"name": name, "lr": 0.123}))
        assert type(built) is cls and built.lr == 0.123
    for name, sched_cls in SCHEDULES.items():
        built_schedule = pipeline.make_schedule(
            TrainConfig(optimizer={"name": "adam", "lr": 0.5}, schedule={"name": name}), 10, 1000)
        assert type(built_schedule) is sched_cls and built_schedule.lr == 0.5
    with pytest.raises(ValueError, match="optimizer 'rmsprop': choose from adam, adamw, sgd"):
        pipeline.make_optimizer(TrainConfig(optimizer={"name": "rmsprop"}))
