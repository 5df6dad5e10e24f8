"""One training run from a TrainConfig: load data, build, fit, evaluate (a Run calls it for
each seed)."""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from . import datasets
from .callbacks import (
    Callback,
    Checkpoints,
    EarlyStopping,
    LearningRateScheduler,
    MetricsLog,
)
from .checkpoint import Checkpoint, check_network, restore, save_checkpoint, snapshot
from .errors import DatasetError, MnistnpWarning
from .metrics import accuracy
from .nn import Sequential
from .nn.arch import build_layers
from .optim import Optimizer, Schedule
from .plan import Plan
from .progress import ProgressBar, TextLog
from .signals import StopOnRequest
from .train_config import TrainConfig
from .training import ClipGlobalNorm, History, Trainer
from .training_world import World

Data = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass
class TrainResult:
    """What a run produced: the trained model, its History and its final accuracies.

    Attributes
    ----------
    model : Sequential
        The trained model.
    history : History
        Its training record.
    train_accuracy, test_accuracy : float
        The accuracies on the training rows and the test set, in [0, 1].
    val_accuracy : float or None
        On the validation rows; None without a validation split.
    """

    model: Sequential
    history: History
    train_accuracy: float
    test_accuracy: float
    val_accuracy: float | None = None  # None without a validation split

    @property
    def metrics(self) -> dict[str, Any]:
        """The run's figures as JSON-ready data: accuracies, training time, length, best epoch."""
        return {"train_accuracy": self.train_accuracy, "val_accuracy": self.val_accuracy,
                "test_accuracy": self.test_accuracy, "train_seconds": self.history.seconds,
                "iterations": self.history.iterations, "epochs": self.history.epochs,
                "best_epoch": self.history.best_epoch}


def load_data(config: TrainConfig) -> Data:
    """The dataset the config names (DatasetError if it cannot be had).

    SettingError if the config's validation split does not suit it, before a run writes anything.
    """
    data = datasets.load(config.dataset, config.data_dir)
    datasets.validation_split(*data[0], config.val_split)
    return data


def make_optimizer(config: TrainConfig) -> Optimizer:
    """The config's optimizer, at its (peak) rate."""
    return config.optimizer.build()


def make_schedule(config: TrainConfig, steps_per_epoch: int, total_steps: int) -> Schedule:
    """The config's schedule, its epoch counts turned into iterations.

    A warning if the run ends before the rate would decay or drop.
    """
    schedule = config.schedule.build(config.optimizer.lr, total_steps, steps_per_epoch)
    short = schedule.unreached()
    if short is not None:
        name, steps, so = short
        warnings.warn(f"{config.setting(name)} ({steps:,} steps) is not shorter than the run "
                      f"({total_steps:,} steps): the rate {so}", MnistnpWarning, stacklevel=3)
    return schedule


def build_model(config: TrainConfig, input_shape: tuple[int, ...], num_classes: int,
                rng: np.random.Generator, resume: Checkpoint | None = None) -> Sequential:
    """The network of ``config.model`` for samples of ``input_shape``, one output per class.

    Initialised from ``rng``; ShapeError naming the layer the data's shape does not fit. With
    ``resume``, ModelFileError before anything is allocated if the network is not the one the
    checkpoint holds (see ``checkpoint.check_network``).
    """
    layers = build_layers(config.model.layers, input_shape, num_classes, config.dtype)
    if resume is not None:
        check_network(resume, layers, input_shape, config.dtype)
    return Sequential(layers, input_shape, config.dtype).init(rng)


