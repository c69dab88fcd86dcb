"""structure="mixture": a finite mixture of full-covariance Gaussians times categoricals.

Reference: the mixture's density written out from its fitted parameters with scipy
(a sum over components of weight x multivariate normal x categorical probabilities).
"""

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from skpc import PCDensityEstimator
from skpc.structures import mixture


def mixed(n=400, seed=0):
    """Two correlated continuous columns around a categorical one (3 levels) and a binary one."""
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 3, n)
    centres = np.array([[0.0, 0.0], [4.0, 1.0], [1.0, 5.0]])
    g = centres[z] + rng.normal(size=(n, 2)) @ np.array([[1.0, 0.6], [0.0, 0.5]])
    b = (rng.random(n) < np.array([0.2, 0.5, 0.9])[z]).astype(float)
    return np.column_stack([g[:, 0], z, g[:, 1], b])


def closed_form(pc, X):
    """log p(x) from the fitted parameters: sum_k w_k N(x_g; m_k, S_k) prod_j p_kj(x_j), in the
    user's units (Gaussian columns standardised, hence the Jacobian), NaN entries left out."""
    circuit, columns = pc.circuit_, pc.columns_
    (root,) = circuit.sum_layers
    weights = np.asarray(root.params[0], dtype=np.float64)[0, 0]
    out = np.empty(len(X))
    for i, x in enumerate(X):
        terms = np.log(weights)
        for leaf in circuit.leaves:
            params = [np.asarray(p, dtype=np.float64) for p in leaf.params]
            for r, scope in enumerate(leaf.variables):
                scope = np.atleast_1d(scope)
                v = x[scope]
                seen = ~np.isnan(v)
                if not seen.any():
                    continue  # marginalised: every unit integrates to 1
                if leaf.kind == "categorical":
                    code = int(np.searchsorted(columns.levels[scope[0]], v[0]))
                    terms = terms + np.log(params[0][r, code])
                    continue
                z = (v - columns.loc[scope]) / columns.scale[scope]
                means, covs = params[0][r], params[1][r]
                terms = terms + np.array([
                    multivariate_normal(means[c][seen], covs[c][np.ix_(seen, seen)]).logpdf(z[seen])
                    for c in range(len(weights))]) - np.log(columns.scale[scope][seen]).sum()
        out[i] = logsumexp(terms)
    return out


def test_the_graph_has_one_gaussian_region_and_one_region_per_categorical_column():
    graph = mixture(["gaussian", "categorical", "gaussian", "categorical"])
    assert [graph.scopes[r] for r in graph.input_regions()] == [(0, 2), (1,), (3,)]
    assert graph.partitions[graph.root] == [(0, 1, 2)] and graph.product == "hadamard"
    only_gaussian = mixture(["gaussian"] * 3)
    assert [only_gaussian.scopes[r] for r in only_gaussian.input_regions()] == [(0, 1, 2)]
    only_categorical = mixture(["categorical"] * 2)
    assert [only_categorical.scopes[r] for r in only_categorical.input_regions()] == [(0,), (1,)]


def test_scores_equal_the_mixture_written_out_with_and_without_missing_values():
    X = mixed()
    pc = PCDensityEstimator(structure="mixture", n_latents=3, leaf={1: "categorical", 3: "categorical"},
                            dtype="float64", random_state=0).fit(X)
    assert pc.structure_.name == "mixture"
    assert sorted(leaf.kind for leaf in pc.circuit_.leaves) == ["categorical", "multivariate_gaussian"]
    rows = X[:40].copy()
    rows[np.random.default_rng(1).random(rows.shape) < 0.3] = np.nan
    for Z in (X[:40], rows):
        np.testing.assert_allclose(pc.score_samples(Z), closed_form(pc, Z), rtol=0, atol=1e-8)


def test_a_single_continuous_column_gets_univariate_gaussians():
    X = mixed()[:, :2]
    pc = PCDensityEstimator(structure="mixture", n_latents=2, random_state=0).fit(X)
    assert sorted(leaf.kind for leaf in pc.circuit_.leaves) == ["categorical", "gaussian"]
    assert np.all(np.isfinite(pc.score_samples(X)))


def test_mixture_takes_no_structure_params():
    with pytest.raises(ValueError, match="unknown key"):
        PCDensityEstimator(structure="mixture", structure_params={"depth": 0}).fit(mixed())
