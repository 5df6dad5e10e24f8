"""mnistnp's speed and memory side by side with PyTorch (CPU) and the seed notebook, in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/speed.py \\
        [--repeats 5] [--cases small-sgd small-adam wide-sgd notebook latency memory] [--quick]

Cases, each judged against the issue's target:
  small-sgd   784-50-50-50-10, SGD momentum 0.9 (lr 0.01), batch 128, float32: training
              samples/s of mnistnp's `fit` over PyTorch's idiomatic loop (target >= 3.0x)
  small-adam  the same net with Adam (lr 1e-3) (target >= 2.6x)
  wide-sgd    784-800-800-10, SGD momentum, batch 128 (target >= 1.5x)
  notebook    a full-batch (60,000) gradient-descent step, float64, lr 0.5: mnistnp's `fit`
              against the seed notebook's own algorithm, re-implemented here (target >= 1.5x),
              both as specified (dA_prev = W.T @ dZ for every layer) and without the first
              layer's dA_prev, which nothing reads (two rows: the notebook's code decides which
              is faithful, and the second is the stricter baseline). Each side's one-time
              preparation of the set (the seed's float64 copy, fit's cached Flatten output)
              is outside the per-step time
  latency     class probabilities for one uint8 (1, 28, 28) image: `predict_proba` against
              PyTorch under inference_mode (target: at most half of PyTorch's latency)
  memory      peak resident memory of `mnistnp train --epochs 1` (default recipe) (<= 400 MB)

Training cases start both implementations from the same weights (mnistnp's, copied into a
torch.nn.Sequential) and feed them the same uint8 images, scaled per batch, in the same batch
order. A repeat is one epoch (for `notebook`, a few steps) of each implementation, alternating
which goes first; one more, first, repeat warms up and is dropped. Printed: medians, min-max
spreads, ratios of medians, PASS/MISS, the BLAS that ran, and each time over its FLOP floor (the
matrix-multiply FLOPs at this machine's measured GEMM rate). `--quick` runs 2 repeats and skips
wide-sgd unless --cases names it. Without PyTorch, mnistnp's side still runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import mnistnp
from mnistnp.training import MAX_CHUNK, fit

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the comparison is optional: mnistnp's side still runs
    torch = None

NO_TORCH = "PyTorch not installed (pip install torch==2.13.0)"
SMALL, WIDE = [784, 50, 50, 50, 10], [784, 800, 800, 10]
BATCH = 128
SEED = 0
NOTEBOOK_STEPS = 5  # full-batch steps per repeat and implementation
NOTEBOOK_LR = 0.5
LATENCY_CALLS, LATENCY_WARMUP = 2000, 200
GEMM_FLOP_BUDGET = 2e9  # FLOPs per timing round of one product shape: tens of ms
FORMATS = {"samples/s": "{:,.0f}", "s/step": "{:.3f}", "µs": "{:.1f}", "MB": "{:.0f}"}


@dataclasses.dataclass
class Floor:
    """Matrix-multiply work of one epoch (or step) and the least time it can take here."""

    per: str  # "epoch" or "step"
    dtype: str
    gflop: float
    rate: float  # GFLOP/s of a 2048x2048 product
    rate_s: float  # gflop at that rate
    shapes_s: float  # the same products timed alone at the case's own shapes
    ours_s: float = math.nan  # measured median time of one epoch (or step)
    theirs_s: float = math.nan


@dataclasses.dataclass
class Result:
    """One case's measurements and how they compare with the target."""

    case: str
    unit: str  # of `ours` and `theirs`
    ours: list[float]
    theirs: list[float]  # the baseline's; empty if it did not run
    baseline: str  # what `theirs` measures ("PyTorch", "seed code"); "" if nothing
    target: str
    ratio: float | None = None  # how many times better mnistnp is; None without a baseline
    passed: bool | None = None  # None: not judged
    note: str = ""
    floor: Floor | None = None


# ---- timing helpers ----


def spread(values: Sequence[float], unit: str) -> str:
    """'median (min-max)' in the unit's format; '-' for no values."""
    if not values:
        return "-"
    fmt = FORMATS[unit]
    med = fmt.format(statistics.median(values))
    if len(values) == 1:
        return med
    return f"{med} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def alternate(runs: Sequence[Callable[[int], float] | None], repeats: int) -> list[list[float]]:
    """Call each run once per repeat, rotating which goes first; round 0 warms up and is
    dropped. A run is given the round number and returns its measurement; None is skipped."""
    out: list[list[float]] = [[] for _ in runs]
    order = list(range(len(runs)))
    for r in range(repeats + 1):
        for i in order[r % len(order):] + order[:r % len(order)]:
            run = runs[i]
            if run is not None:
                value = run(r)
                if r:
                    out[i].append(value)
    return out


