"""mnistnp's training and prediction speed side by side with PyTorch (CPU), in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/speed_vs_torch.py [--repeats 5]

Each case trains the same network (same initial weights, optimizer, batch size 128) for one
epoch of MNIST in mnistnp and in PyTorch, alternating which goes first, for several repeats;
the first repeat is a warm-up and is dropped. It prints samples/s (median and range), the
ratio of medians, the time over the GEMM floor (the epoch's matrix-multiply FLOPs over this
machine's measured float32 rate for the same shapes) and the BLAS kernel that ran. It also
times the seed notebook's own full-batch algorithm against the `notebook` recipe's step, and
one-image prediction latency. PyTorch is optional: without it only mnistnp's side runs.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Callable

import numpy as np

import mnistnp
from mnistnp.datasets import load
from mnistnp.training import fit, train_step

try:
    import torch
except ImportError:  # the comparison is optional
    torch = None

BATCH = 128


def blas_kernel() -> str:
    from threadpoolctl import threadpool_info

    return "; ".join(f"{i['internal_api']} {i.get('version')} {i.get('architecture')} "
                     f"{i['num_threads']} threads" for i in threadpool_info()
                     if i.get("user_api") == "blas")


def make_optimizer(kind: str) -> Callable[[], object]:
    return {"sgd": lambda: mnistnp.SGD(0.01, momentum=0.9),
            "adam": lambda: mnistnp.Adam(1e-3)}[kind]


def torch_twin(model: mnistnp.Sequential, kind: str) -> tuple[object, object]:
    dense = [layer for layer in model.layers if isinstance(layer, mnistnp.Dense)]
    layers: list[object] = []
    for i, layer in enumerate(dense):
        linear = torch.nn.Linear(layer.in_features, layer.out_features)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(layer.W.T.copy()))
            linear.bias.copy_(torch.from_numpy(layer.b.copy()))
        layers += [linear] + ([torch.nn.ReLU()] if i < len(dense) - 1 else [])
    net = torch.nn.Sequential(*layers)
    opt = (torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9) if kind == "sgd"
           else torch.optim.Adam(net.parameters(), lr=1e-3))
    return net, opt


def torch_epoch(net: object, opt: object, x: object, y: object, order: np.ndarray) -> float:
    start = time.perf_counter()
    for s in range(0, len(order), BATCH):
        idx = torch.from_numpy(order[s:s + BATCH])
        xb = x[idx].float().mul_(1 / 255)
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(net(xb), y[idx])
        loss.backward()
        opt.step()
    return len(order) / (time.perf_counter() - start)


def gemm_floor(sizes: list[int], n: int, dtype: str = "float32") -> float:
    """Seconds the epoch's matrix products take at this machine's rate for the same shapes."""
    rng = np.random.default_rng(0)
    total = 0.0
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        x = rng.random((BATCH, a), dtype=np.float32).astype(dtype)
        w = rng.random((a, b), dtype=np.float32).astype(dtype)
        g = rng.random((BATCH, b), dtype=np.float32).astype(dtype)
        total += median_time(lambda x=x, w=w: x @ w, 200)
        total += median_time(lambda x=x, g=g: x.T @ g, 200)
        if i:  # the first layer's input gradient is never computed
            total += median_time(lambda g=g, w=w: g @ w.T, 200)
    return total * n / BATCH


def median_time(f: Callable[[], object], number: int) -> float:
    f()
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(number):
            f()
        runs.append((time.perf_counter() - start) / number)
    return statistics.median(runs)


def training_case(name: str, sizes: list[int], kind: str, repeats: int, data) -> None:
    (x, y), _ = data
    model = mnistnp.mlp(sizes, np.random.default_rng(0))
    opt = make_optimizer(kind)()
    ours, theirs = [], []
    if torch is not None:
        net, topt = torch_twin(model, kind)
        tx = torch.from_numpy(x.reshape(len(x), -1).copy())
        ty = torch.from_numpy(y.astype(np.int64))
    rng = np.random.default_rng(1)
    for r in range(repeats + 1):  # repeat 0 warms up
        order = rng.permutation(len(x))
        runs = [lambda: fit(model, x, y, opt, rng=rng, epochs=1, batch_size=BATCH,
                            progress=False).epoch_samples_per_s[0]]
        if torch is not None:
            runs.append(lambda order=order: torch_epoch(net, topt, tx, ty, order))
        results = [run() for run in (runs if r % 2 else runs[::-1])]
        if r % 2 == 0:
            results = results[::-1]
        if r:
            ours.append(results[0])
            if torch is not None:
                theirs.append(results[1])
    floor = len(x) / gemm_floor(sizes, len(x))
    report(name, ours, theirs, floor)


def report(name: str, ours: list[float], theirs: list[float], floor: float) -> None:
    med = statistics.median(ours)
    line = (f"{name}: mnistnp {med:,.0f} samples/s ({min(ours):,.0f}-{max(ours):,.0f}); "
            f"GEMM floor {floor:,.0f} samples/s, time over floor {floor / med:.2f}x")
    if theirs:
        tmed = statistics.median(theirs)
        line += (f"; PyTorch {tmed:,.0f} ({min(theirs):,.0f}-{max(theirs):,.0f}); "
                 f"ratio {med / tmed:.2f}x")
    print(line, flush=True)


def notebook_case(repeats: int, data) -> None:
    """The seed notebook's full-batch step (float64, column-major, fresh arrays) vs ours."""
    (x, y), _ = data
    seed_x = x.reshape(len(x), -1).T / 255.0  # (784, m): the notebook keeps all of it
    onehot = np.eye(10)[y].T
    dims = [784, 50, 50, 50, 10]
    rng = np.random.default_rng(0)
    params = {}
    for k in range(1, 5):
        params[f"W{k}"] = rng.standard_normal((dims[k], dims[k - 1])) * np.sqrt(2 / dims[k - 1])
        params[f"b{k}"] = np.zeros((dims[k], 1))

    def seed_step() -> None:
        a, cache = seed_x, [(seed_x, None)]
        for k in range(1, 5):
            z = params[f"W{k}"] @ a + params[f"b{k}"]
            if k < 4:
                a = np.maximum(0, z)
            else:
                e = np.exp(z - z.max(0, keepdims=True))
                a = e / e.sum(0, keepdims=True)
            cache.append((a, z))
        m = seed_x.shape[1]
        dz = a - onehot
        for k in range(4, 0, -1):
            a_prev = cache[k - 1][0]
            dw, db = dz @ a_prev.T / m, dz.sum(1, keepdims=True) / m
            if k > 1:
                dz = (params[f"W{k}"].T @ dz) * (cache[k - 1][1] > 0)
            params[f"W{k}"] = params[f"W{k}"] - 0.5 * dw
            params[f"b{k}"] = params[f"b{k}"] - 0.5 * db

    model = mnistnp.mlp(dims, np.random.default_rng(0), "float64")
    opt = mnistnp.SGD(0.5)
    ours, seed = [], []
    for r in range(repeats + 1):
        pair = [lambda: median_time(lambda: train_step(model, x, y, slice(0, len(x)), opt), 1),
                lambda: median_time(seed_step, 1)]
        a, b = (pair[0](), pair[1]()) if r % 2 else (pair[1](), pair[0]())[::-1]
        if r:
            ours.append(a)
            seed.append(b)
    floor = gemm_floor(dims, len(x), "float64")
    mo, ms = statistics.median(ours), statistics.median(seed)
    print(f"notebook full-batch step, float64: mnistnp {mo:.3f} s ({min(ours):.3f}-"
          f"{max(ours):.3f}); seed code {ms:.3f} s ({min(seed):.3f}-{max(seed):.3f}); "
          f"speedup {ms / mo:.2f}x; GEMM floor {floor:.3f} s", flush=True)


