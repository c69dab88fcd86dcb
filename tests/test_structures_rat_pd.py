"""RAT-SPN and Poon-Domingos region graphs, compiled with Kronecker products."""

import itertools
from collections import Counter

import numpy as np
import pytest
from structures_helpers import check_flows_by_finite_differences, make_circuit, total_loglik

from skpc import PCDensityEstimator
from skpc.structures import poon_domingos, rat_spn


def all_states(n_categories):
    return np.array(list(itertools.product(*[range(c) for c in n_categories])), dtype=float)


def brute_force_marginal(circuit, x, n_categories):
    """Sum of p over every completion of the NaN entries of ``x``."""
    miss = np.flatnonzero(np.isnan(x))
    full = np.tile(x, (int(np.prod([n_categories[j] for j in miss])), 1))
    full[:, miss] = all_states([n_categories[j] for j in miss])
    return np.log(np.exp(circuit.log_likelihood(full, len(full))).sum())


def children(graph):
    return [c for r in range(graph.n_regions) for part in graph.partitions[r] for c in part]


# -- structure -------------------------------------------------------------------------------
def test_rat_repetitions_are_balanced_binary_trees():
    d, reps = 11, 3
    graph = rat_spn(d, depth=None, n_repetitions=reps, random_state=0)
    assert len(graph.partitions[graph.root]) == reps
    # A tree per repetition: no region has two parents, and each variable has one input
    # region per repetition.
    assert max(Counter(children(graph)).values()) == 1
    assert Counter(graph.scopes[r][0] for r in graph.input_regions()) == dict.fromkeys(range(d), reps)
    for r in range(graph.n_regions):
        for part in graph.partitions[r]:
            sizes = sorted(len(graph.scopes[c]) for c in part)
            assert len(part) == 2 and sizes[1] - sizes[0] <= 1
    # Depth 0: the same column-order tree in every repetition; random splits otherwise.
    first_splits = [{graph.scopes[c] for c in part} for part in graph.partitions[graph.root]]
    assert len({frozenset(s) for s in first_splits}) > 1
    fixed = rat_spn(d, depth=0, n_repetitions=reps, random_state=0)
    splits = {frozenset(fixed.scopes[c] for c in part) for part in fixed.partitions[fixed.root]}
    assert splits == {frozenset({tuple(range(5)), tuple(range(5, 11))})}


