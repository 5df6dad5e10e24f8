"""Tests for mnistnp.images: real MNIST digits saved in many modes and formats come back as the
same 28x28 digit, and every kind of bad file raises ImageError naming the path."""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mnistnp import images
from mnistnp.errors import ImageError, MnistnpWarning
from mnistnp.images import MAX_PIXELS, load_digit, prepare_digit, read_digit

MNIST_TEST_IMAGES = Path(__file__).parents[1] / "src/mnistnp/data/mnist/t10k-images-idx3-ubyte.gz"


def mnist_digits(n: int) -> np.ndarray:
    """The first ``n`` MNIST test digits, uint8 of shape (n, 28, 28), read without mnistnp."""
    with gzip.open(MNIST_TEST_IMAGES) as f:
        raw = f.read(16 + n * 28 * 28)  # 16-byte IDX header, then row-major pixels
    return np.frombuffer(raw, np.uint8, offset=16).reshape(n, 28, 28)


DIGIT = mnist_digits(1)[0]  # a 7


def save(img: Image.Image, path: Path, **kwargs: Any) -> Path:
    img.save(path, **kwargs)
    return path


def centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    m = a.astype(np.float64)
    rows, cols = np.arange(a.shape[0]), np.arange(a.shape[1])
    return float(m.sum(1) @ rows / m.sum()), float(m.sum(0) @ cols / m.sum())


def similar(a: np.ndarray, b: np.ndarray) -> bool:
    """Same digit in the same place: mean abs difference under 8 grey levels and correlation
    above 0.95. DIGIT shifted by one pixel fails both (13 and 0.79; see test_similar_is_strict)."""
    diff = np.abs(a.astype(int) - b.astype(int)).mean()
    corr = np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1]
    return bool(diff < 8 and corr > 0.95)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG signature, an IHDR declaring width x height 8-bit grey, and IEND: no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.fixture
def plain(tmp_path: Path) -> np.ndarray:
    return load_digit(save(Image.fromarray(DIGIT), tmp_path / "plain.png"))


def test_mnist_png_round_trips(tmp_path: Path) -> None:
    out = load_digit(save(Image.fromarray(DIGIT), tmp_path / "seven.png"))
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - DIGIT).mean() < 1.0
    cy, cx = centre_of_mass(out)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1
    rows, cols = np.flatnonzero(out.any(1)), np.flatnonzero(out.any(0))
    assert rows[-1] - rows[0] < 20 + 1 and cols[-1] - cols[0] < 20 + 1


def test_mnist_digits_are_fixed_points() -> None:
    # Already 20 px on the long side and centred by mass, so only the stretch of a 254 peak to
    # 255 may change a pixel, by at most one grey level.
    for d in mnist_digits(200):
        assert np.abs(prepare_digit(Image.fromarray(d)).astype(int) - d).max() <= 1


def test_similar_is_strict(plain: np.ndarray) -> None:
    other = mnist_digits(2)[1]  # a 2
    assert similar(plain, plain)
    for axis in (0, 1):
        assert not similar(plain, np.roll(plain, 1, axis=axis))
    assert not similar(plain, other)


def dark_on_light() -> Image.Image:
    return Image.fromarray(255 - DIGIT)


def transparent_rgba() -> Image.Image:
    # Opaque dark strokes on a fully transparent background; the RGB under alpha 0 is black
    # so that ignoring alpha would give an all-dark image.
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., 3] = DIGIT
    return Image.fromarray(rgba)  # mode RGBA


def transparent_la() -> Image.Image:
    la = np.stack([np.zeros_like(DIGIT), DIGIT], axis=-1)
    return Image.fromarray(la)  # mode LA


def sixteen_bit() -> Image.Image:
    return Image.fromarray(DIGIT.astype(np.uint16) * 257)  # mode I;16


