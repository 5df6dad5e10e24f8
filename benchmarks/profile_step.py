"""Where one training step's time goes, phase by phase (gather, each layer, loss, optimizer).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/profile_step.py \\
        [--sizes 784,50,50,50,10] [--batch 128|full] [--dtype float32|float64] [--steps 2000]

Each phase is timed with perf_counter around it, so the total runs somewhat slower than an
untimed step; read the shares, not the absolute times. With ``--batch full`` each step is the
notebook's full batch, taken in the fit loop's 8,192-row chunks from the float copy of the
set that fit makes once (its making is not timed).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import mnistnp
from mnistnp.datasets import load
from mnistnp.nn import softmax_cross_entropy
from mnistnp.training import MAX_CHUNK, BatchRows, fixed_inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="784,50,50,50,10")
    parser.add_argument("--batch", default="128")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    (x, y), _ = load()
    rng = np.random.default_rng(0)
    model = mnistnp.mlp([int(s) for s in args.sizes.split(",")], rng, args.dtype)
    opt = mnistnp.SGD(0.01, momentum=0.9)
    full = args.batch == "full"
    batch = len(x) if full else int(args.batch)
    steps = min(args.steps, 3) if full else args.steps
    order = np.tile(rng.permutation(len(x)), steps * batch // len(x) + 1)
    # As fit does: a full batch starts from its fixed prefix's output, computed once (not timed);
    # index batches are gathered into one reused buffer.
    inputs, first = (fixed_inputs(model, x) or (x, 0)) if full else (x, 0)
    rows = BatchRows(inputs)
    times: dict[str, float] = {}

    def tick(name: str, start: float) -> float:
        now = time.perf_counter()
        times[name] = times.get(name, 0.0) + now - start
        return now

    for step in range(steps):
        idx = order[step * batch:(step + 1) * batch]
        for lo in range(0, batch, MAX_CHUNK):
            t = time.perf_counter()
            part = slice(lo, min(lo + MAX_CHUNK, batch)) if full else idx
            h, labels = rows(part), y[part]
            t = tick("gather", t)
            for layer in model.layers[first:]:
                h = layer.forward(h, True)
                t = tick(f"forward {layer.kind}", t)
            _, g = softmax_cross_entropy(h, labels, scale=1 / batch)
            t = tick("loss", t)
            for layer in reversed(model.layers[1:]):
                g = layer.backward(g)
                t = tick(f"backward {layer.kind}", t)
        t = time.perf_counter()
        opt.step(model.params, model.grads)
        tick("optimizer", t)
    total = sum(times.values())
    print(f"{args.sizes}, batch {args.batch}, {args.dtype}: {total / steps * 1e6:,.0f} µs/step "
          f"({batch * steps / total:,.0f} samples/s, instrumented)")
    for name, seconds in sorted(times.items(), key=lambda kv: -kv[1]):
        print(f"  {name:18s} {seconds / steps * 1e6:10,.1f} µs/step  {100 * seconds / total:5.1f}%")


if __name__ == "__main__":
    main()
