"""Where a CNN training step's time goes, by phase (conv GEMMs, im2col, col2im, pooling, batch
norm, elementwise layers, loss, optimizer, gathering, augmentation), against its GEMM floor.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/profile_cnn.py \\
        [--net fixed|recipe] [--steps 30] [--repeats 3]

``--net fixed`` (the default) is the benchmark's fixed
conv:32:5,maxpool:2,conv:64:5,maxpool:2,dense:128 with Adam (lr 1e-3); ``--net recipe`` the
cnn recipe's whole network (stroke and affine augmentation, batch norm, dropout) with its
Nesterov SGD at its peak rate. Batch 128, float32, MNIST.

The steps are the library's own: ``Trainer.fit`` (what ``fit`` runs) for ``--steps``
iterations. The phases are timed by wrapping, from here, without editing the library: each
layer's forward and backward (instance attributes), the optimizer's step, the loss and the
batch gathering the loop calls, and inside the conv and dense modules their ``im2col``,
``col2im`` and NumPy's matrix products (the modules' ``np`` is swapped for one whose
``matmul``, ``dot``, ``einsum`` and ``tensordot`` are timed). A phase's time excludes the
phases inside it, so the shares add up to the step; "loop and rest" is what no wrapper saw.
Only the main thread's calls are timed (work a layer hands to other threads counts in the
layer's own time, as the main thread waits for it). A name that is gone from the library is
skipped, and its time falls to its caller. Each repeat times ``--steps`` plain steps and then
``--steps`` instrumented ones; the step time and its distance from the GEMM floor are the
plain steps' medians; the shares are the instrumented ones'.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import cnn_speed
import gemm_floor
import numpy as np
import report

import mnistnp

GEMM_NAMES = ("matmul", "dot", "einsum", "tensordot")
# Each layer kind's share is reported under one heading; a kind not listed is shown by name.
GROUPS = {"Conv2D": "conv other (padding, bias, layout copies)", "Dense": "dense other (bias)",
          "MaxPool2D": "pooling", "BatchNorm": "batch norm", "ReLU": "elementwise: ReLU",
          "Rescale": "elementwise: Rescale (uint8 to float)",
          "Flatten": "elementwise: Flatten (its copy)", "AddChannel": "elementwise: AddChannel",
          "Dropout": "elementwise: dropout", "RandomAffine": "augmentation (RandomAffine)",
          "RandomShift": "augmentation (RandomShift)",
          "RandomStroke": "augmentation (RandomStroke)"}


class Clock:
    """Seconds by phase, each phase's own (the phases called inside it subtracted)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._stack: list[list[Any]] = []  # [name, start, seconds of the phases inside]
        self._main = threading.get_ident()

    def wrap(self, name: str, fn: Callable[..., Any], nested: bool = False
             ) -> Callable[..., Any]:
        """``fn`` timed as phase ``name``; a ``nested`` phase (a GEMM, im2col) is named after
        the layer kind it runs in: "Conv2D: GEMMs"."""

        def timed(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != self._main:
                return fn(*args, **kwargs)
            self._stack.append([name, time.perf_counter(), 0.0])
            try:
                return fn(*args, **kwargs)
            finally:
                label, start, inner = self._stack.pop()
                elapsed = time.perf_counter() - start
                if nested and self._stack:
                    label = f"{self._stack[0][0].split()[0]}: {label}"
                self.seconds[label] += elapsed - inner
                if self._stack:
                    self._stack[-1][2] += elapsed

        return timed


class TimedNumpy:
    """NumPy as a library module sees it, with its matrix products timed as "GEMMs"."""

    def __init__(self, clock: Clock) -> None:
        for name in GEMM_NAMES:
            setattr(self, name, clock.wrap("GEMMs", getattr(np, name), nested=True))

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)


@contextmanager
def patched(targets: list[tuple[Any, str, Any]]) -> Iterator[list[str]]:
    """Set each (owner, attribute, value), restoring them after; yields the names skipped
    because the library no longer has them."""
    saved, skipped = [], []
    for owner, name, value in targets:
        if not hasattr(owner, name):
            skipped.append(f"{getattr(owner, '__name__', owner)}.{name}")
            continue
        saved.append((owner, name, getattr(owner, name), name in vars(owner)))
        setattr(owner, name, value(getattr(owner, name)) if callable(value) else value)
    try:
        yield skipped
    finally:
        for owner, name, old, own in reversed(saved):
            if own:
                setattr(owner, name, old)
            else:
                delattr(owner, name)  # an instance attribute over the class's method


