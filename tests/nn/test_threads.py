"""The thread pool (nn/threads.py) and the passes it splits: im2col, col2im, MaxPool2D,
BatchNorm, ReLU and the optimizers give bit-identical outputs and gradients with 1 thread and with
several, the split forced onto small arrays (odd sizes, strides, padding, uneven batches)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from mnistnp.nn import ReLU, network, threads
from mnistnp.nn.conv import Conv2D
from mnistnp.nn.norm import BatchNorm
from mnistnp.nn.pool import MaxPool2D
from mnistnp.optim import SGD, Adam, AdamW

THREAD_COUNTS = (2, 3, 4)


@pytest.fixture
def split_everything(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Split every pass, however small (the real threshold keeps small ones inline)."""
    monkeypatch.setattr(threads, "MIN_SPLIT", 1)
    monkeypatch.setattr(threads, "BLOCK", 2)  # GEMMs in several blocks of a small batch
    yield
    threads.set_num_threads(None)


def with_threads(n: int, compute: Callable[[], list[np.ndarray]]) -> list[bytes]:
    threads.set_num_threads(n)
    return [np.ascontiguousarray(a).tobytes() for a in compute()]


def conv_pass(c: int, f: int, kernel: int | tuple[int, int], stride: int | tuple[int, int],
              padding: str, shape: tuple[int, int, int]) -> Callable[[], list[np.ndarray]]:
    """Forward and backward of a fresh Conv2D on fixed data: output, dW, db, dx."""
    def compute() -> list[np.ndarray]:
        rng = np.random.default_rng(1)
        layer = Conv2D(c, f, kernel, stride, padding)
        params = [np.empty(s, np.float32) for s in layer.param_shapes]
        layer.bind(params, [np.empty_like(p) for p in params])
        layer.init(rng)
        layer.b[...] = rng.standard_normal(f)
        x = rng.standard_normal((shape[0], c, *shape[1:]), dtype=np.float32)
        y = layer.forward(x, training=True).copy()
        dx = layer.backward(rng.standard_normal(y.shape, dtype=np.float32))
        return [y, layer.dW, layer.db, dx]
    return compute


@pytest.mark.parametrize("config", [
    (1, 4, 5, 1, "same", (7, 9, 11)),
    (3, 2, 3, 2, "same", (5, 7, 9)),
    (2, 3, (3, 2), (2, 1), "valid", (6, 8, 7)),
    (2, 3, 4, 1, "same", (3, 6, 6)),
])
def test_conv_bit_identical_across_thread_counts(split_everything: None, config: tuple) -> None:
    compute = conv_pass(*config)
    one = with_threads(1, compute)
    for n in THREAD_COUNTS:
        assert with_threads(n, compute) == one, f"{n} threads"


def pool_pass(size: int, stride: int | None, shape: tuple[int, ...],
              channel_major: bool) -> Callable[[], list[np.ndarray]]:
    """Forward and backward of a fresh MaxPool2D with ties in its input: output, dx."""
    def compute() -> list[np.ndarray]:
        rng = np.random.default_rng(2)
        x = rng.integers(0, 3, shape).astype(np.float32)  # many ties
        if channel_major:  # as a conv layer's output
            x = np.ascontiguousarray(x.swapaxes(0, 1)).swapaxes(0, 1)
        layer = MaxPool2D(size, stride)
        y = layer.forward(x, training=True).copy()
        return [y, layer.backward(rng.standard_normal(y.shape, dtype=np.float32))]
    return compute


@pytest.mark.parametrize("size, stride", [(2, None), (3, None), (3, 2), (2, 1)])
@pytest.mark.parametrize("channel_major", [False, True])
def test_pool_bit_identical_across_thread_counts(split_everything: None, size: int,
                                                 stride: int | None,
                                                 channel_major: bool) -> None:
    compute = pool_pass(size, stride, (5, 3, 9, 7), channel_major)
    one = with_threads(1, compute)
    for n in THREAD_COUNTS:
        assert with_threads(n, compute) == one, f"{n} threads"


