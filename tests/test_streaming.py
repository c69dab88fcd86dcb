"""partial_fit, memmaps and dask arrays: the same models as in-memory fits."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skpc import PCDensityEstimator

KW = dict(n_latents=4, batch_size=64, random_state=0, dtype="float64")


def _data(n=600, d=7, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 2, size=(n, 1))
    return (rng.random((n, d)) < np.where(z, 0.8, 0.25)).astype(np.float64)


def _params(est):
    return [np.asarray(p) for block in est.circuit_.get_params() for p in block]


def test_partial_fit_equals_one_epoch_of_fit():
    X = _data()
    fitted = PCDensityEstimator(**KW, max_iter=1, schedule="constant").fit(X)
    streamed = PCDensityEstimator(**KW).partial_fit(X)
    for a, b in zip(_params(fitted), _params(streamed), strict=True):
        assert_allclose(a, b, rtol=0, atol=0)
    assert streamed.n_iter_ == 1


def test_partial_fit_over_pieces_improves_and_checks_features():
    X = _data(n=1200)
    est = PCDensityEstimator(**KW, n_categories=2)
    before = None
    for piece in np.array_split(X, 4):
        est.partial_fit(piece)
        before = est.score(X) if before is None else before
    assert est.n_iter_ == 4
    assert est.score(X) > before
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(X[:, :3])
    # A value above the declared levels 0..1 is "unseen": it scores finite and low ...
    unseen = np.full((5, X.shape[1]), 2.0)
    assert np.all(np.isfinite(est.score_samples(unseen)))
    assert est.score_samples(unseen).max() < est.score_samples(X).min()
    # ... unless handle_unknown="error", which names the column, the value and the row.
    strict = PCDensityEstimator(**KW, n_categories=2, handle_unknown="error").partial_fit(X[:300])
    with pytest.raises(ValueError, match=r"column 0 is categorical and got the value 2.0 at row 0"):
        strict.partial_fit(unseen)


def test_memmap_of_bytes_is_not_converted_whole(tmp_path):
    X = _data().astype(np.uint8)
    mm = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.uint8, shape=X.shape)
    mm[:] = X
    mm.flush()
    readonly = np.load(tmp_path / "x.npy", mmap_mode="r")
    from_memmap = PCDensityEstimator(**KW, max_iter=2).fit(readonly)
    from_array = PCDensityEstimator(**KW, max_iter=2).fit(X.astype(np.float64))
    assert_allclose(from_memmap.score_samples(X), from_array.score_samples(X), rtol=1e-12)


dask = pytest.importorskip("dask.array", reason="the dask extra is installed in CI")


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.Client(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None) as c:
        yield c


def test_dask_full_batch_em_equals_numpy_fit(client):
    X = _data()
    Xd = dask.from_array(X, chunks=(128, 4))  # blocks of whole batches, split columns
    local = PCDensityEstimator(**KW, solver="em", max_iter=4).fit(X)
    distributed = PCDensityEstimator(**KW, solver="em", max_iter=4).fit(Xd)
    for a, b in zip(_params(local), _params(distributed), strict=True):
        assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert_allclose(local.history_["train_loglik"], distributed.history_["train_loglik"], rtol=1e-10)


def test_dask_anemone_and_partial_fit_stream_blocks(client):
    X = _data(n=900)
    Xd = dask.from_array(X, chunks=(300, 7))
    est = PCDensityEstimator(**KW, max_iter=3).fit(Xd)
    assert est.n_iter_ == 3
    assert np.all(np.diff(est.history_["train_loglik"]) > -0.05)
    streamed = PCDensityEstimator(**KW).partial_fit(Xd)
    assert streamed.n_iter_ == 3  # one update pass per block
    assert np.isfinite(streamed.score(X))
    bad = np.zeros((10, 7))
    bad[:, 4] = 3.0
    with pytest.raises(ValueError, match=r"column 4 is categorical and got the value 3.0 at row 0"):
        PCDensityEstimator(**KW, n_categories=2, handle_unknown="error").fit(dask.from_array(bad))
    # Under handle_unknown="score" the dask fit scores the value 3 as unseen, as numpy does
    # (full-batch EM: the same model from blocks as from the array).
    em = dict(KW, n_categories=2, solver="em", max_iter=2)
    est = PCDensityEstimator(**em).fit(dask.from_array(X, chunks=(300, 7)))
    local = PCDensityEstimator(**em).fit(X)
    assert_allclose(est.score_samples(bad), local.score_samples(bad), rtol=1e-9)


def test_dask_errors_count_rows_from_the_start_of_the_array(client):
    """A bad value in a later block is reported at its row in the whole array, as for numpy."""
    bad = np.zeros((20, 3))
    bad[:, 1] = np.arange(20) % 2
    bad[13, 2] = 3.0
    strict = dict(n_latents=2, max_iter=1, n_categories=2, handle_unknown="error")
    message = r"column 2 is categorical and got the value 3.0 at row 13\b"
    with pytest.raises(ValueError, match=message):
        PCDensityEstimator(**strict).fit(bad)
    with pytest.raises(ValueError, match=message):
        PCDensityEstimator(**strict).fit(dask.from_array(bad, chunks=(5, 3)))


def test_dask_mini_batch_fits_depend_on_the_chunks_as_documented(client):
    # docs/determinism.md: mini-batches are formed within blocks, so the chunking is part of
    # the fit; the same chunking and seed give the same model.
    X = _data(n=600)
    fits = [PCDensityEstimator(**KW, max_iter=2).fit(dask.from_array(X, chunks=(rows, 7)))
            for rows in (300, 300, 200)]
    for a, b in zip(_params(fits[0]), _params(fits[1]), strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(_params(fits[0]), _params(fits[2]), strict=True))


def test_dask_unknown_chunk_sizes_are_computed(client):
    X = _data(n=600)
    Xd = dask.from_array(X, chunks=(200, 7))
    masked = Xd[Xd[:, 0] >= 0]  # every row, but dask no longer knows how many per block
    assert np.isnan(masked.shape[0])
    for solver in ("em", "anemone"):
        known = PCDensityEstimator(**KW, solver=solver, max_iter=2).fit(Xd)
        unknown = PCDensityEstimator(**KW, solver=solver, max_iter=2).fit(masked)
        for a, b in zip(_params(known), _params(unknown), strict=True):
            np.testing.assert_array_equal(a, b)
