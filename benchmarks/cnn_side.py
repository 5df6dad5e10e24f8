"""One side of a CNN speed case, alone in its own process, as a user runs one or the other.

    python benchmarks/cnn_side.py {mnistnp,pytorch} {cnn,cnn-recipe,cnn-latency} SEED

prints one JSON line: ``value`` (training samples/s over STEPS steps after WARMUP steps, or the
median µs of LATENCY_CALLS one-image predictions after LATENCY_WARMUP) and what ran (BLAS
kernel and threads, mnistnp's threads, PyTorch's threads).

Why a process per side: in one process NumPy's OpenBLAS threads, spinning after each GEMM,
and PyTorch's OpenMP threads fight over the same cores, and both slow down. The mnistnp side
never imports torch; both build the same network from the same weights (``SEED``)
and take the same batches in the same order (SEED draws it), as ``cnn_speed`` checks in one
process before timing.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import numpy as np

import mnistnp

FIXED = "conv:32:5,maxpool:2,conv:64:5,maxpool:2,dense:128"  # the fixed benchmark CNN
RANDOM_ITEMS = ("stroke", "affine", "shift", "dropout")  # left out of the recipe's timing twin
BATCH = 128
SEED = 0
STEPS, WARMUP = 60, 5  # an epoch is 469 steps
LATENCY_CALLS, LATENCY_WARMUP = 500, 50
OPTIMIZER = {"cnn": "adam", "cnn-recipe": "nesterov", "cnn-latency": "adam"}


def recipe_layers() -> str:
    """The cnn recipe's layer string without its random items (augmentation, dropout): their
    draws cannot match PyTorch's, so neither side runs them in the timing twin."""
    items = mnistnp.RECIPES["cnn"].model.layers.split(",")
    return ",".join(item for item in items if item.split(":")[0] not in RANDOM_ITEMS)


def layers_of(case: str) -> str:
    return recipe_layers() if case == "cnn-recipe" else FIXED


def build(layers: str) -> mnistnp.Sequential:
    """The network of ``layers`` for MNIST, float32, its weights drawn from SEED."""
    return mnistnp.network(layers, (28, 28), 10, rng=np.random.default_rng(SEED))


def optimizer(name: str) -> Any:
    if name == "adam":
        return mnistnp.Adam(1e-3)
    return mnistnp.RECIPES["cnn"].optimizer.build()  # its Nesterov SGD at its peak rate


def mnistnp_side(case: str, seed: int) -> float:
    data = mnistnp.datasets.load("mnist")
    model = build(layers_of(case))
    if case == "cnn-latency":
        from harness import median_call_us
        image = data[1][0][:1]
        return median_call_us(lambda: model.predict_proba(image), LATENCY_CALLS,
                              LATENCY_WARMUP)
    (x, y), _ = data
    trainer = mnistnp.Trainer(model, optimizer(OPTIMIZER[case]),
                              mnistnp.ShuffledBatches(len(x), BATCH))
    rng = np.random.default_rng(seed)  # ShuffledBatches draws its order from it
    trainer.fit(x, y, rng=np.random.default_rng(seed + 1), iterations=WARMUP)
    start = time.perf_counter()
    trainer.fit(x, y, rng=rng, iterations=STEPS)
    return STEPS * BATCH / (time.perf_counter() - start)


def pytorch_side(case: str, seed: int) -> float:
    import torch_cnn
    import torch_twin
    data = mnistnp.datasets.load("mnist")
    model = build(layers_of(case))
    net = torch_cnn.twin(model)
    if case == "cnn-latency":
        from harness import median_call_us
        return median_call_us(torch_cnn.proba(net, data[1][0][:1]), LATENCY_CALLS,
                              LATENCY_WARMUP)
    (x, y), _ = data
    opt = torch_cnn.OPTIMIZERS[OPTIMIZER[case]](net.parameters())
    images, labels = torch_cnn.as_tensors(x, y)
    net.train()
    torch_twin.epoch(net, opt, images, labels,
                     np.random.default_rng(seed + 1).permutation(len(x))[:WARMUP * BATCH], BATCH)
    order = np.random.default_rng(seed).permutation(len(x))[:STEPS * BATCH]
    return torch_twin.epoch(net, opt, images, labels, order, BATCH)


def what_ran(side: str) -> dict[str, str]:
    """The BLAS and its threads as this process holds them, and how many threads each side's
    own passes use."""
    from threadpoolctl import threadpool_info

    from mnistnp.nn import threads
    blas = [f"{i.get('internal_api')} {i.get('architecture')}, {i.get('num_threads')} threads"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    out = {"blas": "; ".join(blas)}
    if side == "pytorch":
        import torch
        out["torch threads"] = str(torch.get_num_threads())
    elif hasattr(threads, "owned"):  # a tree before the pool owned the cores has no owned
        with threads.owned():
            out["mnistnp threads for a CNN"] = str(threads.num_threads())
    else:
        out["mnistnp threads"] = str(threads.num_threads())
    return out


def main(argv: list[str]) -> None:
    side, case, seed = argv[0], argv[1], int(argv[2])
    value = (mnistnp_side if side == "mnistnp" else pytorch_side)(case, seed)
    if side == "mnistnp" and "torch" in sys.modules:
        raise AssertionError("the mnistnp side imported torch")
    print(json.dumps({"value": value, **what_ran(side)}))


if __name__ == "__main__":
    main(sys.argv[1:])
