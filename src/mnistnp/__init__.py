"""mnistnp: a neural-network library and command-line trainer written from scratch in NumPy."""

__version__ = "0.1.0"

from . import datasets
from .callbacks import EarlyStopping, MetricsLog
from .config import RECIPES, ModelConfig, TrainConfig
from .errors import DatasetError, ImageError, MnistnpError, ModelFileError, TrainingError
from .io import load_model, save_model
from .metrics import accuracy, confusion_matrix, per_class_accuracy
from .nn import (
    Dense,
    Dropout,
    Flatten,
    RandomShift,
    ReLU,
    Rescale,
    Sequential,
    mlp,
    network,
    softmax_cross_entropy,
)
from .optim import SGD, Adam, AdamW, Cosine, ReduceOnPlateau, Schedule, StepDecay
from .pipeline import TrainResult, train
from .training import History, fit

__all__ = [
    "RECIPES", "SGD", "Adam", "AdamW", "Cosine", "DatasetError", "Dense", "Dropout",
    "EarlyStopping", "Flatten", "History", "ImageError", "MetricsLog", "MnistnpError",
    "ModelConfig", "ModelFileError", "RandomShift", "ReLU", "ReduceOnPlateau", "Rescale",
    "Schedule", "Sequential", "StepDecay", "TrainConfig", "TrainResult", "TrainingError",
    "__version__", "accuracy", "confusion_matrix", "datasets", "fit", "load_model", "mlp",
    "network", "per_class_accuracy", "save_model", "softmax_cross_entropy", "train",
]
