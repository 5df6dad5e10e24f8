"""Turning a user's image file (PNG, JPEG, WebP, BMP, GIF, TIFF) into an MNIST-style digit:
28x28 uint8, light ink on black, the ink fitted into a 20x20 box and centred by its centre of
mass. A digit on plain paper is found the plain way (``plain``); photos go through ``ink``."""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

from . import enlarged, ink, plain, ruled, stroke
from .errors import ImageError, MnistnpWarning, os_problem
from .morphology import shrink

SIZE = 28  # MNIST canvas side
BOX = 20  # the ink's longer side after resizing, as in MNIST
MAX_PIXELS = 50_000_000  # refused from the header, before any decoding
# The formats read: those a digit is drawn, scanned or photographed in. Pillow's other readers
# (PSD, EPS, ICNS, ...) stay closed, so an untrusted file reaches less of its code. Only the
# first frame of an animated GIF or WebP, or of a TIFF of several pages, is read, with a
# warning (the others may hold what was meant).
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
FORMAT_NAMES = "PNG, JPEG, WebP, BMP, GIF or TIFF"
SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")

# Pillow reports corrupt or truncated data with any of these, depending on format and stage.
_PILLOW_ERRORS = (
    OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error,
    zlib.error, MemoryError, Image.DecompressionBombError,
)
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")
_WIDE_GREY_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")
_FLOAT_GREY_MODE = "F"
# Float pixels are read as levels 0-1, 0-255 or 0-65535, whichever their largest fits in; a
# value below 0 by more than this share of that range is not a level of any of them.
_FLOAT_SLACK = 1e-3
_ORIENTATION = 0x0112  # EXIF tag: phones store rotation here instead of rotating pixels


