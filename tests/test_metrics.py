"""Tests for mnistnp.metrics: accuracy is argmax against labels, so a model that predicts
nothing scores about 10% on ten balanced classes (the notebook rounded its probabilities and
compared every cell with one-hot labels, which says 90%: accuracy refuses such arrays);
confusion matrix by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mnistnp.metrics import accuracy, confusion_matrix, per_class_accuracy
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