def latency_case(data) -> None:
    _, (xt, _) = data
    model = mnistnp.mlp([784, 50, 50, 50, 10], np.random.default_rng(0))
    image = xt[:1]
    ours = median_time(lambda: model.predict_proba(image), 2000)
    line = f"one-image prediction: mnistnp {ours * 1e6:.1f} us"
    if torch is not None:
        net, _ = torch_twin(model, "sgd")
        timg = torch.from_numpy(image.reshape(1, -1).copy())

        def predict() -> object:
            with torch.inference_mode():
                return net(timg.float().mul_(1 / 255)).softmax(1)

        theirs = median_time(predict, 2000)
        line += f"; PyTorch {theirs * 1e6:.1f} us; mnistnp takes {ours / theirs:.2f} of it"
    print(line, flush=True)


def memory_case() -> None:
    """Peak resident memory of `mnistnp train` (default recipe) under /usr/bin/time -v."""
    import re
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(["/usr/bin/time", "-v", "mnistnp", "train", "--no-progress",
                               "--run-dir", tmp], capture_output=True, text=True, check=False)
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    peak = f"{int(found.group(1)) / 1024:.0f} MB" if found else "not reported"
    print(f"peak resident memory of `mnistnp train` (default recipe): {peak}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases",
                        default="small-sgd,small-adam,wide-sgd,notebook,latency,memory")
    args = parser.parse_args()
    print(f"NumPy BLAS: {blas_kernel()}")
    if torch is not None:
        print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    else:
        print("PyTorch not installed (pip install torch==2.13.0): mnistnp's side only")
    data = load()
    cases = args.cases.split(",")
    small, wide = [784, 50, 50, 50, 10], [784, 800, 800, 10]
    if "small-sgd" in cases:
        training_case("784-50-50-50-10 SGD momentum", small, "sgd", args.repeats, data)
    if "small-adam" in cases:
        training_case("784-50-50-50-10 Adam", small, "adam", args.repeats, data)
    if "wide-sgd" in cases:
        training_case("784-800-800-10 SGD momentum", wide, "sgd", args.repeats, data)
    if "notebook" in cases:
        notebook_case(args.repeats, data)
    if "latency" in cases:
        latency_case(data)
    if "memory" in cases:
        memory_case()


if __name__ == "__main__":
    main()
