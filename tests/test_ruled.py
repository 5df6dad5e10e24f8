"""The lines of ruled and squared paper taken out before the digit is looked for
(``mnistnp.ruled``); everything else left exactly as it is."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import Mnist
from PIL import Image, ImageFilter

from mnistnp.images import prepare_digit
from mnistnp.nn import Sequential
from mnistnp.ruled import unruled


def on_white(digit: np.ndarray, scale: int = 4, margin: tuple[int, int, int, int] = (20,) * 4,
             ink: float = 0.0) -> np.ndarray:
    """An MNIST digit dark on white paper, enlarged ``scale`` times, with margins (top,
    bottom, left, right) of paper, as uint8 (H, W)."""
    big = np.asarray(Image.fromarray(digit).resize((28 * scale,) * 2, Image.Resampling.BILINEAR),
                     np.float64) / 255
    top, bottom, left, right = margin
    page = np.zeros((28 * scale + top + bottom, 28 * scale + left + right))
    page[top:top + 28 * scale, left:left + 28 * scale] = big
    return np.rint(255 + page * (ink - 255)).astype(np.uint8)


def with_lines(page: np.ndarray, level: int, step: int, width: int = 2,
               across: bool = False) -> np.ndarray:
    """``page`` with lines of ``level`` every ``step`` pixels, under the ink (the darker wins)."""
    lines = np.full(page.shape, 255, np.uint8)
    lines[3::step] = level
    for w in range(1, width):
        lines[3 + w::step] = level
    if across:
        lines[:, 5::step] = level
        for w in range(1, width):
            lines[:, 5 + w::step] = level
    return np.minimum(page, lines)


def test_lines_come_out_and_the_strokes_across_them_stay(mnist: Mnist) -> None:
    _, (x_test, _) = mnist
    page = on_white(x_test[0])  # a 7
    ruled = with_lines(page, 160, 24)
    out = unruled(ruled)
    assert out is not ruled
    paper = page == 255  # where no ink was: the lines are gone, the paper as it was
    assert np.all(out[paper] == 255)
    ink = page < 80  # the strokes' dark core, across the lines too
    np.testing.assert_array_equal(out[ink], ruled[ink])


@pytest.mark.parametrize("level", [110, 160, 220])
def test_squared_paper_loses_both_ways_lines(mnist: Mnist, level: int) -> None:
    _, (x_test, _) = mnist
    page = on_white(x_test[1])
    out = unruled(with_lines(page, level, 20, width=1, across=True))
    assert np.all(out[page == 255] == 255)


def test_blurred_lines_come_out_too(mnist: Mnist) -> None:
    """A photo of the page, or a soft scan: a 3-px line blurred spreads over 4-5 rows."""
    _, (x_test, _) = mnist
    page = on_white(x_test[4], scale=3)

    def blurred(a: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(a).filter(ImageFilter.GaussianBlur(1.2)))

    soft = blurred(with_lines(page, 160, 20, width=3))
    out = unruled(soft)
    assert out is not soft
    paper = blurred(page) == 255  # away from the ink: where only the lines were
    assert soft[paper].min() < 200 and out[paper].min() >= 220  # faint tails at most


def test_the_digit_is_read_as_on_plain_paper(mnist: Mnist, model: Sequential) -> None:
    """What predict answers: as for the same page without the lines (left in, they were taken
    for ink, and the digit was fitted small among them: 29 and 25 of 40 read right in the
    render benchmark's fast subset, against 39 as stored)."""
    _, (x_test, _) = mnist
    pages = [on_white(digit) for digit in x_test[:30]]
    plain = np.stack([prepare_digit(Image.fromarray(page)) for page in pages])
    ruled = np.stack([prepare_digit(Image.fromarray(with_lines(page, 150, 28)))
                      for page in pages])
    assert np.sum(model.predict(plain) != model.predict(ruled)) <= 1


def test_clean_digits_are_left_as_they_are(mnist: Mnist) -> None:
    """The same object back, for digits on plain paper at any size, margin and pen, cropped to
    their ink (a 7's bar then runs the whole width, as dark as the ink) or not."""
    _, (x_test, _) = mnist
    rng = np.random.default_rng(0)
    for digit in x_test[:300]:
        margin = tuple(int(m) for m in rng.integers(0, 30, size=4))
        page = on_white(digit, int(rng.integers(2, 6)), margin, float(rng.uniform(0, 120)))
        assert unruled(page) is page
        inverted = 255 - page  # light on dark: no paper to rule
        assert unruled(inverted) is inverted


def test_lines_as_dark_as_the_ink_and_bands_too_thick_are_not_ruling(mnist: Mnist) -> None:
    """A line as dark as the pen (an underline, a form's box, left to the box finder) and a
    grey band thicker than a printed line (a shadow's edge) are kept."""
    _, (x_test, _) = mnist
    page = on_white(x_test[2])
    dark = with_lines(page, 0, 30)
    assert unruled(dark) is dark
    band = page.copy()
    band[10:30] = np.minimum(band[10:30], 150)
    assert unruled(band) is band


def test_a_forms_box_with_paper_around_it_is_left_to_the_box_finder(mnist: Mnist) -> None:
    """Its lines run nearly the whole width, but stop short of the image's edges."""
    _, (x_test, _) = mnist
    page = on_white(x_test[3], margin=(24,) * 4)
    for inset in (1, 4):
        boxed = page.copy()
        boxed[inset:-inset, inset:inset + 2] = 150
        boxed[inset:-inset, -inset - 2:-inset] = 150
        boxed[inset:inset + 2, inset:-inset] = 150
        boxed[-inset - 2:-inset, inset:-inset] = 150
        assert unruled(boxed) is boxed
        ruled = with_lines(page, 150, 24)  # the same lines, run off the page: taken out
        assert unruled(ruled) is not ruled


def test_small_and_blank_images_are_left() -> None:
    small = with_lines(np.full((31, 31), 255, np.uint8), 150, 8)
    assert unruled(small) is small
    blank = np.full((64, 64), 255, np.uint8)
    assert unruled(blank) is blank
    ruled_only = with_lines(blank, 150, 16)  # lines, no digit: the ink is the lines
    assert unruled(ruled_only) is ruled_only
