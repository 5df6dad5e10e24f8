"""Neural-network building blocks, as ``torch.nn`` gathers them:

- the layer protocol: ``Layer``, and ``RandomLayer`` for layers with a random stream;
- layers: ``Rescale``, ``Flatten``, ``AddChannel``, ``Dense``, ``ReLU``, ``Dropout``,
  ``Conv2D``, ``MaxPool2D``, ``GlobalAvgPool``, ``BatchNorm``, ``RandomShift``,
  ``RandomAffine``;
- models: ``Sequential``, ``mlp`` (an MLP from its sizes), ``network`` (a network from a
  layer string, read by ``parse_layers``; ``LayerStringError``, ``mlp_layers``);
- the loss: ``softmax_cross_entropy`` (fused), with ``softmax`` and ``log_softmax``;
- registries: ``LAYERS`` (kind -> class, ``layer_from_spec``), ``SHORTHANDS`` (layer-string
  names), ``INITIALIZERS`` (weight initialisers, ``nn.init``).
"""

from .arch import LayerStringError, mlp, mlp_layers, network, parse_layers
from .augment import RandomAffine, RandomShift, RandomStroke
from .base import Layer
from .conv import Conv2D
from .init import INITIALIZERS
from .layers import AddChannel, Dense, Dropout, Flatten, ReLU, Rescale
from .losses import log_softmax, softmax, softmax_cross_entropy
from .model import Sequential
from .norm import BatchNorm
from .pool import GlobalAvgPool, MaxPool2D
from .random_layer import RandomLayer
from .registry import LAYERS, SHORTHANDS
from .spec import layer_from_spec

__all__ = ["INITIALIZERS", "LAYERS", "SHORTHANDS", "AddChannel", "BatchNorm", "Conv2D", "Dense",
           "Dropout", "Flatten", "GlobalAvgPool", "Layer", "LayerStringError", "MaxPool2D",
           "RandomAffine", "RandomLayer", "RandomShift", "RandomStroke", "ReLU", "Rescale",
           "Sequential", "layer_from_spec", "log_softmax", "mlp", "mlp_layers", "network",
           "parse_layers", "softmax", "softmax_cross_entropy"]
