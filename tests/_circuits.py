"""Small circuits and brute-force references shared by the engine and solver tests.

Everything here is independent of the engine's own passes: states are enumerated,
expectations are weighted sums over them, and goodness of fit uses scipy.
"""

import itertools

import numpy as np
from scipy import stats as st

from skpc._backend import CPU
from skpc.engine import Circuit
from skpc.leaves import Categorical
from skpc.structures import RegionGraph, hclt

#: Categories of the variables of the HCLT test circuit (binary and ternary).
HCLT_CATEGORIES = np.array([2, 3, 2, 2, 3, 2])


def chain_data(n_categories, n_samples, seed):
    """Correlated categorical data: each column copies the previous one 70% of the time."""
    rng = np.random.default_rng(seed)
    X = np.empty((n_samples, len(n_categories)))
    X[:, 0] = rng.integers(0, n_categories[0], n_samples)
    for j in range(1, len(n_categories)):
        fresh = rng.integers(0, n_categories[j], n_samples)
        copy = np.minimum(X[:, j - 1], n_categories[j] - 1)
        X[:, j] = np.where(rng.random(n_samples) < 0.7, copy, fresh)
    return X


def partitions_graph():
    """Hadamard region graph over 5 variables with several partitions per region.

    It has a variable with two input regions (0 and 5 both hold variable 0), a region
    with partitions of different arities, a single-child (pure mixing) region, and two
    regions of one layer that share a child at the same position (scatter-add path).
    """
    scopes = [(0,), (1,), (2,), (3,), (4,), (0,),  # 0-5: input regions
              (0, 1), (2, 3), (0, 1, 2, 3), (4,), (2, 3, 4), (0, 1, 2, 3, 4), (0, 1)]
    partitions = [[], [], [], [], [], [],
                  [(0, 1), (5, 1)],          # 6
                  [(2, 3)],                  # 7
                  [(6, 7), (0, 1, 7)],       # 8
                  [(4,)],                    # 9: mixing region
                  [(7, 9), (2, 3, 4)],       # 10
                  [(8, 9), (6, 10), (12, 10), (5, 1, 10)],  # 11: root
                  [(0, 1), (5, 1)]]          # 12: same children as 6
    return RegionGraph(scopes, partitions, root=11, product="hadamard")


def kronecker_graph():
    """Kronecker region graph over 4 variables: two root partitions, shared children."""
    scopes = [(0,), (1,), (2,), (3,), (0,),
              (0, 1), (2, 3), (0, 2), (1, 3), (0, 3), (1, 2), (0, 1, 2, 3)]
    partitions = [[], [], [], [], [],
                  [(0, 1), (4, 1)], [(2, 3)], [(0, 2)], [(1, 3)], [(0, 3)], [(1, 2)],
                  [(5, 6), (7, 8), (9, 10)]]
    return RegionGraph(scopes, partitions, root=11, product="kronecker")


def make_circuit(graph, n_categories, n_units, seed, peaked=False):
    """A float64 categorical circuit on ``graph``.

    ``peaked=True`` redraws every parameter from a Dirichlet(0.5), so that p(x) is far
    from uniform (goodness-of-fit tests then have power against a wrong sampler).
    """
    rng = np.random.default_rng(seed)
    n_categories = np.asarray(n_categories)

    def make_leaf(kind, variables):
        return Categorical(np.asarray(variables), n_units, n_categories[variables], CPU, np.float64, rng)

    circuit = Circuit(graph, n_units, make_leaf, ["categorical"] * len(n_categories), CPU, np.float64, rng)
    if peaked:
        for block in circuit.blocks:
            (p,) = block.params
            axis, mask = (2, 1.0) if block.kind == "sum" else (1, block.valid)
            g = rng.gamma(0.5, size=p.shape) * mask
            block.set_params((g / g.sum(axis=axis, keepdims=True),))
    return circuit


def hclt_circuit(n_units=3, seed=0, peaked=False):
    X = chain_data(HCLT_CATEGORIES, 400, seed)
    return make_circuit(hclt(X, HCLT_CATEGORIES), HCLT_CATEGORIES, n_units, seed, peaked), HCLT_CATEGORIES


#: name -> builder returning (circuit, n_categories); used to parametrize tests.
CIRCUITS = {
    "hclt": hclt_circuit,
    "partitions": lambda n_units=3, seed=0, peaked=False: (
        make_circuit(partitions_graph(), np.array([2, 3, 2, 3, 2]), n_units, seed, peaked),
        np.array([2, 3, 2, 3, 2]),
    ),
    "kronecker": lambda n_units=2, seed=0, peaked=False: (
        make_circuit(kronecker_graph(), np.array([3, 2, 2, 3]), n_units, seed, peaked),
        np.array([3, 2, 2, 3]),
    ),
}


def all_states(n_categories):
    """Every joint state, one per row, as a float array."""
    return np.array(list(itertools.product(*(range(k) for k in n_categories))), dtype=np.float64)


def states_with_unseen(n_categories):
    """Every joint state of an estimator's categorical columns with levels ``0..K-1``,
    each column also taking the value ``K`` (never seen in training: the "unseen"
    category), and a mask of the rows whose values are all known levels.

    The estimator's distribution over these states sums to 1; the known rows alone
    sum to slightly less (the "unseen" category holds a share of the pseudocount).
    """
    n_categories = np.asarray(n_categories)
    states = all_states(n_categories + 1)
    return states, np.all(states < n_categories, axis=1)


def log_p(circuit, X):
    return circuit.log_likelihood(np.asarray(X, dtype=np.float64), max(1, len(X)))


def row_stats(circuit, x):
    """Sufficient statistics (flows) of the single row ``x``."""
    stats = circuit.new_stats()
    circuit.accumulate(np.asarray(x, dtype=np.float64)[None, :], stats)
    return circuit.sufficient(stats)


def weighted_stats(circuit, X, weights):
    """``sum_i weights[i] * stats(X[i])``, one row at a time (a brute-force expectation)."""
    total = circuit.sufficient(circuit.new_stats())  # zeros of the right shapes
    for x, w in zip(X, weights, strict=True):
        for t_block, s_block in zip(total, row_stats(circuit, x), strict=True):
            for t, s in zip(t_block, s_block, strict=True):
                t += w * s
    return total


def chi_square_pvalue(counts, probs):
    """Pearson goodness-of-fit p-value; cells expecting fewer than 5 counts are pooled."""
    counts = np.asarray(counts, dtype=np.float64)
    expected = np.asarray(probs, dtype=np.float64) * counts.sum()
    small = expected < 5
    obs = np.append(counts[~small], counts[small].sum())
    exp = np.append(expected[~small], expected[small].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    exp *= obs.sum() / exp.sum()
    return st.chisquare(obs, exp).pvalue


def state_counts(samples, n_categories):
    """Counts of each joint state (row order of :func:`all_states`)."""
    index = np.ravel_multi_index(samples.astype(np.int64).T, tuple(n_categories))
    return np.bincount(index, minlength=int(np.prod(n_categories)))
