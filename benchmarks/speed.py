"""mnistnp's speed and memory side by side with PyTorch (CPU) and the seed notebook, in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/speed.py \\
        [--repeats 5] [--cases small-sgd small-adam wide-sgd notebook latency memory cnn
                   cnn-recipe cnn-latency] [--quick]

Cases, each judged against its target:
  small-sgd   784-50-50-50-10, SGD momentum 0.9 (lr 0.01), batch 128, float32: training
              samples/s of mnistnp's `fit` over PyTorch's idiomatic loop (target >= 3.0x)
  small-adam  the same net with Adam (lr 1e-3) (target >= 2.6x)
  wide-sgd    784-800-800-10, SGD momentum, batch 128 (target >= 1.5x)
  notebook    a full-batch (60,000) gradient-descent step, float64, lr 0.5: mnistnp's `fit`
              against the seed notebook's own code (seed_notebook.py: its forward_prop,
              compute_cost, back_prop and optimize, as written) (target >= 1.5x). Each side's
              one-time preparation of the set (the notebook's `/ 255.` copy, fit's float copy
              of the inputs) is outside the per-step time
  latency     class probabilities for one uint8 (1, 28, 28) image: `predict_proba` against
              PyTorch under inference_mode (target: at most half of PyTorch's latency)
  memory      peak resident memory of `mnistnp train --epochs 1` (default recipe) (<= 400 MB)
  cnn         the fixed benchmark CNN, conv:32:5,maxpool:2,conv:64:5,maxpool:2,dense:128, Adam
              (lr 1e-3), batch 128, float32: training samples/s over PyTorch's (target >= 0.9x)
  cnn-recipe  the cnn recipe's network (3x3 convolutions with batch norm) and optimizer (Nesterov
              SGD, momentum 0.9, L2 5e-4, its peak rate, no schedule), without its augmentation
              and dropout on either side (their random draws cannot match) (target >= 1.0x)
  cnn-latency the fixed CNN's class probabilities for one uint8 image, `predict_proba` against
              PyTorch under inference_mode (target >= 1.2x: PyTorch's time over mnistnp's)
  The CNN cases time each side alone in its own process (cnn_side.py), as a user runs one or
  the other, with the thread settings each has as installed.

Training cases start both implementations from the same weights (mnistnp's, copied into a
torch.nn.Sequential) and feed them the same uint8 images, scaled per batch, in the same batch
order. A repeat is one epoch (for `notebook`, a few steps; for the CNNs, 60 steps, through the
loop `fit` runs) of each implementation, alternating which goes first; one more, first, repeat
warms up and is dropped. Before timing a CNN, both sides take 5 steps from the same weights and
their losses must agree (printed). Printed: medians, min-max
spreads, ratios of medians, PASS/MISS, the BLAS that ran, and each time over its FLOP floor (the
matrix-multiply FLOPs, conv layers' included, at this machine's measured GEMM rate). The three
CNN cases add under 2 minutes to a default run (101 s on 2 AVX-512 cores); `--quick` runs 2
repeats and skips wide-sgd and cnn-recipe unless --cases names them. Without PyTorch, mnistnp's
side still runs.

The pieces, one file each beside this one: harness.py (timing), gemm_floor.py (the floor),
torch_twin.py (PyTorch's side), seed_notebook.py (the notebook's code), report.py (the output),
cnn_speed.py (the CNN cases) with torch_cnn.py (PyTorch's CNN twin) and cnn_side.py (one side
of a CNN case in its own process).
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cnn_speed
import gemm_floor
import numpy as np
import report
import seed_notebook
import torch_twin
from harness import Run, alternate, latency_pair
from report import Result
from torch_twin import torch

import mnistnp

SMALL, WIDE = [784, 50, 50, 50, 10], [784, 800, 800, 10]
BATCH = 128
SEED = 0
NOTEBOOK_STEPS = 5  # full-batch steps per repeat and implementation
NOTEBOOK_LR = 0.5
LATENCY_CALLS, LATENCY_WARMUP = 2000, 200
Data = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def judge_higher(result: Result, target: float) -> None:
    """Ratio of medians (higher is better for mnistnp) and PASS/MISS against ``target``."""
    if result.theirs:
        result.ratio = statistics.median(result.ours) / statistics.median(result.theirs)
        result.passed = result.ratio >= target
    elif torch is None and result.baseline == "PyTorch":
        result.missing = torch_twin.NO_TORCH


# ---- training cases: mnistnp's fit against PyTorch's loop ----


OPTIMIZERS: dict[str, Callable[[], Any]] = {
    "sgd": lambda: mnistnp.SGD(0.01, momentum=0.9),
    "adam": lambda: mnistnp.Adam(1e-3),
}


def mnistnp_epoch(model: mnistnp.Sequential, opt: Any, x: np.ndarray, y: np.ndarray,
                  rng_state: dict[str, Any]) -> float:
    """One epoch through the public ``fit``; returns samples/s (wall time of the call)."""
    rng = np.random.default_rng()
    rng.bit_generator.state = rng_state  # so fit draws the very permutation PyTorch is given
    start = time.perf_counter()
    mnistnp.fit(model, x, y, opt, rng=rng, epochs=1, batch_size=BATCH)
    return len(x) / (time.perf_counter() - start)


def test_accuracies(model: mnistnp.Sequential, net: Any, test: tuple[np.ndarray, ...]) -> str:
    """Both models' test accuracy after training: they should be close if they trained alike."""
    x, y = test
    ours = f"test accuracy after training: mnistnp {100 * np.mean(model.predict(x) == y):.2f}%"
    if net is None:
        return ours
    return f"{ours}, PyTorch {100 * torch_twin.accuracy(net, x, y):.2f}%"


