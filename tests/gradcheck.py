"""Finite-difference gradient checking for layers (float64), shared by the layer tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

EPS = 1e-6  # central-difference step
TOL = 1e-6  # allowed relative error between analytic and numerical gradients


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """|a - b| / (|a| + |b|) over the whole gradient (Euclidean norms); 0 when both are 0."""
    num = float(np.linalg.norm(a - b))
    den = float(np.linalg.norm(a) + np.linalg.norm(b))
    return num / max(den, np.finfo(np.float64).tiny)


def numerical_grad(f: Callable[[], float], x: np.ndarray, eps: float = EPS) -> np.ndarray:
    """d f / d x by central differences, perturbing ``x`` in place (and restoring it)."""
    grad = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        f_plus = f()
        x[idx] = old - eps
        f_minus = f()
        x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad


def bind_random(layer, rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Bind ``layer`` to random float64 parameters (non-zero biases too) and NaN gradients,
    so a gradient the layer forgets to write shows up."""
    params = [rng.standard_normal(shape) for shape in layer.param_shapes]
    grads = [np.full(shape, np.nan) for shape in layer.param_shapes]
    if params:
        layer.bind(params, grads)
    return params, grads


def gradient_errors(layer, x: np.ndarray, rng: np.random.Generator,
                    training: bool = True) -> dict[str, float]:
    """Relative errors of the layer's input and parameter gradients against central
    differences of L = sum(forward(x) * g) for a random g (so dL/dy = g), by name. The layer
    is bound with ``bind_random`` here."""
    _, bound_grads = bind_random(layer, rng)
    g = rng.standard_normal(layer.forward(x, training).shape)
    dx = layer.backward(g).copy()
    grads = [d.copy() for d in bound_grads]

    def loss() -> float:
        return float(np.sum(layer.forward(x, training) * g))

    errors = {"x": rel_error(dx, numerical_grad(loss, x))}
    for name, param, grad in zip(layer.param_names, layer.parameters(), grads, strict=True):
        errors[name] = rel_error(grad, numerical_grad(loss, param))
    return errors


def model_gradient_error(model, x: np.ndarray, g: np.ndarray) -> float:
    """The relative error between ``model``'s parameter gradients for the loss sum(out * g),
    by backward and by central differences over its flat parameter buffer (training mode)."""
    model.forward(x, training=True)
    model.backward(g)
    analytic = model.grads.copy()

    def loss() -> float:
        return float(np.sum(model.forward(x, training=True) * g))

    return rel_error(analytic, numerical_grad(loss, model.params))