def load_digit(path: str | os.PathLike[str], refit: bool = True) -> np.ndarray:
    """The image file at ``path`` as an MNIST digit.

    Parameters
    ----------
    path : str or os.PathLike
        An image file in one of FORMATS: a digit dark on light paper, light on dark, or a
        photo of one.
    refit : bool, default True
        As for ``prepare_digit``.

    Returns
    -------
    ndarray of shape (28, 28), dtype uint8
        The digit as MNIST stores its images: light ink on black, centred.

    Raises
    ------
    ImageError
        Naming ``path``, if the file is missing, unreadable, not in one of FORMATS, truncated,
        or declares more than MAX_PIXELS pixels, or if it holds no single digit (blank, only
        noise, or several digits side by side).
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                raise ImageError(f"{name}: empty file")
            with _open(f, name) as img:
                return prepare_digit(img, name, refit)
    except OSError as e:
        raise ImageError(f"{name}: {os_problem(e, 'an image')}") from None


def read_digit(data: bytes, name: str = "<image>", refit: bool = True,
               notes: list[str] | None = None) -> np.ndarray:
    """Image bytes (an upload) as an MNIST digit, read as ``load_digit`` reads a file.

    Parameters
    ----------
    data : bytes
        The file's bytes, in one of FORMATS.
    name : str, default "<image>"
        Starts every ImageError message.
    refit : bool, default True
        As for ``prepare_digit``.
    notes : list of str, optional
        As for ``prepare_digit``.

    Returns
    -------
    ndarray of shape (28, 28), dtype uint8
        The digit as MNIST stores its images: light ink on black, centred.
    """
    if not data:
        raise ImageError(f"{name}: empty")
    with _open(io.BytesIO(data), name) as img:
        return prepare_digit(img, name, refit, notes)


def prepare_digit(img: Image.Image, name: str = "<image>", refit: bool = True,
                  notes: list[str] | None = None) -> np.ndarray:
    """An open Pillow image as an MNIST digit: ndarray of shape (28, 28), dtype uint8.

    ``name`` starts every ImageError message (a file name or an upload's name). Call this on a
    freshly opened image so the size is checked before the pixels are decoded. An image already
    stored as the datasets store theirs (28x28, light on a black edge) is used as it is when it
    is framed as MNIST frames its digits, or whatever its framing if ``refit`` is False (for a
    model of Fashion-MNIST, whose clothes fill the frame); otherwise it is fitted and centred,
    a pen far bolder than MNIST's thinned first and one far finer grown after (``stroke``). The
    lines of a form's box along the edges (``plain.inside_box``) and the printed lines of ruled
    or squared paper (``ruled``) are taken out before the digit is looked for. An
    image enlarged in blocks from 20 pixels or less a side is first enlarged smoothly
    (``enlarged``).

    Parameters
    ----------
    img : PIL.Image.Image
        A freshly opened image.
    name : str, default "<image>"
        Starts every ImageError message (a file name or an upload's name).
    refit : bool, default True
        Fit and centre an image already in the datasets' 28x28 format unless it is framed as
        MNIST frames its digits; False takes such an image as it is.
    notes : list of str, optional
        Where to append what would be warned, instead of warning: for a caller that answers
        several requests at once (``serve``), which a process-wide warning filter cannot
        tell apart.

    Returns
    -------
    ndarray of shape (28, 28), dtype uint8
        The digit as MNIST stores its images: light ink on black, centred.

    Raises
    ------
    ImageError
        Naming ``name``, if the image is too large, cannot be decoded or holds no single digit.

    Warns
    -----
    MnistnpWarning
        Naming ``name``, if the image holds several frames or pages: only the first is read
        (appended to ``notes`` instead, when given).
    """
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"{name}: image is {width}x{height} pixels, more than the {MAX_PIXELS:,} allowed"
        )
    try:
        img.load()
        if getattr(img, "is_animated", False):
            note = f"{name}: holds several frames or pages; only the first is read"
            if notes is None:
                warnings.warn(note, MnistnpWarning, stacklevel=2)
            else:
                notes.append(note)
        if img.getexif().get(_ORIENTATION, 1) != 1:
            img = ImageOps.exif_transpose(img)
        grey = _grey(img, name)
    except _PILLOW_ERRORS as e:
        raise ImageError(f"{name}: cannot decode image ({e})") from None
    if _in_dataset_format(grey) and (not refit or _framed(grey)):
        return grey.copy()
    grey = enlarged.smoothed(ruled.unruled(plain.inside_box(grey)))
    found = plain.find_ink(shrink(grey, ink.WORK / max(grey.shape)), name)
    crop = stroke.normalised(found if found is not None else ink.find_ink(grey, name))
    return stroke.filled_out(_centre(crop))


def _open(f: BinaryIO, name: str) -> Image.Image:
    """Image.open reading only the header, with Pillow's refusals turned into ImageError."""
    try:
        with warnings.catch_warnings():
            # Our own MAX_PIXELS check follows and is stricter than Pillow's default warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(f, formats=FORMATS)
    except Image.UnidentifiedImageError:
        raise ImageError(f"{name}: not a {FORMAT_NAMES} image") from None
    except Image.DecompressionBombError as e:
        raise ImageError(f"{name}: image is too large ({e})") from None
    except _PILLOW_ERRORS as e:
        raise ImageError(f"{name}: not a readable {FORMAT_NAMES} image ({e})") from None


def _grey(img: Image.Image, name: str) -> np.ndarray:
    """8-bit grey pixels, ndarray of shape (H, W), with any transparency composited onto white,
    or onto black if what is opaque is mostly light (white strokes on a clear canvas)."""
    alpha = None
    if img.mode in _WIDE_GREY_MODES:
        wide = np.clip(np.asarray(img), 0, 65535).astype(np.uint32)
        grey = Image.fromarray(_eight_bit(wide))
        key = img.info.get("transparency")
        if isinstance(key, int):
            alpha = Image.fromarray(np.where(wide == key, 0, 255).astype(np.uint8))
    elif img.mode == _FLOAT_GREY_MODE:
        grey = Image.fromarray(_float_levels(np.asarray(img), name))
    elif img.mode in _ALPHA_MODES or "transparency" in img.info:
        la = img.convert("LA")  # Pillow maps P, L and RGB transparency keys to alpha here
        grey, alpha = la.getchannel("L"), la.getchannel("A")
    else:
        grey = img.convert("L")
    if alpha is not None:
        opaque = np.asarray(alpha) >= 128
        light = opaque.any() and float(np.median(np.asarray(grey)[opaque])) > 127
        ground = Image.new("L", grey.size, 0 if light else 255)
        ground.paste(grey, (0, 0), alpha)
        grey = ground
    return np.asarray(grey)


def _eight_bit(wide: np.ndarray) -> np.ndarray:
    """16-bit grey levels (uint32, 0-65535) as 8-bit ones. 8-bit v is stored as v * 257 in 16
    bits, so dividing by 257 (rounded) undoes it exactly. Levels that all fit in 0-255 are
    8-bit levels in a wide container (an integer array saved as it is) and are kept: as 16-bit
    levels they would be black to within 0.4%, which no scan or drawing is."""
    if int(wide.max(initial=0)) <= 255:
        return wide.astype(np.uint8)
    return ((wide + 128) // 257).astype(np.uint8)


def _float_levels(values: np.ndarray, name: str) -> np.ndarray:
    """Float grey pixels (a TIFF of mode F) as 8-bit levels: read as 0-1 (an array of
    intensities saved as it is), 0-255 or 0-65535, the smallest range their largest value fits
    in. Values that are not numbers, or that fit none of them (normalised pixels, with negative
    ones), are refused with ImageError naming ``name``: guessing their scale would answer for
    an image nobody drew."""
    if not np.isfinite(values).all():
        raise ImageError(f"{name}: float pixels that are not numbers (NaN or infinite)")
    low, high = float(values.min(initial=0)), float(values.max(initial=0))
    top = next((t for t in (1.0, 255.0, 65535.0) if high <= t), None)
    if top is None or low < -_FLOAT_SLACK * top:
        raise ImageError(f"{name}: float pixels from {low:g} to {high:g}; expected grey levels "
                         "0-1, 0-255 or 0-65535")
    return np.rint(np.clip(values, 0, top) * (255 / top)).astype(np.uint8)


def _in_dataset_format(grey: np.ndarray) -> bool:
    """Whether ``grey`` is already as the datasets store their images: 28x28, a black edge (the
    background, at most a few grey levels) and something lighter on it. MNIST's digits come out
    the same either way; Fashion-MNIST's clothes fill the frame instead of a 20x20 box, so
    fitting them as digits would misshape them, and the model was trained on them as they are.
    """
    if grey.shape != (SIZE, SIZE):
        return False
    edge = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return float(np.median(edge)) <= 4 and int(grey.max()) >= 4 + ink.INK_LEVEL


def _framed(grey: np.ndarray) -> bool:
    """Whether the 28x28 ``grey`` (light on black) is framed as MNIST's digits are: the box of
    its non-black pixels 19-21 pixels on its longer side (20 for all but one of MNIST's test
    digits), its centre of mass within a pixel of the middle (13.5-14.5 in MNIST's)."""
    mass = grey.astype(np.float64)
    rows, cols = np.flatnonzero(mass.any(axis=1)), np.flatnonzero(mass.any(axis=0))
    longer = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    cy = mass.sum(axis=1) @ np.arange(SIZE) / mass.sum()
    cx = mass.sum(axis=0) @ np.arange(SIZE) / mass.sum()
    return 19 <= longer <= 21 and max(abs(cy - 14), abs(cx - 14)) <= 1


def _centre(ink: np.ndarray) -> np.ndarray:
    """Fit ``ink`` (shape (h, w)) in BOX x BOX keeping its aspect ratio and place it on a
    SIZE x SIZE black canvas with its centre of mass at (14, 14)."""
    canvas = np.zeros((SIZE, SIZE), np.uint8)
    height, width = ink.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(
        Image.fromarray(np.round(ink).astype(np.uint8)).resize(size, Image.Resampling.LANCZOS)
    )
    mass = small.astype(np.float64)
    total = mass.sum()
    if total == 0:
        return canvas
    h, w = small.shape
    cy = (mass.sum(axis=1) @ np.arange(h)) / total
    cx = (mass.sum(axis=0) @ np.arange(w)) / total
    # Shift so the centre of mass lands on index 14 (where MNIST's sits on average), clamped so
    # the whole digit stays on the canvas; the box is at most 20 px, so nothing is ever cut.
    top = min(max(round(SIZE / 2 - cy), 0), SIZE - h)
    left = min(max(round(SIZE / 2 - cx), 0), SIZE - w)
    canvas[top:top + h, left:left + w] = small
    return canvas