def instrumented(model: mnistnp.Sequential, opt: Any, clock: Clock) -> list[tuple[Any, str, Any]]:
    """What to patch: every layer's passes, the optimizer's step, the loop's loss and gather,
    and the conv and dense modules' im2col, col2im and NumPy."""
    conv = sys.modules["mnistnp.nn.conv"]
    layers = sys.modules["mnistnp.nn.layers"]
    training = sys.modules["mnistnp.training"]
    targets: list[tuple[Any, str, Any]] = []
    for layer in model.layers:
        for name in ("forward", "backward"):
            targets.append((layer, name, lambda f, n=f"{layer.kind} {name}": clock.wrap(n, f)))
    targets.append((opt, "step", lambda f: clock.wrap("optimizer", f)))
    targets.append((training, "softmax_cross_entropy", lambda f: clock.wrap("loss", f)))
    gather = getattr(training, "BatchRows", None)
    if gather is not None:
        targets.append((gather, "__call__", lambda f: clock.wrap("gather batch", f)))
    for name in ("im2col", "col2im"):
        targets.append((conv, name, lambda f, n=name: clock.wrap(n, f, nested=True)))
    targets += [(conv, "np", TimedNumpy(clock)), (layers, "np", TimedNumpy(clock))]
    return targets


def heading(key: str) -> str:
    """The share a phase is reported under."""
    kind, _, sub = key.partition(": ")
    if sub:
        return {"GEMMs": f"{'conv' if kind == 'Conv2D' else kind.lower()} GEMMs"}.get(sub, sub)
    return GROUPS.get(key.split()[0], key)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--net", choices=["fixed", "recipe"], default="fixed")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    recipe = mnistnp.RECIPES["cnn"]
    layers, optimizer = (cnn_speed.FIXED, "adam") if args.net == "fixed" else \
        (recipe.model.layers, "nesterov")
    report.print_environment("")
    (x, y), _ = mnistnp.datasets.load("mnist")
    model, opt = cnn_speed.build(layers), cnn_speed.OPTIMIZERS[optimizer]()
    seeds = np.random.SeedSequence(cnn_speed.SEED + 1).spawn(2 * args.repeats + 1)
    states = [np.random.default_rng(s).bit_generator.state for s in seeds]  # batch orders
    plain, steps, shares = [], args.steps, defaultdict(list)
    cnn_speed.mnistnp_steps(model, opt, x, y, states.pop(), 5)  # warm up
    for _ in range(args.repeats):
        samples_per_s, _ = cnn_speed.mnistnp_steps(model, opt, x, y, states.pop(), steps)
        plain.append(cnn_speed.BATCH / samples_per_s)
        clock = Clock()
        with patched(instrumented(model, opt, clock)) as skipped:
            start = time.perf_counter()
            cnn_speed.mnistnp_steps(model, opt, x, y, states.pop(), steps)
            total = time.perf_counter() - start
        clock.seconds["loop and rest"] = total - sum(clock.seconds.values())
        by_heading: dict[str, float] = defaultdict(float)
        for key, seconds in clock.seconds.items():
            by_heading[heading(key)] += seconds
        for name, seconds in by_heading.items():
            shares[name].append(seconds / total)
        shares["instrumented step"].append(total / steps)
    step = statistics.median(plain)
    floor = gemm_floor.products_floor(list(gemm_floor.model_products(model, cnn_speed.BATCH)),
                                      1, "float32", "step")
    print(f"\n{layers}, {optimizer}, batch {cnn_speed.BATCH}, float32: {1e3 * step:.1f} ms "
          f"a step ({cnn_speed.BATCH / step:,.0f} samples/s; median of {args.repeats} repeats "
          f"of {steps} steps through Trainer.fit, min-max {1e3 * min(plain):.1f}-"
          f"{1e3 * max(plain):.1f} ms); instrumented "
          f"{1e3 * statistics.median(shares.pop('instrumented step')):.1f} ms")
    print(f"GEMM floor of the step: {floor.gflop:.2f} GFLOP, {1e3 * floor.rate_s:.1f} ms at "
          f"{floor.rate:.1f} GFLOP/s, {1e3 * floor.shapes_s:.1f} ms timed at its own shapes; "
          f"the step is {step / floor.rate_s:.2f}x / {step / floor.shapes_s:.2f}x its floor")
    if skipped:
        print(f"not found in the library, so not timed apart: {', '.join(skipped)}")
    rows = []
    for name, values in sorted(shares.items(), key=lambda kv: -statistics.median(kv[1])):
        share = statistics.median(values)
        rows.append([name, f"{100 * share:.1f}%", f"{1e3 * share * step:.2f}"])
    print(report.markdown_table(["phase", "share of the step", "ms of the plain step"], rows))
    gemm = sum(statistics.median(v) for k, v in shares.items() if k.endswith("GEMMs")) * step
    elementwise = sum(statistics.median(v) for k, v in shares.items()
                      if k.startswith("elementwise"))
    print(f"GEMMs {1e3 * gemm:.1f} ms a step, {gemm / floor.shapes_s:.2f}x their floor at "
          f"their own shapes; everything else {1e3 * (step - gemm):.1f} ms (elementwise "
          f"layers together {100 * elementwise:.1f}%)")


if __name__ == "__main__":
    main()
