"""The default recipe trained on the bundled MNIST reaches its advertised test accuracy.

Slow (a full training run on 60,000 images): run with ``python -m pytest -m slow``.
"""

from __future__ import annotations

import pytest

from mnistnp.config import RECIPES
from mnistnp.pipeline import train


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="src bug: since TrainConfig.val_split defaults to 1/12, the default recipe trains on "
           "55,000 images and scores 97.41% on test (97.60% with val_split=0), below the 97.5% "
           "it advertises; remove this mark once the recipe is retuned")
def test_default_recipe_reaches_97_5_percent_on_mnist() -> None:
    config = RECIPES["default"]
    assert config.dataset == "mnist"
    result = train(config, progress=False)
    assert result.model.num_classes == 10
    assert result.test_accuracy >= 0.975, result.metrics
