"""Data-parallel training over MPI on this machine, measured: training samples/s of one process
with 2 BLAS threads against 2 ranks with 1 thread each (``speed``), the time of one Allreduce of
each network's gradient buffer (``allreduce``), and the memory the data adds per rank, with a
copy per rank or one per node (``memory``). docs/scaling.md reads these and models larger runs.

Run from the repository root with the mpi extra (``pip install -e '.[mpi]'``):

    python benchmarks/mpi_scaling.py speed [--repeats 3] [--nets seed cnn] [--batches 128 512]
    python benchmarks/mpi_scaling.py allreduce [--ranks 2]
    python benchmarks/mpi_scaling.py memory
    python benchmarks/mpi_scaling.py model --rate seed=R --rate wide=R --rate cnn=R \
        [--plot docs/scaling.png]

``model`` puts the measured figures (each net's samples/s on one node, ``R``) into the
model of docs/scaling.md: a step is the node's share of the global batch, then a ring
allreduce of the gradient between nodes, not overlapped (mnistnp reduces after the backward
pass); it prints the tables of that page and draws its plot.

Each measurement runs in fresh processes (``mpiexec -n 2``, or one process with
``OPENBLAS_NUM_THREADS=2``), the two setups alternating repeat by repeat; the medians are
reported with the load average, as the machine may be busy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

# The networks of docs/scaling.md: the seed notebook's, the best recipe's wide MLP, the cnn
# recipe's CNN (its augmentation, batch norm and dropout included).
NETS = {
    "seed": "dense:50,dense:50,dense:50",
    "wide": "dense:800,dense:800",
    "cnn": "affine:10:0.1:2,conv:32:3,bn,maxpool:2,conv:64:3,bn,conv:64:3,bn,maxpool:2,"
           "dense:256,dropout:0.25",
}
# Timed steps per repeat (after as many again to warm up), so a repeat takes about 1-3 s.
STEPS = {("seed", 128): 400, ("seed", 512): 200, ("wide", 128): 60, ("wide", 512): 20,
         ("cnn", 128): 12, ("cnn", 512): 4}
HERE = Path(__file__).resolve()


def mpiexec() -> str:
    found = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which(
        "mpiexec")
    if found is None:
        sys.exit("mpi_scaling: no mpiexec (pip install -e '.[mpi]')")
    return found


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- inside the measured processes ---------------------------------------------------------


def world() -> Any:
    from mnistnp.mpi import MPIWorld, launched
    from mnistnp.training_world import World

    return MPIWorld() if launched() else World()


def measure_speed(net: str, batch: int, steps: int) -> dict[str, Any]:
    """Samples/s of ``steps`` training steps of ``net`` at global batch ``batch``."""
    from mnistnp import SGD, Trainer, datasets, network

    here = world()
    (x, y), _ = datasets.load("mnist")
    model = network(NETS[net], x.shape[1:], 10, rng=np.random.default_rng(0))
    seams = here.seams(len(x), batch)
    trainer = Trainer(model, SGD(0.01, momentum=0.9), seams.sampler,
                      grad_hooks=seams.grad_hooks, callbacks=seams.callbacks)
    rng = np.random.default_rng(1)
    trainer.fit(x, y, rng=rng, iterations=steps)  # warm-up: buffers, BLAS threads
    comm = getattr(here, "comm", None)
    if comm is not None:
        comm.Barrier()
    start = time.perf_counter()
    trainer.fit(x, y, rng=rng, iterations=steps)
    if comm is not None:
        comm.Barrier()
    seconds = time.perf_counter() - start
    return {"samples_per_s": steps * batch / seconds, "ranks": here.size,
            "threads": getattr(here, "threads", 0), "params": int(model.params.size)}


def measure_allreduce(net: str, calls: int) -> dict[str, Any]:
    """The median time of one in-place Allreduce of ``net``'s float32 gradient buffer."""
    from mpi4py import MPI

    from mnistnp import network

    comm = MPI.COMM_WORLD
    size = network(NETS[net], (28, 28), 10).params.size
    grads = np.ones(size, np.float32)
    times = []
    for _ in range(calls):
        comm.Barrier()
        start = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, grads)
        times.append(time.perf_counter() - start)
    return {"net": net, "params": int(size), "bytes": int(grads.nbytes),
            "ranks": comm.Get_size(), "median_us": 1e6 * statistics.median(times[calls // 5:])}


def measure_memory(shared: bool) -> dict[str, Any]:
    """Memory the data adds to this rank: its own copy, or one per node in shared memory."""
    from mnistnp import datasets
    from mnistnp.mpi import MPIWorld

    def rollup() -> dict[str, float]:
        out = {}
        for line in Path("/proc/self/smaps_rollup").read_text().splitlines():
            key, *value = line.split()
            if key in ("Pss:", "Private_Clean:", "Private_Dirty:"):
                out[key[:-1]] = int(value[0]) / 1024
        return out

    here = MPIWorld()
    before = rollup()
    data = (here.share_data(lambda: datasets.load("mnist")) if shared
            else datasets.load("mnist"))
    touched = sum(float(a.sum(dtype=np.float64)) for part in data for a in part)
    after = rollup()
    private = sum(after[k] - before[k] for k in ("Private_Clean", "Private_Dirty"))
    here.comm.Barrier()
    return {"shared": shared, "rank": here.rank, "private_mb": private,
            "pss_mb": after["Pss"] - before["Pss"], "checksum": touched}


def inner(argv: list[str]) -> None:
    what = argv[0]
    if what == "speed":
        result = measure_speed(argv[1], int(argv[2]), int(argv[3]))
    elif what == "allreduce":
        result = measure_allreduce(argv[1], int(argv[2]))
    else:
        result = measure_memory(argv[1] == "shared")
    rank = int(os.environ.get("PMI_RANK", "0"))
    if rank == 0 or what == "memory":
        print(json.dumps(result), file=sys.__stdout__, flush=True)


# --- the driver ------------------------------------------------------------------------------


def run_inner(ranks: int | None, *args: object, threads: int | None = None) -> list[dict]:
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(name, None)  # the ranks share the cores themselves (MPIWorld)
    if threads is not None:
        env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(threads)
    command = [sys.executable, str(HERE), "_inner", *map(str, args)]
    if ranks is not None:
        command = [mpiexec(), "-n", str(ranks), *command]
    else:
        env = {k: v for k, v in env.items() if not k.startswith(("PMI", "OMPI_", "PMIX"))}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"mpi_scaling: {' '.join(command)} failed:\n{done.stderr}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def speed(args: argparse.Namespace) -> None:
    print(f"load average before: {load_average()}")
    print("| net | global batch | 1 process, 2 threads (samples/s) | 2 ranks, 1 thread each "
          "(samples/s) | ratio |")
    print("|---|---|---|---|---|")
    for net in args.nets:
        for batch in args.batches:
            steps = STEPS[(net, batch)]
            alone, pair = [], []
            for _ in range(args.repeats):  # alternating, so a busy spell hits both
                alone.append(run_inner(None, "speed", net, batch, steps,
                                       threads=2)[0]["samples_per_s"])
                pair.append(run_inner(2, "speed", net, batch, steps)[0]["samples_per_s"])
            a, p = statistics.median(alone), statistics.median(pair)
            print(f"| {net} | {batch} | {a:,.0f} ({_spread(alone)}) | {p:,.0f} "
                  f"({_spread(pair)}) | {p / a:.2f}x |", flush=True)
    print(f"load average after: {load_average()}")


def _spread(values: list[float]) -> str:
    return f"{min(values):,.0f}-{max(values):,.0f}"


def allreduce(args: argparse.Namespace) -> None:
    print(f"load average before: {load_average()}")
    print(f"| net | parameters | float32 buffer | Allreduce, {args.ranks} ranks (median) |")
    print("|---|---|---|---|")
    for net in NETS:
        r = run_inner(args.ranks, "allreduce", net, args.calls)[0]
        print(f"| {net} | {r['params']:,} | {r['bytes'] / 1e6:.2f} MB | "
              f"{r['median_us']:,.0f} us |", flush=True)
    print(f"load average after: {load_average()}")


def memory(args: argparse.Namespace) -> None:
    for shared in (False, True):
        for r in sorted(run_inner(2, "memory", "shared" if shared else "own"),
                        key=lambda r: r["rank"]):
            how = "one copy per node" if shared else "a copy per rank"
            print(f"{how}: rank {r['rank']}: private +{r['private_mb']:.0f} MB, proportional "
                  f"set size +{r['pss_mb']:.0f} MB")


# The links of the model: bandwidth in bytes/s and the latency of one message (TCP over 10 Gb/s
# Ethernet; RDMA over 100 Gb/s InfiniBand or RoCE), typical published figures, not measured.
LINKS = {"10 Gb/s": (10e9 / 8, 20e-6), "100 Gb/s": (100e9 / 8, 3e-6)}
NODES = [1, 2, 4, 8, 16, 32, 64]
PARAMS = {"seed": 44_860, "wide": 1_276_810, "cnn": 861_706}  # float32: 4 bytes each


def ring_allreduce(nodes: int, nbytes: float, bandwidth: float, latency: float) -> float:
    """Seconds of a ring allreduce of ``nbytes`` over ``nodes``: a reduce-scatter and an
    all-gather, 2 (n - 1) messages of nbytes / n each."""
    if nodes == 1:
        return 0.0
    return 2 * (nodes - 1) * (latency + nbytes / nodes / bandwidth)


def step_seconds(net: str, rate: float, batch: float, nodes: int, link: str) -> float:
    """One step: each node's share of the batch at ``rate`` samples/s, then the allreduce."""
    bandwidth, latency = LINKS[link]
    return batch / nodes / rate + ring_allreduce(nodes, 4 * PARAMS[net], bandwidth, latency)


def table(title: str, columns: list[int], rows: dict[tuple[str, str], list[str]]) -> None:
    """One of the model's tables: a row per net and link, a column per node count."""
    print(title)
    print("| net | link | " + " | ".join(f"{n} nodes" for n in columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for (net, link), cells in rows.items():
        print(f"| {net} | {link} | " + " | ".join(cells) + " |")


def model(args: argparse.Namespace) -> None:
    rates = {net: float(rate) for net, rate in (item.split("=") for item in args.rate)}
    cases = [(net, link) for net in rates for link in LINKS]

    def speedups(net: str, link: str, batch: int) -> list[str]:
        one = step_seconds(net, rates[net], batch, 1, link)
        return [f"{one / step_seconds(net, rates[net], batch, n, link):.2f}" for n in NODES]

    def efficiencies(net: str, link: str) -> list[str]:
        one = step_seconds(net, rates[net], args.weak, 1, link)
        return [f"{one / step_seconds(net, rates[net], args.weak * n, n, link):.2f}"
                for n in NODES]

    def edges(net: str, link: str) -> list[str]:
        bandwidth, latency = LINKS[link]
        return [f"{n * rates[net] * ring_allreduce(n, 4 * PARAMS[net], bandwidth, latency):,.0f}"
                for n in NODES[1:]]

    for batch in args.strong:
        table(f"strong scaling, global batch {batch}: speed-up over one node", NODES,
              {case: speedups(*case, batch) for case in cases})
    table(f"weak scaling, {args.weak} rows per node: efficiency (one node's step time over "
          "N's)", NODES, {case: efficiencies(*case) for case in cases})
    table("global batch below which the allreduce takes longer than the compute", NODES[1:],
          {case: edges(*case) for case in cases})
    if args.plot:
        plot(rates, args.strong[0], args.weak, args.plot)


def plot(rates: dict[str, float], batch: int, per_node: int, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for net, rate in rates.items():
        for link, style in zip(LINKS, ("--", "-")):
            one = step_seconds(net, rate, batch, 1, link)
            axes[0].plot(NODES, [one / step_seconds(net, rate, batch, n, link) for n in NODES],
                         style, marker="o", label=f"{net}, {link}")
            one = step_seconds(net, rate, per_node, 1, link)
            axes[1].plot(NODES, [n * one / step_seconds(net, rate, per_node * n, n, link)
                                 for n in NODES], style, marker="o", label=f"{net}, {link}")
    for ax, title in zip(axes, (f"strong scaling: global batch {batch}",
                                f"weak scaling: {per_node} rows per node")):
        ax.plot(NODES, NODES, ":", color="grey", label="ideal")
        ax.set(xscale="log", yscale="log", xlabel="nodes", title=title)
        ax.set_xticks(NODES, [str(n) for n in NODES])
    axes[0].set_ylabel("samples/s over one node's")
    axes[1].legend(fontsize=7)
    fig.suptitle("Modelled data-parallel speed-up (ring allreduce, measured compute rates)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_inner":
        inner(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--nets", nargs="+", default=["seed", "cnn"], choices=list(NETS))
    s.add_argument("--batches", nargs="+", type=int, default=[128, 512], choices=[128, 512])
    a = sub.add_parser("allreduce")
    a.add_argument("--ranks", type=int, default=2)
    a.add_argument("--calls", type=int, default=200)
    sub.add_parser("memory")
    m = sub.add_parser("model")
    m.add_argument("--rate", action="append", required=True, metavar="NET=SAMPLES_PER_S",
                   help="a net's training samples/s on one node (from speed)")
    m.add_argument("--strong", nargs="+", type=int, default=[512, 8192])
    m.add_argument("--weak", type=int, default=256)
    m.add_argument("--plot", metavar="PNG")
    args = parser.parse_args()
    {"speed": speed, "allreduce": allreduce, "memory": memory, "model": model}[args.what](args)


if __name__ == "__main__":
    main()