def test_pd_regions_are_shared_rectangles():
    h, w = 4, 6
    graph = poon_domingos((h, w), delta=2)
    assert graph.n_variables == h * w and len(graph.input_regions()) == h * w
    for r in range(graph.n_regions):
        rows = {v // w for v in graph.scopes[r]}
        cols = {v % w for v in graph.scopes[r]}
        assert len(graph.scopes[r]) == len(rows) * len(cols)  # a full rectangle
        assert max(rows) - min(rows) + 1 == len(rows) and max(cols) - min(cols) + 1 == len(cols)
    assert max(Counter(children(graph)).values()) > 1  # a DAG: regions with several parents
    # The root is cut at every multiple of 2 along both axes: 1 + 2 row cuts, 2 column cuts.
    assert len(graph.partitions[graph.root]) == 3
    assert len({graph.scopes[r] for r in range(graph.n_regions)}) == graph.n_regions


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: rat_spn(1), "at least 2 variables"),
        (lambda: rat_spn(4, n_repetitions=0), "n_repetitions"),
        (lambda: rat_spn(4, depth=-1), "depth"),
        (lambda: poon_domingos((1, 1)), "image_shape"),
        (lambda: poon_domingos((2, 2), delta=0), "delta"),
    ],
)
def test_builders_reject_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# -- compiled circuits -----------------------------------------------------------------------
CASES = {
    "rat": (lambda: rat_spn(6, depth=2, n_repetitions=3, random_state=1), [2, 3, 2, 2, 3, 2]),
    "pd": (lambda: poon_domingos((2, 3), delta=1), [2, 2, 3, 2, 2, 2]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_normalised_and_marginals_by_enumeration(name):
    make, n_cat = CASES[name]
    circuit = make_circuit(make(), 3, ["categorical"] * 6, n_cat, seed=2)
    states = all_states(n_cat)
    assert abs(np.exp(circuit.log_likelihood(states, len(states))).sum() - 1) < 1e-10
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = states[rng.integers(len(states))].copy()
        x[rng.random(6) < 0.5] = np.nan
        got = circuit.log_likelihood(x[None], 1)[0]
        assert abs(got - brute_force_marginal(circuit, x, n_cat)) < 1e-10


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("gaussian", [False, True])
def test_flows_equal_finite_differences(name, gaussian):
    make, n_cat = CASES[name]
    kinds = ["categorical"] * 6
    rng = np.random.default_rng(3)
    X = all_states(n_cat)[rng.integers(np.prod(n_cat), size=20)]
    if gaussian:  # columns 1 and 4 continuous
        kinds[1] = kinds[4] = "gaussian"
        X[:, [1, 4]] = rng.normal(size=(20, 2))
    X[rng.random(X.shape) < 0.2] = np.nan
    circuit = make_circuit(make(), 2, kinds, n_cat, seed=4)
    assert check_flows_by_finite_differences(circuit, X) > 0
    # Flows sum to the batch size at the root.
    stats = circuit.new_stats()
    circuit.accumulate(X, stats)
    root = circuit.sum_layers[-1]
    assert abs(root.node_flow(root.sufficient(stats[-1])).sum() - len(X)) < 1e-9


@pytest.mark.parametrize(
    "structure, params", [("rat", {"n_repetitions": 2, "depth": 1}), ("pd", {"image_shape": (2, 3)})]
)
def test_estimator_fits_rat_and_pd(structure, params):
    rng = np.random.default_rng(0)
    X = (rng.random((400, 6)) < np.linspace(0.2, 0.8, 6)).astype(float)
    X[:, 1] = np.where(rng.random(400) < 0.9, X[:, 0], 1 - X[:, 0])  # neighbours depend
    pc = PCDensityEstimator(structure=structure, structure_params=params, n_latents=3, solver="em",
                            max_iter=30, pseudocount=0.0, dtype="float64", random_state=0).fit(X)
    assert pc.structure_.product == "kronecker"
    states = all_states([2] * 6)
    assert abs(np.exp(pc.score_samples(states)).sum() - 1) < 1e-9
    # Full-batch EM never lowers the training log-likelihood.
    assert np.all(np.diff(pc.history_["train_loglik"]) > -1e-9)
    # It beats the best fully factorised model (column frequencies) on the training data.
    freq = X.mean(axis=0)
    independent = np.mean(np.sum(X * np.log(freq) + (1 - X) * np.log(1 - freq), axis=1))
    assert pc.score(X) > independent + 0.1
    assert abs(pc.score(X) - total_loglik(pc.circuit_, X) / len(X)) < 1e-10


@pytest.mark.parametrize(
    "structure, params, match",
    [
        ("rat", {"size": 3}, "unknown key"),
        ("pd", {"image_shape": (4, 4)}, "height \\* width = 6"),
        ("pd", None, "image_shape"),
    ],
)
def test_estimator_rejects_bad_structure_params(structure, params, match):
    X = np.random.default_rng(0).integers(0, 2, size=(20, 6)).astype(float)
    with pytest.raises(ValueError, match=match):
        PCDensityEstimator(structure=structure, structure_params=params, max_iter=1).fit(X)


def test_pd_square_image_shape_default():
    X = np.random.default_rng(0).integers(0, 2, size=(50, 9)).astype(float)
    pc = PCDensityEstimator(structure="pd", n_latents=2, max_iter=1, random_state=0).fit(X)
    assert pc.structure_.n_variables == 9 and pc.structure_.name == "poon_domingos"
