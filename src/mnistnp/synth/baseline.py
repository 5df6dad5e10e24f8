"""The baseline beside which ``predict``'s preparation is judged: a plain MNIST preparation,
as a short script would write it. Kept apart from ``mnistnp.plain`` on purpose (its own Otsu,
on 256 fixed grey levels): a baseline that shared predict's code could not show its faults."""

from __future__ import annotations

import numpy as np
from PIL import Image


def plain_prepare(image: Image.Image) -> np.ndarray | None:
    """What a plain script does (as scikit-learn's users write it): alpha onto white, grey,
    invert if the paper (the border's median) is light, Otsu's threshold, crop to the pixels
    above it, fit the longer side to 20 px (Lanczos), centre of mass at the middle of 28x28.
    The ink keeps its grey levels (the paper's subtracted, the peak stretched to 255). None if
    nothing is above the threshold (a refusal)."""
    image = image.convert("RGBA")
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    a = np.asarray(Image.alpha_composite(white, image).convert("L"), np.float64)
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    if np.median(border) > 127:
        a = 255 - a
    if a.max() - a.min() < 1:
        return None
    threshold = otsu(a)
    mask = a > threshold
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    paper = float(np.median(a[~mask])) if (~mask).any() else 0.0
    crop = np.clip(a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] - paper, 0, None)
    crop *= 255 / crop.max()
    h, w = crop.shape
    scale = 20 / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    fitted = np.asarray(Image.fromarray(crop.astype(np.float32), "F").resize(
        size, Image.Resampling.LANCZOS)).clip(0, 255)
    total = fitted.sum()
    cy = (fitted.sum(axis=1) @ np.arange(size[1])) / total
    cx = (fitted.sum(axis=0) @ np.arange(size[0])) / total
    top = min(max(round(14 - cy), 0), 28 - size[1])
    left = min(max(round(14 - cx), 0), 28 - size[0])
    out = np.zeros((28, 28), np.uint8)
    out[top:top + size[1], left:left + size[0]] = np.round(fitted).astype(np.uint8)
    return out


def otsu(values: np.ndarray) -> float:
    """Otsu's threshold over 256 grey levels."""
    hist = np.bincount(np.clip(values, 0, 255).astype(np.uint8).ravel(), minlength=256)
    p = hist / hist.sum()
    omega, mu = np.cumsum(p), np.cumsum(p * np.arange(256))
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu[-1] * omega - mu) ** 2 / (omega * (1 - omega))
    return float(np.nanargmax(between[:-1]))
