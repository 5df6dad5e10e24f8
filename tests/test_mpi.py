"""mnistnp.mpi in one process: each rank's share of a batch, the weighted gradients that add up
to one process's, the launcher's variables, and a plain run that never imports mpi4py."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import write_idx_dir

from mnistnp.mpi import ShardedBatches, cores_per_rank, launch_rank, launched, share
from mnistnp.nn import mlp
from mnistnp.sampling import ShuffledBatches
from mnistnp.step import gradient


@pytest.mark.parametrize("rows", [0, 1, 2, 5, 64, 257])
@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_the_shares_cover_a_batch_once_in_order(rows: int, size: int) -> None:
    bounds = [share(rows, rank, size) for rank in range(size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == rows
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))  # consecutive
    lengths = [hi - lo for lo, hi in bounds]
    assert max(lengths) - min(lengths) <= 1


@pytest.mark.parametrize("size", [1, 2, 3])
@pytest.mark.parametrize("batch_size", [4, 64, None])
def test_the_ranks_together_draw_one_processs_batches(size: int, batch_size: int | None) -> None:
    n = 257  # 64 * 4 + 1: a last batch of one row, smaller than 2 or 3 ranks
    whole = [np.arange(n)[b] for b in ShuffledBatches(n, batch_size).epoch_batches(
        1, np.random.default_rng(5))]
    ranks = []
    for rank in range(size):
        sampler = ShardedBatches(n, batch_size, rank, size)
        assert sampler.steps_per_epoch == len(whole) and sampler.rows(2) == min(
            2 * (batch_size or n), n)
        parts = []
        for batch in sampler.epoch_batches(1, np.random.default_rng(5)):
            parts.append((np.arange(n)[batch], sampler.fraction))
        ranks.append(parts)
    for step, batch in enumerate(whole):
        rows = np.concatenate([ranks[r][step][0] for r in range(size)])
        np.testing.assert_array_equal(rows, batch)
        assert sum(ranks[r][step][1] for r in range(size)) == pytest.approx(1.0)
        assert all(ranks[r][step][1] == len(ranks[r][step][0]) / len(batch)
                   for r in range(size))


@pytest.mark.parametrize("size", [2, 3])
def test_the_weighted_shares_of_the_gradient_sum_to_one_processs(size: int) -> None:
    """What AllreduceMean computes, summed here instead of over MPI, on a batch of 64 and on
    one of a single row (where some ranks have none)."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(65, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=65)
    model = mlp([784, 12, 10], dtype="float64").init(np.random.default_rng(1))
    for batch in (np.arange(64), np.array([64])):
        _, whole = gradient(model, x, y, batch)
        whole = whole.copy()
        total = np.zeros_like(whole)
        for rank in range(size):
            lo, hi = share(len(batch), rank, size)
            _, part = gradient(model, x, y, batch[lo:hi])
            total += part * ((hi - lo) / len(batch))
        np.testing.assert_allclose(total, whole, rtol=0, atol=1e-14)


def test_an_empty_share_has_no_cost_and_no_gradient() -> None:
    model = mlp([784, 8, 10]).init(np.random.default_rng(0))
    model.grads += 1.0  # left over from an earlier step
    x = np.zeros((3, 28, 28), np.uint8)
    cost, grads = gradient(model, x, np.zeros(3, int), np.array([], dtype=np.intp))
    assert cost == 0.0 and not grads.any()


def test_the_launchers_variables_say_whether_and_which_rank(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK",
                 "PMIX_SIZE", "PMIX_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert not launched() and launch_rank() == 0
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "3")
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "2")
    assert launched() and launch_rank() == 2


def test_each_rank_gets_its_share_of_the_cores() -> None:
    cores = len(os.sched_getaffinity(0))
    assert cores_per_rank(1) == cores
    assert cores_per_rank(cores) == 1
    assert cores_per_rank(4 * cores) == 1  # never none


def test_a_plain_train_never_imports_mpi4py(tmp_path: Path) -> None:
    data = write_idx_dir(tmp_path / "data")
    script = (
        "import sys\n"
        "from mnistnp.cli import main\n"
        f"status = main(['train', '--data-dir', {str(data)!r}, '--hidden', '8', "
        f"'--iterations', '3', '--run-dir', {str(tmp_path / 'run')!r}, '--no-progress'])\n"
        "assert status == 0, status\n"
        "print(sorted(m for m in sys.modules if m.startswith('mpi4py')))\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI", "OMPI_", "PMIX"))}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "run" / "model.npz").is_file()


class _Comm:
    """What abort needs of a communicator (mpi4py's method names), recording the Abort."""

    def __init__(self) -> None:
        self.status: int | None = None

    def Get_rank(self) -> int:
        return 0

    def Get_size(self) -> int:
        return 2

    def Abort(self, status: int) -> None:
        self.status = status


@pytest.mark.mpi  # where mpi4py is installed (CI's multi-process run)
def test_a_failed_mpi_call_is_said_as_a_peers_death_not_this_ranks_fault(
        capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    mpi = pytest.importorskip("mpi4py.MPI")
    from mnistnp.mpi import faults

    monkeypatch.setattr(faults, "PEER_GRACE", 0.0)
    comm = _Comm()
    faults.abort(comm, mpi.Exception(mpi.ERR_OTHER))
    said = capfd.readouterr().err  # on the original standard error
    assert said == ("mnistnp: error: rank 0 of 2 stopped: MPI failed (Other MPI error), as it "
                    "does when another rank dies; ending all ranks\n")
    assert comm.status == 1
    monkeypatch.setattr(faults, "SAID_GRACE", 0.0)
    faults.abort(comm, RuntimeError("a fault on purpose"), 3)
    assert capfd.readouterr().err == ("mnistnp: error: rank 0 of 2 failed: RuntimeError: a "
                                       "fault on purpose; ending all ranks\n")
    assert comm.status == 3


def test_a_failing_rank_has_said_why_a_moment_before_it_ends_the_job(
        capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """MPI_Abort ends mpiexec's forwarding of the ranks' output: the line must be out (flushed)
    and given SAID_GRACE to be forwarded before it."""
    from mnistnp.mpi import faults

    monkeypatch.setattr(faults, "SAID_GRACE", 0.05)
    seen: dict[str, Any] = {}

    class Watching(_Comm):
        def Abort(self, status: int) -> None:
            seen["said"], seen["at"] = capfd.readouterr().err, time.monotonic()

    start = time.monotonic()
    faults.abort(Watching(), MemoryError())
    assert seen["said"] == ("mnistnp: error: rank 0 of 2 failed: out of memory (MemoryError); "
                            "ending all ranks\n")
    assert seen["at"] - start >= 0.05