def training_case(name: str, sizes: list[int], optimizer: str, target: float, repeats: int,
                  data: Data) -> Result:
    """Train the same net from the same weights, one epoch per repeat in each framework."""
    (x, y), test = data
    model = mnistnp.mlp(sizes, np.random.default_rng(SEED), "float32")
    opt = OPTIMIZERS[optimizer]()
    order_rng = np.random.default_rng(SEED + 1)
    states, orders = [], []
    for _ in range(repeats + 1):  # the batch order of every epoch, drawn once for both
        states.append(dict(order_rng.bit_generator.state))
        orders.append(order_rng.permutation(len(x)))
    runs: list[Run | None] = [lambda r: mnistnp_epoch(model, opt, x, y, states[r]), None]
    net = None
    if torch is not None:
        net = torch_twin.twin(model)
        topt = torch_twin.OPTIMIZERS[optimizer](net.parameters())
        images, labels = torch_twin.as_tensors(x, y)
        runs[1] = lambda r: torch_twin.epoch(net, topt, images, labels, orders[r], BATCH)
    ours, theirs = alternate(runs, repeats)
    result = Result(name, "samples/s", ours, theirs, "PyTorch",
                    f">= {target:.1f}x", note=test_accuracies(model, net, test))
    judge_higher(result, target)
    result.floor = gemm_floor.flop_floor(sizes, len(x), BATCH, "float32", "epoch")
    result.floor.ours_s = len(x) / statistics.median(ours)
    if theirs:
        result.floor.theirs_s = len(x) / statistics.median(theirs)
    return result


# ---- the notebook case: mnistnp's full-batch step against the seed notebook's own code ----


def seed_run(model: mnistnp.Sequential, costs: dict[str, float]) -> Run:
    """Steps of the notebook's own code from ``model``'s weights now, timed; s/step."""
    dense = [layer for layer in model.layers if isinstance(layer, mnistnp.Dense)]
    for i, d in enumerate(dense, 1):  # the notebook's global dict and layout: W (n_l, n_l-1)
        seed_notebook.parameters[f"W{i}"] = d.W.T.copy()
        seed_notebook.parameters[f"b{i}"] = d.b[:, None].copy()

    def run(_: int) -> float:
        start = time.perf_counter()
        costs["seed notebook"] = seed_notebook.steps(NOTEBOOK_STEPS, NOTEBOOK_LR)
        return (time.perf_counter() - start) / NOTEBOOK_STEPS

    return run


def mnistnp_steps_run(model: mnistnp.Sequential, x: np.ndarray, y: np.ndarray,
                      costs: dict[str, float]) -> Run:
    """Full-batch steps through the public ``fit``, timed by fit's own per-epoch clock (a
    full-batch epoch is one step); s/step. Like the notebook's ``/ 255.``, made once outside
    its timing, fit's one-time float copy of the inputs is outside this."""
    opt = mnistnp.SGD(NOTEBOOK_LR)

    def run(_: int) -> float:
        # Full batch: an epoch is one step.
        history = mnistnp.fit(model, x, y, opt, rng=np.random.default_rng(SEED),
                              epochs=NOTEBOOK_STEPS, batch_size=None)
        costs["mnistnp"] = history.costs[-1]
        return history.seconds / NOTEBOOK_STEPS

    return run