def off_centre_on_grey_paper() -> Image.Image:
    # Dark grey ink on light grey paper, the digit in a corner of a wide page.
    page = np.full((90, 150), 200, np.uint8)
    page[5:33, 100:128] = 200 - (DIGIT.astype(int) * 140 // 255)
    return Image.fromarray(page)


def noisy_photo() -> Image.Image:
    # A big, blurred dark digit on grey paper with sensor noise (sigma 4), saved as JPEG below:
    # the noise must neither flip the polarity nor stretch the ink box to the whole page.
    page = np.full((600, 800), 190.0)
    big = Image.fromarray(255 - DIGIT).resize((280, 280), Image.Resampling.BICUBIC)
    page[100:380, 300:580] = np.asarray(big, np.float64) * 190 / 255
    page += np.random.default_rng(0).normal(0.0, 4.0, page.shape)
    return Image.fromarray(np.clip(page, 0, 255).astype(np.uint8))


def large_page() -> Image.Image:
    # A scan-sized page (7.2 million pixels) with a big dark digit well away from the centre.
    page = np.full((3000, 2400), 255, np.uint8)
    big = Image.fromarray(255 - DIGIT).resize((840, 840), Image.Resampling.BICUBIC)
    page[1900:2740, 200:1040] = np.asarray(big)
    return Image.fromarray(page)


VARIANTS = {
    "inverted": (dark_on_light, "png", {}),
    "rgb_blue_ink": (
        lambda: Image.fromarray(np.stack([255 - DIGIT, 255 - DIGIT, np.full_like(DIGIT, 255)], -1)),
        "png", {},
    ),
    "rgba_transparent": (transparent_rgba, "png", {}),
    "la_transparent": (transparent_la, "png", {}),
    "palette": (lambda: dark_on_light().convert("RGB").quantize(16), "png", {}),
    "palette_transparent": (lambda: transparent_rgba().quantize(16), "png", {}),
    "sixteen_bit": (sixteen_bit, "png", {}),
    "upscaled_10x": (
        lambda: Image.fromarray(DIGIT).resize((280, 280), Image.Resampling.BILINEAR), "png", {}
    ),
    "jpeg": (lambda: dark_on_light().convert("RGB"), "jpeg", {"quality": 85}),
    "jpeg_upscaled": (
        lambda: dark_on_light().resize((280, 280), Image.Resampling.BICUBIC), "jpeg", {}
    ),
    "grey_paper": (off_centre_on_grey_paper, "png", {}),
    "noisy_photo": (noisy_photo, "jpeg", {"quality": 80}),
    "large_page": (large_page, "png", {}),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variants_give_the_same_digit(name: str, tmp_path: Path, plain: np.ndarray) -> None:
    make, fmt, options = VARIANTS[name]
    img = make()
    path = save(img, tmp_path / f"{name}.{fmt}", **options)
    with Image.open(path) as reopened:  # the file really is in the format under test
        assert reopened.format == fmt.upper()
    out = load_digit(path)
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert similar(out, ENLARGED if name == "large_page" else plain), name


# The large page's digit is enlarged 30 times with bicubic blur; its threshold's box is what is
# fitted, so it is compared with the digit enlarged the same way (3 times) on a small page.
def enlarged_on_a_small_page() -> np.ndarray:
    page = Image.new("L", (124, 124), 255)
    page.paste(Image.fromarray(255 - DIGIT).resize((84, 84), Image.Resampling.BICUBIC), (20, 20))
    return prepare_digit(page)


ENLARGED = enlarged_on_a_small_page()


def test_sixteen_bit_is_scaled_not_clipped(tmp_path: Path, plain: np.ndarray) -> None:
    path = save(sixteen_bit(), tmp_path / "deep.png")
    with Image.open(path) as img:
        assert img.mode.startswith("I")
    assert np.array_equal(load_digit(path), plain)


# Arrays saved as they are: the same digit's levels in a wide or float container.
AS_SAVED = {
    "int32, levels 0-255 (mode I)": (lambda: Image.fromarray(DIGIT.astype(np.int32)), "tiff"),
    "uint16, levels 0-255 (mode I;16)": (lambda: Image.fromarray(DIGIT.astype(np.uint16)),
                                         "png"),
    "float32, levels 0-1 (mode F)": (
        lambda: Image.fromarray(DIGIT.astype(np.float32) / 255), "tiff"),
    "float32, levels 0-255 (mode F)": (lambda: Image.fromarray(DIGIT.astype(np.float32)),
                                       "tiff"),
    "float32, levels 0-65535 (mode F)": (
        lambda: Image.fromarray(DIGIT.astype(np.float32) * 257), "tiff"),
}


@pytest.mark.parametrize("name", sorted(AS_SAVED))
def test_an_array_saved_as_it_is_gives_the_digit(name: str, tmp_path: Path,
                                                 plain: np.ndarray) -> None:
    """Integer levels 0-255 in a 16- or 32-bit image are 8-bit levels (as 16-bit ones they would
    be black to within 0.4%), and float levels are read as 0-1, 0-255 or 0-65535: the same
    digit as the 8-bit file, exactly, where they used to be refused as blank."""
    make, fmt = AS_SAVED[name]
    path = save(make(), tmp_path / f"array.{fmt}")
    with Image.open(path) as img:
        assert img.mode in ("I", "I;16", "F"), img.mode
    assert np.array_equal(load_digit(path), plain)


@pytest.mark.parametrize("values, problem", [
    (np.random.default_rng(0).standard_normal((28, 28)), "float pixels from -"),
    (np.where(DIGIT > 0, np.nan, 0.0), "not numbers"),
    (DIGIT * 1e4, "expected grey levels 0-1, 0-255 or 0-65535"),
])
def test_float_pixels_of_no_known_scale_are_refused(values: np.ndarray, problem: str,
                                                    tmp_path: Path) -> None:
    """Normalised pixels (negative ones), NaNs or levels beyond 16 bits: one clear error naming
    the file, not a guess at the scale."""
    path = save(Image.fromarray(values.astype(np.float32)), tmp_path / "floats.tiff")
    with pytest.raises(ImageError, match=rf"floats\.tiff: .*{problem}"):
        load_digit(path)


def test_exif_rotation_is_applied(tmp_path: Path, plain: np.ndarray) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    stored = Image.fromarray(DIGIT).transpose(Image.Transpose.ROTATE_90)
    path = save(stored, tmp_path / "phone.png", exif=exif)
    assert similar(load_digit(path), plain)


def test_accepts_str_and_pathlike(tmp_path: Path, plain: np.ndarray) -> None:
    path = save(Image.fromarray(DIGIT), tmp_path / "s.png")
    assert np.array_equal(load_digit(str(path)), plain)


@pytest.mark.parametrize("value", [0, 128, 255])
def test_one_pixel_image(tmp_path: Path, value: int) -> None:
    # One pixel has no paper around it to stand out from: blank, whatever its level. (A
    # one-pixel dot on paper is ink: see test_ink.py.)
    expect_error(save(Image.new("L", (1, 1), value), tmp_path / "dot.png"), "no ink found")


def test_thin_line_keeps_aspect_ratio(tmp_path: Path) -> None:
    page = np.zeros((300, 300), np.uint8)
    page[50:250, 148:152] = 255  # a "1": 200 tall, 4 wide
    out = load_digit(save(Image.fromarray(page), tmp_path / "one.png"))
    # Fitted 20 tall and a pixel wide; finer than MNIST's pens, it is then grown by half a
    # pixel, a rim at half its level all round (stroke.filled_out).
    ink = out > 0.6 * out.max()
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    assert rows[-1] - rows[0] + 1 == 20
    assert cols[-1] - cols[0] + 1 <= 2
    assert 0 < np.count_nonzero(out) - np.count_nonzero(ink) <= 2 * 20 + 2


@pytest.mark.parametrize("value", [0, 255])
def test_blank_image_is_refused(tmp_path: Path, value: int) -> None:
    path = save(Image.new("RGB", (64, 48), (value,) * 3), tmp_path / "blank.png")
    expect_error(path, "no ink found (a blank image)")


def test_prepare_digit_takes_an_open_image(tmp_path: Path, plain: np.ndarray) -> None:
    path = save(transparent_rgba(), tmp_path / "upload.png")
    with Image.open(path) as img:
        assert np.array_equal(prepare_digit(img), plain)


def test_prepare_digit_refuses_big_header_before_decoding(tmp_path: Path) -> None:
    side = 8000  # 64 million pixels: over our cap, under Pillow's own limit
    assert side * side > MAX_PIXELS
    path = tmp_path / "big.png"
    path.write_bytes(png_header_only(side, side))
    with Image.open(path) as img, pytest.raises(ImageError) as e:
        prepare_digit(img, "upload.png")
    assert str(e.value) == (
        "upload.png: image is 8000x8000 pixels, more than the 50,000,000 allowed"
    )


def expect_error(path: Path, *fragments: str) -> None:
    with pytest.raises(ImageError) as e:
        load_digit(path)
    message = str(e.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_missing_file(tmp_path: Path) -> None:
    expect_error(tmp_path / "nope.png", "no such file")


def test_directory(tmp_path: Path) -> None:
    expect_error(tmp_path, "is a directory, not an image")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    expect_error(path, "empty file")


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.png"
    path.write_bytes(np.random.default_rng(0).bytes(1000))
    expect_error(path, "not a PNG, JPEG, WebP, BMP, GIF or TIFF image")


# What Pillow reads besides PNG and JPEG that digits are saved in; each written lossless.
OTHER_FORMATS = {"webp": {"lossless": True}, "bmp": {}, "gif": {}, "tif": {},
                 "tiff": {"compression": "tiff_lzw"}}


@pytest.mark.parametrize("suffix", list(OTHER_FORMATS))
def test_webp_bmp_gif_and_tiff_are_read_as_png_is(tmp_path: Path, suffix: str) -> None:
    # A photo of a digit on paper (dark ink on light), so the image is prepared, not passed.
    paper = Image.fromarray(255 - np.kron(DIGIT, np.ones((3, 3), np.uint8)))
    expected = load_digit(save(paper, tmp_path / "digit.png"))
    path = save(paper, tmp_path / f"digit.{suffix}", **OTHER_FORMATS[suffix])
    np.testing.assert_array_equal(load_digit(path), expected)
    with Image.open(path) as img:  # RGB and an alpha channel too, where the format has them
        rgba = img.convert("RGBA")
    again = load_digit(save(rgba, tmp_path / f"rgba.{suffix}", **OTHER_FORMATS[suffix]))
    if suffix == "gif":  # a palette of 256 colours: RGBA is quantised
        assert similar(again, expected)
    else:
        np.testing.assert_array_equal(again, expected)


@pytest.mark.parametrize(("suffix", "options"), [
    ("gif", {}), ("tif", {}), ("webp", {"lossless": True})])
def test_several_frames_read_the_first_and_say_so(tmp_path: Path, suffix: str,
                                                  options: dict[str, Any]) -> None:
    """An animated GIF or WebP, or a TIFF of several pages: the first frame is the digit read,
    with a warning naming the file (the second frame here, another digit, is not read)."""
    first = Image.fromarray(255 - np.kron(DIGIT, np.ones((3, 3), np.uint8)))
    second = Image.fromarray(255 - np.kron(mnist_digits(2)[1], np.ones((3, 3), np.uint8)))
    expected = load_digit(save(first, tmp_path / f"one.{suffix}", **options))
    path = save(first, tmp_path / f"two.{suffix}", save_all=True, append_images=[second],
                **options)
    with pytest.warns(MnistnpWarning, match=rf"two\.{suffix}: holds several frames or pages; "
                      "only the first is read"):
        np.testing.assert_array_equal(load_digit(path), expected)


def test_notes_take_the_several_frames_line_instead_of_a_warning(
        tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    """What serve passes, so that the answer to one request says it, not the server's log."""
    frames = [Image.fromarray(255 - np.kron(d, np.ones((3, 3), np.uint8)))
              for d in mnist_digits(2)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    notes: list[str] = []
    with_notes = read_digit(buffer.getvalue(), "upload", notes=notes)
    assert notes == ["upload: holds several frames or pages; only the first is read"]
    assert not [w for w in recwarn if issubclass(w.category, MnistnpWarning)]
    with pytest.warns(MnistnpWarning):
        np.testing.assert_array_equal(read_digit(buffer.getvalue(), "upload"), with_notes)
    one: list[str] = []
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF")
    read_digit(buffer.getvalue(), "one", notes=one)
    assert one == []


def test_one_frame_gives_no_warning(tmp_path: Path, recwarn: pytest.WarningsRecorder) -> None:
    load_digit(save(Image.fromarray(255 - DIGIT), tmp_path / "one.gif"))
    assert not [w for w in recwarn if issubclass(w.category, MnistnpWarning)]


def test_a_format_not_taken_says_which_are(tmp_path: Path) -> None:
    path = save(Image.fromarray(DIGIT), tmp_path / "digit.pcx")
    expect_error(path, "not a PNG, JPEG, WebP, BMP, GIF or TIFF image")


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_truncated_file(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(1)
    noisy = Image.fromarray(rng.integers(0, 256, (200, 200), dtype=np.uint8))
    whole = save(noisy, tmp_path / f"whole.{fmt}").read_bytes()
    path = tmp_path / f"half.{fmt}"
    path.write_bytes(whole[: len(whole) // 2])
    expect_error(path, "cannot decode image")


def test_huge_declared_size_is_refused_without_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(100_000, 100_000))
    # Decoding would fail for want of pixel data ("cannot decode"), so this message shows the
    # refusal came from the header alone.
    expect_error(path, "too large")


def test_moderately_huge_declared_size(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(png_header_only(10_000, 6_000))
    expect_error(path, "image is 10000x6000 pixels, more than the 50,000,000 allowed")


def test_permission_error_is_an_image_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(images, "open", refuse, raising=False)  # as chmod 000 would, even for root
    expect_error(save(Image.fromarray(DIGIT), tmp_path / "locked.png"), "permission denied")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path: Path) -> None:
    path = save(Image.fromarray(DIGIT), tmp_path / "locked.png")
    path.chmod(0)
    try:
        expect_error(path, "permission denied")
    finally:
        path.chmod(0o600)
