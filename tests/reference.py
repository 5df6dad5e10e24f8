"""Answers computed apart from the code under test: a float64 forward pass in plain NumPy over
weights read straight from a model file or off a model's layers, and accuracy by argmax."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

Weights = list[tuple[np.ndarray, np.ndarray]]  # (W (in, out), b (out,)) per Dense layer


def npz_weights(path: Path) -> Weights:
    """The Dense layers' weights of a model file, read with NumPy alone (no mnistnp code)."""
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(f["meta.json"].tobytes())
        indices = sorted({int(m.group(1)) for name in f.files
                          if (m := re.fullmatch(r"layers\.(\d+)\.W", name))})
        weights = [(f[f"layers.{i}.W"], f[f"layers.{i}.b"]) for i in indices]
    kinds = [layer["type"] for layer in meta["model"]["layers"]]
    # What forward() below assumes: Rescale (pixels / 255), Flatten, then Dense layers with
    # ReLU between (model file format 3).
    assert meta["format_version"] == 3
    assert kinds == ["Rescale", "Flatten"] + ["Dense", "ReLU"] * (len(weights) - 1) + ["Dense"], \
        kinds
    assert meta["model"]["layers"][0]["scale"] == 1 / 255
    return weights


def model_weights(model: Any) -> Weights:
    """The (W, b) of each Dense layer of a live model, copied as float64."""
    return [(layer.W.astype(np.float64), layer.b.astype(np.float64))
            for layer in model.layers if type(layer).__name__ == "Dense"]


def forward(weights: Weights, images: np.ndarray) -> np.ndarray:
    """Logits (n, classes) of a ReLU MLP on uint8 images, in float64."""
    h = images.reshape(len(images), -1).astype(np.float64) / 255.0
    for i, (w, b) in enumerate(weights):
        h = h @ w.astype(np.float64) + b.astype(np.float64)
        if i < len(weights) - 1:
            h = np.maximum(h, 0.0)
    return h


def argmax_predictions(weights: Weights, images: np.ndarray) -> np.ndarray:
    """The predicted classes; fails if two classes are so close that float32 could swap them."""
    logits = forward(weights, images)
    top2 = np.sort(logits, axis=1)[:, -2:]
    assert np.all(top2[:, 1] - top2[:, 0] > 1e-4 * (1 + np.abs(top2[:, 1]))), \
        "a near tie: the reference cannot say which class float32 arithmetic picks"
    return np.argmax(logits, axis=1)


def argmax_accuracy(weights: Weights, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of images whose largest logit is the true class."""
    return float(np.count_nonzero(argmax_predictions(weights, images) == labels)) / len(labels)