def best_call_seconds(f: Callable[[], object], number: int, rounds: int = 7) -> float:
    """The least, over ``rounds``, mean time of ``number`` calls, after one warm-up call: a
    floor is the least time a product takes, so the rounds slowed by other processes on a
    shared machine are not what it should report."""
    f()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            f()
        times.append((time.perf_counter() - start) / number)
    return min(times)


def median_call_us(f: Callable[[], object]) -> float:
    """Median latency of single calls, in µs, after a warm-up."""
    for _ in range(LATENCY_WARMUP):
        f()
    times = []
    for _ in range(LATENCY_CALLS):
        start = time.perf_counter_ns()
        f()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1e3


# ---- the FLOP floor ----


def gemm_seconds(m: int, k: int, n: int, dtype: str, trans_a: bool = False,
                 trans_b: bool = False) -> float:
    """Seconds of one (m, k) @ (k, n) product into a preallocated output, with the operands
    laid out as the layers hold them (a transposed operand is a .T view, as in backward)."""
    rng = np.random.default_rng(0)
    a = rng.random((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.random((n, k) if trans_b else (k, n)).astype(dtype)
    a, b = (a.T if trans_a else a), (b.T if trans_b else b)
    out = np.empty((m, n), dtype)
    number = max(1, int(GEMM_FLOP_BUDGET / (2 * m * k * n)))
    return best_call_seconds(lambda: np.matmul(a, b, out=out), number)


@functools.cache
def gemm_rate(dtype: str) -> float:
    """This machine's GEMM rate in GFLOP/s: the best of a 2048x2048 product, default threads."""
    rate = 2 * 2048**3 / gemm_seconds(2048, 2048, 2048, dtype) / 1e9
    print(f"  {dtype} GEMM rate: {rate:.1f} GFLOP/s (2048x2048 np.matmul, best of 7)",
          flush=True)
    return rate


def layer_products(sizes: Sequence[int], rows: int) -> Iterator[tuple[int, int, int, bool, bool]]:
    """(m, k, n, trans_a, trans_b) of every product one batch of ``rows`` needs."""
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        yield rows, n_in, n_out, False, False  # forward x @ W
        yield n_in, rows, n_out, True, False  # dW = x.T @ g
        if i:  # dx = g @ W.T; never needed for the first layer
            yield rows, n_out, n_in, False, True


@functools.cache
def batch_gemm_seconds(sizes: tuple[int, ...], rows: int, dtype: str) -> float:
    """Seconds of one batch's products, each timed alone (cached: cases share shapes)."""
    return sum(gemm_seconds(m, k, p, dtype, ta, tb)
               for m, k, p, ta, tb in layer_products(sizes, rows))


def flop_floor(sizes: Sequence[int], n: int, rows: int, dtype: str, per: str) -> Floor:
    """The products of ``n`` samples taken ``rows`` at a time: FLOPs, and their time both at
    the 2048x2048 rate and timed at their own shapes."""
    batches = n / rows
    gflop = sum(2 * m * k * p for m, k, p, _, _ in layer_products(sizes, rows)) * batches / 1e9
    rate = gemm_rate(dtype)
    shapes_s = batch_gemm_seconds(tuple(sizes), rows, dtype) * batches
    return Floor(per, dtype, gflop, rate, gflop / rate, shapes_s)


# ---- training cases: mnistnp's fit against PyTorch's loop ----


OPTIMIZERS: dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]] = {
    "sgd": (lambda: mnistnp.SGD(0.01, momentum=0.9),
            lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9)),
    "adam": (lambda: mnistnp.Adam(1e-3), lambda params: torch.optim.Adam(params, lr=1e-3)),
}


def torch_twin(model: mnistnp.Sequential) -> Any:
    """A torch.nn.Sequential of Linear + ReLU holding a copy of ``model``'s weights."""
    dense = [layer for layer in model.layers if isinstance(layer, mnistnp.Dense)]
    layers = []
    for i, d in enumerate(dense):
        linear = torch.nn.Linear(d.in_features, d.out_features)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(d.W.T.copy()))  # (in, out) -> (out, in)
            linear.bias.copy_(torch.from_numpy(d.b.copy()))
        layers += [linear] if i == len(dense) - 1 else [linear, torch.nn.ReLU()]
    return torch.nn.Sequential(*layers)