def train(config: TrainConfig, data: Data | None = None,
          log: Callable[[str], None] | None = None, progress: bool | None = None,
          metrics_path: str | os.PathLike[str] | IO[str] | None = None,
          callbacks: Sequence[Callback] = (), resume: Checkpoint | None = None,
          checkpoint_path: str | None = None, checkpoint_every: int = 0,
          should_stop: Callable[[], bool] | None = None, plan: Plan | None = None,
          on_scoring: Callable[[int], None] | None = None,
          world: World | None = None) -> TrainResult:
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
    ``plan`` is ``Plan.of(config, data)``, worked out here if not given. ``on_scoring`` is
    told how many images are scored after training (a CNN takes a while over 70,000).
    ``world`` shares the training among processes (see ``training_world.World``): a process
    that does not write gets no log, bar, metrics or checkpoints, and scores nothing (its
    accuracies are NaN).

    Parameters
    ----------
    config : TrainConfig
        What to train, on what data, and how.
    data : tuple, optional
        ``(x_train, y_train), (x_test, y_test)`` as ``datasets.load`` gives them; by default
        the config's dataset.
    log : callable, optional
        Takes the progress lines.
    progress : bool, optional
        False for no progress bar; otherwise one is shown on a terminal only.
    metrics_path : str, os.PathLike or text stream, optional
        Gets one JSON line per epoch.
    callbacks : sequence of Callback, default ()
        More callbacks for the run.
    resume : Checkpoint, optional
        A checkpointed run to continue.
    checkpoint_path : str, optional
        Where checkpoints are written.
    checkpoint_every : int, default 0
        Epochs between two checkpoints; 0 for none but the last and an interrupt's.
    should_stop : callable, optional
        Polled after each batch; True writes a checkpoint and raises Interrupted.
    plan : Plan, optional
        ``Plan.of(config, data)``, worked out here if not given.
    on_scoring : callable, optional
        Told how many images are scored after training.
    world : World, optional
        The processes training together; by default this one alone.

    Returns
    -------
    TrainResult
        The model, its History and its accuracies.
    """
    if resume is not None:
        config = resume.config
    config.validate()
    (x_all, y_all), (x_test, y_test) = data if data is not None else load_data(config)
    for what, x in (("training", x_all), ("test", x_test)):
        if not len(x):
            raise DatasetError(f"the {what} set holds no images")
    plan = plan or Plan.of(config, ((x_all, y_all), (x_test, y_test)))
    (x_train, y_train), validation = plan.split(x_all, y_all)
    rng = np.random.default_rng(config.seed)
    model = build_model(config, plan.input_shape, plan.num_classes, rng, resume)
    world = world or World()
    seams = world.seams(plan.train_images, config.batch_size, should_stop)
    optimizer = make_optimizer(config)
    schedule = make_schedule(config, plan.steps_per_epoch, plan.total_steps)
    early = EarlyStopping(config.patience) if config.patience else None
    if resume is not None:
        restore(resume, model, optimizer, schedule, early)

    if not world.writes:  # another process writes and shows the run
        log, progress, metrics_path, checkpoint_path = None, False, None, None
    saver = None
    if checkpoint_path:
        path = checkpoint_path
        saver = Checkpoints(lambda ctx: save_checkpoint(path, snapshot(
            config, ctx.state, model, optimizer, schedule, early)), checkpoint_every,
            resumed=resume is not None)
    # In this order: the schedule's epoch end and early stopping's decision come before the
    # checkpoint that saves them, the caller's callbacks before the metrics line (so one that
    # fails leaves the log at the epoch before), the stop request last of all; the world's
    # first, so every callback sees the costs and validation of the whole world.
    watchers: list[Callback | None] = [
        *seams.callbacks, LearningRateScheduler(schedule),
        TextLog(log, config.log_every) if log else None,
        None if progress is False else ProgressBar(), *callbacks, early,
        MetricsLog(metrics_path, resume.state.history if resume else None)
        if metrics_path else None, saver,
        StopOnRequest(seams.should_stop, saver.save_now if saver else None)
        if seams.should_stop else None]
    clip = [ClipGlobalNorm(config.clip_norm)] if config.clip_norm else []
    trainer = Trainer(model, optimizer, seams.sampler, grad_hooks=[*seams.grad_hooks, *clip],
                      callbacks=[w for w in watchers if w is not None], scorer=seams.scorer)
    history = trainer.fit(x_train, y_train, rng=rng, epochs=config.epochs,
                          iterations=config.iterations, validation=validation,
                          state=resume.state if resume else None)
    model.release_scratch()  # training is over: its scratch arrays would outlive it
    if not world.writes:
        return TrainResult(model, history, math.nan, math.nan)
    if on_scoring is not None:
        on_scoring(len(x_all) + len(x_test))
    elif log is not None:
        log(f"scoring the model on {len(x_all) + len(x_test):,} images")
    val_acc = accuracy(validation[1], model.predict(validation[0])) if validation else None
    return TrainResult(model, history, accuracy(y_train, model.predict(x_train)),
                       accuracy(y_test, model.predict(x_test)), val_acc)
