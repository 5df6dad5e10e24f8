"""The report: each case's Result, the environment that ran it, one line per case and the tables."""

from __future__ import annotations

import dataclasses
import math
import os
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from gemm_floor import Floor

import mnistnp

FORMATS = {"samples/s": "{:,.0f}", "s/step": "{:.3f}", "µs": "{:.1f}", "MB": "{:.0f}"}


@dataclasses.dataclass
class Result:
    """One case's measurements and how they compare with the target."""

    case: str
    unit: str  # of `ours` and `theirs`
    ours: list[float]
    theirs: list[float]  # the baseline's; empty if it did not run
    baseline: str  # what `theirs` measures ("PyTorch", "seed notebook"); "" if nothing
    target: str
    ratio: float | None = None  # how many times better mnistnp is; None without a baseline
    passed: bool | None = None  # None: not judged
    note: str = ""
    floor: Floor | None = None
    missing: str = ""  # why the baseline did not run, shown in place of the ratio


def spread(values: Sequence[float], unit: str) -> str:
    """'median (min-max)' in the unit's format; '-' for no values."""
    if not values:
        return "-"
    fmt = FORMATS[unit]
    med = fmt.format(statistics.median(values))
    if len(values) == 1:
        return med
    return f"{med} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def load_average() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def print_environment(torch_line: str) -> None:
    """Versions, the BLAS NumPy runs on, the OpenBLAS variables, then ``torch_line``."""
    print(f"Python {sys.version.split()[0]}, NumPy {np.__version__}, mnistnp "
          f"{mnistnp.__version__}; {os.cpu_count()} CPUs, load average {load_average()}")
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        print("BLAS: unknown (pip install threadpoolctl)")
    else:
        for info in threadpool_info():
            if info.get("user_api") == "blas":
                owner = "NumPy" if "numpy" in info["filepath"] else Path(info["filepath"]).name
                print(f"{owner} BLAS: {info['internal_api']} {info.get('version')}, "
                      f"{info.get('architecture')} kernel, {info['num_threads']} threads")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                "OMP_NUM_THREADS"):
        print(f"  {var}: {os.environ.get(var, 'not set')}")
    print(torch_line)


def print_result(result: Result) -> None:
    """One case's line as soon as it is measured."""
    line = f"  {result.case}: mnistnp {spread(result.ours, result.unit)} {result.unit}"
    if result.theirs:
        line += f"; {result.baseline} {spread(result.theirs, result.unit)}"
    if result.ratio is not None:
        line += f"; ratio {result.ratio:.2f}x"
    print(line + (f"; {result.note}" if result.note else ""), flush=True)


def status(result: Result) -> str:
    return {True: "PASS", False: "MISS", None: "n/a"}[result.passed]


def markdown_table(head: Sequence[str], rows: list[list[str]]) -> str:
    """A padded Markdown table."""
    widths = [max(len(row[i]) for row in [list(head), *rows]) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows)])


def print_tables(results: list[Result]) -> None:
    """The results table, then the FLOP-floor table."""
    rows = []
    for r in results:
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else r.missing
        rows.append([r.case, r.unit, spread(r.ours, r.unit),
                     f"{r.baseline} {spread(r.theirs, r.unit)}" if r.theirs else "-",
                     ratio, r.target, status(r)])
    print(markdown_table(["case", "unit", "mnistnp median (min-max)",
                          "baseline median (min-max)", "ratio", "target", "result"], rows))
    floors = [(r.case, r.floor) for r in results if r.floor is not None]
    if not floors:
        return
    rows = []
    for case, f in floors:
        theirs = "-" if math.isnan(f.theirs_s) else \
            f"{f.theirs_s / f.rate_s:.2f}x / {f.theirs_s / f.shapes_s:.2f}x"
        rows.append([case, f"{f.dtype}, per {f.per}", f"{f.gflop:.3g}", f"{f.rate:.1f}",
                     f"{f.rate_s:.3g}", f"{f.shapes_s:.3g}",
                     f"{f.ours_s / f.rate_s:.2f}x / {f.ours_s / f.shapes_s:.2f}x", theirs])
    print("\nFLOP floor: measured time over the least time of the epoch's (step's, image's) "
          "matrix products alone,\nat the best 2048x2048 GEMM rate / each product timed "
          "(best of 7) at the case's own shapes")
    print(markdown_table(["case", "", "GFLOP", "GFLOP/s", "floor s (rate)", "floor s (shapes)",
                          "mnistnp x over floor", "baseline x over floor"], rows))
