"""How far each model reads the saved clean renders below the same digits as MNIST stores them,
with the standard error of that gap, on the preparations `render_bench.py --save` wrote.

    python benchmarks/render_bench.py --model mlp.npz --n 5000 --workers 1 \\
        --conditions as-is thick thin light-ink --save prep5k.npz
    python lab/stroke_gaps.py prep5k.npz mlp.npz stroke.npz ...

Prints a markdown row per model: its accuracy on MNIST's test set, on the originals (the first
n test digits) and on each saved condition (a refusal counts as wrong), then each condition's
gap to the originals. The gap is paired (the same digits), so its standard error is that of the
per-digit difference, not of two independent accuracies.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mnistnp import datasets, load_model
from mnistnp.synth import renders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prepared", help="a render_bench.py --save file")
    parser.add_argument("models", nargs="+", help="model files")
    args = parser.parse_args()

    _, (x_test, y_test) = datasets.load("mnist")
    with np.load(args.prepared, allow_pickle=False) as saved:
        data = {key: saved[key] for key in saved.files}
    conditions = [key.split("/")[0] for key in data if key.endswith("/ours")]
    n = len(data[f"{conditions[0]}/ours"])
    indices = renders.chosen(conditions[0], y_test, n)
    for name in conditions:  # the gaps are paired only if every condition holds these digits
        if not np.array_equal(renders.chosen(name, y_test, n), indices):
            raise SystemExit(f"{args.prepared}: {name} holds other digits than {conditions[0]}")
    print(f"{args.prepared}: {n} renders a condition, originals: MNIST test digits "
          f"{indices[0]}-{indices[-1]}")
    print("| model | MNIST test | originals | " + " | ".join(conditions) + " | "
          + " | ".join(f"{name} - originals" for name in conditions) + " |")
    print("|---" * (3 + 2 * len(conditions)) + "|")
    for path in args.models:
        model = load_model(path)
        test = 100 * np.mean(model.predict(x_test) == y_test)
        right_original = model.predict(x_test[indices]) == y_test[indices]
        cells, gaps = [], []
        for name in conditions:
            right = ((model.predict(data[f"{name}/ours"]) == data[f"{name}/labels"])
                     & ~data[f"{name}/ours_refused"])
            difference = right.astype(float) - right_original
            cells.append(f"{100 * right.mean():.2f}")
            gaps.append(f"{100 * difference.mean():+.2f} ± "
                        f"{100 * difference.std(ddof=1) / np.sqrt(n):.2f}")
        print(f"| {Path(path).stem} | {test:.2f} | {100 * right_original.mean():.2f} | "
              + " | ".join(cells + gaps) + " |")


if __name__ == "__main__":
    main()
