"""How well, and how fast, ``predict``'s preparation reads photo-like images of digits.

    python benchmarks/photos.py [--n 100] [--compare OLD_IMAGES.py]

The photos are those of ``mnistnp.synth.photos``, which tests/test_ink.py reads too (real
MNIST test digits, dark ink on paper, under each condition: a shadow, a vignette, a dark table
around the sheet, thin and thick strokes, noise, heavy JPEG), read by the test's model (a
784-100-10 MLP, three epochs on 20,000 digits). ``--compare`` takes another version of
``mnistnp/images.py`` (for example the one before the photo work:
``git show 169b410:src/mnistnp/images.py > old_images.py``) and reads the same photos with it.
Also times one grainy 12-megapixel JPEG and PNG.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from mnistnp import Adam, datasets, fit, mlp
from mnistnp.errors import ImageError
from mnistnp.images import load_digit, prepare_digit
from mnistnp.synth.photos import CONDITIONS, make_photo

Prepare = Callable[[Image.Image], np.ndarray]


def other_version(path: str) -> Prepare:
    """``prepare_digit`` from another copy of images.py, importing mnistnp's own modules."""
    source = Path(path).read_text().replace("from .", "from mnistnp.")
    module = type(sys)("other_images")
    exec(compile(source, path, "exec"), module.__dict__)
    return module.prepare_digit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100, help="photos per condition")
    parser.add_argument("--compare", help="another images.py to read the same photos with")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.1f}")
    (x_train, y_train), (x_test, y_test) = datasets.load("mnist")
    rng = np.random.default_rng(0)
    model = mlp([784, 100, 10], rng)
    fit(model, x_train[:20_000], y_train[:20_000], Adam(0.002), rng=rng, epochs=3,
        batch_size=128)
    clean = model.predict(np.stack([prepare_digit(Image.fromarray(d)) for d in x_test[:args.n]]))
    print(f"clean digits: {np.sum(clean == y_test[:args.n])}/{args.n} read right")
    versions: dict[str, Prepare] = {"this": prepare_digit}
    if args.compare:
        versions["compared"] = other_version(args.compare)
    totals = dict.fromkeys(versions, 0)
    seconds = 0.0
    for seed, condition in enumerate(CONDITIONS):
        photo_rng = np.random.default_rng(seed)
        right = dict.fromkeys(versions, 0)
        for digit, label in zip(x_test[:args.n], y_test[:args.n]):
            photo = make_photo(condition, digit, photo_rng)
            for name, prepare in versions.items():
                start = time.perf_counter()
                try:
                    seen = prepare(photo.copy())
                except ImageError:
                    continue
                finally:
                    seconds += time.perf_counter() - start if name == "this" else 0.0
                right[name] += int(model.predict(seen[None])[0] == label)
        print(f"{condition:9s} " + "  ".join(f"{name} {right[name]:3d}/{args.n}"
                                              for name in versions))
        for name in versions:
            totals[name] += right[name]
    total = args.n * len(CONDITIONS)
    print("all       " + "  ".join(f"{name} {totals[name]}/{total} = {totals[name] / total:.3f}"
                                   for name in versions))
    print(f"preparation time per photo ({photo.size[0]}x{photo.size[1]}): "
          f"{1000 * seconds / total:.1f} ms")
    small = make_photo("surround", x_test[0], np.random.default_rng(7))
    big = np.asarray(small.resize((4000, 3000), Image.Resampling.BICUBIC), np.float32)
    big += np.random.default_rng(8).normal(0.0, 3.0, big.shape).astype(np.float32)  # grain
    big_photo = Image.fromarray(np.clip(big, 0, 255).astype(np.uint8))
    with tempfile.TemporaryDirectory() as folder:
        for suffix in ("jpg", "png"):
            path = Path(folder) / f"big.{suffix}"
            big_photo.save(path, **({"quality": 90} if suffix == "jpg" else {}))
            start = time.perf_counter()
            load_digit(path)
            print(f"12-megapixel {suffix.upper()}, read and prepared: "
                  f"{time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
