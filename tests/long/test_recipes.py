"""The recipes trained on the bundled MNIST reach their advertised test accuracy.

Full training runs on 60,000 images. ``slow`` ones (seconds) run with ``pytest -m slow`` and
in CI; ``long`` ones (minutes) only with ``pytest -m long``.
"""

from __future__ import annotations

import pytest

from mnistnp.config import RECIPES
from mnistnp.pipeline import train


@pytest.mark.slow
def test_default_recipe_reaches_97_5_percent_on_mnist() -> None:
    config = RECIPES["default"]
    assert config.dataset == "mnist"
    result = train(config, progress=False)
    assert result.model.num_classes == 10
    assert result.test_accuracy >= 0.975, result.metrics


@pytest.mark.long
def test_best_recipe_reaches_98_8_percent_on_mnist() -> None:
    result = train(RECIPES["best"], progress=False)
    assert result.test_accuracy >= 0.988, result.metrics


@pytest.mark.long
def test_notebook_recipe_reaches_95_percent_on_mnist() -> None:
    # The notebook as written (rate 0.005 used by mistake) reached 86%; at its intended constant
    # 0.5 the result swung with the CPU's rounding (66.98-95.74% for seed 0). The recipe's
    # warmup and cosine decay end every seed's cost curve smoothly (docs/notebook.md).
    result = train(RECIPES["notebook"], progress=False)
    assert result.test_accuracy >= 0.95, result.metrics


@pytest.mark.long
def test_cnn_recipe_reaches_99_5_percent_on_mnist() -> None:
    # One seed of the three the README reports (minutes: 12 epochs of a CNN).
    result = train(RECIPES["cnn"], progress=False)
    assert result.test_accuracy >= 0.995, result.metrics
