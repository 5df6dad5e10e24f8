"""PyTorch's twin of an mnistnp CNN: a torch.nn.Sequential holding a copy of its weights (and
batch-norm state), the per-step losses of its training loop, and its one-image prediction.
The loop it is timed with is torch_twin.epoch, the MLP cases' loop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from torch_twin import torch

import mnistnp

OPTIMIZERS: dict[str, Callable[[Any], Any]] = {
    "adam": lambda params: torch.optim.Adam(params, lr=1e-3),
    # The cnn recipe's optimizer at its peak rate (its warmup and cosine are left out)
    "nesterov": lambda params: torch.optim.SGD(
        params, lr=mnistnp.RECIPES["cnn"].optimizer.lr,
        momentum=mnistnp.RECIPES["cnn"].optimizer.momentum, nesterov=True,
        weight_decay=mnistnp.RECIPES["cnn"].optimizer.weight_decay),
}


def _copy(param: Any, value: np.ndarray) -> None:
    with torch.no_grad():
        param.copy_(torch.from_numpy(np.ascontiguousarray(value)))


def _module(layer: Any, shape: tuple[int, ...]) -> Any | None:
    """The torch module doing what ``layer`` does to samples of ``shape``, its parameters
    copied; None for the layers the twin's input already accounts for (see ``twin``)."""
    nn = torch.nn
    if layer.kind in ("Rescale", "AddChannel"):
        return None
    if layer.kind == "Conv2D":
        if layer.stride != (1, 1):
            raise ValueError("the twin takes stride-1 convolutions only")
        conv = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel,
                         padding=layer.padding)
        _copy(conv.weight, layer.W)  # (F, C, kh, kw) in both
        _copy(conv.bias, layer.b)
        return conv
    if layer.kind == "Dense":
        linear = nn.Linear(layer.in_features, layer.out_features)
        _copy(linear.weight, layer.W.T)  # (in, out) -> (out, in)
        _copy(linear.bias, layer.b)
        return linear
    if layer.kind == "BatchNorm":
        norm = (nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d)(
            layer.num_features, eps=layer.eps, momentum=layer.momentum)
        _copy(norm.weight, layer.gamma)
        _copy(norm.bias, layer.beta)
        _copy(norm.running_mean, layer.running_mean)
        _copy(norm.running_var, layer.running_var)
        return norm
    if layer.kind == "MaxPool2D":
        return nn.MaxPool2d(layer.size, layer.stride)
    if layer.kind == "ReLU":
        return nn.ReLU()
    if layer.kind == "Flatten":
        return nn.Flatten()
    if layer.kind == "Dropout":
        return nn.Dropout(layer.p)
    raise ValueError(f"no PyTorch twin for {layer.kind}")


def twin(model: mnistnp.Sequential) -> Any:
    """A torch.nn.Sequential of ``model``'s layers, in its order (so a max pool before the
    ReLU, as mnistnp's layer strings put it: the same values, less work), holding a copy of
    its weights. It takes (N, 1, H, W) float images already scaled, as the loop makes them
    (``as_tensors``), in place of mnistnp's Rescale and AddChannel."""
    shapes = [model.input_shape, *model.shapes]
    modules = [_module(layer, tuple(shape)) for layer, shape in zip(model.layers, shapes)]
    return torch.nn.Sequential(*[m for m in modules if m is not None])


def as_tensors(x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    """uint8 images (n, 28, 28) as (n, 1, 28, 28) and int64 labels, as the loop takes them."""
    return torch.from_numpy(x[:, None].copy()), torch.from_numpy(y.astype(np.int64))


def losses(net: Any, opt: Any, images: Any, labels: Any, order: np.ndarray,
           batch: int) -> list[float]:
    """torch_twin.epoch's steps over the batches of ``order``, returning each step's loss."""
    index, out = torch.from_numpy(order), []
    net.train()
    for s in range(0, len(order), batch):
        idx = index[s:s + batch]
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(net(images[idx].float().mul_(1 / 255)),
                                                 labels[idx])
        loss.backward()
        opt.step()
        out.append(loss.item())
    return out


def proba(net: Any, image: np.ndarray) -> Callable[[], Any]:
    """A call giving the class probabilities of one uint8 (1, 28, 28) image, as a user would."""
    timage = torch.from_numpy(image.copy())
    net.eval()

    def call() -> Any:
        with torch.inference_mode():
            return net(timage[:, None].float().mul_(1 / 255)).softmax(1)

    return call
