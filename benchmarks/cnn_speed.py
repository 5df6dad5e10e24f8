"""speed.py's CNN cases: training steps and one-image prediction of a CNN, mnistnp against its
PyTorch twin (torch_cnn.py) from the same weights, on the same batches in the same order."""

from __future__ import annotations

import statistics
import time
from typing import Any

import gemm_floor
import numpy as np
import torch_cnn
import torch_twin
from harness import Run, alternate, latency_pair
from report import Result
from torch_twin import torch

import mnistnp

FIXED = "conv:32:5,maxpool:2,conv:64:5,maxpool:2,dense:128"  # the fixed benchmark CNN
RANDOM_ITEMS = ("affine", "shift", "dropout")  # left out of the recipe's timing twin
BATCH = 128
SEED = 0
STEPS = 60  # training steps per repeat and implementation (an epoch is 469)
CHECK_STEPS = 5  # steps both sides take from the same weights before timing; losses compared
LOSS_TOLERANCE = 1e-3  # a larger difference means the twins compute different things
LATENCY_CALLS, LATENCY_WARMUP = 500, 50

OPTIMIZERS: dict[str, Any] = {
    "adam": lambda: mnistnp.Adam(1e-3),
    "nesterov": lambda: mnistnp.RECIPES["cnn"].optimizer.build(),  # its Nesterov SGD
}


def recipe_layers() -> str:
    """The cnn recipe's layer string without its random items (augmentation, dropout): their
    draws cannot match PyTorch's, so neither side runs them in the timing twin."""
    items = mnistnp.RECIPES["cnn"].model.layers.split(",")
    return ",".join(item for item in items if item.split(":")[0] not in RANDOM_ITEMS)


def build(layers: str) -> mnistnp.Sequential:
    """The network of ``layers`` for MNIST, float32, its weights drawn from SEED."""
    return mnistnp.network(layers, (28, 28), 10, rng=np.random.default_rng(SEED))


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
    if diff > LOSS_TOLERANCE:
        raise AssertionError(f"the twins' losses differ by {diff:.2g}: mnistnp {ours}, "
                             f"PyTorch {theirs}")
    return (f"losses of the first {CHECK_STEPS} steps from the same weights: mnistnp "
            f"{ours[0]:.5f}..{ours[-1]:.5f}, PyTorch {theirs[0]:.5f}..{theirs[-1]:.5f}, "
            f"largest difference {diff:.1e}")


def training_case(name: str, layers: str, optimizer: str, target: float | None,
                  repeats: int, data: Any) -> Result:
    """STEPS steps per repeat of each side from the same weights; samples/s."""
    (x, y), _ = data
    order_rng = np.random.default_rng(SEED + 1)
    states, orders = [], []
    for _ in range(repeats + 2):  # every repeat's batch order (and the check's), drawn once
        states.append(dict(order_rng.bit_generator.state))
        orders.append(order_rng.permutation(len(x)))
    model, opt = build(layers), OPTIMIZERS[optimizer]()
    runs: list[Run | None] = [
        lambda r: mnistnp_steps(model, opt, x, y, states[r + 1], STEPS)[0], None]
    note = torch_twin.NO_TORCH
    if torch is not None:
        note = check_losses(layers, optimizer, x, y, states[0], orders[0])
        net = torch_cnn.twin(model)
        topt = torch_cnn.OPTIMIZERS[optimizer](net.parameters())
        images, labels = torch_cnn.as_tensors(x, y)
        runs[1] = lambda r: torch_twin.epoch(net, topt, images, labels,
                                             orders[r + 1][:STEPS * BATCH], BATCH)
    ours, theirs = alternate(runs, repeats)
    goal = f">= {target:.1f}x" if target is not None else "none (informative)"
    result = Result(name, "samples/s", ours, theirs, "PyTorch", goal,
                    note=f"{STEPS} steps per repeat; {note}")
    if theirs:
        result.ratio = statistics.median(ours) / statistics.median(theirs)
        result.passed = None if target is None else result.ratio >= target
    else:
        result.missing = torch_twin.NO_TORCH
    result.floor = gemm_floor.products_floor(list(gemm_floor.model_products(model, BATCH)), 1,
                                             "float32", "step")
    result.floor.ours_s = BATCH / statistics.median(ours)
    if theirs:
        result.floor.theirs_s = BATCH / statistics.median(theirs)
    return result


def latency_case(repeats: int, data: Any) -> Result:
    """Median latency of the fixed CNN's class probabilities for one (1, 28, 28) uint8 image."""
    _, (x_test, _) = data
    model = build(FIXED)
    image = x_test[:1]
    twin = torch_cnn.proba(torch_cnn.twin(model), image) if torch is not None else None
    ours, theirs = latency_pair(lambda: model.predict_proba(image), twin, repeats,
                                LATENCY_CALLS, LATENCY_WARMUP)
    result = Result("CNN one-image prediction latency", "µs", ours, theirs, "PyTorch",
                    ">= 1.0x (no slower)", note=f"median of {LATENCY_CALLS} calls per repeat")
    if theirs:
        result.ratio = statistics.median(theirs) / statistics.median(ours)
        result.passed = result.ratio >= 1.0
    else:
        result.missing = torch_twin.NO_TORCH
    result.floor = gemm_floor.products_floor(
        list(gemm_floor.model_products(model, 1, backward=False)), 1, "float32", "image")
    result.floor.ours_s = statistics.median(ours) / 1e6
    if theirs:
        result.floor.theirs_s = statistics.median(theirs) / 1e6
    return result
