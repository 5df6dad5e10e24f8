"""Where one training step's time goes, phase by phase (gather, each layer, loss, optimizer).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/profile_step.py \\
        [--sizes 784,50,50,50,10] [--batch 128|full] [--dtype float32|float64] [--steps 2000]
        [--chunk 8192]

The step is put together here from the public pieces the fit loop uses (each layer's forward
and backward, the fused loss, the optimizer over ``model.params``) in the same order, so each
phase can be timed with perf_counter around it; the total runs somewhat slower than an untimed
step, so read the shares, not the absolute times. Index batches are gathered with ``np.take``
into one reused buffer, as fit does. With ``--batch full`` each step is the notebook's full
batch, taken in chunks of ``--chunk`` rows (fit's: 8,192) from the output of the model's fixed
prefix, computed once as fit does (not timed).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import mnistnp
from mnistnp.step import fixed_prefix, forward_prefix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="784,50,50,50,10")
    parser.add_argument("--batch", default="128")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--chunk", type=int, default=8192,
                        help="rows per forward/backward pass of a full batch (fit's: 8192)")
    args = parser.parse_args()
    (x, y), _ = mnistnp.datasets.load("mnist")
    rng = np.random.default_rng(0)
    model = mnistnp.mlp([int(s) for s in args.sizes.split(",")], rng, args.dtype)
    opt = mnistnp.SGD(0.01, momentum=0.9)
    full = args.batch == "full"
    batch = len(x) if full else int(args.batch)
    steps = min(args.steps, 3) if full else args.steps
    order = np.tile(rng.permutation(len(x)), steps * batch // len(x) + 1)
    # As fit does: a full batch starts from its fixed prefix's output, computed once (not timed);
    # index batches are gathered into one reused buffer.
    first = fixed_prefix(model) if full else 0
    inputs = forward_prefix(model, x, first) if first else x
    buffer = None if full else np.empty((batch, *x.shape[1:]), x.dtype)
    chunk = args.chunk if full else batch
    chunked = batch > chunk  # fit then adds up the chunks' gradients in a fresh buffer
    times: dict[str, float] = {}

    def tick(name: str, start: float) -> float:
        now = time.perf_counter()
        times[name] = times.get(name, 0.0) + now - start
        return now

    for step in range(steps):
        idx = order[step * batch:(step + 1) * batch]
        total = np.zeros_like(model.grads) if chunked else model.grads
        for lo in range(0, batch, chunk):
            t = time.perf_counter()
            if full:
                part = slice(lo, min(lo + chunk, batch))
                h, labels = inputs[part], y[part]
            else:
                h = np.take(x, idx, axis=0, out=buffer, mode="clip")
                labels = y[idx]
            t = tick("gather", t)
            for layer in model.layers[first:]:
                h = layer.forward(h, True)
                t = tick(f"forward {layer.kind}", t)
            _, g = mnistnp.softmax_cross_entropy(h, labels, scale=1 / batch)
            t = tick("loss", t)
            for layer in reversed(model.layers[model.backward_stop:]):
                g = layer.backward(g)
                t = tick(f"backward {layer.kind}", t)
            if chunked:
                total += model.grads
                tick("add chunk grads", t)
        t = time.perf_counter()
        opt.step(model.params, total)
        tick("optimizer", t)
    total = sum(times.values())
    print(f"{args.sizes}, batch {args.batch}, {args.dtype}: {total / steps * 1e6:,.0f} µs/step "
          f"({batch * steps / total:,.0f} samples/s, instrumented)")
    for name, seconds in sorted(times.items(), key=lambda kv: -kv[1]):
        print(f"  {name:18s} {seconds / steps * 1e6:10,.1f} µs/step  {100 * seconds / total:5.1f}%")


if __name__ == "__main__":
    main()
