"""One training run from a TrainConfig: load data, build, fit, evaluate. The CLI calls this."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import datasets
from .config import TrainConfig
from .metrics import accuracy
from .nn import Sequential, mlp
from .optim import OPTIMIZERS, SCHEDULES, SGD, Adam, Optimizer
from .training import History, fit

Data = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class TrainResult:
    """What a run produced: the trained model, its History and its final accuracies."""

    model: Sequential
    history: History
    train_accuracy: float
    test_accuracy: float

    @property
    def metrics(self) -> dict[str, Any]:
        return {"train_accuracy": self.train_accuracy, "test_accuracy": self.test_accuracy,
                "train_seconds": self.history.seconds, "iterations": self.history.iterations}


def load_data(config: TrainConfig) -> Data:
    """The dataset the config names (DatasetError if it cannot be had)."""
    return datasets.load(config.dataset, config.data_dir)


def num_classes(config: TrainConfig, *labels: np.ndarray) -> int:
    """The registered dataset's class count, or else one more than the largest label seen."""
    info = datasets.REGISTRY.get(config.dataset)
    return info.num_classes if info else max(int(y.max()) for y in labels if len(y)) + 1


def make_optimizer(config: TrainConfig) -> Optimizer:
    if config.optimizer == "sgd":
        return SGD(config.lr, momentum=config.momentum)
    if config.optimizer == "adam":
        return Adam(config.lr)
    raise ValueError(f"unknown optimizer {config.optimizer!r}; choose from {sorted(OPTIMIZERS)}")


def build_model(config: TrainConfig, input_shape: tuple[int, ...], num_classes: int,
                rng: np.random.Generator) -> Sequential:
    """An MLP: flattened input, the config's hidden widths, one output per class."""
    sizes = [int(np.prod(input_shape)), *config.hidden, num_classes]
    return mlp(sizes, rng, config.dtype)


def train(config: TrainConfig, data: Data | None = None,
          log: Callable[[str], None] | None = None, progress: bool | None = None) -> TrainResult:
    """Train a model as ``config`` says and report train and test accuracy.

    ``data`` defaults to the config's dataset; ``log`` receives the plain progress lines.
    """
    config.validate()
    (x_train, y_train), (x_test, y_test) = data if data is not None else load_data(config)
    rng = np.random.default_rng(config.seed)
    model = build_model(config, x_train.shape[1:], num_classes(config, y_train, y_test), rng)
    optimizer = make_optimizer(config)
    n = len(x_train)
    batch = n if config.batch_size is None else min(config.batch_size, n)
    steps = config.iterations or config.epochs * -(-n // batch)
    history = fit(model, x_train, y_train, optimizer, rng=rng, epochs=config.epochs,
                  iterations=config.iterations, batch_size=batch,
                  schedule=SCHEDULES[config.schedule](config.lr, steps),
                  log_every=config.log_every, log=log, progress=progress)
    return TrainResult(model, history, accuracy(y_train, model.predict(x_train)),
                       accuracy(y_test, model.predict(x_test)))