def mnistnp_epoch(model: mnistnp.Sequential, opt: Any, x: np.ndarray, y: np.ndarray,
                  rng_state: dict[str, Any]) -> float:
    """One epoch through the public ``fit``; returns samples/s (wall time of the call)."""
    rng = np.random.default_rng()
    rng.bit_generator.state = rng_state  # so fit draws the very permutation PyTorch is given
    start = time.perf_counter()
    fit(model, x, y, opt, rng=rng, epochs=1, batch_size=BATCH, progress=False)
    return len(x) / (time.perf_counter() - start)


def torch_epoch(net: Any, opt: Any, images: Any, labels: Any, order: np.ndarray) -> float:
    """One epoch of the idiomatic PyTorch loop over the batches of ``order``; samples/s."""
    index = torch.from_numpy(order)
    start = time.perf_counter()
    for s in range(0, len(order), BATCH):
        idx = index[s:s + BATCH]
        xb = images[idx].float().mul_(1 / 255)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(xb), labels[idx])
        loss.backward()
        opt.step()
    return len(order) / (time.perf_counter() - start)


def test_accuracies(model: mnistnp.Sequential, net: Any, test: tuple[np.ndarray, ...]) -> str:
    """Both models' test accuracy after training: they should be close if they trained alike."""
    x, y = test
    ours = float(np.mean(model.predict(x) == y))
    if net is None:
        return f"test accuracy after training: mnistnp {100 * ours:.2f}%"
    with torch.inference_mode():
        logits = net(torch.from_numpy(x.reshape(len(x), -1)).float().mul_(1 / 255))
    theirs = float(np.mean(logits.argmax(1).numpy() == y))
    return f"test accuracy after training: mnistnp {100 * ours:.2f}%, PyTorch {100 * theirs:.2f}%"


def training_case(name: str, sizes: list[int], optimizer: str, target: float, repeats: int,
                  data: tuple[tuple[np.ndarray, ...], ...]) -> Result:
    """Train the same net from the same weights, one epoch per repeat in each framework."""
    (x, y), test = data
    model = mnistnp.nn.mlp(sizes, np.random.default_rng(SEED), "float32")
    make_ours, make_theirs = OPTIMIZERS[optimizer]
    opt = make_ours()
    order_rng = np.random.default_rng(SEED + 1)
    states, orders = [], []
    for _ in range(repeats + 1):  # the batch order of every epoch, drawn once for both
        states.append(dict(order_rng.bit_generator.state))
        orders.append(order_rng.permutation(len(x)))
    runs: list[Callable[[int], float] | None] = [
        lambda r: mnistnp_epoch(model, opt, x, y, states[r]), None]
    net = None
    if torch is not None:
        net = torch_twin(model)
        topt = make_theirs(net.parameters())
        images = torch.from_numpy(x.reshape(len(x), -1).copy())
        labels = torch.from_numpy(y.astype(np.int64))
        runs[1] = lambda r: torch_epoch(net, topt, images, labels, orders[r])
    ours, theirs = alternate(runs, repeats)
    result = Result(name, "samples/s", ours, theirs, "PyTorch",
                    f">= {target:.1f}x", note=test_accuracies(model, net, test))
    judge_higher(result, target)
    result.floor = flop_floor(sizes, len(x), BATCH, "float32", "epoch")
    result.floor.ours_s = len(x) / statistics.median(ours)
    if theirs:
        result.floor.theirs_s = len(x) / statistics.median(theirs)
    return result


def judge_higher(result: Result, target: float) -> None:
    """Ratio of medians (higher is better for mnistnp) and PASS/MISS against ``target``."""
    if result.theirs:
        result.ratio = statistics.median(result.ours) / statistics.median(result.theirs)
        result.passed = result.ratio >= target


# ---- the notebook case: mnistnp's full-batch step against the seed notebook's own code ----


def seed_softmax(z: np.ndarray) -> np.ndarray:
    """The notebook's softmax over each column: not max-shifted (it can overflow)."""
    e = np.exp(z)
    return e / np.sum(e, axis=0, keepdims=True)


