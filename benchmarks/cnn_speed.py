"""speed.py's CNN cases: training steps and one-image prediction of a CNN, mnistnp against its
PyTorch twin (torch_cnn.py) from the same weights, on the same batches in the same order.

Each measurement runs one side alone in a fresh process (cnn_side.py), the sides alternated,
as a user runs one or the other: in one process NumPy's OpenBLAS threads and PyTorch's OpenMP
threads spin against each other. Before timing, both twins take CHECK_STEPS steps in this
process from the same weights, and their losses must agree."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gemm_floor
import numpy as np
import torch_cnn
from cnn_side import BATCH, FIXED, LATENCY_CALLS, SEED, STEPS, build, recipe_layers
from harness import Run, alternate
from report import Result
from torch_twin import NO_TORCH, torch

import mnistnp

__all__ = ["FIXED", "SEED", "latency_case", "recipe_layers", "training_case"]

SIDE = Path(__file__).with_name("cnn_side.py")
CHECK_STEPS = 5  # steps both sides take from the same weights before timing; losses compared
# A larger difference, relative to the loss (at least 1), means the twins compute different
# things; at the recipe's peak rate the first steps' losses reach ~100, where float32 rounding
# in another order of sums moves them by a few 1e-5 of that.
LOSS_TOLERANCE = 1e-3
CHECK_SEED = 1  # draws the checked steps' batches

OPTIMIZERS: dict[str, Any] = {
    "adam": lambda: mnistnp.Adam(1e-3),
    "nesterov": lambda: mnistnp.RECIPES["cnn"].optimizer.build(),  # its Nesterov SGD
}


def side(name: str, case: str, seed: int) -> tuple[float, dict[str, str]]:
    """One measurement of one side in its own process: its value, and what ran."""
    proc = subprocess.run([sys.executable, str(SIDE), name, case, str(seed)],
                          capture_output=True, text=True, check=False, env=os.environ.copy())
    if proc.returncode:
        raise RuntimeError(f"{SIDE.name} {name} {case} failed:\n{proc.stderr}")
    out = json.loads(proc.stdout.splitlines()[-1])
    return float(out.pop("value")), out


def mnistnp_steps(model: mnistnp.Sequential, opt: Any, x: np.ndarray, y: np.ndarray,
                  rng_state: dict[str, Any], steps: int) -> tuple[float, list[float]]:
    """``steps`` steps through the loop ``fit`` runs (``fit`` is this Trainer with
    ShuffledBatches; ``iterations`` stops it mid-epoch), the batch order drawn from a
    generator in ``rng_state``; samples/s (wall time of the call) and each step's loss."""
    rng = np.random.default_rng()
    rng.bit_generator.state = rng_state
    trainer = mnistnp.Trainer(model, opt, mnistnp.ShuffledBatches(len(x), BATCH))
    start = time.perf_counter()
    history = trainer.fit(x, y, rng=rng, iterations=steps)
    return steps * BATCH / (time.perf_counter() - start), history.costs


def check_losses(layers: str, optimizer: str, x: np.ndarray, y: np.ndarray,
                 state: dict[str, Any], order: np.ndarray) -> str:
    """CHECK_STEPS steps of fresh twins on the same batches: their losses, which must agree."""
    model = build(layers)
    net = torch_cnn.twin(model)
    _, ours = mnistnp_steps(model, OPTIMIZERS[optimizer](), x, y, state, CHECK_STEPS)
    images, labels = torch_cnn.as_tensors(x, y)
    theirs = torch_cnn.losses(net, torch_cnn.OPTIMIZERS[optimizer](net.parameters()), images,
                              labels, order[:CHECK_STEPS * BATCH], BATCH)
    diff = max(abs(a - b) for a, b in zip(ours, theirs))
    if diff > LOSS_TOLERANCE * max(1.0, *map(abs, ours)):
        raise AssertionError(f"the twins' losses differ by {diff:.2g}: mnistnp {ours}, "
                             f"PyTorch {theirs}")
    return (f"losses of the first {CHECK_STEPS} steps from the same weights: mnistnp "
            f"{ours[0]:.5f}..{ours[-1]:.5f}, PyTorch {theirs[0]:.5f}..{theirs[-1]:.5f}, "
            f"largest difference {diff:.1e}")


