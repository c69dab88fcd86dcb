"""The engine's tiles and threads (float64).

Rows run in tiles of ``parallel.TILE_ROWS`` on a thread pool. Tiling changes results only
by rounding (against one pass over the whole batch), and the number of threads changes
nothing at all.
"""

import numpy as np
import pytest
from _circuits import CIRCUITS, chain_data
from threadpoolctl import threadpool_info

from skpc.engine import parallel

NAMES = sorted(CIRCUITS)


@pytest.fixture
def small_tiles(monkeypatch):
    """Tiles of 16 rows, so that a test batch spans several tiles and waves (the test
    circuits are small: they are tiled as large ones are)."""
    monkeypatch.setattr(parallel, "TILE_ROWS", 16)
    monkeypatch.setattr(parallel, "MIN_PARALLEL_WEIGHTS", 0)


def _data(name, n, seed=0, missing=0.2):
    circuit, cats = CIRCUITS[name]()
    X = chain_data(cats, n, seed)
    X[np.random.default_rng(seed).random(X.shape) < missing] = np.nan
    return circuit, X


def _pass(circuit, X):
    stats = circuit.new_stats()
    ll = circuit.accumulate(np.asarray(X, dtype=np.float64), stats)
    return ll, stats, circuit.log_likelihood(np.asarray(X, dtype=np.float64), batch_size=37)


def _assert_same(a, b, rtol):
    (ll_a, stats_a, score_a), (ll_b, stats_b, score_b) = a, b
    np.testing.assert_allclose(ll_a, ll_b, rtol=rtol, atol=0)
    np.testing.assert_allclose(score_a, score_b, rtol=rtol, atol=0)
    for block_a, block_b in zip(stats_a, stats_b, strict=True):
        for x, y in zip(block_a, block_b, strict=True):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * np.abs(y).max())


@pytest.mark.parametrize("name", NAMES)
def test_number_of_threads_changes_nothing(name, small_tiles, monkeypatch):
    circuit, X = _data(name, 150)
    monkeypatch.setattr(parallel, "THREADS", 1)
    reference = _pass(circuit, X)
    for threads in (2, 3):
        monkeypatch.setattr(parallel, "THREADS", threads)
        assert circuit.threads == threads
        _assert_same(_pass(circuit, X), reference, rtol=0)


@pytest.mark.parametrize("name", NAMES)
def test_tiled_batch_equals_one_pass_over_the_whole_batch(name, small_tiles, monkeypatch):
    circuit, X = _data(name, 150)
    tiled = _pass(circuit, X)
    monkeypatch.setattr(parallel, "TILE_ROWS", 10**6)
    _assert_same(tiled, _pass(circuit, X), rtol=1e-12)


def test_single_threaded_blas_is_reentrant_and_restores_the_limit():
    def threads():
        return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    before = threads()
    with parallel.single_threaded_blas():
        with parallel.single_threaded_blas():
            assert set(threads().values()) == {1}
        assert set(threads().values()) == {1}
    assert threads() == before


def test_tiles_cover_the_rows_in_order():
    n = 3 * parallel.TILE_ROWS + 5
    tiles = parallel.tiles(n)
    assert np.array_equal(np.concatenate([np.arange(n)[t] for t in tiles]), np.arange(n))
    assert [t.stop - t.start for t in tiles] == [parallel.TILE_ROWS] * 3 + [5]


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="fork is POSIX-only")
def test_a_forked_child_scores_with_its_own_threads(small_tiles):
    import multiprocessing

    circuit, X = _data("hclt", 100)
    X = np.asarray(X, dtype=np.float64)
    expected = circuit.log_likelihood(X, batch_size=50)  # the parent's pool now exists
    with multiprocessing.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(_score, (circuit, X)).get(timeout=60)
    np.testing.assert_array_equal(got, expected)


def _score(circuit, X):
    return circuit.log_likelihood(X, batch_size=50)


def test_small_circuits_run_whole_batches_on_one_thread():
    assert parallel.threads_for(parallel.MIN_PARALLEL_WEIGHTS - 1) == 1
    assert parallel.threads_for(parallel.MIN_PARALLEL_WEIGHTS) == parallel.THREADS
    assert parallel.tiles(600, parallel.tile_rows_for(parallel.MIN_PARALLEL_WEIGHTS - 1)) == [slice(0, 600)]
    assert len(parallel.tiles(600, parallel.tile_rows_for(parallel.MIN_PARALLEL_WEIGHTS))) == 3


def test_scoring_tiles_keep_the_widest_layer_within_its_bytes():
    large, small = parallel.MIN_PARALLEL_WEIGHTS, parallel.MIN_PARALLEL_WEIGHTS - 1
    assert parallel.score_rows_for(large, 100) == parallel.TILE_ROWS  # never above training's tile
    assert parallel.score_rows_for(small, parallel.SCORE_TILE_BYTES // 1000) == 512  # a power of two
    assert parallel.score_rows_for(large, parallel.SCORE_TILE_BYTES // 100) == 64
    assert parallel.score_rows_for(large, parallel.SCORE_TILE_BYTES) == parallel.MIN_SCORE_ROWS
