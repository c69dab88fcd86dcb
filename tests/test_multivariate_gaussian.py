"""Full-covariance Gaussian input units (input regions over several variables).

References: scikit-learn's GaussianMixture(covariance_type="full"), numerical
integration, closed-form marginal and conditional Gaussians computed row by row with
numpy, and finite differences.
"""

import tracemalloc
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.covariance import LedoitWolf
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler
from structures_helpers import check_flows_by_finite_differences, flows, make_circuit

import skpc
import skpc.estimator
from skpc import PCDensityEstimator
from skpc._backend import CPU
from skpc.engine.memory import circuit_bytes, joint_temporary_bytes
from skpc.io import ModelFileError
from skpc.leaves import MultivariateGaussian, floor_eigenvalues
from skpc.solvers import EM, Adam, Anemone
from skpc.structures import RegionGraph, rat_spn
from tests.strict_backend import DeviceArray, StrictBackend

#: structure_params of a full-covariance Gaussian mixture, and of RAT-SPNs split once
#: into two full-covariance halves.
GMM = {"depth": 0, "n_repetitions": 1, "multivariate_leaves": True}
SPLIT = {"depth": 1, "n_repetitions": 2, "multivariate_leaves": True}


def correlated(n=300, d=3, seed=0):
    """Three clusters with strongly correlated, differently scaled columns."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(3, d))
    mixing = [rng.normal(size=(d, d)) for _ in range(3)]
    z = rng.integers(3, size=n)
    noise = rng.normal(size=(n, d))
    return centres[z] + np.einsum("nij,nj->ni", np.array(mixing)[z], noise)


def random_gmm(k, d, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(k, d, d))
    cov = a @ np.swapaxes(a, 1, 2) + 0.3 * np.eye(d)
    return rng.dirichlet(np.ones(k)), rng.normal(scale=2.0, size=(k, d)), cov


def set_full_gmm(circuit, weights, means, covs, columns=None):
    """Copy a full-covariance GMM into the circuit of ``rat_spn(d, 0, 1, multivariate_leaves=True)``.

    With ``columns`` (an estimator's ``columns_``) the GMM is in the user's units and is
    converted to the standardised units the circuit sees: ``(mean - loc) / scale`` and
    ``cov / outer(scale, scale)``.
    """
    (leaf,), (root,) = circuit.leaves, circuit.sum_layers
    if columns is not None:
        scope = leaf.variables[0]
        loc, scale = columns.loc[scope], columns.scale[scope]
        means, covs = (means - loc) / scale, covs / np.outer(scale, scale)
    leaf.set_params((means[None].copy(), covs[None].copy()))
    root.set_params((weights[None, None, :].copy(),))


def gmm_circuit(k, d, seed=0, min_var=1e-12, reg_covar=0.0, diagonal=False):
    """A random GMM's circuit; ``diagonal``: its covariances' diagonals, in diagonal units
    (whose passes integrate missing values out column by column)."""
    circuit = make_circuit(rat_spn(d, depth=0, n_repetitions=1, multivariate_leaves=True), k,
                           ["gaussian"] * d, seed=seed, min_var=min_var, reg_covar=reg_covar)
    w, m, c = random_gmm(k, d, seed)
    if diagonal:
        circuit.leaves[0].diagonal, c = True, c * np.eye(d)
    set_full_gmm(circuit, w, m, c)
    return circuit, (w, m, c)


def conditional(mean, cov, x):
    """Marginal log-density of the observed entries of x, and the conditional mean and
    covariance of every entry (observed ones fixed, zero covariance), by the textbook
    formulas on index sets."""
    o, m = ~np.isnan(x), np.isnan(x)
    cmean, ccov = np.where(o, x, mean), np.zeros_like(cov)
    log_marginal = multivariate_normal(mean[o], cov[np.ix_(o, o)]).logpdf(x[o]) if o.any() else 0.0
    if m.any():
        gain = cov[np.ix_(m, o)] @ np.linalg.inv(cov[np.ix_(o, o)]) if o.any() else np.zeros((m.sum(), 0))
        cmean[m] = mean[m] + gain @ (x[o] - mean[o])
        ccov[np.ix_(m, m)] = cov[np.ix_(m, m)] - gain @ cov[np.ix_(o, m)]
    return log_marginal, cmean, ccov


def with_nan(X, fraction, seed, all_missing_rows=2):
    X = X.copy()
    rng = np.random.default_rng(seed)
    X[rng.random(X.shape) < fraction] = np.nan
    X[:all_missing_rows] = np.nan
    return X


def staggered_nan(X):
    """Row i missing ``i % d`` values: each batch mixes complete rows, rows missing one
    value and rows with one observed (the precision's missing blocks are padded to the
    batch's most missing)."""
    X = X.copy()
    d = X.shape[1]
    for i in range(len(X)):
        X[i, np.random.default_rng(i).permutation(d)[:i % d]] = np.nan
    return X


# -- the closed forms ----------------------------------------------------------------------
def test_full_covariance_mixture_equals_gaussian_mixture():
    X, k = correlated(), 3
    gmm = GaussianMixture(k, covariance_type="full", random_state=0).fit(X)
    pc = PCDensityEstimator(structure="rat", structure_params=GMM, n_latents=k, solver="em", max_iter=1,
                            dtype="float64", random_state=0).fit(X)
    assert pc.circuit_.leaves[0].kind == "multivariate_gaussian" and len(pc.circuit_.sum_layers) == 1
    set_full_gmm(pc.circuit_, gmm.weights_, gmm.means_, gmm.covariances_, pc.columns_)
    # score_samples is in the user's units: the circuit's density of the standardised
    # columns plus the Jacobian -sum log(scale).
    np.testing.assert_allclose(pc.score_samples(X), gmm.score_samples(X), rtol=0, atol=1e-8)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    gmm_z = GaussianMixture(k, covariance_type="full", random_state=0).fit(Z)
    set_full_gmm(pc.circuit_, gmm_z.weights_, gmm_z.means_, gmm_z.covariances_)
    np.testing.assert_allclose(pc.score_samples(X), gmm_z.score_samples(Z) - np.log(X.std(axis=0)).sum(),
                               rtol=0, atol=1e-8)


@pytest.mark.parametrize("reg_covar", [0.0, 0.3])
def test_one_em_step_equals_one_gaussian_mixture_iteration(reg_covar):
    X, k = correlated(seed=1), 3
    circuit, (w0, m0, c0) = gmm_circuit(k, 3, seed=3, reg_covar=reg_covar)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm = GaussianMixture(k, covariance_type="full", reg_covar=reg_covar, max_iter=1, weights_init=w0,
                              means_init=m0, precisions_init=np.linalg.inv(c0)).fit(X)
    EM(pseudocount=0.0).update(circuit, flows(circuit, X), len(X), 1.0)
    (leaf,), (root,) = circuit.leaves, circuit.sum_layers
    np.testing.assert_allclose(root.weights[0, 0], gmm.weights_, rtol=1e-10)
    np.testing.assert_allclose(leaf.mean[0], gmm.means_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(leaf.cov[0], gmm.covariances_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reg_covar", [0.0, 0.3])
def test_one_em_step_of_diagonal_units_equals_a_diagonal_gaussian_mixture_iteration(reg_covar):
    X, k = correlated(seed=2), 3
    circuit, (w0, m0, c0) = gmm_circuit(k, 3, seed=4, reg_covar=reg_covar)
    (leaf,), (root,) = circuit.leaves, circuit.sum_layers
    leaf.diagonal = True
    c0 = c0 * np.eye(3)  # a diagonal start
    leaf.set_params((leaf.mean, c0[None]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm = GaussianMixture(k, covariance_type="diag", reg_covar=reg_covar, max_iter=1, weights_init=w0,
                              means_init=m0, precisions_init=1 / np.diagonal(c0, axis1=1, axis2=2)).fit(X)
    EM(pseudocount=0.0).update(circuit, flows(circuit, X), len(X), 1.0)
    np.testing.assert_allclose(root.weights[0, 0], gmm.weights_, rtol=1e-10)
    np.testing.assert_allclose(leaf.mean[0], gmm.means_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(leaf.cov[0], gmm.covariances_[:, :, None] * np.eye(3), rtol=1e-10, atol=1e-12)


def test_free_parameters_count_distinct_covariance_entries():
    k, d = 3, 4
    circuit, _ = gmm_circuit(k, d)
    (leaf,), (root,) = circuit.leaves, circuit.sum_layers
    assert circuit.n_free_parameters() == root.weights.size + k * (d + d * (d + 1) // 2)
    leaf.diagonal = True
    assert circuit.n_free_parameters() == root.weights.size + k * 2 * d
    assert circuit.n_parameters() == root.weights.size + k * (d + d * d)  # the arrays, in memory


@pytest.mark.parametrize("structure, structure_params", [("rat", GMM), ("hclt", None)])
def test_reg_covar_is_added_to_the_fitted_covariance(structure, structure_params):
    # One unit per region: every flow is 1, so EM's fixed point is the sample covariance
    # (diagonal for the HCLT's univariate units) plus reg_covar on the diagonal.
    X, reg = correlated(), 0.2
    pc = PCDensityEstimator(structure=structure, structure_params=structure_params, n_latents=1,
                            leaf="gaussian", solver="em", max_iter=2, reg_covar=reg, dtype="float64",
                            random_state=0).fit(X)
    # Gaussian columns are standardised (ddof=0): reg_covar is added in those units, to a
    # sample covariance that is then the correlation matrix.
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    np.testing.assert_allclose(pc.columns_.scale, X.std(axis=0), rtol=1e-12)
    expected = np.cov(Z, rowvar=False, bias=True) + reg * np.eye(3)
    (leaf,) = pc.circuit_.leaves
    if structure == "rat":
        np.testing.assert_allclose(leaf.cov[0, 0], expected, rtol=1e-10)
    else:
        np.testing.assert_allclose(leaf.var[np.argsort(leaf.variables), 0], np.diag(expected), rtol=1e-10)


@pytest.mark.parametrize("diagonal", [False, True])
@pytest.mark.parametrize("d", [4, 6], ids=["random-nan", "staggered-nan"])
def test_em_step_with_missing_values_equals_row_by_row_conditionals(diagonal, d):
    X = correlated(n=120, d=d, seed=2)
    X, k = (with_nan(X, 0.3, seed=1) if d == 4 else staggered_nan(X)), 2
    circuit, (w, m, c) = gmm_circuit(k, d, seed=4, diagonal=diagonal)
    EM(pseudocount=0.0).update(circuit, flows(circuit, X), len(X), 1.0)
    nk, sx, sxx = np.zeros(k), np.zeros((k, d)), np.zeros((k, d, d))
    for x in X:
        parts = [conditional(m[j], c[j], x) for j in range(k)]
        log_joint = np.log(w) + np.array([p[0] for p in parts])
        resp = np.exp(log_joint - logsumexp(log_joint))
        for j, (_, cmean, ccov) in enumerate(parts):
            nk[j] += resp[j]
            sx[j] += resp[j] * cmean
            sxx[j] += resp[j] * (np.outer(cmean, cmean) + ccov)
    mean = sx / nk[:, None]
    cov = sxx / nk[:, None, None] - mean[:, :, None] * mean[:, None, :]
    if diagonal:  # the M-step keeps the diagonal
        cov = cov * np.eye(d)
    np.testing.assert_allclose(circuit.sum_layers[0].weights[0, 0], nk / len(X), rtol=1e-10)
    np.testing.assert_allclose(circuit.leaves[0].mean[0], mean, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(circuit.leaves[0].cov[0], cov, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("diagonal", [False, True])
@pytest.mark.parametrize("d", [4, 6], ids=["random-nan", "staggered-nan"])
def test_marginals_with_nan_equal_the_marginal_gaussian_mixture(diagonal, d):
    X = correlated(n=80, d=d, seed=5)
    X = with_nan(X, 0.35, seed=2) if d == 4 else with_nan(staggered_nan(X), 0.0, seed=2)
    circuit, (w, m, c) = gmm_circuit(3, d, seed=5, diagonal=diagonal)
    expected = [logsumexp(np.log(w) + [conditional(m[j], c[j], x)[0] for j in range(3)]) for x in X]
    np.testing.assert_allclose(circuit.log_likelihood(X, 32), expected, rtol=1e-10, atol=1e-10)
    assert np.all(circuit.log_likelihood(X[:2], 2) == 0)  # nothing observed: p = 1


def mixed_arity_graph():
    """Kronecker root over 2 variables with a bivariate input region as one partition and
    the product of two univariate regions as the other (partitions of 1 and 2 children)."""
    return RegionGraph(scopes=[(0, 1), (0,), (1,), (0, 1)], partitions=[[], [], [], [(0,), (1, 2)]], root=3,
                       product="kronecker")


@pytest.mark.parametrize("graph", [rat_spn(2, depth=0, n_repetitions=2, multivariate_leaves=True),
                                   mixed_arity_graph()], ids=["rat", "mixed-arity"])
def test_integrates_to_one_in_two_dimensions(graph):
    X = correlated(n=200, d=2, seed=3)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    pc = PCDensityEstimator(structure=graph, n_latents=2, solver="em", max_iter=5, dtype="float64",
                            min_var=0.05, random_state=0).fit(X)
    grid = np.linspace(-9, 9, 451)
    xx, yy = np.meshgrid(grid, grid, indexing="ij")
    density = np.exp(pc.score_samples(np.c_[xx.ravel(), yy.ravel()])).reshape(xx.shape)
    assert abs(np.trapezoid(np.trapezoid(density, grid, axis=1), grid) - 1) < 1e-5
    # Integrating x_1 out numerically equals the marginal of a NaN there.
    column = np.trapezoid(density, grid, axis=1)[::50]
    marginal = np.exp(pc.score_samples(np.c_[grid[::50], np.full(len(grid[::50]), np.nan)]))
    np.testing.assert_allclose(column, marginal, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("diagonal", [False, True])
def test_mpe_and_conditional_mean_are_the_conditional_gaussian_mean(diagonal):
    X = with_nan(correlated(n=40, d=4, seed=6), 0.4, seed=3, all_missing_rows=1)
    pc = PCDensityEstimator(structure="rat", structure_params=GMM, n_latents=1, solver="em", max_iter=1,
                            dtype="float64", random_state=0)
    vars(pc)["_diagonal_cov"] = diagonal  # as the capacity search's diagonal candidates
    pc.fit(correlated(n=100, d=4))
    assert pc.circuit_.leaves[0].diagonal == diagonal
    shape = np.eye(4) if diagonal else 1.0
    mean, cov = random_gmm(1, 4, seed=7)[1:]
    cov = cov * shape
    set_full_gmm(pc.circuit_, np.ones(1), mean, cov, pc.columns_)
    expected = np.array([conditional(mean[0], cov[0], x)[1] for x in X])
    np.testing.assert_allclose(pc.predict_mpe(X), expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(pc.conditional_mean(X), expected, rtol=1e-10, atol=1e-10)
    # With several components, the conditional mean weighs each unit's conditional mean.
    w, m, c = random_gmm(3, 4, seed=8)
    c = c * shape
    pc.set_params(n_latents=3).fit(correlated(n=100, d=4))
    set_full_gmm(pc.circuit_, w, m, c, pc.columns_)
    want = []
    for x in X:
        parts = [conditional(m[j], c[j], x) for j in range(3)]
        log_joint = np.log(w) + [p[0] for p in parts]
        want.append(np.exp(log_joint - logsumexp(log_joint)) @ np.array([p[1] for p in parts]))
    np.testing.assert_allclose(pc.conditional_mean(X), want, rtol=1e-9, atol=1e-10)
    # MPE: the conditional mean of the unit with the highest joint density there (the
    # observed entries' marginal times the conditional density at its mode).
    mpe = []
    for x in X:
        modes = [conditional(m[j], c[j], x)[1] for j in range(3)]
        best = np.argmax([np.log(w[j]) + multivariate_normal(m[j], c[j]).logpdf(modes[j]) for j in range(3)])
        mpe.append(modes[best])
    np.testing.assert_allclose(pc.predict_mpe(X), mpe, rtol=1e-9, atol=1e-10)


# -- flows, gradients, statistics ------------------------------------------------------------
@pytest.mark.parametrize("missing", [False, True])
def test_flows_equal_finite_differences_on_a_rat_circuit(missing):
    X = correlated(n=40, d=5, seed=9)
    graph = rat_spn(5, depth=1, n_repetitions=2, multivariate_leaves=True, random_state=0)
    circuit = make_circuit(graph, 2, ["gaussian"] * 5, seed=1)
    assert {len(s) for s in (graph.scopes[r] for r in graph.input_regions())} == {2, 3}
    if missing:
        X = with_nan(X, 0.3, seed=4)
    assert check_flows_by_finite_differences(circuit, X, n_checks=6) > 0


def test_top_down_statistics_are_model_expectations():
    circuit, (w, m, c) = gmm_circuit(3, 3, seed=10)
    s0, s1, s2 = circuit.sufficient(circuit.top_down_stats())[0]
    np.testing.assert_allclose(s0[0], w, rtol=1e-12)
    np.testing.assert_allclose(s1[0], w[:, None] * m, rtol=1e-12)
    second = c + m[:, :, None] * m[:, None, :]
    np.testing.assert_allclose(s2[0], w[:, None, None] * second, rtol=1e-12)


def test_adam_gradients_equal_finite_differences_in_its_free_parameters():
    X = with_nan(correlated(n=50, d=3, seed=11), 0.2, seed=5, all_missing_rows=0)
    circuit, _ = gmm_circuit(2, 3, seed=11)
    leaf = circuit.leaves[0]
    adam = Adam(0.0)
    free = adam.to_free(leaf)
    grads = adam.gradient(leaf, circuit.sufficient(flows(circuit, X))[0], len(X))
    h = 1e-6
    for which, index in [(0, (0, 1, 2)), (1, (0, 0, 0, 0)), (1, (0, 1, 2, 1)), (1, (0, 1, 2, 2))]:
        values = []
        for sign in (1, -1):
            moved = [f.copy() for f in free]
            moved[which][index] += sign * h
            leaf.set_params(adam.from_free(leaf, moved))
            values.append(circuit.log_likelihood(X, len(X)).mean())
        np.testing.assert_allclose((values[0] - values[1]) / (2 * h), grads[which][index], rtol=1e-5,
                                   atol=1e-8)
    assert np.all(np.triu(grads[1][0, 0], 1) == 0)  # the factor stays lower-triangular


@pytest.mark.parametrize("solver", ["em", "minibatch_em", "anemone", "adam"])
def test_every_solver_fits(solver):
    X = with_nan(correlated(n=300, d=4, seed=12), 0.1, seed=6)
    step = 0.05 if solver == "adam" else 0.5
    pc = PCDensityEstimator(structure="rat", n_latents=3, solver=solver, max_iter=8, batch_size=100,
                            step_size=step, dtype="float64", random_state=0,
                            structure_params=SPLIT)
    pc.fit(X)
    history = pc.history_["train_loglik"]
    assert np.all(np.isfinite(history)) and history[-1] > history[0] + 0.1
    cov = pc.circuit_.leaves[0].cov
    assert np.linalg.eigvalsh(cov).min() >= pc.min_var * (1 - 1e-9)


def test_shared_kmeans_starts_units_as_separate_k_means_do():
    """The capacity search's candidates of one size share their k-means start on a fold:
    the same start as computing it for each, computed once."""
    X = correlated(n=200, d=3, seed=2)

    def start(diagonal):
        leaf = MultivariateGaussian([[0, 1, 2]], 4, CPU, "float64", np.random.default_rng(5), data=X,
                                    diagonal=diagonal)
        return leaf.mean, leaf.cov

    alone = [start(diagonal) for diagonal in (False, True)]
    with skpc.leaves.shared_kmeans():
        shared = [start(diagonal) for diagonal in (False, True)]
        assert len(skpc.leaves._kmeans_memo) == 1  # one k-means served both
    assert skpc.leaves._kmeans_memo is None
    for (mean, cov), (shared_mean, shared_cov) in zip(alone, shared):
        np.testing.assert_array_equal(mean, shared_mean)
        np.testing.assert_array_equal(cov, shared_cov)


def test_eigenvalues_are_floored_at_min_var():
    X = correlated(n=200, d=3, seed=13)
    X[:, 2] = X[:, 0] + X[:, 1]  # a singular covariance
    pc = PCDensityEstimator(structure="rat", structure_params=GMM, n_latents=2, solver="em", max_iter=5,
                            dtype="float64", min_var=0.01, random_state=0).fit(X)
    w = np.linalg.eigvalsh(pc.circuit_.leaves[0].cov)
    assert w.min() >= 0.01 * (1 - 1e-9) and np.isclose(w.min(), 0.01)


@pytest.mark.parametrize("diagonal", [False, True])
def test_cov_prior_makes_up_a_unit_short_of_rows_with_the_data_s_covariance(diagonal):
    """One EM step: a unit with fewer rows than ``cov_prior`` asks for gets the shortfall
    ``w`` as pseudo-rows, ``(S_xx - S_1 mean mean^T + w Psi) / (S_1 + w)`` with ``Psi``
    the columns' covariance (Ledoit-Wolf shrunk); a unit with enough rows keeps the plain
    M-step's covariance."""
    X = correlated(n=300, d=3, seed=4)
    psi = LedoitWolf().fit(X).covariance_
    if diagonal:
        psi = np.diag(np.diag(psi))
    resp = np.zeros((len(X), 3))
    resp[0, 0] = 1.0  # unit 0 takes the flow of one row: a singular sample covariance
    resp[1:3, 1] = 1.5  # unit 1 of two rows, weighted
    resp[3:, 2] = 1.0
    suff = (resp.sum(axis=0)[None], (resp.T @ X)[None], np.einsum("nk,ni,nj->kij", resp, X, X)[None])
    plain = MultivariateGaussian([[0, 1, 2]], 3, CPU, "float64", min_var=1e-9, data=X, diagonal=diagonal)
    mean, cov = plain.m_step(suff, 0.0)
    assert np.linalg.eigvalsh(cov[0, 0]).max() < 1e-8  # collapsed (floored at min_var)
    needed = 4.0  # the rows of a 3 x 3 covariance
    prior = MultivariateGaussian([[0, 1, 2]], 3, CPU, "float64", min_var=1e-9, data=X, diagonal=diagonal,
                                 cov_prior=needed / resp.sum())
    mean_p, cov_p = prior.m_step(suff, 0.0)
    np.testing.assert_array_equal(mean_p, mean)  # the means are not pulled
    np.testing.assert_allclose(cov_p[0, 0], (needed - 1) * psi / needed, rtol=1e-8)
    np.testing.assert_allclose(cov_p[0, 1], (3 * cov[0, 1] + (needed - 3) * psi) / needed, rtol=1e-8)
    np.testing.assert_allclose(cov_p[0, 2], cov[0, 2], rtol=1e-12)  # enough rows: untouched


@pytest.mark.parametrize("n_rows", [29, 37])
def test_cov_prior_on_few_rows_in_many_columns_beats_a_diagonal_gaussian(n_rows):
    """A single unit over 30 columns of 5 factors from 29 or 37 rows, short of the 62 its
    covariance needs: with the prior it scores new rows above the diagonal Gaussian fitted
    to the same rows, on either side of ``n_rows = d + 1``. With the rows' sample covariance
    as ``Psi`` (nearly singular on 37 rows) it scored -114 there, the diagonal -67."""
    rng = np.random.default_rng(3)
    n = n_rows + 500
    X = rng.normal(size=(n, 5)) @ rng.normal(size=(5, 30)) + 0.5 * rng.normal(size=(n, 30))
    train, test = X[:n_rows], X[n_rows:]
    ones = np.ones((n_rows, 1))
    suff = (ones.sum(axis=0)[None], (ones.T @ train)[None],
            np.einsum("nk,ni,nj->kij", ones, train, train)[None])
    leaf = MultivariateGaussian([list(range(30))], 1, CPU, "float64", data=train, cov_prior=62 / n_rows)
    mean, cov = leaf.m_step(suff, 0.0)
    ours = multivariate_normal(mean[0, 0], cov[0, 0]).logpdf(test).mean()
    diagonal = GaussianMixture(1, covariance_type="diag").fit(train).score(test)
    assert ours > diagonal + 10.0


@pytest.mark.parametrize("n_rows", [2, 3, 4, 5, 8, 40])
def test_the_prior_s_target_is_well_conditioned_on_any_number_of_rows(n_rows):
    X = np.random.default_rng(n_rows).normal(size=(n_rows, 4))
    leaf = MultivariateGaussian([[0, 1, 2, 3]], 1, CPU, "float64", data=X, cov_prior=1.0)
    assert np.linalg.eigvalsh(np.asarray(leaf._prior_cov[0])).min() > 0.05


@pytest.mark.parametrize("diagonal", [False, True])
def test_the_map_covariance_is_a_fixed_point_of_anemone_at_every_step_size(diagonal):
    """EM run to convergence with the covariance prior reaches a MAP point; an anemone
    update of all the rows there must not move it, whatever its step ``a``. Were the
    prior added whole to anemone's blended statistics (only ``a`` of which is new), it
    would act as ``1/a`` times its pseudo-rows and pull every covariance towards ``Psi``."""
    rng = np.random.default_rng(6)
    X = np.r_[rng.normal(0, 0.3, (150, 2)), rng.normal(3, 0.5, (5, 2))]  # a cluster of 5 rows
    pc = PCDensityEstimator(structure="rat", structure_params=GMM, n_latents=2, solver="em", max_iter=300,
                            tol=0.0, n_iter_no_change=10**6, pseudocount=0.0, reg_covar=0.0, random_state=0)
    # The small cluster is 3 rows short of the prior's 8.
    vars(pc).update(_prior_rows={"multivariate_gaussian": 8.0}, _diagonal_cov=diagonal)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pc.fit(X)
    circuit = pc.circuit_
    Z = pc._codes(X)
    before = [np.array(p) for params in circuit.get_params() for p in params]
    for a in (1.0, 0.5, 0.1):
        stats = circuit.new_stats()
        circuit.accumulate(np.asarray(Z, dtype=np.float64), stats)
        Anemone(0.0).update(circuit, stats, len(Z), a)
        after = [np.array(p) for params in circuit.get_params() for p in params]
        for p, q in zip(before, after, strict=True):
            np.testing.assert_allclose(q, p, rtol=1e-5, atol=1e-7)


# -- sampling ---------------------------------------------------------------------------
def test_sample_moments_match_the_model():
    pc = PCDensityEstimator(structure="rat", structure_params=GMM, n_latents=2, solver="em", max_iter=1,
                            dtype="float64", random_state=0).fit(correlated(n=100))
    w, m, c = random_gmm(2, 3, seed=14)
    set_full_gmm(pc.circuit_, w, m, c, pc.columns_)
    S = pc.sample(20000, random_state=0)
    mean = w @ m
    cov = np.einsum("k,kij->ij", w, c + m[:, :, None] * m[:, None, :]) - np.outer(mean, mean)
    np.testing.assert_allclose(S.mean(axis=0), mean, atol=0.1)
    np.testing.assert_allclose(np.cov(S.T), cov, atol=0.25, rtol=0.05)


def test_conditional_samples_keep_observed_entries_and_follow_the_conditional():
    pc = PCDensityEstimator(structure="rat", structure_params=GMM, n_latents=1, solver="em", max_iter=1,
                            dtype="float64", random_state=0).fit(correlated(n=100, d=4))
    _, m, c = random_gmm(1, 4, seed=15)
    set_full_gmm(pc.circuit_, np.ones(1), m, c, pc.columns_)
    x = np.array([0.5, np.nan, -1.0, np.nan])
    S = pc.sample_conditional(np.repeat(x[None], 20000, axis=0), random_state=1)
    assert np.all(S[:, [0, 2]] == x[[0, 2]]) and not np.isnan(S).any()
    _, cmean, ccov = conditional(m[0], c[0], x)
    np.testing.assert_allclose(S.mean(axis=0), cmean, atol=0.05)
    np.testing.assert_allclose(np.cov(S.T)[np.ix_([1, 3], [1, 3])], ccov[np.ix_([1, 3], [1, 3])], rtol=0.05,
                               atol=0.02)


# -- dtypes, devices, files, bad input --------------------------------------------------------
def breast_cancer():
    return StandardScaler().fit_transform(load_breast_cancer().data)


def test_float32_on_nearly_collinear_data_stays_finite():
    X = with_nan(breast_cancer()[:300], 0.05, seed=7)
    pc = PCDensityEstimator(structure="rat", n_latents=2, solver="em", max_iter=5, random_state=0,
                            structure_params={"depth": 0, "n_repetitions": 2, "multivariate_leaves": True})
    pc.fit(X)
    assert pc.circuit_.leaves[0].cov.dtype == np.float32
    assert np.all(np.isfinite(pc.history_["train_loglik"])) and np.all(np.isfinite(pc.score_samples(X)))
    assert np.all(np.isfinite(pc.sample(5, random_state=0))) and np.all(np.isfinite(pc.predict_mpe(X[:20])))


@pytest.mark.parametrize("solver", ["em", "anemone"])
@pytest.mark.parametrize("diagonal", [False, True])
def test_the_device_path_equals_the_cpu(monkeypatch, solver, diagonal):
    real = skpc.estimator.get_backend
    monkeypatch.setattr(skpc.estimator, "get_backend", lambda d: StrictBackend() if d == "gpu" else real(d))
    X = with_nan(correlated(n=200, d=4, seed=16), 0.15, seed=8)
    kw = dict(structure="rat", n_latents=2, solver=solver, max_iter=3, batch_size=64, dtype="float64",
              random_state=0, structure_params=SPLIT)
    cpu, gpu = PCDensityEstimator(**kw), PCDensityEstimator(**kw, device="gpu")
    for pc in (cpu, gpu):  # diagonal units: as the capacity search's diagonal candidates
        vars(pc)["_diagonal_cov"] = diagonal
        pc.fit(X)
    assert gpu.circuit_.leaves[0].diagonal == diagonal
    assert isinstance(gpu.circuit_.leaves[0].cov, DeviceArray)
    np.testing.assert_allclose(gpu.history_["train_loglik"], cpu.history_["train_loglik"], rtol=1e-12)
    # (atol: the rows with nothing observed score 0 on one path and -1e-16 on the other.)
    np.testing.assert_allclose(gpu.score_samples(X), cpu.score_samples(X), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gpu.sample_conditional(X[:20], random_state=2),
                               cpu.sample_conditional(X[:20], random_state=2), rtol=1e-9)
    np.testing.assert_allclose(gpu.conditional_mean(X[:20]), cpu.conditional_mean(X[:20]), rtol=1e-12)


def test_model_file_round_trip_and_a_tampered_covariance(tmp_path):
    X = with_nan(correlated(n=150, d=4, seed=17), 0.1, seed=9)
    pc = PCDensityEstimator(structure="rat", n_latents=2, max_iter=2, random_state=0,
                            structure_params=SPLIT).fit(X)
    path = tmp_path / "mv.skpc"
    skpc.save(pc, path)
    loaded = skpc.load(path)
    np.testing.assert_array_equal(loaded.score_samples(X), pc.score_samples(X))
    np.testing.assert_array_equal(loaded.sample(5, random_state=0), pc.sample(5, random_state=0))
    data = dict(np.load(path, allow_pickle=False))
    b = [i for i, block in enumerate(pc.circuit_.blocks) if block.kind == "multivariate_gaussian"][0]
    data[f"param_{b}_1"][0, 0] = -data[f"param_{b}_1"][0, 0]  # negative definite
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(ModelFileError, match="symmetric positive definite"):
        skpc.load(tmp_path / "bad.npz")


def test_a_joint_region_over_a_categorical_column_is_refused():
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=50), rng.integers(0, 3, 50), rng.normal(size=50)]
    graph = RegionGraph(scopes=[(0, 1), (2,), (0, 1, 2)], partitions=[[], [], [(0, 1)]], root=2)
    with pytest.raises(ValueError, match=r"input region 0 .*column 1 is 'categorical'"):
        PCDensityEstimator(structure=graph, n_latents=2, max_iter=1).fit(X)
    # With every column Gaussian the same graph fits: bivariate units times univariate ones.
    pc = PCDensityEstimator(structure=graph, n_latents=2, max_iter=1, leaf="gaussian").fit(X)
    assert sorted(leaf.kind for leaf in pc.circuit_.leaves) == ["gaussian", "multivariate_gaussian"]


def test_memory_estimate_counts_the_joint_units():
    X = with_nan(correlated(n=40, d=5, seed=18), 0.1, seed=10)
    pc = PCDensityEstimator(structure="rat", n_latents=3, max_iter=1, batch_size=16, random_state=0,
                            structure_params=SPLIT).fit(X)
    circuit = pc.circuit_
    params, work = circuit_bytes(pc.structure_, 3, pc.leaf_types_, pc.n_categories_, 16, "float32")
    assert params == circuit.n_parameters() * 4
    ws = circuit.forward(circuit.to_device(X[:16]))
    inputs = [a for (x, seen, n_seen, _) in ws.inputs for a in (x, seen, n_seen)]
    arrays = [ws.values, ws.flow, ws.scale, ws.logs, *ws.prods, *ws.mixed, *ws.pscales, *inputs]
    temporaries = sum(16 * joint_temporary_bytes(3, len(s), 4)
                      for s in (pc.structure_.scopes[r] for r in pc.structure_.input_regions()))
    assert work - temporaries == sum(a.nbytes for a in arrays)


def test_diagonal_units_need_no_d_by_d_matrices_per_row():
    """A diagonal unit's passes over rows with missing values hold (k, d) arrays per row, not
    k d x d matrices: the estimate drops the d^2 term, and a pass's temporaries stay within it."""
    k, d = 50, 12
    assert joint_temporary_bytes(k, d, 4, diagonal=True) == 2 * k * d * 4 + 2 * k * d * 8
    assert joint_temporary_bytes(k, d, 4) > d * joint_temporary_bytes(k, d, 4, diagonal=True) / 4
    pc = PCDensityEstimator(structure="rat", structure_params=GMM, n_latents=k, max_iter=1, batch_size=64,
                            random_state=0)
    vars(pc)["_diagonal_cov"] = True
    X = with_nan(correlated(n=200, d=d, seed=3), 0.2, seed=1)
    pc.fit(X)
    assert pc.circuit_.row_bytes == circuit_bytes(pc.structure_, k, pc.leaf_types_, pc.n_categories_, 1,
                                                  "float32", diagonal=True)[1]
    tracemalloc.start()
    pc.score_samples(X[:64])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 64 * joint_temporary_bytes(k, d, 4, diagonal=True) * 3


def test_structure_params_are_checked():
    with pytest.raises(ValueError, match="multivariate_leaves"):
        PCDensityEstimator(structure="rat", structure_params={"multivariate_leaves": "yes"}).fit(correlated())


def test_imputer_with_a_hand_made_joint_region():
    X = with_nan(correlated(n=200, d=3, seed=19), 0.2, seed=11, all_missing_rows=0)
    graph = RegionGraph(scopes=[(0, 1, 2), (0, 1, 2)], partitions=[[], [(0,)]], root=1)
    kw = dict(structure=graph, n_latents=2, solver="em", max_iter=5, dtype="float64", random_state=0)
    filled = skpc.PCImputer(strategy="mean", **kw).fit(X).transform(X)
    pc = PCDensityEstimator(**kw).fit(X)
    np.testing.assert_allclose(filled, pc.conditional_mean(X), rtol=1e-10)
    assert not np.isnan(filled).any() and np.all(filled[~np.isnan(X)] == X[~np.isnan(X)])


def test_imputer_forwards_structure_params_and_min_var():
    X = with_nan(correlated(n=200, d=4, seed=20), 0.2, seed=12, all_missing_rows=0)
    kw = dict(structure="rat", structure_params={"depth": 0, "multivariate_leaves": True}, min_var=0.05,
              leaf="gaussian", n_latents=2, solver="em", max_iter=5, dtype="float64", random_state=0)
    imp = skpc.PCImputer(strategy="mean", **kw).fit(X)
    pc = PCDensityEstimator(**kw).fit(X)
    graph = imp.estimator_.structure_
    assert {len(graph.scopes[r]) for r in graph.input_regions()} == {4}  # one joint region
    assert imp.estimator_.min_var == 0.05
    np.testing.assert_allclose(imp.transform(X), pc.conditional_mean(X), rtol=1e-10)


def test_add_sorted_equals_add_at_for_repeated_and_missing_indices():
    from skpc._backend import CPU

    rng = np.random.default_rng(0)
    index = np.sort(rng.integers(0, 6, 40))  # repeats, and some target rows never hit
    values = rng.standard_normal((40, 3, 2))
    expected, target = np.ones((6, 3, 2)), np.ones((6, 3, 2))
    np.add.at(expected, index, values)
    CPU.add_sorted(target, index, values)
    np.testing.assert_allclose(target, expected, rtol=1e-12)
    CPU.add_sorted(target, index[:0], values[:0])  # no rows: unchanged
    np.testing.assert_allclose(target, expected, rtol=1e-12)


def test_floored_covariances_stay_positive_definite_once_rounded_to_float32():
    rng = np.random.default_rng(0)
    for _ in range(20):
        # Pairs of collinear columns (a cluster of few rows): the null directions are
        # local, so rounding the large entries next to them to float32 moves their
        # eigenvalues by about eps32 * 25, past min_var = 1e-6.
        cov = np.kron(np.diag(rng.uniform(1.0, 50.0, size=15)), np.ones((2, 2)))
        floored = floor_eigenvalues(np, cov, 1e-6, np.float32)
        assert np.linalg.eigvalsh(floored.astype(np.float32).astype(np.float64))[0] > 0.5e-6
        # float64 keeps min_var; so does a float32 matrix whose rounding keeps the floor
        # (one small eigenvalue, random eigenvectors); a well-conditioned one is untouched
        assert np.linalg.eigvalsh(floor_eigenvalues(np, cov, 1e-6))[0] == pytest.approx(1e-6)
        q, _ = np.linalg.qr(rng.normal(size=(30, 30)))
        spread = floor_eigenvalues(np, (q * np.geomspace(1e-9, 50.0, 30)) @ q.T, 1e-6, np.float32)
        assert np.linalg.eigvalsh(spread)[0] == pytest.approx(1e-6)
        spd = cov + np.eye(30)
        assert np.allclose(floor_eigenvalues(np, spd, 1e-6, np.float32), spd)


def test_a_float32_mixture_of_full_gaussians_on_collinear_columns_fits():
    # 8 full components on 30 nearly collinear columns: clusters of few rows, most
    # eigenvalues at the floor (a LinAlgError in float32 before the floor knew the dtype)
    X = StandardScaler().fit_transform(load_breast_cancer().data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = PCDensityEstimator(structure="rat", structure_params=GMM, n_latents=8, max_iter=20,
                                 random_state=0).fit(X)
    assert est.dtype == "float32" and np.isfinite(est.score_samples(X)).all()
