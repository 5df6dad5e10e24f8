"""Clean digits as users make them (drawn on a web canvas, cropped tight, white on a clear
canvas, scanned at low resolution, exported as small 28x28 images) are read, never refused;
what is too faint to be ink is still a blank image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import constant_model
from PIL import Image, ImageDraw

from mnistnp import ink, plain, stroke
from mnistnp.cli import main
from mnistnp.errors import ImageError
from mnistnp.images import load_digit, prepare_digit


@pytest.fixture(scope="module")
def digits(mnist: tuple[tuple[np.ndarray, np.ndarray], ...]) -> tuple[np.ndarray, np.ndarray]:
    return mnist[1]


def ink_box(a: np.ndarray) -> tuple[int, int]:
    rows, cols = np.flatnonzero(a.any(axis=1)), np.flatnonzero(a.any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    m = a.astype(np.float64)
    return (float(m.sum(axis=1) @ np.arange(a.shape[0]) / m.sum()),
            float(m.sum(axis=0) @ np.arange(a.shape[1]) / m.sum()))


@pytest.mark.parametrize("darker", [10, 20, 30])
def test_a_faint_mark_on_clean_paper_is_a_blank_image(darker: int, tmp_path: Path) -> None:
    # Less than INK_LEVEL (32) grey levels darker than the paper: no ink, not a digit
    # stretched from a smudge.
    page = np.full((120, 100), 240, np.uint8)
    page[30:90, 45:52] = 240 - darker
    path = tmp_path / "faint.png"
    Image.fromarray(page).save(path)
    with pytest.raises(ImageError, match="no ink found"):
        load_digit(path)
    # The photo path's own check, which the plain path leaves faint marks to, says so too.
    with pytest.raises(ImageError, match="no ink found"):
        ink.find_ink(page, "faint.png")


def drawing(digit: np.ndarray, canvas: int, brush: int, margin: int | None = None) -> np.ndarray:
    """``digit`` (28x28, light on black) traced with a round brush on a white canvas, dark ink:
    each ink pixel of the digit a dot of the brush (a web page's canvas, antialiased at 4x)."""
    big = Image.new("L", (4 * canvas, 4 * canvas), 255)
    draw = ImageDraw.Draw(big)
    step, r = 4 * (canvas - 2 * brush) / 28, 2 * brush
    for y, x in zip(*np.nonzero(digit > 128)):
        cx, cy = 4 * brush + step * (x + 0.5), 4 * brush + step * (y + 0.5)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=0)
    page = np.asarray(big.reduce(4))
    if margin is None:
        return page
    rows, cols = np.flatnonzero((page < 128).any(axis=1)), np.flatnonzero((page < 128).any(axis=0))
    return page[max(0, rows[0] - margin):rows[-1] + 1 + margin,
                max(0, cols[0] - margin):cols[-1] + 1 + margin]


def first(digits: tuple[np.ndarray, np.ndarray], label: int) -> np.ndarray:
    x_test, y_test = digits
    return x_test[int(np.flatnonzero(y_test == label)[0])]


@pytest.mark.parametrize("label", [0, 6, 8, 9])
def test_a_large_drawn_digit_with_a_big_hole_is_read_whole(
        label: int, digits: tuple[np.ndarray, np.ndarray]) -> None:
    # The hole of a large 0 drawn with a 16 px brush on 280x280 is no sheet of paper, and its
    # ring no pair of marks: the whole digit is fitted into 20 pixels.
    seen = prepare_digit(Image.fromarray(drawing(first(digits, label), 280, 16)))
    assert max(ink_box(seen > 0)) == 20
    assert seen.max() == 255 and (seen > 128).sum() > 60


@pytest.mark.parametrize(("label", "margin"), [(1, 0), (1, 3), (7, 0), (7, 8), (4, 0)])
def test_a_digit_cropped_to_its_ink_is_read(label: int, margin: int,
                                            digits: tuple[np.ndarray, np.ndarray]) -> None:
    page = drawing(first(digits, label), 200, 14, margin)
    seen = prepare_digit(Image.fromarray(page))
    height, width = page.shape
    assert ink_box(seen > 0)[0 if height >= width else 1] == 20


def test_white_strokes_on_a_clear_canvas_are_the_digit(
        digits: tuple[np.ndarray, np.ndarray]) -> None:
    dark = drawing(first(digits, 3), 200, 10)
    coverage = 255 - dark
    for hidden in (0, 255):  # what colour apps leave under the clear pixels
        rgba = np.zeros((*dark.shape, 4), np.uint8)
        rgba[..., :3] = np.where(coverage[..., None] > 0, 255, hidden)
        rgba[..., 3] = coverage
        white = prepare_digit(Image.fromarray(rgba, "RGBA"))
        black = prepare_digit(Image.fromarray(dark))
        assert np.abs(white.astype(int) - black).max() <= 1


