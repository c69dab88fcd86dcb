"""Gaussian and mixed inputs: closed forms (GaussianMixture), integrals and sums, flows."""

import warnings

import numpy as np
import pytest
from scipy import integrate
from scipy.special import logsumexp
from scipy.stats import norm
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from structures_helpers import check_flows_by_finite_differences, flows, make_circuit

from skpc import PCDensityEstimator, _capacity
from skpc._backend import CPU
from skpc.leaves import Gaussian
from skpc.solvers import EM
from skpc.structures import RegionGraph, chow_liu_tree, mutual_information


def mixture_graph(d):
    """A root region with one partition into d single-variable regions (Hadamard)."""
    scopes = [(v,) for v in range(d)] + [tuple(range(d))]
    return RegionGraph(scopes, [[] for _ in range(d)] + [[tuple(range(d))]], root=d, product="hadamard")


def blobs(n=300, d=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(3, d))
    return centres[rng.integers(3, size=n)] + rng.normal(size=(n, d)) * rng.uniform(0.5, 1.5, size=d)


def set_gmm_params(circuit, weights, means, variances, columns=None):
    """Copy a diagonal GMM (weights (k,), means (k, d), variances (k, d)) into the circuit.

    With ``columns`` (an estimator's ``columns_``) the GMM is in the user's units and is
    converted to the standardised units the circuit sees: ``(mean - loc) / scale`` and
    ``var / scale**2``.
    """
    if columns is not None:
        means, variances = (means - columns.loc) / columns.scale, variances / columns.scale**2
    (leaf,), (root,) = circuit.leaves, circuit.sum_layers
    leaf.set_params((means.T.copy(), variances.T.copy()))
    root.set_params((weights[None, None, :].copy(),))


