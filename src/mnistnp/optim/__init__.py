"""Optimizers over one flat parameter buffer and learning-rate schedules, each registered by
name (``OPTIMIZERS``, ``SCHEDULES``) and built from its config, its constructor's arguments."""

from .adam import Adam, AdamW
from .base import OPTIMIZERS, Optimizer, make_optimizer
from .schedules import SCHEDULES, Cosine, ReduceOnPlateau, Schedule, StepDecay, make_schedule
from .sgd import SGD

__all__ = ["OPTIMIZERS", "SCHEDULES", "SGD", "Adam", "AdamW", "Cosine", "Optimizer",
           "ReduceOnPlateau", "Schedule", "StepDecay", "make_optimizer", "make_schedule"]
