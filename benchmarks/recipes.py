"""Accuracy and training time of each recipe on bundled MNIST, over several seeds.

    python benchmarks/recipes.py [--recipes default,best,notebook] [--seeds 0,1,2]

Prints one row per run and a mean ± std summary per recipe, with the BLAS kernel that ran.
Training time is the time inside ``fit`` (data loading and final evaluation excluded).
"""

from __future__ import annotations

import argparse
import statistics

from machine import blas_kernel

from mnistnp import RECIPES, datasets, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipes", default="default,best,notebook")
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"BLAS: {blas_kernel()}")
    data = datasets.load("mnist")  # loaded once for every run; the recipes train on MNIST
    for name in args.recipes.split(","):
        accs, secs = [], []
        for seed in seeds:
            result = train(RECIPES[name].with_overrides(seed=seed), data, progress=False)
            accs.append(100 * result.test_accuracy)
            secs.append(result.history.seconds)
            print(f"{name:10s} seed {seed}: test {accs[-1]:.2f}%  train "
                  f"{100 * result.train_accuracy:.2f}%  {secs[-1]:.1f} s", flush=True)
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        print(f"{name:10s} mean over {len(seeds)} seeds: test {statistics.mean(accs):.2f} ± "
              f"{sd:.2f}%, training {statistics.median(secs):.1f} s median "
              f"({min(secs):.1f}-{max(secs):.1f})", flush=True)


if __name__ == "__main__":
    main()
