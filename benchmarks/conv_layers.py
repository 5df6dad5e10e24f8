"""Forward + backward of conv(1->32, 5x5, same) + pool + conv(32->64, 5x5, same) + pool on a batch
of 128 MNIST images in float32, phase by phase, beside PyTorch's same layers if it is installed.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/conv_layers.py \\
        [--batch 128] [--steps 10] [--repeats 5] [--threads N] [--clock wall|cpu]

Each repeat runs ``--steps`` steps of mnistnp's stack, then as many of PyTorch's (alternated, so
both see the same machine load); the figures are medians over the repeats of the per-step
time. mnistnp's phases: each layer's forward and backward; inside the convolutions, the time
spent in the GEMMs (``np.matmul``: output, dW, db and the column gradient), ``im2col`` and
``col2im``, each measured by wrapping it; "conv other" is the rest of the conv layers
(padding, bias, layout copies). The first conv skips its input gradient, as in a model
(PyTorch skips it too: its input does not require a gradient).

``--clock cpu`` times with the process's CPU time instead of the wall clock: on a machine
busy with other work it is the steadier measure, but only with ``--threads 1`` (with more,
it adds up the threads' time, spinning included).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import report

from mnistnp.nn import conv as conv_module
from mnistnp.nn.conv import Conv2D
from mnistnp.nn.pool import MaxPool2D

try:
    import torch
except ImportError:  # the comparison is optional
    torch = None


def mnist_batch(n: int) -> np.ndarray:
    """The first ``n`` bundled training images as (n, 1, 28, 28) float32 in [0, 1]."""
    from mnistnp.datasets import load

    (x, _), _ = load()
    return (x[:n].astype(np.float32) / 255).reshape(n, 1, 28, 28)


def build(rng: np.random.Generator) -> list:
    """The stack, its convolutions bound to their own float32 parameters and gradients."""
    layers = [Conv2D(1, 32, 5, padding="same"), MaxPool2D(2),
              Conv2D(32, 64, 5, padding="same"), MaxPool2D(2)]
    for layer in layers:
        if layer.param_shapes:
            layer.bind([np.zeros(s, np.float32) for s in layer.param_shapes],
                       [np.zeros(s, np.float32) for s in layer.param_shapes])
            layer.init(rng)
    layers[0].needs_input_grad = False
    return layers


class Clock:
    """Accumulates seconds by phase name, on ``timer`` (a ``time`` function)."""

    def __init__(self, timer: Callable[[], float]) -> None:
        self.timer = timer
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = self.timer()
        try:
            yield
        finally:
            self.seconds[name] += self.timer() - start

    def wrap(self, name: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            with self.phase(name):
                return fn(*args, **kwargs)
        return timed


class TimedNumpy:
    """NumPy as the conv module sees it, with ``matmul`` (its GEMMs and GEMV) timed."""

    def __init__(self, clock: Clock) -> None:
        self.matmul = clock.wrap("GEMMs", np.matmul)

    def __getattr__(self, name: str):
        return getattr(np, name)


def numpy_steps(layers: list, x: np.ndarray, g: np.ndarray, steps: int,
                timer: Callable[[], float]) -> dict[str, float]:
    """Seconds per step, by phase, for ``steps`` forward + backward passes."""
    clock = Clock(timer)
    names = ["conv1", "pool1", "conv2", "pool2"]
    originals = conv_module.im2col, conv_module.col2im, conv_module.np
    conv_module.im2col = clock.wrap("im2col", originals[0])
    conv_module.col2im = clock.wrap("col2im", originals[1])
    conv_module.np = TimedNumpy(clock)
    try:
        for _ in range(steps):
            with clock.phase("total"):
                h = x
                for name, layer in zip(names, layers, strict=True):
                    with clock.phase(f"{name} forward"):
                        h = layer.forward(h, training=True)
                d = g
                for name, layer in zip(names[::-1], layers[::-1], strict=True):
                    with clock.phase(f"{name} backward"):
                        d = layer.backward(d)
    finally:
        conv_module.im2col, conv_module.col2im, conv_module.np = originals
    return {k: v / steps for k, v in clock.seconds.items()}


def torch_step_seconds(layers: list, x: np.ndarray, g: np.ndarray, steps: int,
                       timer: Callable[[], float]) -> float:
    """Seconds per forward + backward step of PyTorch's same layers and weights."""
    F = torch.nn.functional
    w1, b1, w2, b2 = (torch.tensor(a, requires_grad=True)
                      for a in (layers[0].W, layers[0].b, layers[2].W, layers[2].b))
    xt, gt = torch.from_numpy(x), torch.from_numpy(g)
    start = timer()
    for _ in range(steps):
        h = F.max_pool2d(F.conv2d(xt, w1, b1, padding="same"), 2)
        h = F.max_pool2d(F.conv2d(h, w2, b2, padding="same"), 2)
        h.backward(gt)
    return (timer() - start) / steps


def print_environment() -> None:
    if torch is not None:
        torch_line = f"PyTorch {torch.__version__}: {torch.get_num_threads()} threads"
    else:
        torch_line = "PyTorch not installed: mnistnp's side only (pip install torch==2.13.0)"
    report.print_environment(torch_line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS and PyTorch threads (default: theirs)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    args = parser.parse_args()
    if args.threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    print_environment()
    timer = time.perf_counter if args.clock == "wall" else time.process_time
    rng = np.random.default_rng(0)
    layers = build(rng)
    x = mnist_batch(args.batch)
    g = rng.standard_normal((args.batch, 64, 7, 7), dtype=np.float32)
    numpy_steps(layers, x, g, 2, timer)  # warm up: buffers, pages, BLAS threads
    if torch is not None:
        torch_step_seconds(layers, x, g, 2, timer)
    ours: dict[str, list[float]] = defaultdict(list)
    theirs = []
    for _ in range(args.repeats):
        for name, seconds in numpy_steps(layers, x, g, args.steps, timer).items():
            ours[name].append(seconds)
        if torch is not None:
            theirs.append(torch_step_seconds(layers, x, g, args.steps, timer))

    def ms(values: list[float]) -> float:
        return 1e3 * statistics.median(values)

    total = ms(ours["total"])
    conv_time = sum(ms(ours[f"conv{i} {d}"]) for i in (1, 2) for d in ("forward", "backward"))
    pool_time = sum(ms(ours[f"pool{i} {d}"]) for i in (1, 2) for d in ("forward", "backward"))
    print(f"\nmnistnp, batch {args.batch}, float32, per step ({args.clock} clock, medians of "
          f"{args.repeats} repeats of {args.steps} steps), ms:")
    for name in ["conv1 forward", "pool1 forward", "conv2 forward", "pool2 forward",
                 "pool2 backward", "conv2 backward", "pool1 backward", "conv1 backward"]:
        print(f"  {name:16s} {ms(ours[name]):8.2f}")
    print("by phase:")
    parts = {name: ms(ours[name]) for name in ("GEMMs", "im2col", "col2im")}
    parts["conv other"] = conv_time - sum(parts.values())
    parts["pooling"] = pool_time
    for name, value in parts.items():
        print(f"  {name:12s} {value:8.2f}  ({100 * value / total:4.1f}%)")
    print(f"  {'total':12s} {total:8.2f}: {total / parts['GEMMs']:.2f}x its GEMMs' time")
    if theirs:
        print(f"PyTorch, same layers and weights: {ms(theirs):.2f} ms per step; "
              f"mnistnp / PyTorch time {total / ms(theirs):.2f}x "
              f"(throughput ratio {ms(theirs) / total:.2f}x)")


if __name__ == "__main__":
    main()
