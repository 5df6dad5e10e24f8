"""What mnistnp's own threads (nn/threads.py) buy a CNN training step, and one-image CNN
prediction beside PyTorch's, with the same weights.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python lab/cnn_threads.py \\
        [--cases step split im2col latency] [--repeats 5] [--steps 10] [--src OTHER/src]

``step``: whole training steps (forward, softmax cross-entropy, backward, optimizer) of the
fixed benchmark CNN (conv 32 5x5 same, maxpool 2, conv 64 5x5 same, maxpool 2, dense 128;
batch 128, float32, Adam) and of the ``cnn`` recipe's layers (its augmentation included,
Nesterov SGD with weight decay as the recipe), with 1 and with 2 of mnistnp's threads,
OpenBLAS at 2 threads either way, beside PyTorch's step of the fixed CNN (2 threads);
alternated repeats, medians of the per-step time. ``split``: one pass (im2col, col2im, a
ReLU) at several sizes, 1 against 2 threads, after a GEMM as in a step, to set the threshold
``threads.MIN_SPLIT``. ``im2col``: its one strided copy against its kh*kw copies by batch
size (``columns.FEW_IMAGES``). ``latency``: ``predict_proba`` of one uint8 (1, 28, 28) image by the
fixed CNN against PyTorch's same network under ``torch.inference_mode()``, at 1 and 2
threads (BLAS and PyTorch), medians over many calls, alternated. ``--src`` imports mnistnp
from another source tree (e.g. main's, from ``git archive``) for a before/after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

FIXED = "conv:32:5,maxpool:2,conv:64:5,maxpool:2,dense:128"
BATCH, SEED = 128, 0


def load_mnistnp(src: str | None) -> Any:
    if src:
        sys.path.insert(0, str(Path(src).resolve()))
    import mnistnp

    return mnistnp


def blas_line() -> str:
    from threadpoolctl import threadpool_info

    return "; ".join(f"{Path(i['filepath']).name}: {i['internal_api']} {i.get('version')} "
                     f"{i.get('architecture')} kernel, {i['num_threads']} threads"
                     for i in threadpool_info() if i.get("user_api") == "blas")


def set_threads(mnistnp: Any, blas: int, ours: int | None) -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(blas, user_api="blas")
    if ours is not None:
        mnistnp.nn.threads.set_num_threads(ours)


# ---- the training step ----


def step_run(mnistnp: Any, model: Any, opt: Any, x: np.ndarray, y: np.ndarray, steps: int,
             threads: int) -> Callable[[int], float]:
    """``steps`` training steps on the same batch with ``threads`` of ours; s/step."""
    from mnistnp.nn import softmax_cross_entropy

    def run(_: int) -> float:
        mnistnp.nn.threads.set_num_threads(threads)
        start = time.perf_counter()
        for _ in range(steps):
            logits = model.forward(x, training=True)
            _, grad = softmax_cross_entropy(logits, y)
            model.backward(grad)
            opt.step(model.params, model.grads)
        return (time.perf_counter() - start) / steps

    return run


def torch_cnn(model: Any) -> Any:
    """PyTorch's twin of the fixed CNN, holding ``model``'s weights."""
    import torch

    from mnistnp.nn import Conv2D, Dense
    convs = [layer for layer in model.layers if isinstance(layer, Conv2D)]
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 32, 5, padding="same"), nn.MaxPool2d(2), nn.ReLU(),
                        nn.Conv2d(32, 64, 5, padding="same"), nn.MaxPool2d(2), nn.ReLU(),
                        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
    with torch.no_grad():
        for conv, ours in zip([net[0], net[3]], convs, strict=True):
            conv.weight.copy_(torch.from_numpy(ours.W.copy()))
            conv.bias.copy_(torch.from_numpy(ours.b.copy()))
        for linear, ours in zip([net[7], net[9]], dense, strict=True):
            linear.weight.copy_(torch.from_numpy(ours.W.T.copy()))
            linear.bias.copy_(torch.from_numpy(ours.b.copy()))
    return net


def torch_step_run(net: Any, x: np.ndarray, y: np.ndarray, steps: int) -> Callable[[int], float]:
    import torch
    import torch.nn.functional as F

    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x.copy()), torch.from_numpy(y.astype(np.int64))

    def run(_: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(net(xt.float().mul_(1 / 255).unsqueeze(1)), yt)
            loss.backward()
            opt.step()
        return (time.perf_counter() - start) / steps

    return run


def step_case(mnistnp: Any, repeats: int, steps: int) -> None:
    from harness import alternate

    from mnistnp.config import RECIPES
    (x, y), _ = mnistnp.datasets.load()
    xb, yb = x[:BATCH], y[:BATCH]
    recipe = RECIPES["cnn"]
    cases = [("fixed CNN, Adam", FIXED, lambda: mnistnp.Adam(1e-3)),
             ("recipe CNN, Nesterov SGD", recipe.model.layers,
              lambda: recipe.optimizer.build())]
    set_threads(mnistnp, 2, None)
    try:
        import torch
        torch.set_num_threads(2)
    except ImportError:
        torch = None
    print(f"step: BLAS {blas_line()}; batch {BATCH}, {steps} steps per repeat")
    for name, layers, make_opt in cases:
        runs: list[Any] = []
        for threads in (1, 2):
            model = mnistnp.network(layers, (28, 28), 10, rng=np.random.default_rng(SEED))
            runs.append(step_run(mnistnp, model, make_opt(), xb, yb, steps, threads))
        if torch is not None and layers == FIXED:
            model = mnistnp.network(layers, (28, 28), 10, rng=np.random.default_rng(SEED))
            runs.append(torch_step_run(torch_cnn(model), xb, yb, steps))
        results = alternate(runs, repeats)
        mnistnp.nn.threads.set_num_threads(None)
        one, two = (1e3 * statistics.median(r) for r in results[:2])
        line = (f"  {name}: ms/step, our threads 1: {one:.1f}, 2: {two:.1f} "
                f"({one / two:.2f}x)")
        if len(results) > 2:
            theirs = 1e3 * statistics.median(results[2])
            line += (f"; PyTorch (2 threads) {theirs:.1f}, throughput ratio to it "
                     f"{theirs / one:.2f}x / {theirs / two:.2f}x")
        print(line + f"  [repeats: {[round(1e3 * v, 1) for v in results[0]]} / "
              f"{[round(1e3 * v, 1) for v in results[1]]}]")


# ---- the threshold ----


def split_case(mnistnp: Any, repeats: int) -> None:
    """µs of one pass with 1 and 2 threads, right after a GEMM (whose BLAS threads then
    spin) as in a training step, at sizes around the threshold."""
    set_threads(mnistnp, 2, None)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((64, 800), dtype=np.float32)
    b = rng.standard_normal((800, 1024), dtype=np.float32)
    saved = mnistnp.nn.threads.MIN_SPLIT
    mnistnp.nn.threads.MIN_SPLIT = 1
    print(f"split: BLAS {blas_line()}; µs per pass after a (64x800)@(800x1024) GEMM, median "
          "of 30 calls, 1 / 2 threads")
    for n in (2, 8, 32, 128):
        split_size(mnistnp, n, lambda: a @ b, repeats)
    mnistnp.nn.threads.MIN_SPLIT = saved
    mnistnp.nn.threads.set_num_threads(None)


def split_size(mnistnp: Any, n: int, gemm: Callable[[], Any], repeats: int) -> None:
    """The passes of the second conv layer of the fixed CNN for a batch of ``n``."""
    from harness import alternate

    from mnistnp.nn import columns
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 32, 14, 14), dtype=np.float32)
    xp = np.zeros((32, n, 18, 18), np.float32).transpose(1, 0, 2, 3)
    cols = np.empty((32, 5, 5, n, 14, 14), np.float32)
    dxp = np.empty((32, n, 18, 18), np.float32)
    spread = np.empty_like(dxp)
    relu = mnistnp.ReLU()
    passes = {"im2col": lambda: columns.im2col(xp, (5, 5), (1, 1), cols),
              "col2im": lambda: columns.col2im(cols, (1, 1), dxp, spread),
              "relu fwd": lambda: relu.forward(x, training=True)}
    for name, f in passes.items():
        def timed(threads: int, f: Callable[[], Any] = f) -> Callable[[int], float]:
            def run(_: int) -> float:
                mnistnp.nn.threads.set_num_threads(threads)
                times = []
                for _ in range(30):
                    gemm()
                    start = time.perf_counter()
                    f()
                    times.append(time.perf_counter() - start)
                return statistics.median(times)
            return run
        one, two = alternate([timed(1), timed(2)], repeats)
        size = cols.size if name != "relu fwd" else x.size
        print(f"  {name:9s} {size:>9,} elements: {1e6 * statistics.median(one):8.1f} / "
              f"{1e6 * statistics.median(two):8.1f} µs")


def im2col_case(repeats: int) -> None:
    """µs of the second conv's im2col as one strided copy and as kh*kw copies, one thread,
    by batch size: where ``FEW_IMAGES`` should end."""
    from harness import alternate, median_call_us

    from mnistnp.nn import columns
    print("im2col: 32 channels 18x18 padded, 5x5, µs (median of 30 calls): strided / looped")
    for n in (1, 4, 8, 16, 32, 128):
        xp = np.zeros((32, n, 18, 18), np.float32).transpose(1, 0, 2, 3)
        cols = np.empty((32, 5, 5, n, 14, 14), np.float32)
        one, loop = alternate([
            lambda _, xp=xp, cols=cols: median_call_us(
                lambda: columns._im2col_strided(xp, (1, 1), cols), 30, 3),
            lambda _, xp=xp, cols=cols: median_call_us(
                lambda: columns._im2col(xp, (1, 1), cols), 30, 3)], repeats)
        print(f"  batch {n:3d}: {statistics.median(one):8.1f} / {statistics.median(loop):8.1f}")


# ---- one-image prediction ----


def latency_case(mnistnp: Any, repeats: int, calls: int) -> None:
    from harness import alternate, median_call_us

    _, (x_test, _) = mnistnp.datasets.load()
    image = x_test[:1]
    model = mnistnp.network(FIXED, (28, 28), 10, rng=np.random.default_rng(SEED))
    try:
        import torch
    except ImportError:
        torch = None
    for threads in (1, 2):
        set_threads(mnistnp, threads, threads)
        runs: list[Any] = [lambda _: median_call_us(lambda: model.predict_proba(image),
                                                   calls, 200), None]
        if torch is not None:
            torch.set_num_threads(threads)
            net = torch_cnn(model).eval()
            timage = torch.from_numpy(image.copy())

            def proba(net: Any = net, timage: Any = timage) -> Any:
                with torch.inference_mode():
                    return net(timage.reshape(1, 1, 28, 28).float().mul_(1 / 255)).softmax(1)

            if not np.allclose(proba().numpy(), model.predict_proba(image), atol=1e-5):
                raise AssertionError("mnistnp and PyTorch disagree on the image's probabilities")
            runs[1] = lambda _, proba=proba: median_call_us(proba, calls, 200)
        ours, theirs = alternate(runs, repeats)
        line = f"  {threads} thread(s): mnistnp {statistics.median(ours):.0f} µs"
        if theirs:
            line += (f", PyTorch {statistics.median(theirs):.0f} µs, mnistnp / PyTorch time "
                     f"{statistics.median(ours) / statistics.median(theirs):.2f}x")
        print(line + f"  [ours {[round(v) for v in ours]}]")
    set_threads(mnistnp, 1, None)
    layer_profile(model, image, calls)
    mnistnp.nn.threads.set_num_threads(None)


def layer_profile(model: Any, image: np.ndarray, calls: int) -> None:
    """Median µs of each layer's evaluation forward on one image (1 thread), and softmax."""
    from harness import median_call_us

    from mnistnp.nn import softmax
    print("  per layer, µs (median of calls, 1 thread):")
    h = image
    for layer in model.layers:
        us = median_call_us(lambda layer=layer, h=h: layer.forward(h), calls, 50)
        print(f"    {layer!r:32s} {us:7.1f}")
        h = layer.forward(h)
    print(f"    {'softmax':32s} {median_call_us(lambda: softmax(h), calls, 50):7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=["step", "split", "im2col", "latency"],
                        choices=["step", "split", "im2col", "latency"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--src", help="import mnistnp from this source tree instead")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))  # harness
    mnistnp = load_mnistnp(args.src)
    print(f"mnistnp from {Path(mnistnp.__file__).parent}; NumPy {np.__version__}; "
          f"{os.cpu_count()} CPUs, load average "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                "MNISTNP_NUM_THREADS"):
        print(f"  {var}: {os.environ.get(var, 'not set')}")
    has_threads = hasattr(getattr(mnistnp, "nn", None), "threads")
    if not has_threads:  # the tree before nn/threads.py: latency only
        import types

        mnistnp.nn.threads = types.SimpleNamespace(set_num_threads=lambda n: None)
    if "step" in args.cases and has_threads:
        step_case(mnistnp, args.repeats, args.steps)
    if "split" in args.cases and has_threads:
        split_case(mnistnp, args.repeats)
    if "im2col" in args.cases and has_threads:
        set_threads(mnistnp, 1, 1)
        im2col_case(args.repeats)
    if "latency" in args.cases:
        print("latency: one uint8 (1, 28, 28) image, predict_proba, fixed CNN")
        latency_case(mnistnp, args.repeats, args.calls)


if __name__ == "__main__":
    main()