def seed_forward(x: np.ndarray, ws: list[np.ndarray], bs: list[np.ndarray]) -> tuple[
        np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Z = W @ A + b, ReLU between layers, softmax last; caches (A_prev, Z) per layer."""
    a, caches = x, []
    for i, (w, b) in enumerate(zip(ws, bs)):
        z = w @ a + b
        caches.append((a, z))
        a = seed_softmax(z) if i == len(ws) - 1 else np.maximum(0, z)
    return a, caches


def seed_backward(al: np.ndarray, y: np.ndarray, caches: list[tuple[np.ndarray, np.ndarray]],
                  ws: list[np.ndarray], first_da: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """The notebook's backward pass; returns (dW, db) per layer, first layer first.

    ``first_da``: also compute the first layer's dA_prev = W1.T @ dZ1 (784 x m), which nothing
    reads, as a generic linear_backward does; False skips it.
    """
    m = y.shape[1]
    dz = al - y
    grads = []
    for i in reversed(range(len(ws))):
        a_prev, _ = caches[i]
        grads.append((dz @ a_prev.T / m, np.sum(dz, axis=1, keepdims=True) / m))
        if i or first_da:
            da_prev = ws[i].T @ dz
        if i:
            dz = da_prev * (caches[i - 1][1] > 0)  # ReLU backward, without mutating Z
    return grads[::-1]


def seed_step(x: np.ndarray, y: np.ndarray, ws: list[np.ndarray], bs: list[np.ndarray],
              first_da: bool) -> float:
    """One full-batch step of the notebook, fresh arrays throughout; returns the cost."""
    al, caches = seed_forward(x, ws, bs)
    cost = -np.mean(np.sum(y * np.log(al), axis=0))
    for w, b, (dw, db) in zip(ws, bs, seed_backward(al, y, caches, ws, first_da)):
        w -= NOTEBOOK_LR * dw
        b -= NOTEBOOK_LR * db
    return float(cost)


def seed_run(x: np.ndarray, y: np.ndarray, model: mnistnp.Sequential, first_da: bool,
             costs: dict[str, float], key: str) -> Callable[[int], float]:
    """Steps of the notebook's code from ``model``'s weights now, timed; s/step."""
    dense = [layer for layer in model.layers if isinstance(layer, mnistnp.Dense)]
    ws = [d.W.T.copy() for d in dense]  # (n_l, n_{l-1}), the notebook's layout
    bs = [d.b[:, None].copy() for d in dense]

    def run(_: int) -> float:
        start = time.perf_counter()
        for _ in range(NOTEBOOK_STEPS):
            costs[key] = seed_step(x, y, ws, bs, first_da)
        return (time.perf_counter() - start) / NOTEBOOK_STEPS

    return run


def mnistnp_steps_run(model: mnistnp.Sequential, x: np.ndarray, y: np.ndarray,
                      costs: dict[str, float]) -> Callable[[int], float]:
    """Full-batch steps through the public ``fit``, timed by fit's own per-epoch clock (a
    full-batch epoch is one step); s/step. Like the seed code's ``/ 255.0``, made once outside
    its timing, fit's one-time float copy of the set (``fixed_inputs``) is outside this."""
    opt = mnistnp.SGD(NOTEBOOK_LR)

    def run(_: int) -> float:
        history = fit(model, x, y, opt, rng=np.random.default_rng(SEED),
                      iterations=NOTEBOOK_STEPS, batch_size=None, progress=False)
        costs["mnistnp"] = history.costs[-1]
        return history.seconds / NOTEBOOK_STEPS

    return run


def notebook_case(repeats: int, data: tuple[tuple[np.ndarray, ...], ...]) -> list[Result]:
    """Seconds per full-batch float64 step: mnistnp's ``fit`` against the notebook's code, as
    specified (dA_prev for every layer) and without the first layer's unused dA_prev."""
    (x, y), _ = data
    model = mnistnp.nn.mlp(SMALL, np.random.default_rng(SEED), "float64")
    seed_x = x.reshape(len(x), -1).T / 255.0  # (784, m) float64, made once as the notebook did
    seed_y = np.eye(10)[y].T  # (10, m) one-hot
    costs: dict[str, float] = {}
    runs = [seed_run(seed_x, seed_y, model, True, costs, "seed code"),
            seed_run(seed_x, seed_y, model, False, costs, "seed code, no layer-1 dA"),
            mnistnp_steps_run(model, x, y, costs)]
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        full, skipped, mine = alternate(runs, repeats)
    floor = flop_floor(SMALL, len(x), min(len(x), MAX_CHUNK), "float64", "step")
    floor.ours_s = statistics.median(mine)
    note = ("cost before the last step (same weights, should agree): " +
            ", ".join(f"{k} {v:.6f}" for k, v in costs.items()))
    results = []
    for label, seed in (("dA_prev every layer", full), ("no layer-1 dA_prev", skipped)):
        result = Result(f"notebook step, float64, vs seed code ({label})", "s/step", mine,
                        seed, "seed code", ">= 1.5x", note=note if not results else "")
        result.ratio = statistics.median(seed) / statistics.median(mine)
        result.passed = result.ratio >= 1.5
        result.floor = dataclasses.replace(floor, theirs_s=statistics.median(seed))
        results.append(result)
    return results


