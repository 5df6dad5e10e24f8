"""Neural-network building blocks: layers (registered by kind), the fused softmax cross-entropy,
Sequential and mlp, and networks built from a layer string."""

from .arch import LayerStringError, mlp_layers, network, parse_layers
from .augment import RandomShift
from .base import LAYERS, SHORTHANDS, Layer, layer_from_spec
from .layers import INITIALIZERS, Dense, Dropout, Flatten, ReLU, Rescale
from .losses import log_softmax, softmax, softmax_cross_entropy
from .model import Sequential, mlp

__all__ = ["INITIALIZERS", "LAYERS", "SHORTHANDS", "Dense", "Dropout", "Flatten", "Layer",
           "LayerStringError", "RandomShift", "ReLU", "Rescale", "Sequential", "layer_from_spec",
           "log_softmax", "mlp", "mlp_layers", "network", "parse_layers", "softmax",
           "softmax_cross_entropy"]
