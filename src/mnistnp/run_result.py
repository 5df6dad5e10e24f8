"""What a run leaves: each seed's result (``SeedResult``), the run's (``RunResult``), and over
several seeds their summary and the best by validation."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .nn import Sequential
from .run_folder import SeedFiles
from .training import History


@dataclass
class SeedResult:
    """One seed's training: its files and metrics.

    Attributes
    ----------
    seed : int
        The seed it was trained with.
    files : SeedFiles
        Where its model, learning curve, metrics and checkpoint are.
    metrics : dict
        Its metrics as its model's info records them: accuracies as fractions, times in
        seconds.
    model : Sequential or None, default None
        The trained model; None for a seed trained before a resume.
    history : History or None, default None
        Its training record; None for a seed trained before a resume.
    """

    seed: int
    files: SeedFiles
    metrics: dict[str, Any]
    model: Sequential | None = None
    history: History | None = None

    @property
    def test_accuracy(self) -> float:
        """The trained model's accuracy on the test set, a fraction."""
        return float(self.metrics["test_accuracy"])

    @property
    def val_accuracy(self) -> float | None:
        """The trained model's validation accuracy, a fraction; None without a validation split."""
        value = self.metrics.get("val_accuracy")
        return None if value is None else float(value)


@dataclass
class RunResult:
    """What a run left: its folder, each seed's result, and with several seeds their summary.

    Attributes
    ----------
    run_dir : Path
        The run folder.
    seeds : list of SeedResult
        Each seed's result, in the order trained.
    summary : dict or None, default None
        With several seeds, what summary.json holds (see ``summarise``); else None.
    best : SeedResult or None, default None
        With several seeds and an ``out`` file, the seed whose model went there (the best by
        validation accuracy); else None.
    """

    run_dir: Path
    seeds: list[SeedResult]
    summary: dict[str, Any] | None = None
    best: SeedResult | None = None


def summarise(results: Sequence[SeedResult]) -> dict[str, Any]:
    """summary.json: test accuracy and time over the seeds, mean and standard deviation.

    Parameters
    ----------
    results : sequence of SeedResult
        Two seeds' results or more (the standard deviation needs two).

    Returns
    -------
    dict
        ``units``; ``seeds``; ``test_accuracy`` (one per seed), its ``test_accuracy_mean``
        and ``test_accuracy_std`` (sample standard deviation); ``train_seconds`` and
        ``val_accuracy`` (None for a seed without validation), one per seed. Accuracies are
        fractions, as in metrics.jsonl and the model's info; times are seconds.
    """
    tests = [r.test_accuracy for r in results]
    secs = [float(r.metrics.get("train_seconds") or 0.0) for r in results]
    return {"units": "accuracies are fractions (0.9792 is 97.92%); times are seconds",
            "seeds": [r.seed for r in results], "test_accuracy": tests,
            "test_accuracy_mean": statistics.mean(tests),
            "test_accuracy_std": statistics.stdev(tests), "train_seconds": secs,
            "val_accuracy": [r.val_accuracy for r in results]}


def best_by_validation(results: Sequence[SeedResult]) -> SeedResult:
    """The seed with the best validation accuracy (the first if none has validation).

    Parameters
    ----------
    results : sequence of SeedResult
        The seeds' results, at least one.

    Returns
    -------
    SeedResult
        The best; of equals, the first.
    """
    return max(results, key=lambda r: -1.0 if r.val_accuracy is None else r.val_accuracy)
