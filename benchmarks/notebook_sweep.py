"""Learning-rate schedules for the ``notebook`` recipe's full-batch gradient descent, compared.

    python benchmarks/notebook_sweep.py [--candidates constant:0.5,cosine:0.5:50]
        [--seeds 0,1] [--iterations 1000] [--lr-scale 1.0] [--dtype float64]

A candidate is SCHEDULE:LR[:WARMUP]: the notebook recipe with that schedule, peak rate and
warmup (in iterations: with the full batch one epoch is one step). Everything else is the
recipe's: 784-50-50-50-10, He init, full batch, plain gradient descent, float64, all 60,000
training images. ``--lr-scale`` multiplies each candidate's rate (a perturbation check: does
the result hold at a 1.1-1.2x larger rate?).

Each run prints one row: the cost at the end and its lowest, the largest jump (the cost over
the lowest cost before it: 1.00 for a curve that never rises, about 10 for the 0.09 -> 0.96
spikes of a constant 0.5) and where it happened, the largest jump in the second half of the
run (``late``: a spike there decides the result), train and test accuracy and the time. A choice is
made on the cost curve (no jumps, then the lowest final cost); the test accuracy is reported,
not chosen on. The CPU and the BLAS kernel are printed first: the order of floating-point sums
differs by kernel, and ``OPENBLAS_CORETYPE=Sandybridge`` (set before the script starts) runs
another kernel on the same CPU.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
from machine import blas_kernel, cpu_model

from mnistnp import RECIPES, datasets, train


def largest_jump(costs: list[float]) -> tuple[float, int]:
    """The largest cost[t] / min(cost[:t]) and its iteration t (1-based); (1.0, 0) if the
    cost never rises above its lowest so far."""
    c = np.asarray(costs)
    if c.size < 2:
        return 1.0, 0
    ratio = c[1:] / np.minimum.accumulate(c)[:-1]
    t = int(np.argmax(ratio))
    return max(float(ratio[t]), 1.0), (t + 2 if ratio[t] > 1 else 0)


def candidate(spec: str) -> dict[str, object]:
    """'cosine:0.5:50' -> the recipe's overrides: schedule, lr and warmup (in iterations)."""
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise SystemExit(f"candidate {spec!r}: expected SCHEDULE:LR[:WARMUP]")
    changes: dict[str, object] = {"schedule": parts[0], "lr": float(parts[1])}
    if len(parts) == 3:
        changes["warmup_epochs"] = float(parts[2])
    return changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", default="constant:0.5,cosine:0.5:50")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--lr-scale", type=float, default=1.0)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float64")
    parser.add_argument("--trace", type=int, default=100, metavar="N",
                        help="after each row, the cost every N iterations (0: none)")
    parser.add_argument("--metrics-dir", type=Path,
                        help="write each run's cost per iteration there, as metrics.jsonl lines")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}")
    print(f"BLAS: {blas_kernel()} (OPENBLAS_CORETYPE="
          f"{os.environ.get('OPENBLAS_CORETYPE', 'unset')})")
    print(f"iterations {args.iterations}, dtype {args.dtype}, lr scale {args.lr_scale:g}")
    data = datasets.load("mnist")
    print(f"{'candidate':18s} {'seed':>4s} {'final cost':>10s} {'lowest':>8s} {'jump':>6s} "
          f"{'at':>5s} {'late':>6s} {'train':>7s} {'test':>7s} {'time':>7s}", flush=True)
    for spec in args.candidates.split(","):
        changes = candidate(spec)
        changes["lr"] = float(changes["lr"]) * args.lr_scale  # type: ignore[arg-type]
        for seed in (int(s) for s in args.seeds.split(",")):
            config = RECIPES["notebook"].with_overrides(
                **changes, seed=seed, iterations=args.iterations, dtype=args.dtype)
            metrics = None
            if args.metrics_dir is not None:
                args.metrics_dir.mkdir(parents=True, exist_ok=True)
                scale = f"-x{args.lr_scale:g}" if args.lr_scale != 1 else ""
                metrics = args.metrics_dir / (f"{spec.replace(':', '_')}{scale}-{args.dtype}"
                                              f"-seed{seed}.jsonl")
            result = train(config, data, progress=False, metrics_path=metrics)
            costs = result.history.costs
            jump, at = largest_jump(costs)
            late, _ = largest_jump(costs[len(costs) // 2:])
            print(f"{spec:18s} {seed:4d} {costs[-1]:10.4f} {min(costs):8.4f} {jump:6.2f} "
                  f"{at:5d} {late:6.2f} {100 * result.train_accuracy:6.2f}% "
                  f"{100 * result.test_accuracy:6.2f}% {result.history.seconds:6.0f}s",
                  flush=True)
            if args.trace:
                trace = " ".join(f"{costs[i - 1]:.4f}" for i in
                                 range(args.trace, len(costs) + 1, args.trace))
                print(f"  cost every {args.trace}: {trace}", flush=True)


if __name__ == "__main__":
    main()
