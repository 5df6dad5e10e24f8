"""Metrics on labels: accuracy, confusion matrix and per-class accuracy."""

from __future__ import annotations

import numpy as np


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of predicted classes equal to the true ones; both of shape (n_samples,).

    For logits or probabilities, pass ``np.argmax(scores, axis=1)`` as ``y_pred``. Anything
    else is refused: (n, n) scores against n labels would broadcast, and one-hot rows against
    rounded probabilities is the cell-by-cell count that scores a model knowing nothing 90%.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.shape != y_true.shape:
        raise ValueError(f"accuracy compares labels of shape (n_samples,), got y_true of shape "
                         f"{y_true.shape} and y_pred of shape {y_pred.shape}")
    return float(np.mean(y_true == y_pred)) if len(y_true) else 0.0


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of shape (num_classes, num_classes): row = true class, column = predicted class."""
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"{name} holds classes outside 0..{num_classes - 1}")
    flat = y_true * num_classes + y_pred
    return np.bincount(flat, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Recall of each class from a confusion matrix; NaN for a class with no samples."""
    totals = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diag(cm) / totals
