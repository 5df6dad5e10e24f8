"""One training run from a TrainConfig: load data, build, fit, evaluate. The CLI calls this."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from . import datasets
from .callbacks import EarlyStopping, MetricsLog
from .checkpoint import Checkpoint, model_state, restore_model, save_checkpoint
from .config import TrainConfig
from .errors import DatasetError, MnistnpWarning
from .metrics import accuracy
from .nn import Sequential, network
from .optim import (
    OPTIMIZERS,
    SGD,
    Adam,
    AdamW,
    Cosine,
    Optimizer,
    ReduceOnPlateau,
    Schedule,
    StepDecay,
)
from .training import Callback, History, TrainState, fit

Data = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class TrainResult:
    """What a run produced: the trained model, its History and its final accuracies."""

    model: Sequential
    history: History
    train_accuracy: float
    test_accuracy: float
    val_accuracy: float | None = None  # None without a validation split

    @property
    def metrics(self) -> dict[str, Any]:
        return {"train_accuracy": self.train_accuracy, "val_accuracy": self.val_accuracy,
                "test_accuracy": self.test_accuracy, "train_seconds": self.history.seconds,
                "iterations": self.history.iterations, "epochs": self.history.epochs,
                "best_epoch": self.history.best_epoch}


def load_data(config: TrainConfig) -> Data:
    """The dataset the config names (DatasetError if it cannot be had)."""
    return datasets.load(config.dataset, config.data_dir)


def num_classes(config: TrainConfig, *labels: np.ndarray) -> int:
    """The registered dataset's class count, or else one more than the largest label seen."""
    info = datasets.REGISTRY.get(config.dataset)
    return info.num_classes if info else max(int(y.max()) for y in labels if len(y)) + 1


