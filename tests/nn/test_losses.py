"""Tests for the fused softmax cross-entropy: hand-worked values, stability at extreme logits,
gradient rows summing to 0, and the default scale being the mean over rows."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_arrays
from reference import forward, npz_weights

from mnistnp.model_file import load_model
from mnistnp.nn import log_softmax, softmax, softmax_cross_entropy
from mnistnp.training import evaluate

# --- small hand-worked examples --------------------------------------------------------------


def test_two_equal_logits() -> None:
    # p = [1/2, 1/2]; label 0: loss = -ln(1/2) = ln 2; grad = p - onehot = [-1/2, 1/2].
    loss, grad = softmax_cross_entropy(np.array([[0.0, 0.0]]), np.array([0]))
    assert loss == pytest.approx(math.log(2), rel=1e-12)
    np.testing.assert_allclose(grad, [[-0.5, 0.5]], rtol=1e-12)


def test_three_classes_from_log_weights() -> None:
    # logits ln[1, 2, 3]: p = [1/6, 2/6, 3/6]; label 2: loss = -ln(1/2) = ln 2;
    # grad = [1/6, 1/3, 1/2 - 1] = [1/6, 1/3, -1/2].
    logits = np.log([[1.0, 2.0, 3.0]])
    loss, grad = softmax_cross_entropy(logits, np.array([2]))
    assert loss == pytest.approx(math.log(2), rel=1e-12)
    np.testing.assert_allclose(grad, [[1 / 6, 1 / 3, -1 / 2]], rtol=1e-12)
    np.testing.assert_allclose(softmax(logits), [[1 / 6, 2 / 6, 3 / 6]], rtol=1e-12)


@pytest.mark.parametrize("scale", [None, 1.0, 2.0, 0.1])
def test_two_rows_with_scale(scale: float | None) -> None:
    # Row 1: logits [0, 0], label 0: p = [1/2, 1/2], loss ln 2, p - onehot = [-1/2, 1/2].
    # Row 2: logits [0, ln 3], label 1: p = [1/4, 3/4], loss -ln(3/4) = ln(4/3),
    #        p - onehot = [1/4, -1/4].
    # Summed loss: ln 2 + ln(4/3) = ln(8/3). Default scale is 1/2 (the mean of 2 rows).
    logits = np.array([[0.0, 0.0], [0.0, math.log(3)]])
    labels = np.array([0, 1])
    s = 0.5 if scale is None else scale
    loss, grad = softmax_cross_entropy(logits, labels, scale=scale)
    assert loss == pytest.approx(s * math.log(8 / 3), rel=1e-12)
    np.testing.assert_allclose(grad, s * np.array([[-0.5, 0.5], [0.25, -0.25]]), rtol=1e-12)


# --- stability -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_extreme_logits_stay_finite(dtype: str) -> None:
    logits = np.array([
        [1000.0, -1000.0, 0.0],
        [-1000.0, 1000.0, -1000.0],
        [1e4, 0.0, -1e4],
        [1e4, 1e4, 1e4],
        [-1000.0, -1000.0, -1000.0],
    ], dtype=dtype)
    labels = np.array([1, 0, 2, 1, 2])
    loss, grad = softmax_cross_entropy(logits, labels, scale=1.0)
    p = softmax(logits)

    assert math.isfinite(loss)
    assert np.all(np.isfinite(grad))
    assert np.all(np.isfinite(log_softmax(logits)))
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    # By hand (exp(-1000) and smaller vanish): the row losses are the gaps to the largest
    # logit, 2000 + 2000 + 2e4 + 0, plus ln 3 for each row of three equal logits.
    expected = 2000 + 2000 + 2e4 + 2 * math.log(3)
    assert loss == pytest.approx(expected, rel=1e-6)
    # p is one-hot on the winner (or uniform for ties), so p - onehot is too.
    np.testing.assert_allclose(grad[0], [1, -1, 0], atol=1e-6)
    np.testing.assert_allclose(grad[3], [1 / 3, -2 / 3, 1 / 3], atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_confident_right_answer_costs_nothing(dtype: str) -> None:
    # exp(-1e4) underflows to 0, so p = [1, 0]: loss 0 and gradient 0, not NaN.
    loss, grad = softmax_cross_entropy(np.array([[1e4, 0.0]], dtype=dtype), np.array([0]))
    assert loss == 0.0
    np.testing.assert_array_equal(grad, 0.0)


# --- structure -------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_rows_sum_to_zero(seed: int) -> None:
    rng = np.random.default_rng(seed)
    logits = 5 * rng.standard_normal((20, 10))
    labels = rng.integers(0, 10, 20)
    _, grad = softmax_cross_entropy(logits, labels, scale=1.0)
    # Each row is p - onehot: probabilities summing to 1, minus 1.
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-14)
    assert grad.shape == logits.shape


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_scale_is_the_mean_over_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 13
    logits = rng.standard_normal((n, 4))
    labels = rng.integers(0, 4, n)
    loss, grad = softmax_cross_entropy(logits, labels)
    summed, summed_grad = softmax_cross_entropy(logits, labels, scale=1.0)
    per_row = [softmax_cross_entropy(logits[i:i + 1], labels[i:i + 1])[0] for i in range(n)]

    assert loss == pytest.approx(np.mean(per_row), rel=1e-12)
    assert loss == pytest.approx(summed / n, rel=1e-12)
    np.testing.assert_allclose(grad, summed_grad / n, rtol=1e-12)


def test_loss_is_minus_log_probability_of_the_label() -> None:
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((6, 5))
    labels = rng.integers(0, 5, 6)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)  # naive softmax, small logits
    loss, _ = softmax_cross_entropy(logits, labels, scale=1.0)
    assert loss == pytest.approx(-np.log(p[np.arange(6), labels]).sum(), rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_loss_equals_the_textbook_formula(seed: int, dtype: type) -> None:
    """-mean log softmax at the labels, and softmax minus one-hot over n, written plainly."""
    rng = np.random.default_rng(seed)
    n, c = int(rng.integers(1, 40)), int(rng.integers(2, 12))
    logits = (rng.standard_normal((n, c)) * 8).astype(dtype)
    labels = rng.integers(0, c, n)
    before = logits.copy()
    loss, grad = softmax_cross_entropy(logits, labels)
    wide = logits.astype(np.float64)
    e = np.exp(wide - wide.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    onehot = np.eye(c)[labels]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert loss == pytest.approx(-np.mean(np.log(p[np.arange(n), labels])), rel=tol)
    np.testing.assert_allclose(grad, (p - onehot) / n, atol=tol)
    np.testing.assert_array_equal(logits, before)  # the logits are not touched
    assert grad.dtype == dtype


def test_a_model_with_huge_logits_still_gives_finite_probabilities_and_loss(
        trained_model: Path, tmp_path: Path) -> None:
    """A model file whose output layer is scaled a thousandfold (logits in the thousands,
    past exp's range in float32 and float64): predict_proba and evaluate's loss stay finite
    and equal a float64 log-sum-exp worked out here from the file's weights."""
    with np.load(trained_model, allow_pickle=False) as f:
        arrays = {name: f[name] for name in f.files}
    last = max(int(name.split(".")[1]) for name in arrays if name.endswith(".W"))
    for name in (f"layers.{last}.W", f"layers.{last}.b"):
        arrays[name] = arrays[name] * np.float32(1000)
    path = tmp_path / "loud.npz"
    np.savez(path, **arrays)
    data = tiny_arrays()
    x, y = data["test_images"], data["test_labels"].astype(np.int64)
    logits = forward(npz_weights(path), x)
    assert np.abs(logits).max() > 1000  # exp overflows without the max shift
    z = logits - logits.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    model = load_model(path)
    np.testing.assert_allclose(model.predict_proba(x), np.exp(log_p), atol=1e-4)
    loss, _ = evaluate(model, x, y)
    assert loss == pytest.approx(-log_p[np.arange(len(y)), y].mean(), rel=1e-3)