def test_factorised_mixture_is_diagonal_gmm():
    X, k = blobs(), 3
    gmm = GaussianMixture(k, covariance_type="diag", random_state=0).fit(X)
    pc = PCDensityEstimator(structure=mixture_graph(3), n_latents=k, solver="em", max_iter=1,
                            dtype="float64", random_state=0).fit(X)
    # Gaussian columns are standardised with the training mean and (ddof=0) std.
    np.testing.assert_allclose(pc.columns_.loc, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(pc.columns_.scale, X.std(axis=0), rtol=1e-12)
    set_gmm_params(pc.circuit_, gmm.weights_, gmm.means_, gmm.covariances_, pc.columns_)
    # score_samples adds the Jacobian -sum log(scale): densities in the user's units.
    np.testing.assert_allclose(pc.score_samples(X), gmm.score_samples(X), rtol=0, atol=1e-8)
    # The same GMM fitted on the standardised data is the same circuit without that term.
    Z = (X - pc.columns_.loc) / pc.columns_.scale
    circuit = pc.circuit_
    np.testing.assert_allclose(circuit.root_values(circuit.forward(Z)),
                               gmm.score_samples(X) + np.log(pc.columns_.scale).sum(), rtol=0, atol=1e-8)


@pytest.mark.parametrize("reg_covar", [0.0, 0.3])
def test_one_em_step_equals_gaussian_mixture_iteration(reg_covar):
    X, k = blobs(seed=1), 3
    rng = np.random.default_rng(0)
    w0 = rng.dirichlet(np.ones(k))
    m0 = X[rng.choice(len(X), k, replace=False)]
    v0 = rng.uniform(0.5, 2.0, size=(k, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm = GaussianMixture(k, covariance_type="diag", reg_covar=reg_covar, max_iter=1, weights_init=w0,
                              means_init=m0, precisions_init=1 / v0).fit(X)
    circuit = make_circuit(mixture_graph(3), k, ["gaussian"] * 3, min_var=1e-12, reg_covar=reg_covar)
    set_gmm_params(circuit, w0, m0, v0)
    EM(pseudocount=0.0).update(circuit, flows(circuit, X), len(X), 1.0)
    (leaf,), (root,) = circuit.leaves, circuit.sum_layers
    np.testing.assert_allclose(root.weights[0, 0], gmm.weights_, rtol=1e-10)
    np.testing.assert_allclose(leaf.mean.T, gmm.means_, rtol=1e-10)
    np.testing.assert_allclose(leaf.var.T, gmm.covariances_, rtol=1e-10)


def reference_em_step_with_missing(X, w, m, v):
    """One EM iteration of a diagonal GMM on data with NaN (missing at random)."""
    seen = ~np.isnan(X)
    x = np.where(seen, X, 0.0)[:, None, :]  # (n, 1, d)
    log_normal = -0.5 * ((x - m) ** 2 / v + np.log(2 * np.pi * v))  # (n, k, d)
    log_joint = np.log(w) + (log_normal * seen[:, None, :]).sum(axis=2)
    resp = np.exp(log_joint - log_joint.max(axis=1, keepdims=True))
    resp /= resp.sum(axis=1, keepdims=True)
    ex = np.where(seen[:, None, :], x, m)  # E[x | component] for missing entries
    ex2 = np.where(seen[:, None, :], x**2, v + m**2)
    nk = resp.sum(axis=0)
    mean = np.einsum("nk,nkd->kd", resp, ex) / nk[:, None]
    var = np.einsum("nk,nkd->kd", resp, ex2) / nk[:, None] - mean**2
    return nk / len(X), mean, var


def test_em_step_with_missing_values_matches_reference():
    X, k = blobs(seed=2), 3
    X[np.random.default_rng(1).random(X.shape) < 0.3] = np.nan
    rng = np.random.default_rng(0)
    w0, m0, v0 = rng.dirichlet(np.ones(k)), rng.normal(size=(k, 3)), rng.uniform(0.5, 2.0, size=(k, 3))
    circuit = make_circuit(mixture_graph(3), k, ["gaussian"] * 3, min_var=1e-12)
    set_gmm_params(circuit, w0, m0, v0)
    EM(pseudocount=0.0).update(circuit, flows(circuit, X), len(X), 1.0)
    w1, m1, v1 = reference_em_step_with_missing(X, w0, m0, v0)
    np.testing.assert_allclose(circuit.sum_layers[0].weights[0, 0], w1, rtol=1e-10)
    np.testing.assert_allclose(circuit.leaves[0].mean.T, m1, rtol=1e-10)
    np.testing.assert_allclose(circuit.leaves[0].var.T, v1, rtol=1e-10)


def fitted_mixed(seed=0):
    """An HCLT on column 0 Gaussian, column 1 with 3 categories, column 2 with 2."""
    rng = np.random.default_rng(seed)
    c = rng.integers(3, size=400)
    X = np.column_stack([c + rng.normal(scale=0.7, size=400), c, (c + rng.integers(2, size=400)) % 2])
    return PCDensityEstimator(n_latents=3, solver="em", max_iter=10, dtype="float64", min_var=0.05,
                              random_state=seed).fit(X)


def test_auto_leaf_rule_and_mixed_circuit_integrates_to_one():
    pc = fitted_mixed()
    assert pc.leaf_types_.tolist() == ["gaussian", "categorical", "categorical"]
    assert pc.n_categories_.tolist() == [0, 3, 2]
    grid = np.linspace(-10, 12, 4001)
    total = 0.0
    for a in range(4):  # the levels 0..2 and an unseen value, 3
        for b in range(3):  # 0, 1 and an unseen value, 2
            rows = np.column_stack([grid, np.full_like(grid, a), np.full_like(grid, b)])
            total += integrate.simpson(np.exp(pc.score_samples(rows)), x=grid)
    assert abs(total - 1) < 1e-6


def test_gaussian_circuit_integrates_to_one_in_one_and_two_dimensions():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=500), rng.gamma(2.0, size=500)])
    X[:, 1] += X[:, 0]
    pc = PCDensityEstimator(n_latents=4, solver="em", max_iter=10, dtype="float64", min_var=0.05,
                            random_state=0).fit(X)
    # 1-D: the marginal of column 0 (column 1 missing) with adaptive quadrature.
    density = lambda t: float(np.exp(pc.score_samples([[t, np.nan]]))[0])  # noqa: E731
    value, _ = integrate.quad(density, -np.inf, np.inf, limit=200)
    assert abs(value - 1) < 1e-7
    # 2-D: Simpson's rule on a grid fine enough for the smallest standard deviation.
    assert np.sqrt(pc.circuit_.leaves[0].var.min()) >= np.sqrt(0.05)
    g0, g1 = np.linspace(-9, 9, 721), np.linspace(-10, 20, 1201)
    rows = np.stack(np.meshgrid(g0, g1, indexing="ij"), axis=-1).reshape(-1, 2)
    p = np.exp(pc.score_samples(rows)).reshape(len(g0), len(g1))
    assert abs(integrate.simpson(integrate.simpson(p, x=g1, axis=1), x=g0) - 1) < 1e-6


def test_marginals_with_nan_equal_integrals_and_sums():
    pc = fitted_mixed(seed=1)
    grid = np.linspace(-10, 12, 4001)
    for a in range(3):
        for b in range(2):
            # Gaussian column missing: integral over it.
            rows = np.column_stack([grid, np.full_like(grid, a), np.full_like(grid, b)])
            integral = integrate.simpson(np.exp(pc.score_samples(rows)), x=grid)
            assert abs(pc.score_samples([[np.nan, a, b]])[0] - np.log(integral)) < 1e-6
    for x0 in (-1.0, 0.3, 2.5):
        for a in range(3):
            # Categorical column missing: sum over its levels and an unseen value.
            full = np.exp(pc.score_samples([[x0, a, 0], [x0, a, 1], [x0, a, 2]])).sum()
            assert abs(pc.score_samples([[x0, a, np.nan]])[0] - np.log(full)) < 1e-10
    # Everything missing: log 1.
    assert abs(pc.score_samples([[np.nan] * 3])[0]) < 1e-12


