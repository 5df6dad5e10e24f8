"""Growing a fitted digit's strokes when they are finer than MNIST's: each condition's saved
preparations read as they are and grown where ``stroke.width`` is under a threshold.

    mkdir -p before && git archive ef7fff9 src | tar -x -C before   # the preparation before
    python benchmarks/render_bench.py --model mlp.npz --n 1000 --src before/src --save prepared.npz
    python lab/fine_strokes.py prepared.npz mlp.npz cnn.npz [--below 1.435] [--grow 0.5]

Prints, per condition, how many renders would be grown and each model's accuracy before > after
(a refusal counts as wrong; ``as-is`` digits are used as stored, so never grown).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mnistnp import load_model
from mnistnp.nn.augment import stroke_resample
from mnistnp.stroke import FAINT, GROW, width


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prepared", help="a render_bench.py --save file")
    parser.add_argument("models", nargs="+", help="model files")
    parser.add_argument("--below", type=float, default=FAINT, help="grow under this width (px)")
    parser.add_argument("--grow", type=float, default=GROW, help="by this many px")
    args = parser.parse_args()
    saved = np.load(args.prepared, allow_pickle=False)
    conditions = list(dict.fromkeys(key.split("/")[0] for key in saved.keys()))
    models = [(Path(p).stem, load_model(p)) for p in args.models]
    print("condition", "touched", *(name for name, _ in models), sep="\t")
    for c in conditions:
        x, y = saved[f"{c}/ours"], saved[f"{c}/labels"]
        refused = saved[f"{c}/ours_refused"]
        fine = np.array([c != "as-is" and 0 < width(d.astype(np.float64)) < args.below
                         for d in x])
        grown = x.copy()
        if fine.any():
            more = stroke_resample(x[fine], np.full(int(fine.sum()), args.grow))
            grown[fine] = np.clip(np.rint(more), 0, 255).astype(np.uint8)
        cells = [f"{100 * np.mean((m.predict(x) == y) & ~refused):.1f} > "
                 f"{100 * np.mean((m.predict(grown) == y) & ~refused):.1f}" for _, m in models]
        print(c, int(fine.sum()), *cells, sep="\t", flush=True)


if __name__ == "__main__":
    main()
