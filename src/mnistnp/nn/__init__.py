"""Neural-network building blocks: layers (registered by kind), the fused softmax cross-entropy,
Sequential and mlp, and networks built from a layer string."""

from .arch import LayerStringError, mlp_layers, network, parse_layers
from .augment import RandomAffine, RandomShift
from .base import LAYERS, SHORTHANDS, Layer, RandomLayer, layer_from_spec
from .conv import Conv2D
from .init import INITIALIZERS
from .layers import AddChannel, Dense, Dropout, Flatten, ReLU, Rescale
from .losses import log_softmax, softmax, softmax_cross_entropy
from .model import Sequential, mlp
from .norm import BatchNorm
from .pool import GlobalAvgPool, MaxPool2D

__all__ = ["INITIALIZERS", "LAYERS", "SHORTHANDS", "AddChannel", "BatchNorm", "Conv2D", "Dense",
           "Dropout", "Flatten", "GlobalAvgPool", "Layer", "LayerStringError", "MaxPool2D",
           "RandomAffine", "RandomLayer", "RandomShift", "ReLU", "Rescale", "Sequential",
           "layer_from_spec", "log_softmax", "mlp", "mlp_layers", "network", "parse_layers",
           "softmax", "softmax_cross_entropy"]