def test_a_blocky_low_resolution_scan_is_one_digit(digits: tuple[np.ndarray, np.ndarray]) -> None:
    # A 0 scanned at 8x8 and enlarged to 64 px with nearest: cells 8 pixels wide, one blob at
    # its own resolution, not a stroke and a dot.
    low = Image.fromarray(255 - first(digits, 0)).resize((8, 8), Image.Resampling.BOX)
    seen = prepare_digit(low.resize((64, 64), Image.Resampling.NEAREST))
    assert max(ink_box(seen > 0)) == 20 and (seen > 64).sum() > 80


def off_centre_and_small(digit: np.ndarray) -> list[np.ndarray]:
    moved = np.roll(np.roll(digit, 3, axis=0), -4, axis=1)
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    ink_part = Image.fromarray(digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])
    small = np.zeros((28, 28), np.uint8)
    small[8:20, 10:22] = np.asarray(ink_part.resize((12, 12), Image.Resampling.BILINEAR))
    return [moved, small]


def test_a_28x28_digit_off_centre_or_small_is_fitted_and_centred(
        digits: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    digit = first(digits, 7)
    assert np.array_equal(prepare_digit(Image.fromarray(digit)), digit)  # already framed
    for image in off_centre_and_small(digit):
        seen = prepare_digit(Image.fromarray(image))
        with monkeypatch.context() as m:  # as fitted, before a fine stroke is grown
            m.setattr(stroke, "filled_out", lambda d: d)
            fitted = prepare_digit(Image.fromarray(image))
        assert max(ink_box(fitted > 0)) == 20
        # The small 7 enlarged has strokes finer than MNIST's: grown by half a pixel, its rim
        # reaches a pixel past the box where a stroke ends.
        assert max(ink_box(seen > 0)) <= 22 and (seen >= fitted).all()
        assert max(abs(c - 14) for c in centre_of_mass(seen)) <= 1
        # For a model of a dataset whose images fill the frame, used as it is.
        assert np.array_equal(prepare_digit(Image.fromarray(image), refit=False), image)


@pytest.mark.parametrize(("dataset", "refit"), [("mnist", True), ("fashion-mnist", False),
                                                ("my-own-folder", False)])
def test_predict_fits_a_28x28_image_only_for_a_model_of_framed_digits(
        dataset: str, refit: bool, digits: tuple[np.ndarray, np.ndarray], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    image = off_centre_and_small(first(digits, 7))[0]
    Image.fromarray(image).save(tmp_path / "seven.png")
    model = constant_model(tmp_path / "m.npz", dataset, winner=7)
    assert main(["predict", "--model", str(model), "--show", str(tmp_path / "seen"),
                 str(tmp_path / "seven.png")]) == 0
    capsys.readouterr()
    seen = np.asarray(Image.open(tmp_path / "seen" / "seven.png"))
    assert np.array_equal(seen, prepare_digit(Image.fromarray(image), refit=refit))
    assert np.array_equal(seen, image) != refit


def boxed(page: np.ndarray, gap: int, width: int, margin: int) -> np.ndarray:
    """``page`` (dark ink on white) with a black box ``width`` px wide drawn ``gap`` px around
    its ink, and ``margin`` px of white outside the box: a digit written in a form's box."""
    rows, cols = np.flatnonzero((page < 128).any(axis=1)), np.flatnonzero((page < 128).any(axis=0))
    ink = page[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    side = gap + width + margin
    out = np.full((ink.shape[0] + 2 * side, ink.shape[1] + 2 * side), 255, np.uint8)
    out[side:side + ink.shape[0], side:side + ink.shape[1]] = ink
    if width:
        inner = out[margin:out.shape[0] - margin, margin:out.shape[1] - margin]
        inner[:width] = inner[-width:] = 0
        inner[:, :width] = inner[:, -width:] = 0
    return out


@pytest.mark.parametrize("label", [0, 1, 7, 8])
@pytest.mark.parametrize(("gap", "width", "margin"),
                         [(10, 1, 6), (14, 2, 0), (8, 4, 12), (20, 6, 3)])
def test_a_box_drawn_around_the_digit_is_left_out(
        label: int, gap: int, width: int, margin: int,
        digits: tuple[np.ndarray, np.ndarray]) -> None:
    # A digit written in a form's box: the box is no stroke of it. What the model sees is
    # the digit as it is seen without the box (the threshold may move by a level or two).
    page = drawing(first(digits, label), 160, 10)
    alone = prepare_digit(Image.fromarray(boxed(page, gap, 0, gap + margin)))
    seen = prepare_digit(Image.fromarray(boxed(page, gap, width, margin)))
    assert ink_box(seen > 64) == ink_box(alone > 64)
    assert np.abs(seen.astype(int) - alone).mean() < 2


def test_a_square_0_is_no_box(digits: tuple[np.ndarray, np.ndarray]) -> None:
    # A 0 drawn as a square, empty or with a speck in it, is the digit itself: nothing the size
    # of a digit stands inside it.
    for speck in (False, True):
        page = np.full((120, 120), 255, np.uint8)
        page[20:100, 25:95] = 0
        page[26:94, 31:89] = 255
        if speck:
            page[58:62, 58:62] = 0
        seen = prepare_digit(Image.fromarray(page))
        assert max(ink_box(seen > 128)) == 20
        assert (seen[4:24, 4:24] > 128).mean() < 0.6  # a ring, not a blob or a speck


def test_the_lines_of_a_box_along_the_edges_are_cut_off(
        digits: tuple[np.ndarray, np.ndarray]) -> None:
    page = drawing(first(digits, 7), 120, 8)
    cell = boxed(page, 10, 3, 0)  # a cell cropped along its box's lines
    assert np.array_equal(plain.inside_box(cell), cell[3:-3, 3:-3])
    # Lines on some sides only (a row or a column of boxes cut apart): those are cut off.
    no_top = cell.copy()
    no_top[:3] = 255
    assert np.array_equal(plain.inside_box(no_top), no_top[:-3, 3:-3])
    sides_only = cell.copy()
    sides_only[:3] = sides_only[-3:] = 255
    assert np.array_equal(plain.inside_box(sides_only), sides_only[:, 3:-3])


def test_what_is_no_box_is_left_as_it_is(digits: tuple[np.ndarray, np.ndarray]) -> None:
    # The bar of a 7 cropped to its ink runs on into its stem; a light digit lies on a dark
    # ground; a square 0 cropped to its ink has nothing inside it.
    seven = np.full((60, 50), 255, np.uint8)
    seven[:6] = 0
    for row in range(6, 60):
        col = 49 - (row - 6) * 40 // 54
        seven[row, max(0, col - 5):col + 1] = 0
    square_0 = np.full((80, 60), 255, np.uint8)
    square_0[:6] = square_0[-6:] = 0
    square_0[:, :6] = square_0[:, -6:] = 0
    light_on_dark = 255 - drawing(first(digits, 4), 120, 8)
    for grey in (seven, square_0, light_on_dark):
        assert plain.inside_box(grey) is grey


def test_a_small_digit_filling_its_frame_is_read(digits: tuple[np.ndarray, np.ndarray]) -> None:
    # 8s cut to their ink and stretched to fill 16x16, dark on light: most of the paper is the
    # strokes' blurred rim, which is no noise (4 of these 60 were refused as noise before).
    x_test, y_test = digits
    for digit in x_test[np.flatnonzero(y_test == 8)[:60]]:
        rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
        ink = Image.fromarray(digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])
        small = 255 - np.asarray(ink.resize((16, 16), Image.Resampling.BILINEAR))
        seen = prepare_digit(Image.fromarray(small))
        assert max(ink_box(seen > 0)) >= 19


@pytest.mark.parametrize("label", [0, 1, 7, 8])
@pytest.mark.parametrize("axis", [0, 1])
def test_a_box_the_digit_is_written_across_is_left_out(
        label: int, axis: int, digits: tuple[np.ndarray, np.ndarray]) -> None:
    # The digit crosses the box's top (or left) line into the paper beyond it: the box is one
    # piece with it, and its lines are left out all the same (the digit loses the few pixels
    # under the line it crosses).
    page = drawing(first(digits, label), 160, 10)
    alone = boxed(page, 12, 0, 11)  # where the ink is in its box, 12 px from a 3-px line
    lines = np.where(boxed(page, 12, 3, 8) < alone, 0, 255).astype(np.uint8)
    moved = np.roll(alone, -16, axis=axis)
    if axis == 0:
        moved[-16:] = 255
    else:
        moved[:, -16:] = 255
    seen = prepare_digit(Image.fromarray(np.minimum(moved, lines)))
    assert max(ink_box(seen > 64)) == 20
    assert np.abs(seen.astype(int) - prepare_digit(Image.fromarray(alone))).mean() < 20
