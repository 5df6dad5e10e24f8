"""Tests for mnistnp.metrics: accuracy is argmax against labels, so a model that predicts
nothing scores about 10% on ten balanced classes (the notebook rounded its probabilities and
compared every cell with one-hot labels, which says 90%: accuracy refuses such arrays);
confusion matrix by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mnistnp.metrics import (
    accuracy,
    confusion_matrix,
    expected_calibration_error,
    per_class_accuracy,
    reliability_bins,
)
from mnistnp.nn import mlp

BALANCED = np.repeat(np.arange(10), 50)  # 500 labels, 50 of each digit


def test_accuracy_is_argmax_against_labels() -> None:
    logits = np.array([[0.1, 2.0, 0.3],
                       [5.0, 1.0, 0.0],
                       [0.0, 0.0, 1.0],
                       [1.0, 3.0, 2.0]])
    labels = np.array([1, 0, 1, 1])
    # argmax per row: 1, 0, 2, 1 -> rows 0, 1 and 3 right: 3 / 4.
    assert accuracy(labels, np.argmax(logits, axis=1)) == 0.75
    assert accuracy([1, 2, 3], [1, 2, 3]) == 1.0
    assert accuracy([1, 2, 3], [0, 0, 0]) == 0.0


def test_a_model_that_predicts_nothing_scores_ten_percent() -> None:
    model = mlp([64, 10], dtype="float64")  # no rng: all weights 0, so every logit is 0
    images = np.random.default_rng(0).integers(0, 256, (len(BALANCED), 8, 8), dtype=np.uint8)
    proba = model.predict_proba(images)
    np.testing.assert_allclose(proba, 0.1)  # uniform: it knows nothing

    assert accuracy(BALANCED, model.predict(images)) == pytest.approx(0.10)


@pytest.mark.parametrize("constant", [0, 3, 9])
def test_a_constant_prediction_scores_ten_percent(constant: int) -> None:
    assert accuracy(BALANCED, np.full(len(BALANCED), constant)) == pytest.approx(0.10)


def test_all_zero_probabilities_score_ten_percent_not_ninety() -> None:
    # An output layer that says "no" to every class (e.g. sigmoids all near 0).
    outputs = np.full((len(BALANCED), 10), 0.01)
    assert accuracy(BALANCED, np.argmax(outputs, axis=1)) == pytest.approx(0.10)
    # The notebook's 90% came from comparing arrays of outputs cell by cell; accuracy takes
    # labels only, so neither that nor outputs against labels can give a number.
    onehot = np.eye(10)[BALANCED]
    with pytest.raises(ValueError, match=r"shape \(n_samples,\).*\(500, 10\)"):
        accuracy(onehot, np.round(outputs))
    ten = np.arange(10)  # ten labels against (10, 10) outputs would broadcast silently
    with pytest.raises(ValueError, match=r"y_pred of shape \(10, 10\)"):
        accuracy(ten, np.round(outputs[:10]))
    with pytest.raises(ValueError, match=r"y_pred of shape \(9,\)"):
        accuracy(ten, ten[:9])


def test_confusion_matrix_by_hand() -> None:
    y_true = np.array([0, 0, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 2, 0, 2])
    # Rows are true classes, columns predicted:
    #   class 0: one right, one called 1
    #   class 1: one right
    #   class 2: two right, one called 0
    expected = np.array([[1, 1, 0],
                         [0, 1, 0],
                         [1, 0, 2]])
    cm = confusion_matrix(y_true, y_pred, 3)
    np.testing.assert_array_equal(cm, expected)
    assert np.trace(cm) / cm.sum() == pytest.approx(accuracy(y_true, y_pred))
    np.testing.assert_allclose(per_class_accuracy(cm), [1 / 2, 1, 2 / 3])


def test_confusion_matrix_has_num_classes_rows_even_for_unseen_classes() -> None:
    cm = confusion_matrix(np.array([0, 1]), np.array([0, 1]), 5)
    assert cm.shape == (5, 5)
    assert cm.sum() == 2


def test_per_class_accuracy_of_an_empty_class_is_nan() -> None:
    y_true = np.array([0, 0, 1, 1, 1])
    y_pred = np.array([0, 1, 1, 1, 0])
    cm = confusion_matrix(y_true, y_pred, 3)  # class 2 never occurs
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division warnings leak out
        acc = per_class_accuracy(cm)
    np.testing.assert_allclose(acc[:2], [1 / 2, 2 / 3])
    assert np.isnan(acc[2])


# --- calibration: reliability bins and the expected calibration error ---------------------------

def two_class_proba(confidence: list[float], predicted: list[int]) -> np.ndarray:
    """Rows of two-class probabilities whose largest, ``confidence``, is at ``predicted``."""
    conf = np.asarray(confidence)
    proba = np.stack([1 - conf, conf], axis=1)
    flip = np.asarray(predicted) == 0
    proba[flip] = proba[flip][:, ::-1]
    return proba


def test_a_perfectly_calibrated_toy_has_no_calibration_error() -> None:
    # Ten predictions at 80% confidence, eight of them right; five at 60%, three right.
    proba = two_class_proba([0.8] * 10 + [0.6] * 5, [1] * 15)
    labels = np.array([1] * 8 + [0] * 2 + [1] * 3 + [0] * 2)
    bins = reliability_bins(proba, labels, n_bins=5)
    np.testing.assert_array_equal(bins.count, [0, 0, 5, 10, 0])  # (0.4, 0.6], (0.6, 0.8]
    np.testing.assert_allclose(bins.confidence[2:4], [0.6, 0.8])
    np.testing.assert_allclose(bins.accuracy[2:4], [0.6, 0.8])
    assert np.isnan(bins.accuracy[0]) and np.isnan(bins.confidence[4])
    assert expected_calibration_error(proba, labels, n_bins=5) == pytest.approx(0.0)


def test_an_overconfident_toy_has_the_gap_weighted_by_its_bins() -> None:
    # Four predictions at 95% confidence, two right (gap 0.45); six at 70%, three right
    # (gap 0.20): ECE = 0.4 * 0.45 + 0.6 * 0.20 = 0.30.
    proba = two_class_proba([0.95] * 4 + [0.7] * 6, [1, 1, 0, 0, 1, 1, 1, 0, 0, 0])
    labels = np.array([1, 0, 0, 1, 1, 1, 0, 1, 1, 0])
    bins = reliability_bins(proba, labels, n_bins=10)
    assert bins.count.sum() == 10 and bins.count[9] == 4 and bins.count[6] == 6
    np.testing.assert_allclose(bins.accuracy[[6, 9]], [0.5, 0.5])
    assert bins.ece == pytest.approx(0.30)
    assert expected_calibration_error(proba, labels, n_bins=10) == pytest.approx(0.30)


def test_a_confidence_on_a_bin_edge_goes_to_the_bin_below() -> None:
    # 0.5 is the upper edge of (0, 0.5]; 1.0 of (0.5, 1]. A tie predicts the first class.
    bins = reliability_bins(two_class_proba([0.5, 1.0, 1.0], [1, 1, 1]), np.array([0, 1, 0]),
                            n_bins=2)
    np.testing.assert_array_equal(bins.count, [1, 2])
    np.testing.assert_allclose(bins.accuracy, [1.0, 0.5])


def test_calibration_refuses_labels_that_do_not_pair_with_the_rows() -> None:
    with pytest.raises(ValueError, match="shape"):
        reliability_bins(np.full((4, 2), 0.5), np.zeros(3, int))
    with pytest.raises(ValueError, match="n_bins"):
        reliability_bins(np.full((4, 2), 0.5), np.zeros(4, int), n_bins=0)
