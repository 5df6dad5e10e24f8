"""Tests for mnistnp.pictures (and the title wrapping in mnistnp.plots): each picture is a PNG of
the expected size with no text outside it; the first layer is found by its parameters, whatever
its class, and one that cannot be pictured is skipped with a line; mistakes come most confident
first."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from conftest import tiny_arrays
from PIL import Image

from mnistnp.evaluation import Evaluation, evaluate
from mnistnp.nn import Dense, Flatten, Layer, Sequential, mlp, network
from mnistnp.pictures import (
    CONFUSION,
    FIRST_LAYER,
    MISTAKES,
    PICTURES,
    RELIABILITY,
    Unpicturable,
    confusion_figure,
    draw_pictures,
    first_layer_figure,
    first_layer_weights,
    mistakes_figure,
    most_confident_mistakes,
    reliability_figure,
)
from mnistnp.plots import learning_curve_figure, pyplot, wrap
from mnistnp.training import History

CNN_LAYERS = ("affine:10:0.1:2,conv:32:3,bn,maxpool:2,conv:64:3,bn,conv:64:3,bn,maxpool:2,"
              "dense:256,dropout:0.25")


@pytest.fixture(scope="module")
def tiny_evaluation() -> tuple[Sequential, Evaluation]:
    """An untrained 784-32-10 MLP on the tiny test split: it makes plenty of mistakes."""
    model = network("dense:32", (28, 28), 10, rng=np.random.default_rng(0))
    arrays = tiny_arrays()
    return model, evaluate(model, arrays["test_images"], arrays["test_labels"],
                           data="the tiny test split")


def hand_evaluation(proba: list[list[float]], labels: list[int]) -> Evaluation:
    p = np.asarray(proba, dtype=np.float64)
    images = np.zeros((len(p), 4, 4), np.uint8)
    return Evaluation(images, np.asarray(labels), p, np.argmax(p, axis=1),
                      tuple(str(c) for c in range(p.shape[1])))


def spills(fig: Any) -> bool:
    """Whether anything drawn on ``fig`` (titles, labels, tick labels) reaches past its edges:
    the tight box of what is drawn, in inches, against the figure's size."""
    fig.canvas.draw()
    box = fig.get_tightbbox(fig.canvas.get_renderer())
    width, height = fig.get_size_inches()
    slack = 0.01
    return bool(box.x0 < -slack or box.y0 < -slack or box.x1 > width + slack
                or box.y1 > height + slack)


def test_every_picture_is_a_png_of_its_size(tiny_evaluation: tuple[Sequential, Evaluation]
                                            ) -> None:
    model, evaluation = tiny_evaluation
    pictures = draw_pictures(model, evaluation, "tiny.npz on the tiny test split")
    assert list(pictures.png) == list(PICTURES) and pictures.skipped == []
    sizes = {}
    for name, data in pictures.png.items():
        image = Image.open(io.BytesIO(data))
        assert image.format == "PNG"
        image.load()
        sizes[name] = image.size
    # Ten classes: a 9 x 8 inch heatmap at 100 dpi; the reliability diagram is 7 x 7.5 inches.
    assert sizes[CONFUSION] == (900, 800) and sizes[RELIABILITY] == (700, 750)
    # The grids: 6 columns of 1.5 inches (+0.4); 8 columns (of 32 units) of 1.1 inches (+0.4).
    assert sizes[MISTAKES][0] == 940 and sizes[FIRST_LAYER][0] == 920
    assert all(400 <= w <= 1400 and 300 <= h <= 2000 for w, h in sizes.values()), sizes


