"""The few-image paths a one-image prediction takes (im2col as one strided copy, evaluation
without chunking, pooling by windows) give what the batch paths give."""

from __future__ import annotations

import numpy as np
import pytest

from mnistnp.nn import network
from mnistnp.nn.columns import FEW_IMAGES, _im2col, _im2col_strided, im2col
from mnistnp.nn.pool import MaxPool2D


@pytest.mark.parametrize("kernel, stride", [((5, 5), (1, 1)), ((3, 2), (2, 1)), ((1, 3), (1, 2))])
@pytest.mark.parametrize("channel_major", [False, True])
def test_strided_im2col_is_the_looped_one(kernel: tuple[int, int], stride: tuple[int, int],
                                          channel_major: bool) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 9, 8), dtype=np.float32)
    if channel_major:  # as a padded or conv-output batch
        x = np.ascontiguousarray(x.swapaxes(0, 1)).swapaxes(0, 1)
    ho, wo = (9 - kernel[0]) // stride[0] + 1, (8 - kernel[1]) // stride[1] + 1
    shape = (2, *kernel, 3, ho, wo)
    looped, strided = np.full(shape, np.nan, np.float32), np.full(shape, np.nan, np.float32)
    _im2col(x, stride, looped)
    _im2col_strided(x, stride, strided)
    assert strided.tobytes() == looped.tobytes()
    assert not np.isnan(looped).any()
    # what im2col gives for a few images
    assert im2col(x, kernel, stride, np.empty(shape, np.float32)).tobytes() == looped.tobytes()


@pytest.mark.parametrize("size, stride", [(2, None), (3, None), (3, 2)])
def test_pool_evaluation_of_a_few_images_is_the_batch_one(size: int, stride: int | None) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((FEW_IMAGES + 3, 3, 9, 7), dtype=np.float32)
    layer = MaxPool2D(size, stride)
    batch = layer.forward(x)
    few = np.concatenate([layer.forward(x[i:i + 1]) for i in range(len(x))])
    assert few.tobytes() == batch.tobytes()


def test_one_image_prediction_matches_the_batch_prediction() -> None:
    """The benchmark CNN: each image alone (padding, strided im2col, no chunk copies) gives
    the probabilities it gets inside a batch of more than FEW_IMAGES, to float32 rounding
    (the GEMMs differ in size, so their summation order may differ)."""
    model = network("conv:8:5,maxpool:2,conv:16:5,maxpool:2,dense:32", (28, 28), 10,
                    rng=np.random.default_rng(2))
    x = np.random.default_rng(3).integers(0, 256, (FEW_IMAGES + 5, 28, 28)).astype(np.uint8)
    batch = model.predict_proba(x)
    alone = np.concatenate([model.predict_proba(x[i:i + 1]) for i in range(len(x))])
    assert alone.dtype == batch.dtype == np.float32
    np.testing.assert_allclose(alone, batch, rtol=1e-5, atol=1e-7)
