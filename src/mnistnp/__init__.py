"""mnistnp: a neural-network library and command-line trainer written from scratch in NumPy."""

from . import datasets
from .callbacks import Callback, EarlyStopping, LearningRateScheduler, MetricsLog
from .config import RECIPES
from .errors import (
    DatasetError,
    ImageError,
    InputError,
    MnistnpError,
    ModelFileError,
    SettingError,
    TrainingError,
)
from .experiment import Run
from .loop_state import TrainContext
from .metrics import accuracy, confusion_matrix, per_class_accuracy
from .model_config import ModelConfig
from .model_file import load_model, save_model
from .model_info import ModelInfo
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
from .onnx_export import export_onnx
from .optim import SGD, Adam, AdamW, Cosine, ReduceOnPlateau, Schedule, StepDecay
from .pipeline import TrainResult, train
from .progress import ProgressBar, TextLog
from .run_result import RunResult
from .sampling import ShuffledBatches
from .train_config import TrainConfig
from .training import ClipGlobalNorm, History, Trainer, fit
from .version import __version__

__all__ = [
    "RECIPES",
    "SGD",
    "Adam",
    "AdamW",
    "Callback",
    "ClipGlobalNorm",
    "Cosine",
    "DatasetError",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "Flatten",
    "History",
    "ImageError",
    "InputError",
    "LearningRateScheduler",
    "MetricsLog",
    "MnistnpError",
    "ModelConfig",
    "ModelFileError",
    "ModelInfo",
    "ProgressBar",
    "RandomShift",
    "ReLU",
    "ReduceOnPlateau",
    "Rescale",
    "Run",
    "RunResult",
    "Schedule",
    "Sequential",
    "SettingError",
    "ShuffledBatches",
    "StepDecay",
    "TextLog",
    "TrainConfig",
    "TrainContext",
    "TrainResult",
    "Trainer",
    "TrainingError",
    "__version__",
    "accuracy",
    "confusion_matrix",
    "datasets",
    "export_onnx",
    "fit",
    "load_model",
    "mlp",
    "network",
    "per_class_accuracy",
    "save_model",
    "softmax_cross_entropy",
    "train",
]
