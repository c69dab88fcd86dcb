"""Shared checks for small circuits: finite differences of log-likelihoods vs flows."""

import numpy as np

from skpc._backend import CPU
from skpc.engine import Circuit
from skpc.leaves import Categorical, Gaussian, MultivariateGaussian


def make_circuit(graph, n_units, kinds, n_categories=None, seed=0, min_var=1e-3, reg_covar=0.0):
    """A float64 CPU circuit over ``graph`` with random parameters."""
    rng = np.random.default_rng(seed)

    def make_leaf(kind, variables):
        variables = np.asarray(variables)
        if kind == "categorical":
            return Categorical(variables, n_units, np.asarray(n_categories)[variables], CPU, "float64", rng)
        if kind == MultivariateGaussian.kind:
            return MultivariateGaussian(variables, n_units, CPU, "float64", rng, min_var=min_var,
                                        reg_covar=reg_covar)
        return Gaussian(variables, n_units, CPU, "float64", rng, min_var=min_var, reg_covar=reg_covar)

    return Circuit(graph, n_units, make_leaf, list(kinds), CPU, "float64", rng)


def flows(circuit, X):
    """Raw statistics (flows) of one forward and backward pass over ``X``."""
    stats = circuit.new_stats()
    circuit.accumulate(X, stats)
    return stats


def total_loglik(circuit, X):
    return float(circuit.log_likelihood(X, X.shape[0]).sum())


def finite_difference(circuit, X, block, which, index, h=1e-5, log_scale=True):
    """Central difference of ``sum log p(X)`` in one parameter entry of ``block``.

    ``log_scale=True`` differentiates with respect to the log of the entry (the entry is
    multiplied by ``exp(+-h)``; weights stay unnormalised), else the entry itself.
    """
    params = [p.copy() for p in block.params]
    values = []
    for sign in (1.0, -1.0):
        moved = [p.copy() for p in params]
        if log_scale:
            moved[which][index] *= np.exp(sign * h)
        else:
            moved[which][index] += sign * h
        block.set_params(tuple(moved))
        values.append(total_loglik(circuit, X))
    block.set_params(tuple(params))
    return (values[0] - values[1]) / (2 * h)


def sample_indices(shape, n, rng):
    return [tuple(int(rng.integers(s)) for s in shape) for _ in range(n)]


def check_flows_by_finite_differences(circuit, X, n_checks=12, seed=0):
    """Every block's flows equal finite differences of the log-likelihood.

    Sum edges: ``F(n, c) = d log p / d log theta[n, c]``. Categorical units: observed
    counts ``d log p / d log probs[r, c, k]``. Gaussian units:
    ``d log p / d mean = (S_x - S_1 mean) / var`` and
    ``d log p / d var = (S_xx - 2 mean S_x + mean^2 S_1) / (2 var^2) - S_1 / (2 var)``
    on the (expected) sufficient statistics, which hold for missing entries too.
    """
    rng = np.random.default_rng(seed)
    stats = flows(circuit, X)
    suff = circuit.sufficient(stats)
    checked = 0
    for block, raw, s in zip(circuit.blocks, stats, suff, strict=True):
        if block.kind == "multivariate_gaussian":
            checked += _check_joint_gaussian(circuit, X, block, s, n_checks, rng)
            continue
        if block.kind == "gaussian":
            mean, var = block.mean, block.var
            s0, s1, s2 = s
            squares = s2 - 2 * mean * s1 + mean**2 * s0  # sum of flow * (x - mean)^2
            grads = [(s1 - s0 * mean) / var, squares / (2 * var**2) - s0 / (2 * var)]
            for which, grad in enumerate(grads):
                for index in sample_indices(grad.shape, n_checks, rng):
                    fd = finite_difference(circuit, X, block, which, index, log_scale=False)
                    np.testing.assert_allclose(fd, grad[index], rtol=1e-5, atol=1e-6)
                    checked += 1
            continue
        # Sum layers: edge flows; categorical leaves: observed counts, (r, C, k) from the
        # raw (r, k, C+1) statistics whose last column is the missing flow.
        target = s[0] if block.kind == "sum" else np.transpose(raw[0][:, :, :-1], (0, 2, 1))
        for index in sample_indices(target.shape, n_checks, rng):
            if block.kind == "categorical" and index[1] >= block.n_categories[index[0]]:
                continue  # padding category, probability 0
            fd = finite_difference(circuit, X, block, 0, index)
            np.testing.assert_allclose(fd, target[index], rtol=1e-5, atol=1e-6)
            checked += 1
    return checked


def _check_joint_gaussian(circuit, X, block, suff, n_checks, rng):
    """Full-covariance units: ``d log p / d mean = P (S_x - S_1 mean)`` and, for a
    symmetric change of ``cov[i, j]`` and ``cov[j, i]``, ``(2 - [i == j]) G[i, j]`` with
    ``G = (P Q P - S_1 P) / 2``, ``Q = sum flow (x - mean)(x - mean)^T`` from the expected
    statistics, ``P`` the precision."""
    s0, s1, s2 = suff
    mean, cov = block.mean, block.cov
    prec = np.linalg.inv(cov)
    outer = s1[..., :, None] * mean[..., None, :]
    square = mean[..., :, None] * mean[..., None, :]
    q = s2 - outer - np.swapaxes(outer, -1, -2) + s0[..., None, None] * square
    g_mean = np.einsum("rkij,rkj->rki", prec, s1 - s0[..., None] * mean)
    g_cov = 0.5 * (prec @ q @ prec - s0[..., None, None] * prec)
    checked = 0
    for index in sample_indices(g_mean.shape, n_checks, rng):
        fd = finite_difference(circuit, X, block, 0, index, log_scale=False)
        np.testing.assert_allclose(fd, g_mean[index], rtol=1e-5, atol=1e-6)
        checked += 1
    h = 1e-5
    for r, k, i, j in sample_indices(g_cov.shape, n_checks, rng):
        values = []
        for sign in (1.0, -1.0):
            moved = cov.copy()
            moved[r, k, i, j] += sign * h
            if i != j:
                moved[r, k, j, i] += sign * h
            block.set_params((mean, moved))
            values.append(total_loglik(circuit, X))
        block.set_params((mean, cov))
        expected = g_cov[r, k, i, j] * (1 if i == j else 2)
        np.testing.assert_allclose((values[0] - values[1]) / (2 * h), expected, rtol=1e-5, atol=1e-6)
        checked += 1
    return checked
