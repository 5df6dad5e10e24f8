"""Digits at their own small size, not enlarged: how ``predict`` reads images of 8x8, 16x16 and
20x20 pixels as a user might hand them over from another dataset.

    python lab/small_sizes.py mlp.npz cnn.npz [--n 80]

Sets, ``--n`` digits each, dark on light and light on dark:
- ``8x8``: scikit-learn's digits (0-16 scaled to 0-255), as they are stored;
- ``16-filled``: MNIST test digits cut to their ink and stretched to fill 16x16 (as a set
  normalised to its frame stores them);
- ``16-kept``: the same fitted into 16x16 with their aspect kept, centred;
- ``20-box``: fitted into 20x20 (MNIST's own box before it centres them in 28x28).
Prints each model's accuracy with ``predict``'s preparation and with the plain one
(``mnistnp.synth.baseline``), and the refusals per set (a refusal counts as wrong).
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

import mnistnp
from mnistnp import load_model
from mnistnp.errors import ImageError
from mnistnp.images import prepare_digit
from mnistnp.synth import baseline, files

Bilinear = Image.Resampling.BILINEAR


def png(a: np.ndarray) -> bytes:
    return files.png(Image.fromarray(a))


def fitted(digit: np.ndarray, side: int, keep_aspect: bool) -> np.ndarray:
    """``digit`` (light on black) cut to its ink and resized into ``side`` x ``side``."""
    rows, cols = np.flatnonzero(digit.any(axis=1)), np.flatnonzero(digit.any(axis=0))
    ink = Image.fromarray(digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])
    if not keep_aspect:
        return np.asarray(ink.resize((side, side), Bilinear))
    scale = side / max(ink.size)
    small = ink.resize((max(1, round(ink.size[0] * scale)), max(1, round(ink.size[1] * scale))),
                       Bilinear)
    canvas = Image.new("L", (side, side), 0)
    canvas.paste(small, ((side - small.size[0]) // 2, (side - small.size[1]) // 2))
    return np.asarray(canvas)


def sets(n: int) -> dict[str, tuple[list[np.ndarray], np.ndarray]]:
    """Each set's images (light on black) and labels."""
    from sklearn.datasets import load_digits
    scans = load_digits()
    _, (x_test, y_test) = mnistnp.datasets.load("mnist")
    made: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "16-filled": lambda d: fitted(d, 16, False),
        "16-kept": lambda d: fitted(d, 16, True),
        "20-box": lambda d: fitted(d, 20, True),
    }
    out = {"8x8": ([(s * 255 / 16).astype(np.uint8) for s in scans.images[:n]],
                   scans.target[:n])}
    for name, make in made.items():
        out[name] = ([make(d) for d in x_test[:n]], y_test[:n])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model files")
    parser.add_argument("--n", type=int, default=80, help="digits per set")
    args = parser.parse_args()
    models = [load_model(path) for path in args.models]
    print("set, ink: " + ", ".join(f"{Path(path).name} % (plain %)" for path in args.models)
          + ", refused %")
    for name, (images, labels) in sets(args.n).items():
        for ink, flip in (("dark on light", True), ("light on dark", False)):
            right, right_plain, refused = np.zeros(len(models)), np.zeros(len(models)), 0
            for image, label in zip(images, labels):
                data = png(255 - image if flip else image)
                plain = baseline.plain_prepare(Image.open(io.BytesIO(data)))
                if plain is not None:
                    right_plain += [int(m.predict(plain[None])[0] == label) for m in models]
                try:
                    seen = prepare_digit(Image.open(io.BytesIO(data)))
                except ImageError:
                    refused += 1
                    continue
                right += [int(m.predict(seen[None])[0] == label) for m in models]
            cells = ", ".join(f"{100 * r / len(labels):.1f} ({100 * q / len(labels):.1f})"
                              for r, q in zip(right, right_plain))
            print(f"{name}, {ink}: {cells}, {100 * refused / len(labels):.1f}")

if __name__ == "__main__":
    main()