@pytest.mark.parametrize("shape", [(7, 5, 6, 3), (19, 7, 5, 5), (9, 5), (21, 7)])
@pytest.mark.parametrize("channel_major", [False, True])
def test_batchnorm_bit_identical_across_thread_counts(split_everything: None,
                                                      shape: tuple[int, ...],
                                                      channel_major: bool) -> None:
    def compute() -> list[np.ndarray]:
        rng = np.random.default_rng(3)
        layer = BatchNorm(shape[1])
        params = [np.empty(s, np.float32) for s in layer.param_shapes]
        layer.bind(params, [np.empty_like(p) for p in params])
        layer.init(rng)
        layer.gamma[...] = rng.standard_normal(shape[1])
        x = 3 + rng.standard_normal(shape, dtype=np.float32)
        if channel_major:
            x = np.ascontiguousarray(x.swapaxes(0, 1)).swapaxes(0, 1)
        y = layer.forward(x, training=True).copy()
        dx = layer.backward(rng.standard_normal(shape, dtype=np.float32))
        return [y, dx, layer.dgamma, layer.dbeta, layer.running_mean, layer.running_var]

    one = with_threads(1, compute)
    for n in THREAD_COUNTS:
        assert with_threads(n, compute) == one, f"{n} threads"


def cnn_step(owned: bool) -> Callable[[], list[np.ndarray]]:
    """A whole CNN (conv, batch norm, pools, dense) on a remainder-sized batch, inside
    ``threads.owned`` (BLAS at one thread, the dense layers in blocks too) or not: its logits
    and gradient buffer."""
    def compute() -> list[np.ndarray]:
        model = network("conv:4:3,bn,maxpool:2,conv:6:5:1:same,maxpool:3:2,dense:10", (13, 11),
                        10, rng=np.random.default_rng(4))
        x = np.random.default_rng(5).integers(0, 256, (5, 13, 11)).astype(np.uint8)
        with threads.owned(owned):
            logits = model.forward(x, training=True).copy()
            model.backward(logits - 1)
        return [logits, model.grads.copy()]
    return compute


@pytest.mark.parametrize("owned", [False, True])
def test_cnn_training_step_bit_identical(split_everything: None, owned: bool) -> None:
    one = with_threads(1, cnn_step(owned))
    for n in THREAD_COUNTS:
        assert with_threads(n, cnn_step(owned)) == one, f"{n} threads"


def test_owned_and_not_agree_to_rounding(split_everything: None) -> None:
    """Inside ``owned`` the dense layers sum their weight gradients block by block: another
    order of the same sums. The first conv's bias feeds a batch norm, so its gradient is zero
    but for rounding: the absolute tolerance is scaled to the largest entry, not fixed."""
    free, owned = cnn_step(False)(), cnn_step(True)()
    for a, b in zip(free, owned):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6 * np.abs(b).max())


def test_owned_holds_blas_at_one_thread_and_gives_the_pool_the_cpus() -> None:
    from threadpoolctl import threadpool_info

    def blas_threads() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    threads.set_num_threads(None)
    before = blas_threads()
    assert threads.num_threads() in (1, len(os.sched_getaffinity(0)))  # as the environment says
    with threads.owned():
        assert threads.owning()
        assert threads.num_threads() == threads.num_threads_owned()
        if threads.num_threads_owned() > 1:
            assert blas_threads() == [1] * len(before)
        with threads.owned():  # nested: nothing changes, nothing is restored early
            pass
        assert threads.owning()
        if threads.num_threads_owned() > 1:
            assert blas_threads() == [1] * len(before)
    assert not threads.owning()
    assert blas_threads() == before
    with threads.owned(False):
        assert not threads.owning()
        assert blas_threads() == before


def test_owned_restores_blas_after_an_error() -> None:
    from threadpoolctl import threadpool_info
    before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    with pytest.raises(KeyError), threads.owned():
        raise KeyError("inside")
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == before
    assert not threads.owning()


def test_run_blocks_gives_the_same_blocks_whatever_the_thread_count() -> None:
    for n in (1, 2, 3, 5):
        threads.set_num_threads(n)
        calls: list[tuple[int, int]] = []
        threads.run_blocks(lambda lo, hi, seen=calls: seen.append((lo, hi)), 10, 3)
        assert sorted(calls) == [(0, 3), (3, 6), (6, 9), (9, 10)], f"{n} threads"
    threads.set_num_threads(None)


