"""A model as the server holds it: loaded once at start, answering one prepared digit at a time
with its probabilities and what its hidden layers made of the digit."""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .. import datasets
from ..describe import describe
from ..model_file import load_model
from ..nn import Conv2D, Dense, Sequential, softmax
from ..sources import check_input, refits, trained_on

# Layers that keep a feature map's shape, shown with the convolution they follow (its batch
# norm and activation), so the maps are what the next layer takes, not raw sums.
_SAME_SHAPE_KINDS = ("BatchNorm", "ReLU")


class ServedModel:
    """A saved model, loaded once, answering digits for the server's threads.

    Parameters
    ----------
    path : str or os.PathLike
        The model file; fixed for the server's life (no request names a file).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.model: Sequential = load_model(self.path)
        check_input(self.path, self.model, (28, 28))
        self.refit = refits(self.model)
        self.names = datasets.class_names(trained_on(self.model.info), self.model.num_classes)
        self.shown = shown_layers(self.model)
        # Inference-mode layers may keep small per-call state (ReLU resets its mask), so one
        # forward pass runs at a time; an MLP's pass takes well under a millisecond.
        self._lock = threading.Lock()

    def info(self) -> dict[str, Any]:
        """The model's description (``describe``, what ``mnistnp info`` prints), file and classes.

        Returns
        -------
        dict
            ``describe``'s record less the training data's folder, plus ``file`` (the file's
            name, not its path), ``classes``
            (the class names) and ``shows`` (``"hidden"``, ``"feature_maps"`` or ``"none"``:
            what ``answer``'s activations hold).
        """
        record = describe(self.model)
        record.pop("warnings", None)
        # The training data's folder is a path of the machine that trained the model: not for
        # whoever can reach the page.
        record["provenance"].pop("data_dir", None)
        if isinstance(record["provenance"].get("settings"), dict):
            record["provenance"]["settings"].pop("data_dir", None)
        return {"file": self.path.name, "classes": list(self.names),
                "shows": self.shown[0], **record}

    def answer(self, image: np.ndarray) -> dict[str, Any]:
        """The model's answer for one prepared digit.

        Parameters
        ----------
        image : ndarray of shape (28, 28), dtype uint8
            The digit as ``images.prepare_digit`` gives it: exactly the model's input.

        Returns
        -------
        dict
            ``class`` (int), ``label`` (its name), ``probabilities`` (one float per class),
            ``activations`` (see ``activations``).
        """
        with self._lock:
            outputs = run_layers(self.model, image[None])
        p = softmax(outputs[-1])[0]
        top = int(np.argmax(p))
        return {"class": top, "label": self.names[top],
                "probabilities": [round(float(v), 6) for v in p],
                "activations": activations(self.shown, outputs)}


def run_layers(model: Sequential, x: np.ndarray) -> list[np.ndarray]:
    """Every layer's output for a batch, in inference mode: ``model.forward`` kept step by step.

    Parameters
    ----------
    model : Sequential
        The model.
    x : ndarray of shape (n_samples, 28, 28), dtype uint8
        The batch.

    Returns
    -------
    list of ndarray
        Layer i's output at index i; the last is the logits, of shape (n_samples, n_classes).
    """
    outputs = []
    for layer in model.layers:
        x = layer.forward(x, False)
        outputs.append(x)
    return outputs


def shown_layers(model: Sequential) -> tuple[str, list[int]]:
    """Which layers' outputs show what the network made of a digit.

    For a network with a convolution, the first one's feature maps (after the batch norm and
    activation that follow it); else the hidden layers, each the input of a Dense layer after
    the first.

    Parameters
    ----------
    model : Sequential
        The model.

    Returns
    -------
    (str, list of int)
        ``"feature_maps"``, ``"hidden"`` or ``"none"``, and the indices of the layers shown.
    """
    layers = model.layers
    conv = next((i for i, layer in enumerate(layers) if isinstance(layer, Conv2D)), None)
    if conv is not None:
        end = conv
        while end + 1 < len(layers) and layers[end + 1].kind in _SAME_SHAPE_KINDS:
            end += 1
        return "feature_maps", [end]
    dense = [i for i, layer in enumerate(layers) if isinstance(layer, Dense)]
    hidden = [i - 1 for i in dense[1:]]
    return ("hidden" if hidden else "none"), hidden


def activations(shown: tuple[str, list[int]], outputs: list[np.ndarray]) -> dict[str, Any]:
    """The shown layers' outputs for one sample, small enough to send as the user draws.

    Parameters
    ----------
    shown : (str, list of int)
        What ``shown_layers`` gives.
    outputs : list of ndarray
        What ``run_layers`` gives for a batch of one.

    Returns
    -------
    dict
        ``kind`` (as ``shown_layers`` says); for ``hidden``, ``layers``: a list of
        ``{"layer", "values"}`` (the units' activations, floats rounded to 4 places); for
        ``feature_maps``, ``layer``, ``shape`` ([maps, height, width]) and ``maps``: base64 of
        uint8 pixels (each map stretched from its own lowest value to its highest).
    """
    kind, indices = shown
    if kind == "feature_maps":
        maps = outputs[indices[0]][0].astype(np.float32)  # (C, H, W)
        low = maps.min(axis=(1, 2), keepdims=True)
        span = np.maximum(maps.max(axis=(1, 2), keepdims=True) - low, 1e-12)
        pixels = np.round((maps - low) / span * 255).astype(np.uint8)
        return {"kind": kind, "layer": indices[0], "shape": list(pixels.shape),
                "maps": base64.b64encode(pixels.tobytes()).decode("ascii")}
    layers = [{"layer": i, "values": [round(float(v), 4) for v in outputs[i][0].ravel()]}
              for i in indices]
    return {"kind": kind, "layers": layers}