def test_pictures_write_each_file_into_the_folder(tiny_evaluation: tuple[Sequential, Evaluation],
                                                  tmp_path: Path) -> None:
    model, evaluation = tiny_evaluation
    pictures = draw_pictures(model, evaluation, "tiny")
    paths = pictures.write(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(PICTURES)
    for path in paths:
        assert path.read_bytes() == pictures.png[path.name]


@pytest.mark.parametrize("draw", ["confusion", "mistakes", "first_layer", "reliability",
                                  "learning_curve"])
def test_no_text_runs_off_a_picture_even_with_a_cnn_layer_string(
        draw: str, tiny_evaluation: tuple[Sequential, Evaluation]) -> None:
    model, evaluation = tiny_evaluation
    label = (f"784-[{CNN_LAYERS}]-10, recipe cnn, seed 0, 861,706 parameters; mnist's test "
             f"split, 10,000 images")
    history = History(costs=[2.0, 1.0, 0.5, 0.4], epoch_loss=[1.5, 0.45],
                      epoch_val_loss=[1.0, 0.5], epoch_val_accuracy=[0.7, 0.9],
                      epoch_lr=[0.1, 0.1], epoch_seconds=[1.0, 1.0],
                      epoch_samples_per_s=[10.0, 10.0], epoch_end=[2, 4])
    figures = {"confusion": lambda: confusion_figure(evaluation, label),
               "mistakes": lambda: mistakes_figure(evaluation, label),
               "first_layer": lambda: first_layer_figure(model, label),
               "reliability": lambda: reliability_figure(evaluation, label),
               "learning_curve": lambda: learning_curve_figure(history, label)}
    fig = figures[draw]()
    try:
        assert not spills(fig)
        title = fig._suptitle.get_text()
        assert "dropout:0.25" in title and "\n" in title  # all of it, over several lines
    finally:
        pyplot().close(fig)


def test_wrap_breaks_a_layer_string_after_its_commas() -> None:
    text = f"784-[{CNN_LAYERS}]-10, recipe cnn"
    lines = wrap(text, 4, 10).split("\n")
    assert len(lines) > 1
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(line.endswith(",") for line in lines[:-1])
    assert wrap("short title", 7, 12) == "short title"


# --- the first layer, found by its parameters ------------------------------------------------

def test_an_mlps_first_layer_is_its_units_as_images() -> None:
    model = mlp([784, 20, 10], np.random.default_rng(0))
    images, what = first_layer_weights(model)
    dense = next(layer for layer in model.layers if layer.param_shapes)
    w = dense.parameters()[0]
    assert images.shape == (20, 28, 28)
    np.testing.assert_array_equal(images[3], w[:, 3].reshape(28, 28))
    assert "its 20 units" in what


def test_a_wide_first_layer_shows_a_sample_of_its_units() -> None:
    model = network("dense:100", (28, 28), 10, rng=np.random.default_rng(0))
    images, what = first_layer_weights(model)
    assert images.shape == (64, 28, 28) and "64 of its 100 units" in what
    w = next(p for layer in model.layers for p in layer.parameters() if p.ndim == 2)
    np.testing.assert_array_equal(images[0], w[:, 0].reshape(28, 28))
    np.testing.assert_array_equal(images[-1], w[:, 99].reshape(28, 28))


def test_a_cnns_first_layer_is_its_filters() -> None:
    model = network("conv:6:5,maxpool:2,conv:4:3", (28, 28), 10, rng=np.random.default_rng(1))
    images, what = first_layer_weights(model)
    w = next(p for layer in model.layers for p in layer.parameters() if p.ndim == 4)
    assert images.shape == (6, 5, 5) and "its 6 filters (5x5)" in what
    np.testing.assert_array_equal(images, w[:, 0])


class Odd(Layer):
    """A layer with a weight of three axes (no kind: a variant, registered nowhere)."""

    param_names: ClassVar[tuple[str, ...]] = ("W",)

    def __init__(self) -> None:
        self.param_shapes = ((2, 3, 4),)

    def forward(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return x


def test_a_first_layer_that_cannot_be_pictured_is_skipped_with_a_line() -> None:
    model = Sequential([Flatten(), Odd(), Dense(784, 10)], (28, 28))
    with pytest.raises(Unpicturable, match=r"layer 1 \(Layer\): weights of shape \(2, 3, 4\)"):
        first_layer_weights(model)
    arrays = tiny_arrays(n_test=20)
    evaluation = evaluate(model, arrays["test_images"], arrays["test_labels"])
    pictures = draw_pictures(model, evaluation, "odd")
    assert FIRST_LAYER not in pictures.png and CONFUSION in pictures.png
    assert len(pictures.skipped) == 1 and pictures.skipped[0].startswith(f"{FIRST_LAYER}: ")


def test_a_dense_layer_on_inputs_that_are_no_image_is_skipped() -> None:
    model = mlp([7, 5, 3], np.random.default_rng(0))
    with pytest.raises(Unpicturable, match="do not read as images"):
        first_layer_weights(model)


# --- mistakes -------------------------------------------------------------------------------

def test_the_most_confident_mistakes_come_first() -> None:
    evaluation = hand_evaluation([[0.6, 0.4], [0.1, 0.9], [0.2, 0.8], [0.95, 0.05],
                                  [0.3, 0.7]], [1, 0, 1, 1, 0])
    # Wrong: 0 (p 0.6), 1 (p 0.9), 3 (p 0.95), 4 (p 0.7); row 2 is right.
    np.testing.assert_array_equal(most_confident_mistakes(evaluation), [3, 1, 4, 0])
    np.testing.assert_array_equal(most_confident_mistakes(evaluation, 2), [3, 1])


def test_no_mistakes_is_no_picture_of_them() -> None:
    evaluation = hand_evaluation([[0.9, 0.1], [0.2, 0.8]], [0, 1])
    with pytest.raises(Unpicturable, match="no mistakes"):
        mistakes_figure(evaluation, "perfect")