@pytest.mark.parametrize("optimizer", [lambda: Adam(1e-2, weight_decay=0.1),
                                       lambda: AdamW(1e-2),
                                       lambda: SGD(0.1, 0.9, nesterov=True, weight_decay=0.1),
                                       lambda: SGD(0.1, 0.9), lambda: SGD(0.1)])
def test_optimizers_bit_identical_across_thread_counts(split_everything: None,
                                                       optimizer: Callable[[], Any]) -> None:
    def compute() -> list[np.ndarray]:
        rng = np.random.default_rng(6)
        params = rng.standard_normal(101, dtype=np.float32)
        opt = optimizer()
        for _ in range(3):
            opt.step(params, rng.standard_normal(101, dtype=np.float32))
        return [params, *opt.state_dict().values()]

    one = with_threads(1, compute)
    for n in THREAD_COUNTS:
        assert with_threads(n, compute) == one, f"{n} threads"


def test_relu_bit_identical_across_thread_counts(split_everything: None) -> None:
    def compute() -> list[np.ndarray]:
        rng = np.random.default_rng(7)
        x = np.ascontiguousarray(rng.standard_normal((3, 5, 4, 7), dtype=np.float32)
                                 .swapaxes(0, 1)).swapaxes(0, 1)
        layer = ReLU()
        y = layer.forward(x, training=True).copy()
        return [y, layer.backward(rng.standard_normal(y.shape, dtype=np.float32))]

    one = with_threads(1, compute)
    for n in THREAD_COUNTS:
        assert with_threads(n, compute) == one, f"{n} threads"


def test_run_covers_every_index_once_and_raises_worker_errors(split_everything: None) -> None:
    threads.set_num_threads(3)
    seen = np.zeros(10, int)

    def mark(lo: int, hi: int) -> None:
        seen[lo:hi] += 1

    threads.run(mark, 10, 10)
    assert seen.tolist() == [1] * 10

    def fail(lo: int, hi: int) -> None:
        if lo > 0:
            raise ArithmeticError(f"slice {lo}:{hi}")

    with pytest.raises(ArithmeticError, match="slice"):
        threads.run(fail, 10, 10)


def test_small_passes_run_inline() -> None:
    """Below the threshold, one call in the caller's thread, whatever the thread count."""
    threads.set_num_threads(4)
    try:
        calls: list[tuple[int, int]] = []
        threads.run(lambda lo, hi: calls.append((lo, hi)), 128, threads.MIN_SPLIT)
        assert calls == [(0, 128)]
    finally:
        threads.set_num_threads(None)


def test_thread_count_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(threads.ENV_VAR, "3")
    threads.set_num_threads(None)
    assert threads.num_threads() == 3
    monkeypatch.setenv(threads.ENV_VAR, "two")
    threads.set_num_threads(None)
    with pytest.raises(ValueError, match=r"MNISTNP_NUM_THREADS.*'two'"):
        threads.num_threads()
    monkeypatch.delenv(threads.ENV_VAR)
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    threads.set_num_threads(None)
    assert threads.num_threads() == 1  # OpenBLAS's idle threads spin on the other cores
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "4")
    threads.set_num_threads(None)
    assert threads.num_threads() == len(os.sched_getaffinity(0))
    with pytest.raises(ValueError, match="positive int"):
        threads.set_num_threads(0)
    threads.set_num_threads(None)  # the next test reads its own environment


def test_a_bad_thread_count_is_one_usage_line_before_any_work(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any, session_idx_dir: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    from conftest import cli

    monkeypatch.setenv(threads.ENV_VAR, "0")
    threads.set_num_threads(None)
    try:
        run = tmp_path / "run"
        assert cli("train", "--data-dir", session_idx_dir, "--iterations", "2",
                   "--run-dir", run, "--no-progress") == 2
        err = capsys.readouterr().err
        assert err == ("mnistnp train: error: environment variable MNISTNP_NUM_THREADS must be a "
                       "positive integer, got '0'\n")
        assert not run.exists()
    finally:
        monkeypatch.delenv(threads.ENV_VAR)
        threads.set_num_threads(None)
