"""A scikit-learn classifier over mnistnp's networks, MLPs and CNNs alike: its parameters map
onto a TrainConfig and mnistnp's Trainer does the training (``pip install 'mnistnp[sklearn]'``).
"""

try:
    import sklearn  # noqa: F401  (checked here, once, before any submodule needs it)
except ImportError:  # one line for the user, not a chain of tracebacks
    raise ImportError("mnistnp.sklearn needs scikit-learn >= 1.6: "
                      "pip install 'mnistnp[sklearn]'") from None

from .classifier import MnistnpClassifier

__all__ = ["MnistnpClassifier"]
