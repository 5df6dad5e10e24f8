"""mnistnp: a neural-network library and command-line trainer written from scratch in NumPy."""

__version__ = "0.1.0"

from . import datasets
from .config import RECIPES, TrainConfig
from .errors import DatasetError, ImageError, MnistnpError, ModelFileError, TrainingError
from .io import load_model, save_model
from .metrics import accuracy, confusion_matrix, per_class_accuracy
from .nn import Dense, Flatten, ReLU, Sequential, mlp, softmax_cross_entropy
from .optim import SGD, Adam, Cosine, Schedule
from .pipeline import TrainResult, train
from .training import History, fit

__all__ = [
    "RECIPES", "SGD", "Adam", "Cosine", "DatasetError", "Dense", "Flatten", "History",
    "ImageError", "MnistnpError", "ModelFileError", "ReLU", "Schedule", "Sequential",
    "TrainConfig", "TrainResult", "TrainingError", "__version__", "accuracy",
    "confusion_matrix", "datasets", "fit", "load_model", "mlp", "per_class_accuracy",
    "save_model", "softmax_cross_entropy", "train",
]
