"""Neural-network building blocks: layers, the fused softmax cross-entropy, Sequential and mlp."""

from .augment import RandomShift
from .layers import INITIALIZERS, LAYERS, Dense, Dropout, Flatten, Layer, ReLU, layer_from_spec
from .losses import log_softmax, softmax, softmax_cross_entropy
from .model import Sequential, mlp

__all__ = ["INITIALIZERS", "LAYERS", "Dense", "Dropout", "Flatten", "Layer", "RandomShift",
           "ReLU", "Sequential", "layer_from_spec", "log_softmax", "mlp", "softmax",
           "softmax_cross_entropy"]
