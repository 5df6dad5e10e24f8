"""The PyTorch twin: a torch.nn.Sequential holding an mnistnp MLP's weights, its idiomatic
training loop, and its one-image prediction. Without PyTorch, ``torch`` is None."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

import mnistnp

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the comparison is optional: mnistnp's side still runs
    torch = None

NO_TORCH = "PyTorch not installed (pip install torch==2.13.0)"

OPTIMIZERS: dict[str, Callable[[Any], Any]] = {
    "sgd": lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9),
    "adam": lambda params: torch.optim.Adam(params, lr=1e-3),
}


def describe() -> str:
    """PyTorch's version, threads, parallel backend and BLAS, or why it is missing."""
    if torch is None:
        return NO_TORCH
    info = torch.__config__.parallel_info().splitlines()
    backend = next((line.strip() for line in info if "parallel backend" in line), "")
    blas = next((line.split(" for ")[0].strip() for line in info if "Math Kernel" in line), "")
    return (f"PyTorch {torch.__version__}: {torch.get_num_threads()} threads (the default), "
            f"{backend}; {blas}")


def twin(model: mnistnp.Sequential) -> Any:
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


def as_tensors(x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    """uint8 images as (n, 784) and int64 labels, as the training loop takes them."""
    return torch.from_numpy(x.reshape(len(x), -1).copy()), torch.from_numpy(y.astype(np.int64))


def epoch(net: Any, opt: Any, images: Any, labels: Any, order: np.ndarray, batch: int) -> float:
    """One epoch of the idiomatic PyTorch loop over the batches of ``order``; samples/s."""
    index = torch.from_numpy(order)
    start = time.perf_counter()
    for s in range(0, len(order), batch):
        idx = index[s:s + batch]
        xb = images[idx].float().mul_(1 / 255)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(xb), labels[idx])
        loss.backward()
        opt.step()
    return len(order) / (time.perf_counter() - start)


def accuracy(net: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Test accuracy (argmax against labels) of ``net`` on uint8 images ``x``."""
    with torch.inference_mode():
        logits = net(torch.from_numpy(x.reshape(len(x), -1)).float().mul_(1 / 255))
    return float(np.mean(logits.argmax(1).numpy() == y))


def proba(net: Any, image: np.ndarray) -> Callable[[], Any]:
    """A call giving the class probabilities of one uint8 (1, 28, 28) image, as a user would."""
    timage = torch.from_numpy(image.copy())

    def call() -> Any:
        with torch.inference_mode():
            return net(timage.reshape(1, -1).float().mul_(1 / 255)).softmax(1)

    return call
