"""What a training run will do, worked out once from its settings and data: the images it
trains and validates on, its steps, its classes. The start lines and the loop read the same
value."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import datasets
from .sampling import ShuffledBatches
from .text import plural
from .train_config import TrainConfig

Split = tuple[np.ndarray, np.ndarray]
Data = tuple[Split, Split]


def num_classes(config: TrainConfig, *labels: np.ndarray) -> int:
    """The registered dataset's class count, or else one more than the largest label seen.

    Parameters
    ----------
    config : TrainConfig
        Names the dataset.
    *labels : ndarray of shape (n_samples,), dtype uint8
        The label sets (training, test) to look at for unregistered data.

    Returns
    -------
    int
        The number of classes, and so of the model's outputs.
    """
    info = datasets.REGISTRY.get(config.dataset)
    return info.num_classes if info else max(int(y.max()) for y in labels if len(y)) + 1


@dataclass(frozen=True)
class Plan:
    """A run's shape: images trained and validated on, batch size and steps, worked out once.

    ``train_images`` from the start of the training set, the last ``val_images`` held out for
    validation (see ``datasets.validation_split``), batches of ``batch_size`` rows in
    ``steps_per_epoch`` steps, ``total_steps`` in all.
    """

    train_images: int
    val_images: int
    batch_size: int  # the whole training set for full-batch descent
    steps_per_epoch: int
    total_steps: int
    num_classes: int
    input_shape: tuple[int, ...]

    @classmethod
    def of(cls, config: TrainConfig, data: Data) -> Plan:
        """The plan of training ``config`` on ``data`` (as ``datasets.load`` gives it)."""
        (x_all, y_all), (_, y_test) = data
        (x_train, _), validation = datasets.validation_split(x_all, y_all, config.val_split)
        sampler = ShuffledBatches(len(x_train), config.batch_size)
        steps = sampler.steps_per_epoch
        return cls(len(x_train), len(validation[0]) if validation else 0, sampler.batch_size,
                   steps, config.iterations or config.epochs * steps,
                   num_classes(config, y_all, y_test), tuple(x_all.shape[1:]))

    def split(self, x: np.ndarray, y: np.ndarray) -> tuple[Split, Split | None]:
        """The training rows and the validation rows, as views.

        Parameters
        ----------
        x : ndarray of shape (n_samples, height, width), dtype uint8
            The whole training set's images.
        y : ndarray of shape (n_samples,), dtype uint8
            Their labels.

        Returns
        -------
        (x_train, y_train) : (ndarray, ndarray) tuple
            The first ``train_images`` rows.
        (x_val, y_val) : (ndarray, ndarray) tuple or None
            The rest, or None without validation.
        """
        n = self.train_images
        return (x[:n], y[:n]), (x[n:], y[n:]) if self.val_images else None

    def describe(self, config: TrainConfig, resume_epoch: int | None = None,
                 resume_batch: int = 0) -> str:
        """The plan as a line, and where a resume starts.

        Such as 'plan: 15 epochs of 430 steps (6,450 iterations) on 55,000 images, validated on
        5,000 after each epoch; a line every epoch'.
        """
        steps, total = self.steps_per_epoch, self.total_steps
        if steps == 1:
            what = f"{plural(total, 'iteration')} of full-batch gradient descent"
        elif config.iterations is None:
            what = f"{plural(config.epochs, 'epoch')} of {steps:,} steps ({total:,} iterations)"
        else:
            epochs = total / steps
            what = (f"{plural(total, 'iteration')} ({epochs:.3g} epoch{'s' * (epochs != 1)} "
                    f"of {steps:,} steps)")
        if config.patience:
            what += f", stopping early after {plural(config.patience, 'epoch')} without progress"
        line = f"plan: {what} on {self.train_images:,} images, "
        line += (f"validated on {self.val_images:,} after each epoch" if self.val_images
                 else "no validation")
        every = plural(config.log_every, "iteration")
        line += (f"; a line every {every}" if config.log_every and steps == 1 else
                 f"; a line every {every} and every epoch" if config.log_every else
                 "; a line every epoch")
        if resume_epoch is not None:
            line += f"; resuming at epoch {resume_epoch + 1}" + (
                f", after batch {resume_batch}" if resume_batch else "")
        return line


def network_name(config: TrainConfig, plan: Plan) -> str:
    """The network's name for a title: its sizes from input to output.

    Parameters
    ----------
    config : TrainConfig
        The run's config, whose model is named.
    plan : Plan
        The run's plan, which gives the input shape and the number of classes.

    Returns
    -------
    str
        ``"784-50-50-50-10"`` for an MLP, ``"784-[dense:256,dropout:0.2]-10"`` for another
        network.
    """
    mlp, inputs = config.model.mlp_settings(), 1
    for n in plan.input_shape:
        inputs *= n
    hidden = mlp["hidden"] if mlp else [f"[{config.model.layers}]"]
    return "-".join(map(str, (inputs, *hidden, plan.num_classes)))
