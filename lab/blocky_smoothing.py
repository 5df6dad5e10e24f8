"""How to enlarge again a scan that was enlarged in blocks: ``predict`` on the render benchmark's
blocky and scan conditions, with ``mnistnp.enlarged.smoothed`` left out, or enlarging the source
it finds with bilinear, bicubic or Lanczos resampling.

    python lab/blocky_smoothing.py MODEL.npz [MODEL.npz ...] [--n 1000]

Prints, per condition and variant, each model's accuracy (%) on the first ``--n`` renders.
"""

from __future__ import annotations

import argparse
import functools

import numpy as np
from PIL import Image

from mnistnp import datasets, enlarged, images
from mnistnp.model_file import load_model
from mnistnp.synth import renders

CONDITIONS = ("blocky-8", "blocky-12", "blocky-16", "scan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--n", type=int, default=1000)
    args = parser.parse_args()
    models = [load_model(path) for path in args.models]
    kept = enlarged.smoothed
    variants = {"left out": lambda grey: grey,
                **{name: functools.partial(kept, method=method) for name, method in (
                    ("bilinear", Image.Resampling.BILINEAR),
                    ("bicubic", Image.Resampling.BICUBIC),
                    ("Lanczos", Image.Resampling.LANCZOS))}}
    _, (x_test, y_test) = datasets.load("mnist")
    print("| condition | " + " | ".join(variants) + " |")
    print("|---" * (len(variants) + 1) + "|")
    try:
        for name in CONDITIONS:
            files, labels = renders.render_set(name, x_test, y_test, args.n)
            cells = []
            for variant in variants.values():
                enlarged.smoothed = variant
                prepared = np.stack([images.read_digit(data) for data in files])
                cells.append(", ".join(f"{100 * np.mean(m.predict(prepared) == labels):.1f}"
                                       for m in models))
            print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    finally:
        enlarged.smoothed = kept


if __name__ == "__main__":
    main()
