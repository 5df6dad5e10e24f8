"""``mnistnp sweep SWEEP.toml``: a grid or random search of training runs, on a local process
pool, or on MPI's under ``mpiexec -n N python -m mpi4py.futures -m mnistnp sweep``."""

from __future__ import annotations

import argparse
import json
import os
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from ..atomic import atomic_write
from ..errors import MnistnpError
from ..sweep import Sweep, load_spec, local_pool
from . import options as opt

BEST = "best.json"
SHOWN = 5  # trials the ranking lists


def add_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        "sweep", help="run a grid or random search of training runs from a TOML file",
        description="Train one full run per trial of SWEEP.toml (a grid or a random search "
        "over any of train's settings; docs/sweeps.md gives the format), each in its own "
        "folder, several at once on a local process pool, or on MPI's pool under 'mpiexec "
        "-n N python -m mpi4py.futures -m mnistnp sweep'. Each trial's row goes to "
        "results.csv as it finishes; the trials are ranked by validation accuracy and the "
        "best named (best.json). Run again, it goes on where it stopped.")
    parser.add_argument("sweep", type=Path, metavar="SWEEP.toml", help="the sweep file")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="the sweep's folder (default: sweeps/NAME, NAME the file's stem)")
    parser.add_argument("--workers", type=opt.positive_int, metavar="N",
                        help="trials at once on the local pool (default: the cores); under "
                        "mpi4py.futures, the ranks but the first")
    parser.add_argument("--threads", type=opt.positive_int, metavar="N",
                        help="BLAS and mnistnp threads per trial (default: the cores shared "
                        "by the trials at once, at least 1)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar, only a line per trial")
    return parser


def run(args: argparse.Namespace) -> int:
    spec = load_spec(args.sweep)
    sweep = Sweep(spec, args.out or Path("sweeps") / args.sweep.stem)
    sweep.claim()
    total, done = len(sweep.settings), len(sweep.done())
    executor, workers = _pool(args)
    num_threads = args.threads or max(1, _cores() // workers)
    print(f"sweep: {spec.method} of {total} trials over {', '.join(spec.space)} (recipe "
          f"{spec.recipe}) in {sweep.folder}; {done} done before; {workers} at once, "
          f"{num_threads} thread{'s' * (num_threads != 1)} each", flush=True)
    from tqdm.auto import tqdm

    with executor, tqdm(total=total, initial=done, unit="trial",
                        disable=True if args.no_progress else None) as bar:
        def show(row: dict[str, Any]) -> None:
            bar.update(1)
            bar.write(_line(sweep, row))

        sweep.run(executor, num_threads, on_done=show)
    return _rank(sweep)


def _pool(args: argparse.Namespace) -> tuple[Executor, int]:
    """The trials' pool and its size: MPI's under mpiexec, else local processes."""
    from ..mpi.launch import launched

    if launched():
        from ..mpi import trial_pool

        pool = trial_pool()
        return pool, pool.num_workers
    workers = args.workers or _cores()
    return local_pool(workers), workers


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _line(sweep: Sweep, row: dict[str, Any]) -> str:
    head = f"trial {row['trial']} ({sweep.describe({'trial': str(row['trial'])})})"
    if row["status"] != "ok":
        return f"{head}: failed: {row['error']}"
    return (f"{head}: validation {100 * row['val_accuracy']:.2f}%, test "
            f"{100 * row['test_accuracy']:.2f}%, {row['seconds']:.1f} s")


def _rank(sweep: Sweep) -> int:
    """Print the ranking by validation accuracy and write best.json; 1 if no trial trained."""
    ranking, rows = sweep.ranking(), sweep.done()
    failed = sum(row["status"] != "ok" for row in rows)
    print(f"results: {sweep.results} ({len(rows)} trials, {failed} failed)")
    if not ranking:
        raise MnistnpError(f"no trial of {sweep.folder} trained; results.csv says why")
    print("ranked by validation accuracy:")
    for place, row in enumerate(ranking[:SHOWN], 1):
        print(f"  {place}. trial {row['trial']} ({sweep.describe(row)}): validation "
              f"{100 * float(row['val_accuracy']):.2f}%, test "
              f"{100 * float(row['test_accuracy']):.2f}%")
    best = ranking[0]
    record = {"trial": int(best["trial"]), "settings": sweep.settings[int(best["trial"])],
              "val_accuracy": float(best["val_accuracy"]),
              "test_accuracy": float(best["test_accuracy"]),
              "model": str(Path(best["folder"]) / "model.npz")}
    with atomic_write(sweep.folder / BEST, "w") as f:
        json.dump(record, f, indent=2)
    print(f"best: trial {best['trial']} ({sweep.describe(best)}), model {record['model']}")
    return 0