# ---- prediction latency and peak memory ----


def latency_case(repeats: int, data: tuple[tuple[np.ndarray, ...], ...]) -> Result:
    """Median latency of class probabilities for one (1, 28, 28) uint8 image."""
    _, (x_test, _) = data
    model = mnistnp.nn.mlp(SMALL, np.random.default_rng(SEED), "float32")
    image = x_test[:1]
    runs: list[Callable[[int], float] | None] = [
        lambda _: median_call_us(lambda: model.predict_proba(image)), None]
    if torch is not None:
        net = torch_twin(model)
        timage = torch.from_numpy(image.copy())

        def torch_proba() -> Any:
            with torch.inference_mode():
                return net(timage.reshape(1, -1).float().mul_(1 / 255)).softmax(1)

        if not np.allclose(torch_proba().numpy(), model.predict_proba(image), atol=1e-5):
            raise AssertionError("mnistnp and PyTorch disagree on the image's probabilities")
        runs[1] = lambda _: median_call_us(torch_proba)
    ours, theirs = alternate(runs, repeats)
    result = Result("one-image prediction latency", "µs", ours, theirs, "PyTorch",
                    ">= 2.0x (half the latency)",
                    note=f"median of {LATENCY_CALLS} calls per repeat")
    if theirs:
        result.ratio = statistics.median(theirs) / statistics.median(ours)
        result.passed = result.ratio >= 2.0
    return result


def mnistnp_command() -> list[str]:
    """The `mnistnp` script installed beside this Python, else `python -m mnistnp.cli`."""
    script = Path(sys.executable).parent / "mnistnp"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "mnistnp.cli"]


def memory_case(repeats: int, data: object) -> Result:
    """Peak resident memory of `mnistnp train` (default recipe, 1 epoch), run once."""
    flags = ["train", "--no-progress", "--epochs", "1"]
    timer = Path("/usr/bin/time")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [*mnistnp_command(), *flags, "--run-dir", tmp]
        if timer.is_file():
            cmd = [str(timer), "-v", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    how = f"`mnistnp {' '.join(flags)} --run-dir <tmp>`"
    if proc.returncode:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        return Result("peak memory of mnistnp train", "MB", [], [], "", "<= 400 MB",
                      note=f"{how} failed ({proc.returncode}): {tail[0]}")
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if found:
        kbytes, tool = int(found.group(1)), "/usr/bin/time -v"
    else:  # no GNU time: the largest child this process has waited for (kB on Linux)
        kbytes, tool = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "getrusage"
    peak = kbytes / 1024
    return Result("peak memory of mnistnp train", "MB", [peak], [], "", "<= 400 MB",
                  passed=peak <= 400, note=f"{how}, measured with {tool}")


# ---- reporting ----


def print_environment() -> None:
    """Versions, the BLAS NumPy runs on, torch's threads and the OpenBLAS variables."""
    print(f"Python {sys.version.split()[0]}, NumPy {np.__version__}, mnistnp "
          f"{mnistnp.__version__}; {os.cpu_count()} CPUs, load average "
          f"{', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        print("BLAS: unknown (pip install threadpoolctl)")
    else:
        for info in threadpool_info():
            if info.get("user_api") == "blas":
                owner = "NumPy" if "numpy" in info["filepath"] else Path(info["filepath"]).name
                print(f"{owner} BLAS: {info['internal_api']} {info.get('version')}, "
                      f"{info.get('architecture')} kernel, {info['num_threads']} threads")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                "OMP_NUM_THREADS"):
        print(f"  {var}: {os.environ.get(var, 'not set')}")
    if torch is None:
        print(NO_TORCH)
        return
    info = torch.__config__.parallel_info().splitlines()
    backend = next((line.strip() for line in info if "parallel backend" in line), "")
    blas = next((line.split(" for ")[0].strip() for line in info if "Math Kernel" in line), "")
    print(f"PyTorch {torch.__version__}: {torch.get_num_threads()} threads (the default), "
          f"{backend}; {blas}")


def print_result(result: Result) -> None:
    """One case's line as soon as it is measured."""
    line = f"  {result.case}: mnistnp {spread(result.ours, result.unit)} {result.unit}"
    if result.theirs:
        line += f"; {result.baseline} {spread(result.theirs, result.unit)}"
    if result.ratio is not None:
        line += f"; ratio {result.ratio:.2f}x"
    print(line + (f"; {result.note}" if result.note else ""), flush=True)


def status(result: Result) -> str:
    return {True: "PASS", False: "MISS", None: "n/a"}[result.passed]


def markdown_table(head: Sequence[str], rows: list[list[str]]) -> str:
    """A padded Markdown table."""
    widths = [max(len(row[i]) for row in [list(head), *rows]) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows)])


