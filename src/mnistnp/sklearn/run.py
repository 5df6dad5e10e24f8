"""One training run of the classifier's network: mnistnp's Trainer with the config's batches,
gradient clipping and early stopping, and the caller's callbacks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..callbacks import Callback, EarlyStopping
from ..nn import Sequential
from ..optim import Optimizer
from ..progress import TextLog
from ..sampling import ShuffledBatches
from ..train_config import TrainConfig
from ..training import ClipGlobalNorm, History, Trainer


def train_network(model: Sequential, optimizer: Optimizer, config: TrainConfig, x: np.ndarray,
                  codes: np.ndarray, rng: np.random.Generator, *,
                  callbacks: Sequence[Callback] = (), verbose: bool = False,
                  validation: tuple[np.ndarray, np.ndarray] | None = None, epochs: int = 1,
                  iterations: int | None = None) -> History:
    """Train ``model`` on ``x`` and class indices ``codes`` as ``config`` says.

    Early stopping on ``validation`` if the config has a patience; the model's step-to-step
    arrays are released after.

    Parameters
    ----------
    model : Sequential
        The network, trained in place.
    optimizer : Optimizer
        Takes each step.
    config : TrainConfig
        The batch size, gradient clipping and patience.
    x : ndarray of shape (n_samples, *model.input_shape), numeric dtype
        The samples as the network takes them.
    codes : ndarray of shape (n_samples,), dtype intp
        Their class indices.
    rng : numpy.random.Generator
        Draws the batch order.
    callbacks : sequence of Callback, default ()
        Watch the run, before the progress lines and early stopping.
    verbose : bool, default False
        Print a line per epoch.
    validation : (ndarray, ndarray) tuple, optional
        Samples of shape (n_val, *model.input_shape) and their class indices, scored after
        every epoch.
    epochs : int, default 1
        Passes over the data.
    iterations : int, optional
        Steps to take instead of whole epochs.

    Returns
    -------
    History
        The run's record.
    """
    early = EarlyStopping(config.patience) if validation and config.patience else None
    watchers = [*callbacks, *([TextLog(print)] if verbose else []), *([early] if early else [])]
    hooks = [ClipGlobalNorm(config.clip_norm)] if config.clip_norm else []
    trainer = Trainer(model, optimizer, ShuffledBatches(len(x), config.batch_size),
                      grad_hooks=hooks, callbacks=watchers)
    history = trainer.fit(x, codes, rng=rng, epochs=epochs, iterations=iterations,
                          validation=validation)
    model.release_scratch()
    return history