def notebook_case(repeats: int, data: Data) -> Result:
    """Seconds per full-batch float64 step: mnistnp's ``fit`` against the notebook's code."""
    (x, y), _ = data
    model = mnistnp.mlp(SMALL, np.random.default_rng(SEED), "float64")
    seed_notebook.load(data)  # its float64 (784, m) copy, made once as the notebook did
    costs: dict[str, float] = {}
    runs = [seed_run(model, costs), mnistnp_steps_run(model, x, y, costs)]
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        theirs, ours = alternate(runs, repeats)
    note = ("cost before the last step (same weights, should agree): " +
            ", ".join(f"{k} {v:.6f}" for k, v in costs.items()))
    result = Result("notebook step, float64, vs the seed notebook's code", "s/step", ours,
                    theirs, "seed notebook", ">= 1.5x", note=note)
    result.ratio = statistics.median(theirs) / statistics.median(ours)
    result.passed = result.ratio >= 1.5
    # The floor at the notebook's own shapes: all 60,000 rows in each product.
    result.floor = gemm_floor.flop_floor(SMALL, len(x), len(x), "float64", "step")
    result.floor.ours_s, result.floor.theirs_s = statistics.median(ours), statistics.median(theirs)
    return result


# ---- prediction latency and peak memory ----


def latency_case(repeats: int, data: Data) -> Result:
    """Median latency of class probabilities for one (1, 28, 28) uint8 image."""
    _, (x_test, _) = data
    model = mnistnp.mlp(SMALL, np.random.default_rng(SEED), "float32")
    image = x_test[:1]
    twin = torch_twin.proba(torch_twin.twin(model), image) if torch is not None else None
    ours, theirs = latency_pair(lambda: model.predict_proba(image), twin, repeats,
                                LATENCY_CALLS, LATENCY_WARMUP)
    result = Result("one-image prediction latency", "µs", ours, theirs, "PyTorch",
                    ">= 2.0x (half the latency)",
                    note=f"median of {LATENCY_CALLS} calls per repeat")
    if theirs:
        result.ratio = statistics.median(theirs) / statistics.median(ours)
        result.passed = result.ratio >= 2.0
    else:
        result.missing = torch_twin.NO_TORCH
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


# ---- command line ----


CASES: dict[str, Callable[[int, Data], Result]] = {
    "small-sgd": functools.partial(training_case, "784-50-50-50-10 SGD momentum", SMALL,
                                   "sgd", 3.0),
    "small-adam": functools.partial(training_case, "784-50-50-50-10 Adam", SMALL, "adam", 2.6),
    "wide-sgd": functools.partial(training_case, "784-800-800-10 SGD momentum", WIDE, "sgd",
                                  1.5),
    "notebook": notebook_case,
    "latency": latency_case,
    "memory": memory_case,
    "cnn": functools.partial(cnn_speed.training_case,
                             "CNN conv5x5 32, pool, conv5x5 64, pool, dense 128, Adam",
                             cnn_speed.FIXED, "adam", 0.9),
    "cnn-recipe": functools.partial(cnn_speed.training_case,
                                    "cnn recipe's net without augmentation and dropout, "
                                    "Nesterov SGD", cnn_speed.recipe_layers(), "nesterov", 1.0),
    "cnn-latency": cnn_speed.latency_case,
}
QUICK_SKIPS = ("wide-sgd", "cnn-recipe")  # the slowest; --quick runs them only if named


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
                        help="a smoke run: 2 repeats, no wide-sgd nor cnn-recipe unless "
                             "--cases names them")
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (2 if args.quick else 5)
    if repeats < 1:
        parser.error(f"--repeats must be at least 1, got {repeats}")
    if args.cases is None:
        return repeats, [c for c in CASES if not (args.quick and c in QUICK_SKIPS)]
    cases = [c for item in args.cases for c in item.split(",") if c]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case {unknown[0]!r}; choose from {', '.join(CASES)}")
    return repeats, cases


def main(argv: Sequence[str] | None = None) -> int:
    repeats, cases = parse_args(argv)
    report.print_environment(torch_twin.describe())
    print(f"{repeats} repeats per case after a warm-up; cases: {', '.join(cases)}\n", flush=True)
    data = mnistnp.datasets.load("mnist")
    results, failed = [], False
    for name in cases:
        print(f"{name} (load average {os.getloadavg()[0]:.2f}):", flush=True)
        try:
            result = CASES[name](repeats, data)
        except Exception:  # one broken case must not hide the others' numbers
            traceback.print_exc()
            failed = True
            continue
        report.print_result(result)
        results.append(result)
    print(f"\nload average at the end: {report.load_average()}\n")
    report.print_tables(results)
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main())