def print_tables(results: list[Result]) -> None:
    """The results table, then the FLOP-floor table."""
    rows = []
    for r in results:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        if r.baseline == "PyTorch" and torch is None:
            ratio = NO_TORCH
        rows.append([r.case, r.unit, spread(r.ours, r.unit),
                     f"{r.baseline} {spread(r.theirs, r.unit)}" if r.theirs else "-",
                     ratio, r.target, status(r)])
    print(markdown_table(["case", "unit", "mnistnp median (min-max)",
                          "baseline median (min-max)", "ratio", "target", "result"], rows))
    floors = [r for r in results if r.floor is not None]
    if not floors:
        return
    rows = []
    for r in floors:
        f = r.floor
        assert f is not None
        theirs = "-" if math.isnan(f.theirs_s) else \
            f"{f.theirs_s / f.rate_s:.2f}x / {f.theirs_s / f.shapes_s:.2f}x"
        rows.append([r.case, f"{f.dtype}, per {f.per}", f"{f.gflop:.2f}", f"{f.rate:.1f}",
                     f"{f.rate_s:.4f}", f"{f.shapes_s:.4f}",
                     f"{f.ours_s / f.rate_s:.2f}x / {f.ours_s / f.shapes_s:.2f}x", theirs])
    print("\nFLOP floor: measured time over the least time of the epoch's (step's) matrix "
          "products alone,\nat the best 2048x2048 GEMM rate / each product timed (best of 7) "
          "at the case's own shapes")
    print(markdown_table(["case", "", "GFLOP", "GFLOP/s", "floor s (rate)", "floor s (shapes)",
                          "mnistnp x over floor", "baseline x over floor"], rows))


# ---- command line ----


CASES: dict[str, Callable[[int, Any], Result | list[Result]]] = {
    "small-sgd": functools.partial(training_case, "784-50-50-50-10 SGD momentum", SMALL,
                                   "sgd", 3.0),
    "small-adam": functools.partial(training_case, "784-50-50-50-10 Adam", SMALL, "adam", 2.6),
    "wide-sgd": functools.partial(training_case, "784-800-800-10 SGD momentum", WIDE, "sgd",
                                  1.5),
    "notebook": notebook_case,
    "latency": latency_case,
    "memory": memory_case,
}


def parse_args(argv: Sequence[str] | None) -> tuple[int, list[str]]:
    """The number of repeats and the cases to run, validated."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=None,
                        help="measured repeats per case after one warm-up (default 5; 2 quick)")
    parser.add_argument("--cases", nargs="+", default=None, metavar="CASE",
                        help=f"cases to run, by name (space or comma separated): "
                             f"{', '.join(CASES)}")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 2 repeats, no wide-sgd unless --cases names it")
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (2 if args.quick else 5)
    if repeats < 1:
        parser.error(f"--repeats must be at least 1, got {repeats}")
    if args.cases is None:
        return repeats, [c for c in CASES if not (args.quick and c == "wide-sgd")]
    cases = [c for item in args.cases for c in item.split(",") if c]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case {unknown[0]!r}; choose from {', '.join(CASES)}")
    return repeats, cases


def main(argv: Sequence[str] | None = None) -> int:
    repeats, cases = parse_args(argv)
    print_environment()
    print(f"{repeats} repeats per case after a warm-up; cases: {', '.join(cases)}\n", flush=True)
    data = mnistnp.datasets.load()
    results, failed = [], False
    for name in cases:
        print(f"{name} (load average {os.getloadavg()[0]:.2f}):", flush=True)
        try:
            out = CASES[name](repeats, data)
        except Exception:  # one broken case must not hide the others' numbers
            traceback.print_exc()
            failed = True
            continue
        for result in out if isinstance(out, list) else [out]:
            print_result(result)
            results.append(result)
    print(f"\nload average at the end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}\n")
    print_tables(results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
