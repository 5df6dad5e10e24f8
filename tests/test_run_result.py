"""What a run leaves, worked by hand: summary.json's means and sample standard deviation over
the seeds, and which seed's model is the best by validation accuracy."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnistnp.run_folder import SeedFiles
from mnistnp.run_result import SeedResult, best_by_validation, summarise


def result(seed: int, test: float, val: float | None, seconds: float = 1.0) -> SeedResult:
    metrics = {"test_accuracy": test, "val_accuracy": val, "train_seconds": seconds}
    return SeedResult(seed, SeedFiles.in_folder(Path(f"seed-{seed}")), metrics)


def test_the_summary_has_each_seeds_values_their_mean_and_sample_deviation() -> None:
    summary = summarise([result(0, 0.97, 0.96, 2.0), result(1, 0.99, None, 4.0)])
    assert summary["seeds"] == [0, 1]
    assert summary["test_accuracy"] == [0.97, 0.99]
    assert summary["test_accuracy_mean"] == pytest.approx(0.98)
    assert summary["test_accuracy_std"] == pytest.approx(0.02 / 2 ** 0.5)  # n - 1 = 1
    assert summary["train_seconds"] == [2.0, 4.0]
    assert summary["val_accuracy"] == [0.96, None]


def test_the_best_seed_is_the_best_by_validation_not_by_test() -> None:
    seeds = [result(0, 0.99, 0.95), result(1, 0.97, 0.98), result(2, 0.98, 0.98)]
    assert best_by_validation(seeds).seed == 1  # of equals, the first


def test_without_validation_the_first_seed_is_the_best() -> None:
    assert best_by_validation([result(3, 0.97, None), result(4, 0.99, None)]).seed == 3