def training_case(name: str, layers: str, optimizer: str, target: float | None,
                  repeats: int, data: Any) -> Result:
    """STEPS steps per repeat of each side, each in its own process; samples/s."""
    (x, y), _ = data
    case = "cnn-recipe" if layers == recipe_layers() else "cnn"
    ran: dict[str, dict[str, str]] = {}
    runs: list[Run | None] = [_measure(ran, "mnistnp", case), None]
    note = NO_TORCH
    if torch is not None:
        state = dict(np.random.default_rng(CHECK_SEED).bit_generator.state)
        note = check_losses(layers, optimizer, x, y, state,
                            np.random.default_rng(CHECK_SEED).permutation(len(x)))
        runs[1] = _measure(ran, "pytorch", case)
    ours, theirs = alternate(runs, repeats)
    goal = f">= {target:.1f}x" if target is not None else "none (informative)"
    result = Result(name, "samples/s", ours, theirs, "PyTorch", goal,
                    note=f"{STEPS} steps per repeat, each side in its own process; {note}; "
                         f"{_ran(ran)}")
    if theirs:
        result.ratio = statistics.median(ours) / statistics.median(theirs)
        result.passed = None if target is None else result.ratio >= target
    else:
        result.missing = NO_TORCH
    result.floor = gemm_floor.products_floor(
        list(gemm_floor.model_products(build(layers), BATCH)), 1, "float32", "step")
    result.floor.ours_s = BATCH / statistics.median(ours)
    if theirs:
        result.floor.theirs_s = BATCH / statistics.median(theirs)
    return result


def latency_case(repeats: int, data: Any, target: float = 1.2) -> Result:
    """Median latency of the fixed CNN's class probabilities for one (1, 28, 28) uint8 image,
    each side in its own process."""
    _, (x_test, _) = data
    model = build(FIXED)
    ran: dict[str, dict[str, str]] = {}
    runs: list[Run | None] = [_measure(ran, "mnistnp", "cnn-latency"), None]
    if torch is not None:
        twin = torch_cnn.proba(torch_cnn.twin(model), x_test[:1])
        if not np.allclose(twin().numpy(), model.predict_proba(x_test[:1]), atol=1e-5):
            raise AssertionError("mnistnp and PyTorch disagree on the image's probabilities")
        runs[1] = _measure(ran, "pytorch", "cnn-latency")
    ours, theirs = alternate(runs, repeats)
    result = Result("CNN one-image prediction latency", "µs", ours, theirs, "PyTorch",
                    f">= {target:.1f}x", note=f"median of {LATENCY_CALLS} calls per repeat, "
                                             f"each side in its own process; {_ran(ran)}")
    if theirs:
        result.ratio = statistics.median(theirs) / statistics.median(ours)
        result.passed = result.ratio >= target
    else:
        result.missing = NO_TORCH
    result.floor = gemm_floor.products_floor(
        list(gemm_floor.model_products(model, 1, backward=False)), 1, "float32", "image")
    result.floor.ours_s = statistics.median(ours) / 1e6
    if theirs:
        result.floor.theirs_s = statistics.median(theirs) / 1e6
    return result


def _measure(ran: dict[str, dict[str, str]], which: str, case: str) -> Run:
    """A run of one side of ``case`` in its own process, keeping what ran in ``ran[which]``."""
    def measure(r: int) -> float:
        value, ran[which] = side(which, case, r)
        return value
    return measure


def _ran(ran: dict[str, dict[str, str]]) -> str:
    """What ran on each side, as the side processes said."""
    return "; ".join(f"{k}: " + ", ".join(f"{a} {b}" for a, b in v.items())
                     for k, v in ran.items())
