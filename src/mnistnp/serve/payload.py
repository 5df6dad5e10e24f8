"""A prediction request's body as a digit: image bytes, or JSON holding a 28x28 array of 0-255,
both prepared by ``images`` exactly as ``mnistnp predict`` prepares a file."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from PIL import Image

from ..images import prepare_digit, read_digit

SIDE = 28
NAME = "request body"  # starts every error message, as a file's name does for predict


class BadRequest(Exception):
    """A request the server answers with an error status and ``{"error": message}``.

    Parameters
    ----------
    status : int
        The HTTP status, such as 400.
    message : str
        What was wrong, in one line.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def digit_from_body(body: bytes, content_type: str, refit: bool,
                    notes: list[str] | None = None) -> np.ndarray:
    """The digit a request's body holds, prepared as ``predict`` prepares an image file.

    Parameters
    ----------
    body : bytes
        The request's body (at most the server's limit).
    content_type : str
        Its Content-Type header: ``application/json`` for an array, else image bytes.
    refit : bool
        As ``images.prepare_digit`` takes it (``sources.refits`` of the model).
    notes : list of str, optional
        Where what ``predict`` would warn of is appended (an image of several frames), so
        that the answer to this request can say it; without it, a warning is raised.

    Returns
    -------
    ndarray of shape (28, 28), dtype uint8
        The model's input: light ink on black, centred.

    Raises
    ------
    ImageError
        If the image cannot be read or holds no single digit (its message starts with NAME).
    BadRequest
        With status 400, for JSON that is not an object holding a 28x28 ``image`` of 0-255.
    """
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        return read_digit(body, NAME, refit, notes)
    pixels = pixels_from_json(body)
    # Through Pillow, as a decoded file would come, so the array takes predict's one path.
    return prepare_digit(Image.fromarray(pixels, "L"), NAME, refit, notes)


def pixels_from_json(body: bytes) -> np.ndarray:
    """The ``image`` of a JSON body: ``{"image": [[...28 numbers 0-255...], ...28 rows]}``.

    Parameters
    ----------
    body : bytes
        UTF-8 JSON.

    Returns
    -------
    ndarray of shape (28, 28), dtype uint8
        The pixels as given (0 black, 255 white), not yet prepared.

    Raises
    ------
    BadRequest
        With status 400 and the first thing found wrong.
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as e:
        raise BadRequest(400, f"{NAME}: not valid JSON ({e})") from None
    if not isinstance(data, dict) or "image" not in data:
        raise BadRequest(400, f'{NAME}: expected a JSON object with an "image" key holding '
                         f"a {SIDE}x{SIDE} array of 0-255")
    rows = data["image"]
    if not (isinstance(rows, list) and len(rows) == SIDE
            and all(isinstance(row, list) and len(row) == SIDE for row in rows)):
        raise BadRequest(400, f'{NAME}: "image" must be {SIDE} rows of {SIDE} numbers, got '
                         f"{_shape(rows)}")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            # bool is an int to Python but never a pixel; NaN fails both comparisons.
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not 0 <= value <= 255:
                raise BadRequest(400, f'{NAME}: "image"[{r}][{c}] is {json.dumps(value)}, '
                                 "not a number from 0 to 255")
    return np.rint(np.array(rows, dtype=np.float64)).astype(np.uint8)


def _shape(value: Any) -> str:
    """A short description of what was sent instead of a 28x28 array."""
    if not isinstance(value, list):
        return f"a JSON {type(value).__name__}"
    lengths = sorted({len(row) if isinstance(row, list) else -1 for row in value})
    if lengths and lengths[0] == -1:
        return f"a list of {len(value)} with items that are not rows"
    if len(lengths) == 1:
        return f"{len(value)}x{lengths[0]}"
    return f"{len(value)} rows of {lengths[0]}-{lengths[-1]} numbers"