def make_optimizer(config: TrainConfig) -> Optimizer:
    if config.optimizer == "sgd":
        return SGD(config.lr, config.momentum, config.nesterov, config.weight_decay)
    if config.optimizer == "adam":
        return Adam(config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return AdamW(config.lr, weight_decay=config.weight_decay)
    raise ValueError(f"unknown optimizer {config.optimizer!r}; choose from {sorted(OPTIMIZERS)}")


def make_schedule(config: TrainConfig, steps_per_epoch: int, total_steps: int) -> Schedule:
    """The config's schedule, its epoch counts turned into iterations; a warning if the run
    ends before the rate would decay or drop."""
    if config.schedule == "cosine":
        warmup = round(config.warmup_epochs * steps_per_epoch)
        if warmup and warmup >= total_steps:
            _warn_run_too_short(config, "warmup_epochs", warmup, total_steps,
                                "rises to its peak at the end and never decays")
        return Cosine(config.lr, total_steps, warmup)
    if config.schedule == "step":
        step = config.step_epochs * steps_per_epoch
        if step >= total_steps:
            _warn_run_too_short(config, "step_epochs", step, total_steps, "never drops")
        return StepDecay(config.lr, total_steps, step, config.gamma)
    if config.schedule == "plateau":
        return ReduceOnPlateau(config.lr, total_steps, config.gamma, config.plateau_patience)
    return Schedule(config.lr, total_steps)


def _warn_run_too_short(config: TrainConfig, name: str, steps: int, total_steps: int,
                        so: str) -> None:
    warnings.warn(f"{config.setting(name)} ({steps:,} steps) is not shorter than the run "
                  f"({total_steps:,} steps): the rate {so}", MnistnpWarning, stacklevel=3)


def build_model(config: TrainConfig, input_shape: tuple[int, ...], num_classes: int,
                rng: np.random.Generator) -> Sequential:
    """The network of ``config.model`` for samples of ``input_shape``, one output per class,
    initialised from ``rng``; ShapeError naming the layer the data's shape does not fit."""
    return network(config.model.layers, input_shape, num_classes, config.dtype, rng)


def train(config: TrainConfig, data: Data | None = None,
          log: Callable[[str], None] | None = None, progress: bool | None = None,
          metrics_path: str | os.PathLike[str] | IO[str] | None = None,
          callbacks: Sequence[Callback] = (), resume: Checkpoint | None = None,
          checkpoint_path: str | None = None, checkpoint_every: int = 0,
          should_stop: Callable[[], bool] | None = None) -> TrainResult:
    """Train a model as ``config`` says and report train, validation and test accuracy.

    ``data`` defaults to the config's dataset. The validation split comes off the end of the
    training set; the test set is only scored at the end, never used for a choice. ``log``
    receives the plain progress lines; ``metrics_path`` (a path or an open text stream) gets one
    JSON line per epoch, and on a resume first those of the epochs the checkpoint has.

    ``resume`` continues a checkpointed run (its config wins; see ``checkpoint.extend`` to
    make it longer). With ``checkpoint_path``, a checkpoint is written every
    ``checkpoint_every`` epochs and when ``should_stop`` (polled after each batch) turns True,
    after which Interrupted is raised. A run that wrote a checkpoint or was resumed writes a
    last one at its end, marked finished, so the checkpoint never offers to redo a done run.
    """
    if resume is not None:
        config = resume.config
    config.validate()
    (x_all, y_all), (x_test, y_test) = data if data is not None else load_data(config)
    for what, x in (("training", x_all), ("test", x_test)):
        if not len(x):
            raise DatasetError(f"the {what} set holds no images")
    (x_train, y_train), validation = datasets.validation_split(x_all, y_all, config.val_split)
    rng = np.random.default_rng(config.seed)
    model = build_model(config, x_train.shape[1:], num_classes(config, y_all, y_test), rng)
    n = len(x_train)
    batch = n if config.batch_size is None else min(config.batch_size, n)
    steps_per_epoch = -(-n // batch)
    optimizer = make_optimizer(config)
    schedule = make_schedule(config, steps_per_epoch,
                             config.iterations or config.epochs * steps_per_epoch)
    early = EarlyStopping(config.patience) if config.patience else None
    if resume is not None:
        restore(resume, model, optimizer, schedule, early)
    extra: list[Callback] = [*callbacks, *([early] if early else [])]
    if metrics_path:
        extra.append(MetricsLog(metrics_path, resume.state.history if resume else None))

    wrote = resume is not None  # then the last, finished checkpoint replaces an earlier one

    def on_checkpoint(state: TrainState) -> None:
        nonlocal wrote
        if checkpoint_path and (not state.finished or wrote or checkpoint_every):
            wrote = True
            save_checkpoint(checkpoint_path, snapshot(config, state, model, optimizer,
                                                      schedule, early))

    history = fit(model, x_train, y_train, optimizer, rng=rng, epochs=config.epochs,
                  iterations=config.iterations, batch_size=batch, schedule=schedule,
                  validation=validation, clip_norm=config.clip_norm, callbacks=extra,
                  log_every=config.log_every, log=log, progress=progress,
                  state=resume.state if resume else None, should_stop=should_stop,
                  on_checkpoint=on_checkpoint, checkpoint_every=checkpoint_every)
    val_acc = accuracy(validation[1], model.predict(validation[0])) if validation else None
    return TrainResult(model, history, accuracy(y_train, model.predict(x_train)),
                       accuracy(y_test, model.predict(x_test)), val_acc)


def snapshot(config: TrainConfig, state: TrainState, model: Sequential, optimizer: Optimizer,
             schedule: Schedule, early: EarlyStopping | None) -> Checkpoint:
    """Everything needed to resume, copied out of the live objects."""
    return Checkpoint(
        config, state, model.params.copy(), optimizer.state_dict(), schedule.state_dict(),
        [dict(layer.rng.bit_generator.state) for layer in _random_layers(model)],
        early.state_dict() if early else {}, early.best_params if early else None,
        model.spec(), model_state(model))


def restore(ckpt: Checkpoint, model: Sequential, optimizer: Optimizer, schedule: Schedule,
            early: EarlyStopping | None) -> None:
    """Put a checkpoint's state back into freshly built objects of the same config."""
    restore_model(ckpt, model)
    optimizer.load_state_dict(ckpt.optimizer)
    schedule.load_state_dict(ckpt.schedule)
    for layer, rng_state in zip(_random_layers(model), ckpt.layer_rngs):
        layer.rng.bit_generator.state = rng_state
    if early is not None and ckpt.early_stopping:
        early.load_state_dict(ckpt.early_stopping, ckpt.best_params)


def _random_layers(model: Sequential) -> list[Any]:
    """Layers that own a random stream (Dropout, RandomShift, ...), in order."""
    return [layer for layer in model.layers if isinstance(getattr(layer, "rng", None),
                                                          np.random.Generator)]
