"""Whether a tiny image of pure noise can be told from a tiny clean digit by how alike
neighbouring pixels are: for each set, the correlation of each pixel with the next one across,
down and along both diagonals (the largest of the four, and the mean across and down), and how
many of the set `predict`'s preparation answers rather than refuses.

    python lab/tiny_noise.py [--n 300]

The sets: scikit-learn's 8x8 digits; MNIST test digits cut to their ink and resized into 8, 10,
12 and 16 px (stretched to fill, or their shape kept); the classic 5x7 dot-matrix digits,
one pixel wide, on 7-16 px canvases (a bitmap font's digits); MNIST at 28x28; and uniform and
Gaussian (mean 128, sigma 50) noise at 8-32 px, 100 of each.
"""

from __future__ import annotations

import argparse
import io

import numpy as np
from PIL import Image
from small_sizes import fitted, png

import mnistnp
from mnistnp.errors import ImageError
from mnistnp.images import prepare_digit

# The 5x7 dot-matrix digits, rows top to bottom.
DOTS = {0: "01110 10001 10011 10101 11001 10001 01110", 1: "00100 01100 00100 00100 00100 00100 01110",
        2: "01110 10001 00001 00010 00100 01000 11111", 3: "11111 00010 00100 00010 00001 10001 01110",
        4: "00010 00110 01010 10010 11111 00010 00010", 5: "11111 10000 11110 00001 00001 10001 01110",
        6: "00110 01000 10000 11110 10001 10001 01110", 7: "11111 00001 00010 00100 01000 01000 01000",
        8: "01110 10001 10001 01110 10001 10001 01110", 9: "01110 10001 10001 01111 00001 00010 01100"}


def dots(digit: int, side: int) -> np.ndarray:
    """The 5x7 digit, black on white, centred on a ``side`` x ``side`` canvas."""
    glyph = np.array([[c == "1" for c in row] for row in DOTS[digit].split()])
    a = np.full((side, side), 255, np.uint8)
    top, left = (side - 7) // 2, (side - 5) // 2
    a[top:top + 7, left:left + 5][glyph] = 0
    return a


def neighbours(a: np.ndarray) -> np.ndarray:
    """Correlation of each pixel with the next across, down, and along both diagonals."""
    f = a.astype(np.float64)
    out = []
    for u, v in [(f[:, :-1], f[:, 1:]), (f[:-1], f[1:]), (f[:-1, :-1], f[1:, 1:]),
                 (f[:-1, 1:], f[1:, :-1])]:
        u, v = u.ravel(), v.ravel()
        out.append(np.corrcoef(u, v)[0, 1] if u.std() and v.std() else 1.0)
    return np.array(out)


def answered(a: np.ndarray) -> bool:
    try:
        prepare_digit(Image.open(io.BytesIO(png(a))))
    except ImageError:
        return False
    return True


def sets(n: int) -> dict[str, list[np.ndarray]]:
    from sklearn.datasets import load_digits
    rng = np.random.default_rng(0)
    _, (x_test, _) = mnistnp.datasets.load("mnist")
    out = {"scikit-learn 8x8": [(s * 255 / 16).astype(np.uint8) for s in load_digits().images[:n]]}
    for side in (8, 10, 12, 16):
        out[f"MNIST stretched to {side}x{side}"] = [fitted(d, side, False) for d in x_test[:n]]
        out[f"MNIST fitted into {side}x{side}"] = [fitted(d, side, True) for d in x_test[:n]]
    for side in (7, 8, 10, 12, 16):
        out[f"5x7 dot digits on {side}x{side}"] = [dots(d, side) for d in range(10)]
    out["MNIST 28x28"] = list(x_test[:n])
    for side in (8, 10, 12, 14, 16, 20, 24, 32):
        out[f"uniform noise {side}x{side}"] = [rng.integers(0, 256, (side, side), dtype=np.uint8)
                                              for _ in range(100)]
        out[f"Gaussian noise {side}x{side}"] = [
            np.clip(rng.normal(128, 50, (side, side)), 0, 255).astype(np.uint8)
            for _ in range(100)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()
    print("| set | images | largest of the four: lowest, highest | mean across and down: lowest, "
          "highest | answered by predict's preparation |")
    print("|---|---|---|---|---|")
    for name, images in sets(args.n).items():
        c = np.array([neighbours(a) for a in images])
        top, axes = c.max(axis=1), c[:, :2].mean(axis=1)
        said = np.mean([answered(a) for a in images])
        print(f"| {name} | {len(images)} | {top.min():.2f}, {top.max():.2f} | {axes.min():.2f}, "
              f"{axes.max():.2f} | {100 * said:.0f}% |", flush=True)


if __name__ == "__main__":
    main()
