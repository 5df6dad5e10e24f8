"""The seed notebook's algorithm ("MNIST using pure Numpy"), as it is written.

    python benchmarks/seed_notebook.py [--iterations 1000] [--lr 0.005] [--seed 0]

Trains the notebook's 784-50-50-50-10 network with the notebook's own functions, printing its
cost every 100 iterations, then scores the training and test sets both ways: the notebook's
"accuracy" (rounded softmax outputs against one-hot cells, which gives 90% to a model that
predicts nothing) and the true accuracy (argmax against the labels). `speed.py` times
`steps` against mnistnp.

Everything below the data loading is the notebook's code: its global dicts, its functions,
their operations and their order, including what costs it time (the softmax computes `exp`
twice, `drelu` overwrites the cached Z with 0/1 through two boolean masks, every step makes
fresh arrays, the pixels are a Fortran-ordered float64 (784, m) array and the one-hot labels a
float32 (10, m) view). Its backward pass forms dA3, dA2 and dA1 and never the first layer's
input gradient `W1.T @ dZ1`. What differs, and why:
- Data: `mnistnp.datasets.load("mnist")` replaces Keras's `mnist.load_data()` (the same IDX
  files, the same uint8 arrays), and `to_categorical` is Keras 2's (float32 one-hot rows)
  written out, since Keras is no dependency here. `load` runs the notebook's reshaping cells
  unchanged and sets the globals they made.
- `model` takes the rate it passes to `optimize` as a parameter, default 0.005: the notebook
  hard-codes `optimize(grad_reg, learning_rate=0.005)` there (its `learning_rate = 0.5` only
  reached a plot title), so the default is what it ran and `--lr 0.5` what it meant.
- The cost line formats `cost.item()`: `compute_cost` returns a 1-element array, which NumPy 2
  no longer formats with "%f" (a TypeError).
- The notebook seeds nothing; `main` calls `np.random.seed(seed)` before `model`, so a run
  repeats exactly.
- `steps` is new: the body of `model`'s loop, from the parameters as they stand, for
  `speed.py`, which sets them to mnistnp's initial weights. The plot cell (which crashed in
  the notebook) is left out; the true accuracy is printed beside the notebook's.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np

import mnistnp

# ---- the notebook's data cells, with mnistnp's loader for Keras's ----

Data = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
X_train = Y_train = X_test = Y_test = Y_train_orig = Y_test_orig = np.empty(0)
m = 0


def to_categorical(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Keras 2's ``to_categorical`` for an (n, 1) label array: float32 one-hot rows."""
    y = np.array(y, dtype="int").ravel()
    categorical = np.zeros((len(y), num_classes), dtype="float32")
    categorical[np.arange(len(y)), y] = 1
    return categorical


def load(data: Data | None = None) -> None:
    """The notebook's loading and reshaping cells: set its globals from ``data`` (default:
    bundled MNIST), ``((x_train, y_train), (x_test, y_test))`` with uint8 (n, 28, 28) images."""
    global X_train, Y_train, X_test, Y_test, Y_train_orig, Y_test_orig, m
    (X_train_orig, Y_train_orig), (X_test_orig, Y_test_orig) = (
        data if data is not None else mnistnp.datasets.load("mnist"))
    Y_tr_resh = Y_train_orig.reshape(len(Y_train_orig), 1)  # the notebook: reshape(60000, 1)
    Y_te_resh = Y_test_orig.reshape(len(Y_test_orig), 1)
    Y_tr_T = to_categorical(Y_tr_resh, num_classes=10)
    Y_te_T = to_categorical(Y_te_resh, num_classes=10)
    Y_train = Y_tr_T.T
    Y_test = Y_te_T.T
    X_train_flatten = X_train_orig.reshape(X_train_orig.shape[0], -1).T
    X_test_flatten = X_test_orig.reshape(X_test_orig.shape[0], -1).T
    X_train = X_train_flatten / 255.
    X_test = X_test_flatten / 255.
    m = X_train.shape[1]


# ---- the notebook's functions, as it writes them ----


def softmax(u):
    s = np.exp(u) / np.sum(np.exp(u), axis=0, keepdims=True)
    return s


def relu(p):
    r = np.maximum(0, p)
    return r


def drelu(z):
    z[z <= 0] = 0
    z[z > 0] = 1
    return z


parameters = {}


def initialize_parameters(layer_dims):
    L = len(layer_dims)
    for l in range(1, L):  # noqa: E741 (the notebook's name)
        parameters["W" + str(l)] = np.random.randn(layer_dims[l], layer_dims[l - 1]) * (np.sqrt(2 / layer_dims[l - 1]))  # noqa: E501, NPY002 (the notebook's He init)
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))

    return parameters


def predict(parameters, X_test):
    forward_prop(parameters, X_test, activation)
    predictions = np.round(activation["A4"])

    return predictions


outputs = {}
activation = {}


