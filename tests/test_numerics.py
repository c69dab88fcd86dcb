"""Numerical robustness: float32 and float64, a deep 2,000-variable circuit, extreme data."""

import importlib

import numpy as np
import pytest

from skpc import PCDensityEstimator
from skpc.datasets import load_debd

hclt_module = importlib.import_module("skpc.structures.hclt")  # the package re-exports the function


def _all_finite(pc):
    return all(np.all(np.isfinite(p)) for params in pc.circuit_.get_params() for p in params)


@pytest.mark.parametrize("solver", ["anemone", "minibatch_em", "em"])
def test_float32_and_float64_agree(solver):
    X = load_debd("nltcs")[:400]
    fits = {
        dtype: PCDensityEstimator(n_latents=4, max_iter=2, batch_size=100, solver=solver, random_state=0,
                                  dtype=dtype).fit(X)
        for dtype in ("float32", "float64")
    }
    for dtype, pc in fits.items():
        assert all(p.dtype == np.dtype(dtype) for params in pc.circuit_.get_params() for p in params)
    ll32, ll64 = (fits[d].score_samples(X) for d in ("float32", "float64"))
    np.testing.assert_allclose(ll32, ll64, rtol=1e-4)


@pytest.fixture(scope="module")
def chain():
    """2,000 binary variables from a Markov chain, and its HCLT: a circuit 2,000 regions deep."""
    rng = np.random.default_rng(0)
    d, n = 2000, 64
    flips = rng.random((n, d)) < 0.1
    X = (np.cumsum(flips, axis=1) + rng.integers(0, 2, size=(n, 1))) % 2
    mp = pytest.MonkeyPatch()  # the chain is the Chow-Liu tree; skip the O(d^2) search for it
    mp.setattr(hclt_module, "mutual_information", lambda X, n_categories, alpha: None)
    mp.setattr(hclt_module, "chow_liu_tree", lambda mi: (np.arange(-1, d - 1), 0))
    graph = hclt_module.hclt(X, np.full(d, 2))
    mp.undo()
    return X.astype(float), graph


def test_2000_variables_with_64_latents_train_and_score_without_underflow(chain):
    X, graph = chain
    scores = {}
    for dtype in ("float32", "float64"):
        pc = PCDensityEstimator(structure=graph, n_latents=64, max_iter=1, batch_size=32, random_state=0,
                                dtype=dtype).fit(X)
        assert _all_finite(pc)
        scores[dtype] = pc.score_samples(X)
        assert np.all(np.isfinite(scores[dtype]))
        # Far below the smallest normal float (log 1e-38 = -87): only log space holds these.
        assert np.all(scores[dtype] < -300)
        assert abs(pc.score_samples(np.full((1, X.shape[1]), np.nan))[0]) < 1e-3
    np.testing.assert_allclose(scores["float32"], scores["float64"], rtol=1e-3)
    # A chain that flips 10% of the time: the model beats independent fair coins.
    assert scores["float64"].mean() > X.shape[1] * np.log(0.5)


def _extreme_data():
    rng = np.random.default_rng(0)
    zeros = np.zeros((50, 4))
    duplicated = np.repeat(rng.integers(0, 3, size=(1, 4)), 80, axis=0).astype(float)
    dominant = np.where(rng.random((500, 4)) < 0.998, 0, rng.integers(1, 5, size=(500, 4))).astype(float)
    return {"zeros": zeros, "duplicated": duplicated, "dominant": dominant}


@pytest.mark.parametrize("name", ["zeros", "duplicated", "dominant"])
@pytest.mark.parametrize("solver", ["anemone", "minibatch_em", "em"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_extreme_discrete_data_trains_without_nan_or_inf(name, solver, dtype):
    X = _extreme_data()[name]
    pc = PCDensityEstimator(n_latents=4, max_iter=5, batch_size=32, solver=solver, n_categories=5,
                            random_state=0, dtype=dtype).fit(X)
    assert _all_finite(pc)
    # Every category keeps a positive probability (the pseudocount), so unseen values score finitely.
    for leaf in pc.circuit_.leaves:
        assert np.all(leaf.probs > 0)
    unseen = np.full((1, 4), 4.0)
    assert np.isfinite(pc.score_samples(unseen)[0])
    ll = pc.score_samples(X)
    assert np.all(np.isfinite(ll)) and np.all(ll <= 1e-5)
    assert pc.score_samples(X[:1])[0] > pc.score_samples(unseen)[0]


def test_a_single_category_has_probability_one_but_the_unseen_share():
    # All zeros with the levels inferred: one level per column, plus "unseen" (the value 1 here).
    pc = PCDensityEstimator(n_latents=3, max_iter=2, random_state=0, dtype="float64").fit(np.zeros((20, 3)))
    np.testing.assert_array_equal(pc.n_categories_, [1, 1, 1])
    states = np.array(np.meshgrid([0.0, 1.0], [0.0, 1.0], [0.0, 1.0])).reshape(3, -1).T
    assert np.exp(pc.score_samples(states)).sum() == pytest.approx(1.0, abs=1e-12)
    # The seen state holds all but the unseen values' small share.
    zero = pc.score_samples(np.zeros((2, 3)))
    assert np.all((zero < 0) & (zero > -1e-2))


@pytest.mark.parametrize("scale", [1e-6, 1e6])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_extreme_scales_of_continuous_data(scale, dtype):
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=(100, 2)) * scale, np.full(100, 3.0 * scale)]
    pc = PCDensityEstimator(n_latents=3, max_iter=3, random_state=0, dtype=dtype).fit(X)
    # The constant 3e6 is an integer column with one level: categorical; 3e-6 is Gaussian.
    third = "categorical" if scale > 1 else "gaussian"
    assert pc.leaf_types_.tolist() == ["gaussian", "gaussian", third]
    assert _all_finite(pc)
    (gaussian,) = [leaf for leaf in pc.circuit_.leaves if leaf.kind == "gaussian"]
    assert np.all(gaussian.var >= gaussian.min_var)
    assert np.all(np.isfinite(pc.score_samples(X)))
    # The Gaussian columns are standardised: the fit is that of the unit-scale data, and
    # log-densities move by exactly -2 log(scale).
    unit = PCDensityEstimator(n_latents=3, max_iter=3, random_state=0, dtype=dtype).fit(X[:, :2] / scale)
    scaled = PCDensityEstimator(n_latents=3, max_iter=3, random_state=0, dtype=dtype).fit(X[:, :2])
    np.testing.assert_allclose(scaled.score_samples(X[:, :2]), unit.score_samples(X[:, :2] / scale)
                               - 2 * np.log(scale), rtol=1e-5 if dtype == "float32" else 1e-10)
