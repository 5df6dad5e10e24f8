"""Images enlarged in blocks (mnistnp.enlarged): a small source enlarged with nearest-neighbour
resampling is found, whichever way the tool rounds, with every line of the image kept, and
enlarged again smoothly; smooth enlargements, MNIST-sized sources, compressed files and blank
images are left as they are; ``prepare_digit`` reads an 8x8 scan enlarged in blocks as it reads
the same scan enlarged smoothly."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mnistnp import enlarged
from mnistnp.images import prepare_digit
from mnistnp.synth import renders

NEAREST, BILINEAR, LANCZOS = (Image.Resampling.NEAREST, Image.Resampling.BILINEAR,
                              Image.Resampling.LANCZOS)
Digits = tuple[np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def digits(mnist: tuple[Digits, Digits]) -> Digits:
    return mnist[1]


def small(digit: np.ndarray, n: int) -> np.ndarray:
    """An MNIST digit, dark on white, reduced to n x n by averaging (a low-resolution scan)."""
    return np.asarray(Image.fromarray(255 - digit).resize((n, n), Image.Resampling.BOX))


def floor_enlarged(source: np.ndarray, size: int) -> np.ndarray:
    """``source`` enlarged to size x size as OpenCV's nearest does: pixel floor(i * n / N)."""
    index = (np.arange(size) * len(source) // size).astype(np.int64)
    return source[np.ix_(index, index)]


def kept(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> bool:
    """Whether every line of ``image`` is one of the lines the source was taken from."""
    for lines, picked in ((image, image[rows]), (image.T, image.T[cols])):
        if not all((line == picked).all(axis=1).any() for line in lines):
            return False
    return True


@pytest.mark.parametrize(("n", "size"), [(8, 32), (8, 96), (8, 165), (12, 37), (16, 133),
                                         (20, 60)])
def test_a_nearest_enlargement_is_found_and_smoothed(digits: Digits, n: int, size: int) -> None:
    source = small(digits[0][n], n)
    for image in (np.asarray(Image.fromarray(source).resize((size, size), NEAREST)),
                  floor_enlarged(source, size)):
        rows, cols = enlarged.source_pixels(image, 0), enlarged.source_pixels(image, 1)
        assert rows is not None and cols is not None
        assert len(rows) == len(cols) == n
        assert np.array_equal(image[np.ix_(rows, cols)], source)
        smooth = np.asarray(Image.fromarray(source).resize((size, size), LANCZOS))
        assert np.array_equal(enlarged.smoothed(image), smooth)


def test_smooth_enlargements_and_mnist_sized_sources_are_left_alone(digits: Digits) -> None:
    for k in range(40):
        digit = 255 - digits[0][k]
        for size in (28, 56, 84, 100, 224):
            for method in (NEAREST, BILINEAR):
                image = np.asarray(Image.fromarray(digit).resize((size, size), method))
                assert enlarged.smoothed(image) is image, (k, size, method)
        blurry = np.asarray(Image.fromarray(small(digits[0][k], 8)).resize((64, 64), BILINEAR))
        assert enlarged.smoothed(blurry) is blurry


def test_enlarged_less_than_three_times_or_compressed_is_left_alone(digits: Digits) -> None:
    source = small(digits[0][1], 16)
    twice = np.asarray(Image.fromarray(source).resize((40, 40), NEAREST))
    assert enlarged.smoothed(twice) is twice
    blocky = Image.fromarray(source).resize((96, 96), NEAREST)
    buffer = io.BytesIO()
    blocky.save(buffer, "JPEG", quality=75)
    compressed = np.asarray(Image.open(buffer).convert("L"))
    assert enlarged.smoothed(compressed) is compressed


@pytest.mark.parametrize("value", [0, 255])
def test_blank_and_single_edge_images_are_left_alone(value: int) -> None:
    blank = np.full((64, 64), value, np.uint8)
    assert enlarged.smoothed(blank) is blank
    edge = blank.copy()
    edge[:, 32:] = 255 - value
    assert enlarged.smoothed(edge) is edge


@settings(max_examples=60, deadline=None)
@given(st.integers(3, 20), st.integers(3, 20), st.integers(3, 9), st.integers(0, 2**32 - 1),
       st.booleans())
def test_every_line_of_an_enlargement_is_kept(h: int, w: int, factor: int, seed: int,
                                              floor: bool) -> None:
    # Three lines a side at least: two give a single edge, which tells no grid.
    rng = np.random.default_rng(seed)
    source = rng.integers(0, 256, (h, w)).astype(np.uint8)
    size = (h * factor + int(rng.integers(0, factor)), w * factor + int(rng.integers(0, factor)))
    if floor:
        rows = np.arange(size[0]) * h // size[0]
        cols = np.arange(size[1]) * w // size[1]
        image = source[np.ix_(rows, cols)]
    else:
        image = np.asarray(Image.fromarray(source).resize(size[::-1], NEAREST))
    rows_found, cols_found = enlarged.source_pixels(image, 0), enlarged.source_pixels(image, 1)
    assert rows_found is not None and cols_found is not None
    assert kept(image, rows_found, cols_found)


@settings(max_examples=150, deadline=None)
@given(st.integers(3, 20), st.integers(3, 9), st.integers(0, 2**32 - 1))
def test_whatever_is_taken_for_an_enlargement_keeps_every_line(n: int, factor: int,
                                                               seed: int) -> None:
    # An enlargement with one row changed (most often one next to a block's edge, which
    # passes for a tool's rounding): if still taken for an enlargement, its source must
    # hold the changed row too.
    rng = np.random.default_rng(seed)
    source = (rng.integers(0, 2, (n, n)) * 255).astype(np.uint8)
    size = n * factor
    image = np.asarray(Image.fromarray(source).resize((size, size), NEAREST)).copy()
    edges = np.flatnonzero((image[1:] != image[:-1]).any(axis=1)) + 1
    row = int(rng.choice(edges)) if len(edges) and rng.random() < 0.8 else \
        int(rng.integers(0, size))
    # block-wise along the row, so that the columns still look enlarged
    image[row] = np.repeat(rng.integers(0, 256, n), factor)
    rows, cols = enlarged.source_pixels(image, 0), enlarged.source_pixels(image, 1)
    if rows is not None and cols is not None:
        assert kept(image, rows, cols)


def test_a_blocky_scan_reads_as_the_same_scan_enlarged_smoothly(digits: Digits) -> None:
    for k in range(20):
        source = Image.fromarray(small(digits[0][k], 8))
        files = []
        for method in (NEAREST, LANCZOS):
            buffer = io.BytesIO()
            source.resize((72, 72), method).save(buffer, "PNG")
            files.append(Image.open(io.BytesIO(buffer.getvalue())))
        assert np.array_equal(prepare_digit(files[0]), prepare_digit(files[1]))


def test_only_the_render_benchmark_blocky_conditions_are_smoothed(digits: Digits) -> None:
    images, labels = digits
    for name in renders.CONDITIONS:
        files, _ = renders.render_set(name, images, labels, 3)
        greys = [np.asarray(Image.open(io.BytesIO(f)).convert("L")) for f in files]
        taken = [enlarged.smoothed(g) is not g for g in greys]
        if name == "blocky-8":
            assert all(taken)
        elif not name.startswith(("blocky", "scan")):
            assert not any(taken), name
