"""Tests for mnistnp.step: a batch taken in chunks gives the step it gives whole, the rows
gathered are the rows indexed, and full-batch training's fixed prefix changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
from test_training import X, Y, clone, fresh_model

from mnistnp import step, training
from mnistnp.nn import mlp
from mnistnp.optim import SGD
from mnistnp.step import fixed_prefix, train_step
from mnistnp.training import fit

# --- chunked batches -------------------------------------------------------------------------


def test_full_batch_in_chunks_equals_unchunked(monkeypatch: pytest.MonkeyPatch) -> None:
    base = fresh_model(5)
    whole, chunked = clone(base), clone(base)
    h_whole = fit(whole, X, Y, SGD(1.0), rng=np.random.default_rng(0), epochs=1,
                  batch_size=None)
    monkeypatch.setattr(step, "MAX_CHUNK", 7)  # 300 rows: 42 chunks of 7 and one of 6
    assert len(step._chunks(slice(0, len(X)), len(X))) == 43
    h_chunked = fit(chunked, X, Y, SGD(1.0), rng=np.random.default_rng(0), epochs=1,
                    batch_size=None)

    assert not np.array_equal(whole.params, base.params)  # a step was taken
    np.testing.assert_allclose(chunked.params, whole.params, rtol=1e-10, atol=1e-14)
    step_whole = base.params - whole.params
    step_chunked = base.params - chunked.params
    assert np.linalg.norm(step_chunked - step_whole) < 1e-10 * np.linalg.norm(step_whole)
    assert h_chunked.costs[0] == pytest.approx(h_whole.costs[0], rel=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_full_batch_input_cache_changes_nothing(monkeypatch: pytest.MonkeyPatch,
                                                dtype: str) -> None:
    """Full batch computes the Flatten output once; the run must be bit-identical to one that
    recomputes it every step (cache off), chunked or not."""
    monkeypatch.setattr(step, "MAX_CHUNK", 64)  # 300 rows: 5 chunks
    base = mlp([64, 16, 4], np.random.default_rng(11), dtype)
    cached, streamed = clone(base), clone(base)
    calls = []
    real = training.fixed_inputs
    monkeypatch.setattr(training, "fixed_inputs", lambda m, x: calls.append(1) or real(m, x))
    h_cached = fit(cached, X, Y, SGD(0.5, momentum=0.9), rng=np.random.default_rng(0),
                   epochs=5, batch_size=None)
    assert calls and training.fixed_inputs(cached, X) is not None  # the cache was used
    monkeypatch.setattr(step, "INPUT_CACHE_BYTES", 0)
    assert training.fixed_inputs(streamed, X) is None
    h_streamed = fit(streamed, X, Y, SGD(0.5, momentum=0.9), rng=np.random.default_rng(0),
                     epochs=5, batch_size=None)
    np.testing.assert_array_equal(cached.params, streamed.params)
    assert h_cached.costs == h_streamed.costs


def test_batch_rows_gathers_exactly_the_indexed_rows() -> None:
    rows = step.BatchRows(X)
    for batch in [np.array([5, 0, 299, 5]), np.arange(300)[::-1], np.array([7]),
                  np.array([], dtype=np.intp), slice(10, 20)]:
        np.testing.assert_array_equal(rows(batch), X[batch])
    assert np.shares_memory(rows(slice(0, 4)), X)  # a slice stays a view


def test_fixed_prefix_stops_at_randomness_and_parameters() -> None:
    rng = np.random.default_rng(0)
    assert fixed_prefix(mlp([64, 8, 4], rng)) == 2  # Rescale, Flatten
    assert fixed_prefix(mlp([64, 8, 4], rng, shift=1)) == 0  # random shifts come first
    model = mlp([64, 8, 4], rng)
    rows, start = step.fixed_inputs(model, X)
    assert start == 2 and rows.shape == (len(X), 64) and rows.dtype == np.float32
    flat = model.layers[1].forward(model.layers[0].forward(X, training=True), training=True)
    np.testing.assert_array_equal(rows, flat)


def test_index_batch_in_chunks_equals_unchunked(monkeypatch: pytest.MonkeyPatch) -> None:
    batch = np.random.default_rng(9).permutation(len(X))[:100]
    base = fresh_model(6)
    whole, chunked = clone(base), clone(base)
    cost_whole = train_step(whole, X, Y, batch, SGD(1.0))
    monkeypatch.setattr(step, "MAX_CHUNK", 7)
    cost_chunked = train_step(chunked, X, Y, batch, SGD(1.0))
    np.testing.assert_allclose(chunked.params, whole.params, rtol=1e-10, atol=1e-14)
    assert cost_chunked == pytest.approx(cost_whole, rel=1e-12)