def test_gaussian_flows_equal_finite_differences():
    pc = fitted_mixed(seed=2)
    rng = np.random.default_rng(0)
    X = pc.sample(30, random_state=0)
    X[rng.random(X.shape) < 0.25] = np.nan
    assert check_flows_by_finite_differences(pc.circuit_, X, n_checks=8) > 0


def test_variance_is_floored_by_min_var():
    X = np.column_stack([np.repeat([0.0, 1.0], 50), np.linspace(0, 1, 100)])
    pc = PCDensityEstimator(leaf="gaussian", n_latents=4, solver="em", max_iter=5, min_var=0.01,
                            dtype="float64", random_state=0).fit(X)
    assert pc.circuit_.leaves[0].var.min() >= 0.01 - 1e-15
    assert np.isfinite(pc.score(X))


def test_leaf_per_column_and_auto_rule():
    rng = np.random.default_rng(0)
    n = 200
    # "auto": integer columns with at most min(32, max(2, isqrt(n))) = 14 levels are categorical.
    X = np.column_stack([
        rng.integers(0, 5, n),  # categorical
        rng.integers(0, 64, n),  # 64 levels: Gaussian
        rng.integers(0, 5, n) + 64,  # 5 levels, whatever their values: categorical
        -rng.integers(1, 3, n),  # negative integers: categorical
        rng.normal(size=n),  # Gaussian
        np.arange(n) % 14,  # 14 levels: categorical
        np.arange(n) % 15,  # 15 levels: Gaussian
        np.full(n, 3e6),  # a constant integer: categorical with one level
    ]).astype(float)
    pc = PCDensityEstimator(n_latents=2, max_iter=1, random_state=0).fit(X)
    assert pc.leaf_types_.tolist() == ["categorical", "gaussian", "categorical", "categorical", "gaussian",
                                       "categorical", "gaussian", "categorical"]
    np.testing.assert_array_equal(pc.n_categories_, [5, 0, 5, 2, 0, 14, 0, 1])
    np.testing.assert_array_equal(pc.columns_.levels[3], [-2.0, -1.0])
    # With fewer rows the limit is lower: 14 levels on 195 rows (isqrt 13) are Gaussian.
    pc = PCDensityEstimator(n_latents=2, max_iter=1, random_state=0).fit(X[:195, 5:6])
    assert pc.leaf_types_.tolist() == ["gaussian"]
    kinds = ["gaussian", "categorical"] + ["gaussian"] * 6
    pc = PCDensityEstimator(leaf=kinds, n_latents=2, max_iter=1, random_state=0).fit(X)
    assert pc.leaf_types_.tolist() == kinds
    assert pc.n_categories_[1] == len(np.unique(X[:, 1]))
    assert [leaf.kind for leaf in pc.circuit_.leaves] == ["categorical", "gaussian"]
    with pytest.raises(ValueError, match="unknown leaf type"):
        PCDensityEstimator(leaf=["poisson"] * 8, max_iter=1).fit(X)


def test_mutual_information_on_mixed_columns():
    """Closed-form MI of a thresholded column; a mixed chain is found by the Chow-Liu tree."""
    rng = np.random.default_rng(0)
    n = 3000
    x0 = rng.normal(size=n)
    above = (x0 > np.median(x0)).astype(float)  # cut at a bin edge: MI = H(above) = log 2
    mi = mutual_information(np.column_stack([x0, above]), np.array([0, 2]))
    assert abs(mi[0, 1] - np.log(2)) < 0.01
    x1 = np.where(rng.random(n) < 0.15, 1 - above, above)  # continuous -> categorical
    x2 = 3 * x1 + rng.normal(size=n)  # categorical -> continuous
    x3 = rng.normal(size=n)  # independent
    mi = mutual_information(np.column_stack([x0, x1, x2, x3]), np.array([0, 2, 0, 0]))
    # Independent columns: only the plug-in bias (cells - 1) / (2 n) of 16 x 16 and 2 x 16 bins.
    assert mi[0, 3] < 2 * 15 * 15 / (2 * n) and mi[1, 3] < 2 * 15 / (2 * n)
    parent, _ = chow_liu_tree(mi)
    edges = {frozenset((v, int(parent[v]))) for v in range(4) if parent[v] >= 0}
    assert {frozenset((0, 1)), frozenset((1, 2))} <= edges


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_far_apart_units_keep_exact_log_likelihood_and_finite_training(dtype):
    # Each variable's best unit disagrees with the other's: every unit is thousands of
    # nats below its region's best, so the normalised values underflow to 0 while the
    # log-likelihood is finite. Found by hypothesis (a degenerate fit on scale-100 data).
    means, variances, weights = np.array([[0.0, 100.0], [100.0, 0.0]]), np.ones((2, 2)), np.array([0.3, 0.7])
    X = np.array([[0.0, 0.0], [100.0, 100.0], [0.0, 100.0], [50.0, 0.0]])
    pc = PCDensityEstimator(structure=mixture_graph(2), n_latents=2, solver="em", max_iter=1,
                            leaf="gaussian", dtype=dtype, random_state=0).fit(X)
    set_gmm_params(pc.circuit_, weights, means, variances, pc.columns_)
    exact = logsumexp(np.log(weights) + norm.logpdf(X[:, None, :], means, 1.0).sum(axis=2), axis=1)
    np.testing.assert_allclose(pc.score_samples(X), exact, rtol=1e-6 if dtype == "float32" else 1e-12)
    pc.set_params(warm_start=True).fit(X)  # one EM step from there: finite, normalised
    assert np.all(np.isfinite(pc.history_["train_loglik"]))
    assert all(np.all(np.isfinite(p)) for params in pc.circuit_.get_params() for p in params)


