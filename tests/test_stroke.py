"""Stroke-width normalisation (mnistnp.stroke): the width measure on hand-worked shapes; MNIST's
own digits are left as they are; a digit written with a pen far bolder than MNIST's is thinned
and read right; an enlarged low-resolution scan is not thinned; a fitted digit far finer than
MNIST's is grown and read better, and one stored as MNIST stores its digits is never grown."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter
from test_plain import drawing

from mnistnp import plain, stroke
from mnistnp.images import _centre, prepare_digit
from mnistnp.nn import Sequential
from mnistnp.synth import renders

Digits = tuple[np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def digits(mnist: tuple[Digits, Digits]) -> Digits:
    return mnist[1]


def found(page: np.ndarray) -> np.ndarray:
    """The crop ``prepare_digit`` fits (dark ink on white ``page``, plain paper)."""
    crop = plain.find_ink(page, "page")
    assert crop is not None
    return crop


@pytest.mark.parametrize("bar", [4, 10, 25])
def test_width_of_a_bar_is_its_width(bar: int) -> None:
    # A bar 200 px long: mass 200 * bar, outline 2 * (200 + bar), so 2 * mass / outline.
    a = np.zeros((220, bar + 20), np.float32)
    a[10:210, 10:10 + bar] = 255
    assert stroke.width(a) == pytest.approx(2 * 200 * bar / (2 * (200 + bar)), rel=0.02)


def test_blur_leaves_the_width_as_it_was() -> None:
    a = np.zeros((220, 60), np.uint8)
    a[10:210, 20:32] = 255
    blurred = np.asarray(Image.fromarray(a).filter(ImageFilter.BoxBlur(2)), np.float32)
    assert stroke.width(blurred) == pytest.approx(stroke.width(a.astype(np.float32)), rel=0.05)


def test_mnist_digits_enlarged_are_left_as_they_are(digits: Digits) -> None:
    # The thresholds are MNIST's 99th percentile of the width: of 300 test digits enlarged 4x
    # (as the training digits were measured), at most a few are thinned, and any only a little.
    x_test, _ = digits
    thinned = []
    for digit in x_test[:300]:
        page = np.asarray(Image.fromarray(255 - digit).resize((112, 112),
                                                              Image.Resampling.BILINEAR))
        crop = found(page)
        if stroke.normalised(crop) is not crop:
            thinned.append(stroke.width_ratio(crop))
    assert len(thinned) <= 3, thinned
    assert all(ratio < 1.2 * stroke.BOLD for ratio in thinned)


def test_a_bold_pen_is_thinned_into_mnists_range(digits: Digits) -> None:
    x_test, _ = digits
    crop = found(drawing(x_test[1], 200, 30))  # a 2 drawn with a 30 px brush
    assert stroke.width_ratio(crop) > stroke.BOLD
    thinned = stroke.normalised(crop)
    assert stroke.width_ratio(thinned) <= stroke.BOLD
    assert thinned.shape[0] < crop.shape[0] and thinned.shape[1] < crop.shape[1]


def test_bold_digits_on_plain_paper_are_read_right(model: Sequential, digits: Digits) -> None:
    # The first 40 test digits drawn with a 30 px brush on 200x200 (strokes a third of the box
    # where MNIST's are a seventh): the small model reads several more right once they are
    # thinned, and none fewer; the 2 at index 38, an 8 before, is a 2.
    x_test, y_test = digits
    pages = [drawing(x_test[i], 200, 30) for i in range(40)]
    before = model.predict(np.stack([_centre(found(page)) for page in pages]))
    after = model.predict(np.stack([prepare_digit(Image.fromarray(page)) for page in pages]))
    labels = y_test[:40]
    assert not np.any((before == labels) & (after != labels))
    assert int(np.sum(after == labels)) >= int(np.sum(before == labels)) + 4
    assert before[38] != labels[38] and after[38] == labels[38]


@pytest.mark.parametrize("method", [Image.Resampling.NEAREST, Image.Resampling.BILINEAR])
def test_an_enlarged_low_resolution_scan_is_not_thinned(method: Image.Resampling,
                                                        digits: Digits) -> None:
    # A 9 scanned at 8x8 and enlarged to 96 px: its strokes look bold, but there is no detail
    # at 96 px to thin them by.
    x_test, _ = digits
    low = Image.fromarray(255 - x_test[9]).resize((8, 8), Image.Resampling.BOX)
    crop = found(np.asarray(low.resize((96, 96), method)))
    assert stroke.width_ratio(crop) > stroke.BOLD
    assert stroke.normalised(crop) is crop


def test_faint_is_mnists_first_percentile(mnist: tuple[Digits, Digits]) -> None:
    # FAINT is the 1st percentile of the width of MNIST's training digits as stored; the first
    # 10,000 give it within a few hundredths.
    (x_train, _), _ = mnist
    widths = [stroke.width(d.astype(np.float64)) for d in x_train[:10_000]]
    assert np.percentile(widths, 1) == pytest.approx(stroke.FAINT, abs=0.03)


def test_mnist_digits_are_rarely_grown_and_never_as_stored(digits: Digits) -> None:
    x_test, _ = digits
    grown = [i for i, d in enumerate(x_test[:1000]) if stroke.filled_out(d) is not d]
    assert 0 < len(grown) <= 20  # about 1%, as in training
    fine = x_test[grown[0]]
    assert np.array_equal(prepare_digit(Image.fromarray(fine)), fine)  # used as it is stored


def fine(digit: np.ndarray, seed: int) -> np.ndarray:
    """``digit`` drawn along its thinned strokes with a 4 px brush, 280 px tall on a 400 px
    canvas (strokes a seventieth of the digit, where MNIST's are about a tenth)."""
    coverage = renders.brush(digit, 400, 280, 4, np.random.default_rng(seed))
    return np.asarray(renders.on_paper(coverage))


def without_growth(pages: list[np.ndarray], monkeypatch: pytest.MonkeyPatch) -> np.ndarray:
    """``prepare_digit`` of each page with ``filled_out`` turned off: the digit as fitted."""
    with monkeypatch.context() as m:
        m.setattr(stroke, "filled_out", lambda digit: digit)
        return np.stack([prepare_digit(Image.fromarray(p)) for p in pages])


def test_a_fine_brush_is_grown_into_mnists_range(digits: Digits,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    x_test, _ = digits
    page = fine(x_test[1], 0)  # a 2 drawn with a 4 px brush on a 400 px canvas
    (fitted,) = without_growth([page], monkeypatch)
    assert stroke.width(fitted.astype(np.float64)) < stroke.FAINT
    prepared = prepare_digit(Image.fromarray(page))
    assert stroke.width(prepared.astype(np.float64)) > stroke.width(fitted.astype(np.float64))
    assert (prepared >= fitted).all()  # grown, nothing taken away


def test_fine_drawings_are_read_better(model: Sequential, digits: Digits,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # The first 100 test digits drawn with a 4 px brush on 400x400: the small model reads more
    # of them right once their strokes are grown, and few it read before are lost.
    x_test, y_test = digits
    pages = [fine(x_test[i], i) for i in range(100)]
    before = model.predict(without_growth(pages, monkeypatch))
    after = model.predict(np.stack([prepare_digit(Image.fromarray(p)) for p in pages]))
    labels = y_test[:100]
    fixed = int(np.sum((after == labels) & (before != labels)))
    lost = int(np.sum((before == labels) & (after != labels)))
    assert fixed >= lost + 3, (fixed, lost)