def forward_prop(parameters, X_train, activation):
    outputs["Z" + str(1)] = np.dot(parameters["W1"], X_train) + parameters["b1"]
    activation["A" + str(1)] = relu(outputs["Z" + str(1)])

    for l in range(2, 4):  # noqa: E741
        outputs["Z" + str(l)] = np.dot(parameters["W" + str(l)], activation["A" + str(l - 1)]) + parameters["b" + str(l)]  # noqa: E501
        activation["A" + str(l)] = relu(outputs["Z" + str(l)])

    outputs["Z4"] = np.dot(parameters["W4"], activation["A3"]) + parameters["b4"]
    activation["A4"] = softmax(outputs["Z4"])

    return outputs, activation


def compute_cost(activation):
    loss = - np.sum((Y_train * np.log(activation["A4"])), axis=0, keepdims=True)
    cost = np.sum(loss, axis=1) / m
    return cost


grad_reg = {}


def back_prop(parameters, outputs, activation):
    grad_reg["dZ4"] = (activation["A4"] - Y_train) / m
    for l in range(1, 4):  # noqa: E741
        grad_reg["dA" + str(4 - l)] = np.dot(parameters["W" + str(4 - l + 1)].T, grad_reg["dZ" + str(4 - l + 1)])  # noqa: E501
        grad_reg["dZ" + str(4 - l)] = grad_reg["dA" + str(4 - l)] * drelu(outputs["Z" + str(4 - l)])

    grad_reg["dW1"] = np.dot(grad_reg["dZ1"], X_train.T)
    grad_reg["db1"] = np.sum(grad_reg["dZ1"], axis=1, keepdims=True)

    for l in range(2, 5):  # noqa: E741
        grad_reg["dW" + str(l)] = np.dot(grad_reg["dZ" + str(l)], activation["A" + str(l - 1)].T)
        grad_reg["db" + str(l)] = np.sum(grad_reg["dZ" + str(l)], axis=1, keepdims=True)

    return parameters, outputs, activation, grad_reg


def optimize(grad_reg, learning_rate=0.005):
    for i in range(1, 5):
        parameters["W" + str(i)] = parameters["W" + str(i)] - (learning_rate * grad_reg["dW" + str(i)])  # noqa: E501
        parameters["b" + str(i)] = parameters["b" + str(i)] - (learning_rate * grad_reg["db" + str(i)])  # noqa: E501

    return parameters


costs = []


def model(num_iterations, costs, activation, learning_rate=0.005):
    initialize_parameters([X_train.shape[0], 50, 50, 50, 10])

    for l in range(0, num_iterations):  # noqa: E741
        forward_prop(parameters, X_train, activation)
        cost = compute_cost(activation)
        back_prop(parameters, outputs, activation)
        optimize(grad_reg, learning_rate=learning_rate)

        if l % 100 == 0:
            costs.append(cost)

        if l % 100 == 0:
            print("Cost after iteration %i: %f" % (l, cost.item()), flush=True)  # noqa: UP031

    return costs, parameters


# ---- added: timed steps for speed.py, and the command line ----


def steps(count: int, learning_rate: float) -> float:
    """``count`` iterations of ``model``'s loop from ``parameters`` as they stand (set them
    first); returns the cost computed in the last one, before its update."""
    cost = np.full(1, np.nan)
    for _ in range(count):
        forward_prop(parameters, X_train, activation)
        cost = compute_cost(activation)
        back_prop(parameters, outputs, activation)
        optimize(grad_reg, learning_rate=learning_rate)
    return float(cost.item())


def scores(p: dict, X: np.ndarray, Y: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """The notebook's "accuracy" in % (its formula) and the true accuracy in % (argmax)."""
    Y_prediction = predict(p, X)
    notebook = 100 - np.mean(np.abs(Y_prediction - Y)) * 100
    true = 100 * np.mean(np.argmax(activation["A4"], axis=0) == labels)
    return float(notebook), float(true)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=1000,
                        help="full-batch iterations (the notebook: 1000)")
    parser.add_argument("--lr", type=float, default=0.005,
                        help="the rate model passes to optimize (the notebook: 0.005)")
    parser.add_argument("--seed", type=int, default=0, help="np.random.seed before the init")
    args = parser.parse_args(argv)
    load()
    np.random.seed(args.seed)  # noqa: NPY002 (the notebook's init draws from np.random)
    start = time.perf_counter()
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # its softmax overflows
        _, p = model(args.iterations, costs, activation, args.lr)
        seconds = time.perf_counter() - start
        train = scores(p, X_train, Y_train, Y_train_orig)
        test = scores(p, X_test, Y_test, Y_test_orig)
    print(f"{args.iterations} iterations at lr {args.lr}, seed {args.seed}: {seconds:.0f} s "
          f"({seconds / max(args.iterations, 1):.3f} s/iteration)")
    for name, (notebook, true) in (("train", train), ("test", test)):
        print(f"{name}: the notebook's accuracy {notebook:.3f}%, "
              f"true accuracy (argmax) {true:.2f}%")


if __name__ == "__main__":
    main()
