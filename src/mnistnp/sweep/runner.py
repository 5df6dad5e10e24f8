"""Running a sweep (``Sweep``): each trial a full run in its own folder, on any executor (a local
process pool, or MPI's), its row appended to results.csv as it finishes; a sweep resumed skips
the trials its results.csv holds, and the trials are ranked by validation accuracy alone."""

from __future__ import annotations

import csv
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..atomic import atomic_write
from ..experiment import Run
from ..nn import threads
from .spec import SweepError, SweepSpec, describe, text

RESULTS, SWEEP = "results.csv", "sweep.json"
COLUMNS = ("trial", "status", "val_accuracy", "test_accuracy", "train_seconds", "seconds",
           "folder", "error")


def run_trial(spec: SweepSpec, trial: int, settings: dict[str, Any], folder: str,
              num_threads: int = 1) -> dict[str, Any]:
    """Train one trial as a full run in ``folder``; a failure is its row's ``error``.

    Module-level, so a process pool (local or MPI) can send it to a worker.

    Parameters
    ----------
    spec : SweepSpec
        The sweep.
    trial : int
        The trial's number, from 0.
    settings : dict
        Its settings.
    folder : str
        Its run folder (replaced: a trial left half-done is run again).
    num_threads : int, default 1
        BLAS and mnistnp threads for it (BLAS's through threadpoolctl, if installed).

    Returns
    -------
    dict
        Its results.csv row: ``COLUMNS`` and the searched settings.
    """
    row: dict[str, Any] = {"trial": trial, "folder": folder, "status": "ok", "error": ""}
    start = time.perf_counter()
    try:
        _limit_threads(num_threads)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a trial's warnings would flood the screen
            result = Run(spec.config(settings), folder, recipe=spec.recipe,
                         overwrite=True).execute()
        metrics = result.seeds[0].metrics
        row.update(val_accuracy=metrics["val_accuracy"], test_accuracy=metrics["test_accuracy"],
                   train_seconds=round(metrics["train_seconds"], 3))
    except Exception as e:  # the sweep goes on; the row says why this trial failed
        row.update(status="failed", error=f"{type(e).__name__}: {e}")
    row["seconds"] = round(time.perf_counter() - start, 3)
    row.update({name: text(settings[name]) for name in spec.space})
    return row


def _limit_threads(n: int) -> None:
    threads.share_cores(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # BLAS keeps its own count
        return
    threadpool_limits(n, user_api="blas")


def local_pool(workers: int) -> Executor:
    """A pool of ``workers`` local processes for the trials.

    Parameters
    ----------
    workers : int
        Processes, >= 1.

    Returns
    -------
    concurrent.futures.Executor
        A ``ProcessPoolExecutor``.
    """
    return ProcessPoolExecutor(max_workers=workers)


class Sweep:
    """A sweep's trials, run in ``folder``.

    The folder holds sweep.json, results.csv and a folder per trial (trial-000/ ...).
    A folder holding a sweep of other settings is refused; one holding this sweep's
    results.csv goes on, skipping the trials it records (a row deleted runs again).

    Parameters
    ----------
    spec : SweepSpec
        What to run.
    folder : str or os.PathLike
        Where.
    """

    def __init__(self, spec: SweepSpec, folder: str | os.PathLike[str]) -> None:
        self.spec, self.folder = spec, Path(folder)
        self.settings = spec.trial_settings()

    @property
    def results(self) -> Path:
        """The results.csv file."""
        return self.folder / RESULTS

    def done(self) -> list[dict[str, str]]:
        """The rows results.csv holds, one per trial finished (ok or failed).

        Returns
        -------
        list of dict
            The rows, by column name; empty without a results.csv.
        """
        if not self.results.is_file():
            return []
        with open(self.results, newline="", encoding="utf-8") as f:
            return [row for row in csv.DictReader(f) if row.get("trial", "").isdigit()]

    def claim(self) -> None:
        """Make the folder, or check that it holds this sweep (SweepError if another).

        Raises
        ------
        SweepError
            If the folder holds a sweep of other settings.
        """
        record = {"spec": asdict(self.spec), "trials": self.settings}
        path = self.folder / SWEEP
        if path.is_file():
            earlier = json.loads(path.read_text(encoding="utf-8"))
            if earlier != json.loads(json.dumps(record)):
                raise SweepError(f"{self.folder} holds a sweep of other settings; give "
                                 "another folder to start this one")
            return
        if self.folder.exists() and any(self.folder.iterdir()):
            raise SweepError(f"{self.folder} is not empty and holds no sweep; give another "
                             "folder")
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(path, "w") as f:
            json.dump(record, f, indent=2)

    def run(self, executor: Executor, num_threads: int = 1,
            on_done: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, str]]:
        """Run every trial results.csv does not hold, appending each row as it finishes.

        Parameters
        ----------
        executor : concurrent.futures.Executor
            Runs the trials (``local_pool``, or MPI's ``MPIPoolExecutor``).
        num_threads : int, default 1
            Threads each trial uses.
        on_done : callable, optional
            Told each new row (a progress bar).

        Returns
        -------
        list of dict
            Every row results.csv holds at the end.
        """
        self.claim()
        finished = {int(row["trial"]) for row in self.done()}
        todo = [k for k in range(len(self.settings)) if k not in finished]
        columns = [*COLUMNS, *self.spec.space]
        new = not self.results.is_file()
        with open(self.results, "a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, columns)
            if new:
                writer.writeheader()
                f.flush()
            for row in self._rows(executor, todo, num_threads):
                writer.writerow(row)
                f.flush()  # a sweep stopped now keeps this row
                if on_done is not None:
                    on_done(row)
        return self.done()

    def _rows(self, executor: Executor, todo: list[int],
              num_threads: int) -> Iterator[dict[str, Any]]:
        futures: list[Future[dict[str, Any]]] = [
            executor.submit(run_trial, self.spec, k, self.settings[k],
                            str(self.folder / f"trial-{k:03d}"), num_threads) for k in todo]
        for future in as_completed(futures):
            yield future.result()

    def ranking(self) -> list[dict[str, str]]:
        """The finished trials that trained, best validation accuracy first (never the test's).

        Returns
        -------
        list of dict
            results.csv's rows of status ``ok``, sorted.
        """
        ok = [row for row in self.done() if row["status"] == "ok"]
        return sorted(ok, key=lambda row: (-_number(row["val_accuracy"]), int(row["trial"])))

    def describe(self, row: dict[str, str]) -> str:
        """A trial's searched settings as text (``"lr=0.003, hidden=256"``).

        Parameters
        ----------
        row : dict
            Its results.csv row.

        Returns
        -------
        str
            The settings.
        """
        return describe(self.settings[int(row["trial"])], self.spec.space)


def _number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        return -math.inf
    return number if math.isfinite(number) else -math.inf