def test_var_prior_makes_up_a_state_short_of_rows_with_the_column_s_variance():
    """One M-step: a state with less flow than ``var_prior`` asks for gets the shortfall
    ``w`` as pseudo-rows of the column's variance, ``(S_xx - S_1 mean^2 + w s^2) / (S_1 + w)``;
    a state with enough flow keeps the plain M-step's variance, and no mean moves."""
    rng = np.random.default_rng(3)
    x = rng.normal(2.0, 1.5, 200)
    resp = np.zeros((len(x), 3))
    resp[0, 0] = 1.0  # state 0: the flow of one row, a variance of 0
    resp[1:3, 1] = 0.75  # state 1: 1.5 rows of flow
    resp[3:, 2] = 1.0
    s0, s1, s2 = resp.sum(axis=0), resp.T @ x, resp.T @ x**2
    suff = (s0[None], s1[None], s2[None])
    spread = 1.5
    plain = Gaussian([0], 3, CPU, "float64", min_var=1e-12, data_mean=[0.0], data_std=[spread])
    mean, var = plain.m_step(suff, 0.0)
    assert var[0, 0] <= 1e-12 * (1 + 1e-9)  # collapsed onto its row (floored at min_var)
    needed = 2.0  # the rows of a variance
    prior = Gaussian([0], 3, CPU, "float64", min_var=1e-12, data_mean=[0.0], data_std=[spread],
                     var_prior=needed / resp.sum())
    mean_p, var_p = prior.m_step(suff, 0.0)
    np.testing.assert_array_equal(mean_p, mean)
    np.testing.assert_allclose(var_p[0, 0], (needed - 1) * spread**2 / needed, rtol=1e-10)
    ml_1 = s2[1] / s0[1] - (s1[1] / s0[1]) ** 2
    np.testing.assert_allclose(var_p[0, 1], (1.5 * ml_1 + 0.5 * spread**2) / 2.0, rtol=1e-10)
    np.testing.assert_allclose(var_p[0, 2], var[0, 2], rtol=1e-12)  # enough flow: untouched
    half = prior.m_step(suff, 0.0, prior_share=0.5)[1]  # anemone's step a adds a of the pseudo-rows
    np.testing.assert_allclose(half[0, 0], 0.5 * spread**2 / 1.5, rtol=1e-10)


def test_the_search_gives_its_hclts_the_variance_prior_and_a_plain_hclt_none():
    X = blobs(150, d=2, seed=2)
    pc = PCDensityEstimator(random_state=0, max_iter=2).fit(X)
    hclts = [r["params"] for r in pc.capacity_search_["candidates"] if r["params"]["structure"] == "hclt"]
    assert hclts and all(p["_prior_rows"] == {"gaussian": 2 * _capacity.COV_PRIOR_ROWS} for p in hclts)
    plain = PCDensityEstimator(structure="hclt", max_iter=2, random_state=0).fit(X)
    assert all(leaf.var_prior == 0.0 for leaf in plain.circuit_.leaves)
    # On mixed columns (a classifier's features and label) the HCLTs keep their plain M-step.
    mixed = np.column_stack([X, (X[:, 0] > 0).astype(int)])
    searched = PCDensityEstimator(random_state=0, max_iter=2).fit(mixed)
    hclts = [r["params"] for r in searched.capacity_search_["candidates"]
             if r["params"]["structure"] == "hclt"]
    assert hclts and not any("_prior_rows" in p for p in hclts)
