"""The Adam baseline's gradients and every solver's progress from a random start."""

import numpy as np
import pytest

from skpc._backend import CPU
from skpc.engine import Circuit
from skpc.leaves import Categorical, Gaussian
from skpc.solvers import SOLVERS, Adam
from skpc.structures import hclt


def _circuit(X, kinds, n_cats, k, seed):
    rng = np.random.RandomState(seed)
    observed = np.where(np.isnan(X), 0.0, X)

    def make_leaf(kind, variables):
        variables = np.asarray(variables)
        if kind == "categorical":
            return Categorical(variables, k, n_cats[variables], CPU, np.float64, rng)
        return Gaussian(variables, k, CPU, np.float64, rng,
                        data_mean=observed[:, variables].mean(0), data_std=observed[:, variables].std(0))

    graph = hclt(observed, np.where(kinds == "categorical", n_cats, 0))
    return Circuit(graph, k, make_leaf, kinds, CPU, np.float64, rng)


def _mixed_data(n=40, seed=0):
    """Binary, ternary (one with an unused padded category) and Gaussian columns, some NaN."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([
        rng.integers(0, 2, n), rng.integers(0, 3, n), rng.integers(0, 2, n),
        rng.integers(0, 3, n), rng.normal(1.0, 2.0, n),
    ]).astype(float)
    X[rng.random(X.shape) < 0.1] = np.nan
    kinds = np.array(["categorical"] * 4 + ["gaussian"])
    n_cats = np.array([2, 3, 2, 4, 0])  # column 3 declares a fourth category never seen
    return X, kinds, n_cats


def test_adam_gradients_equal_finite_differences():
    X, kinds, n_cats = _mixed_data()
    circuit = _circuit(X, kinds, n_cats, k=3, seed=1)
    solver = Adam(pseudocount=0.0)
    stats = circuit.new_stats()
    circuit.accumulate(X, stats)
    suff = circuit.sufficient(stats)
    base = [solver.to_free(b) for b in circuit.blocks]

    def mean_loglik(i, j, index, delta):
        free = [[p.copy() for p in f] for f in base]
        free[i][j][index] += delta
        circuit.set_params([solver.from_free(b, f) for b, f in zip(circuit.blocks, free, strict=True)])
        return circuit.log_likelihood(X, 16).mean()

    kinds_seen = set()
    h = 1e-5
    for i, block in enumerate(circuit.blocks):
        grads = solver.gradient(block, suff[i], X.shape[0])
        for j, grad in enumerate(grads):
            assert grad.shape == base[i][j].shape
            for index in np.ndindex(grad.shape):
                if block.kind == "categorical" and not block.valid[index[0], index[1], 0]:
                    assert grad[index] == 0.0  # padded categories have no parameter
                    continue
                fd = (mean_loglik(i, j, index, h) - mean_loglik(i, j, index, -h)) / (2 * h)
                assert grad[index] == pytest.approx(fd, abs=1e-6, rel=1e-5), (block.kind, j, index)
        kinds_seen.add(block.kind)
    assert kinds_seen == {"categorical", "gaussian", "sum"}


def test_adam_free_parameters_round_trip():
    X, kinds, n_cats = _mixed_data()
    circuit = _circuit(X, kinds, n_cats, k=3, seed=2)
    solver = Adam(pseudocount=0.0)
    for block in circuit.blocks:
        for got, want in zip(solver.from_free(block, solver.to_free(block)), block.params, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_each_solver_improves_training_likelihood(name):
    rng = np.random.default_rng(3)
    # Data with structure: column j copies column j-1 with probability 0.8.
    n, d = 600, 6
    X = np.empty((n, d))
    X[:, 0] = rng.integers(0, 2, n)
    for j in range(1, d):
        X[:, j] = np.where(rng.random(n) < 0.8, X[:, j - 1], rng.integers(0, 2, n))
    kinds, n_cats = np.array(["categorical"] * d), np.full(d, 2)
    circuit = _circuit(X, kinds, n_cats, k=4, seed=4)
    start = circuit.log_likelihood(X, 256).mean()
    solver = SOLVERS[name](pseudocount=0.01)
    step = 0.1 if name == "adam" else 0.5
    history = []
    for _ in range(5):
        for rows in np.array_split(rng.permutation(n), 1 if solver.full_batch else 6):
            stats = circuit.new_stats()
            circuit.accumulate(X[np.sort(rows)], stats)
            solver.update(circuit, stats, len(rows), step)
        history.append(circuit.log_likelihood(X, 256).mean())
    # The data's own entropy bounds the gain; a good fit is far above a random start.
    assert history[-1] > start + 0.5, (start, history)
    if name == "em":
        assert np.all(np.diff(history) > -1e-9), history  # full-batch EM never decreases
