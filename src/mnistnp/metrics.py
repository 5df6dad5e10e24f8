"""Metrics on labels: accuracy, confusion matrix and per-class accuracy; on probabilities: the
reliability bins and expected calibration error."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Equal-width bins of confidence, as Guo et al. (2017) measure calibration.
ECE_BINS = 15


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of predicted classes equal to the true ones.

    For logits or probabilities, pass ``np.argmax(scores, axis=1)`` as ``y_pred``. Anything
    else is refused: (n, n) scores against n labels would broadcast, and one-hot rows against
    rounded probabilities is the cell-by-cell count that scores a model knowing nothing 90%.

    Parameters
    ----------
    y_true : ndarray of shape (n_samples,), dtype integer
        The true classes.
    y_pred : ndarray of shape (n_samples,), dtype integer
        The predicted classes, one per sample.

    Returns
    -------
    float
        The fraction right, in [0, 1]; 0.0 for no samples.

    Raises
    ------
    ValueError
        If ``y_true`` is not one-dimensional or ``y_pred``'s shape differs from it.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.shape != y_true.shape:
        raise ValueError(f"accuracy compares labels of shape (n_samples,), got y_true of shape "
                         f"{y_true.shape} and y_pred of shape {y_pred.shape}")
    return float(np.mean(y_true == y_pred)) if len(y_true) else 0.0


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Count each pair of true and predicted class.

    Parameters
    ----------
    y_true : ndarray of shape (n_samples,), dtype integer
        The true classes, in [0, num_classes).
    y_pred : ndarray of shape (n_samples,), dtype integer
        The predicted classes, in [0, num_classes).
    num_classes : int
        How many classes there are: the matrix's side.

    Returns
    -------
    ndarray of shape (num_classes, num_classes), dtype int64
        The number of samples of true class ``i`` predicted as class ``j`` at row ``i``,
        column ``j``; the diagonal holds the right predictions.

    Raises
    ------
    ValueError
        If either array holds a class outside 0..num_classes - 1.
    """
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"{name} holds classes outside 0..{num_classes - 1}")
    flat = y_true * num_classes + y_pred
    return np.bincount(flat, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """Recall of each class from a confusion matrix.

    Parameters
    ----------
    cm : ndarray of shape (n_classes, n_classes), dtype integer
        A confusion matrix as ``confusion_matrix`` makes it: rows are true classes, columns
        predicted ones.

    Returns
    -------
    ndarray of shape (n_classes,), dtype float64
        For each true class, the fraction of its samples predicted as it; NaN for a class with
        no samples.
    """
    totals = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.diag(cm) / totals


@dataclass(frozen=True)
class ReliabilityBins:
    """Predictions grouped by their confidence into ``n`` equal-width bins of [0, 1].

    ``reliability_bins`` makes them; a reliability diagram draws them.

    Attributes
    ----------
    edges : ndarray of shape (n + 1,), dtype float64
        The bin edges, from 0 to 1; bin ``i`` holds confidences in (edges[i], edges[i + 1]].
    count : ndarray of shape (n,), dtype int64
        How many predictions fall in each bin.
    confidence : ndarray of shape (n,), dtype float64
        The mean confidence (the probability of the predicted class) in each bin; NaN for an
        empty bin.
    accuracy : ndarray of shape (n,), dtype float64
        The fraction of each bin's predictions that are right; NaN for an empty bin.
    """

    edges: np.ndarray
    count: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray

    @property
    def ece(self) -> float:
        """Expected calibration error, a fraction in [0, 1] (0 for a perfectly calibrated model).

        The gap |accuracy - confidence| of each bin, weighted by the fraction of predictions in
        it; 0.0 when no bin holds a prediction.
        """
        total = int(self.count.sum())
        if not total:
            return 0.0
        full = self.count > 0
        gaps = np.abs(self.accuracy[full] - self.confidence[full])
        return float(np.sum(self.count[full] * gaps) / total)


def reliability_bins(proba: np.ndarray, y_true: np.ndarray, n_bins: int = ECE_BINS
                     ) -> ReliabilityBins:
    """Bin predictions by their confidence, the largest probability of each row.

    A confidence c falls in the bin (lo, hi] holding it; c = 0 (impossible above
    1 / n_classes) goes to the first.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes), dtype float
        Predicted class probabilities, each row summing to 1 (a softmax of logits).
    y_true : ndarray of shape (n_samples,), dtype integer
        The true classes.
    n_bins : int, default ECE_BINS (15)
        How many equal-width bins to split [0, 1] into; at least 1.

    Returns
    -------
    ReliabilityBins
        The bins' edges, counts, mean confidence and accuracy.

    Raises
    ------
    ValueError
        If the shapes do not match as above, or ``n_bins`` is below 1.
    """
    proba, y_true = np.asarray(proba), np.asarray(y_true)
    if proba.ndim != 2 or y_true.shape != proba.shape[:1]:
        raise ValueError(f"reliability_bins takes probabilities of shape (n_samples, "
                         f"n_classes) and labels of shape (n_samples,), got {proba.shape} and "
                         f"{y_true.shape}")
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    confidence = proba.max(axis=1).astype(np.float64)
    correct = (np.argmax(proba, axis=1) == y_true).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, confidence, minlength=n_bins) / count
        mean_acc = np.bincount(which, correct, minlength=n_bins) / count
    return ReliabilityBins(edges, count.astype(np.int64), mean_conf, mean_acc)


def expected_calibration_error(proba: np.ndarray, y_true: np.ndarray,
                               n_bins: int = ECE_BINS) -> float:
    """The expected calibration error of predicted probabilities against true labels.

    See ``ReliabilityBins.ece``.

    Parameters
    ----------
    proba : ndarray of shape (n_samples, n_classes), dtype float
        Predicted class probabilities, each row summing to 1 (a softmax of logits).
    y_true : ndarray of shape (n_samples,), dtype integer
        The true classes.
    n_bins : int, default ECE_BINS (15)
        How many equal-width bins of confidence to average over; at least 1.

    Returns
    -------
    float
        The bins' gaps |accuracy - confidence|, weighted by how many predictions each holds:
        a fraction in [0, 1], 0 for a perfectly calibrated model.
    """
    return reliability_bins(proba, y_true, n_bins).ece
