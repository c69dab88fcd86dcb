"""Structures: mutual information, Chow-Liu trees, HCLT and region-graph validation."""

import itertools

import numpy as np
import pytest
from _circuits import chain_data, kronecker_graph, partitions_graph

from skpc.structures import RegionGraph, chow_liu_tree, hclt, mutual_information


def _pairwise_mi(a, b, ka, kb, alpha):
    """MI of two categorical columns from a Laplace-smoothed table (rows with both observed)."""
    both = ~np.isnan(a) & ~np.isnan(b)
    table = np.zeros((ka, kb))
    np.add.at(table, (a[both].astype(int), b[both].astype(int)), 1.0)
    joint = (table + alpha / (ka * kb)) / (both.sum() + alpha)
    pa, pb = joint.sum(axis=1), joint.sum(axis=0)
    return sum(
        joint[i, j] * np.log(joint[i, j] / (pa[i] * pb[j])) for i in range(ka) for j in range(kb)
    )


@pytest.mark.parametrize("missing", [0.0, 0.2])
@pytest.mark.parametrize("cats", [[2, 3, 2, 4, 3], [2, 3, 150, 4, 3]])  # one column with many levels
def test_mutual_information_equals_direct_pairwise_computation(missing, cats):
    cats = np.array(cats)
    X = chain_data(cats, 300, seed=0)
    X[np.random.default_rng(1).random(X.shape) < missing] = np.nan
    mi = mutual_information(X, cats, alpha=0.5)
    expected = np.zeros((5, 5))
    for i, j in itertools.permutations(range(5), 2):
        expected[i, j] = _pairwise_mi(X[:, i], X[:, j], cats[i], cats[j], alpha=0.5)
    np.testing.assert_allclose(mi, expected, rtol=0, atol=1e-12)


def test_mutual_information_of_continuous_columns_is_rank_based():
    rng = np.random.default_rng(2)
    z = rng.standard_normal(500)
    X = np.column_stack([z, z + 0.3 * rng.standard_normal(500), rng.standard_normal(500)])
    mi = mutual_information(X)
    # Quantile binning only sees ranks: monotone transforms of a column change nothing.
    transformed = np.column_stack([np.exp(X[:, 0]), X[:, 1] ** 3, 7 - 2 * X[:, 2]])
    np.testing.assert_allclose(mutual_information(transformed), mi, rtol=0, atol=1e-12)
    np.testing.assert_allclose(mi, mi.T, rtol=0, atol=1e-12)
    assert mi[0, 1] > 2 * max(mi[0, 2], mi[1, 2])  # the dependent pair stands out


def _tree_edges(parent):
    return {frozenset((v, int(p))) for v, p in enumerate(parent) if p >= 0}


def _all_spanning_trees(d):
    """Edge sets of every labelled tree on ``d`` nodes, decoded from Pruefer sequences."""
    for seq in itertools.product(range(d), repeat=d - 2):
        degree = [1 + seq.count(v) for v in range(d)]
        edges = set()
        for v in seq:
            leaf = min(u for u in range(d) if degree[u] == 1)
            edges.add(frozenset((leaf, v)))
            degree[leaf] -= 1
            degree[v] -= 1
        u, w = (x for x in range(d) if degree[x] == 1)
        edges.add(frozenset((u, w)))
        yield edges


def _eccentricities(edges, d):
    """Largest hop distance from each node (breadth-first search)."""
    ecc = []
    for source in range(d):
        depth, frontier = {source: 0}, [source]
        while frontier:
            nxt = []
            for v in frontier:
                for u in (w for e in edges if v in e for w in e if w not in depth):
                    depth[u] = depth[v] + 1
                    nxt.append(u)
            frontier = nxt
        ecc.append(max(depth.values()))
    return np.array(ecc)


@pytest.mark.parametrize("seed", range(4))
def test_chow_liu_tree_is_a_maximum_spanning_tree_rooted_at_a_centre(seed):
    d = 5
    rng = np.random.default_rng(seed)
    mi = rng.random((d, d))
    mi = np.triu(mi, 1) + np.triu(mi, 1).T
    if seed % 2:
        mi[0, 1:] = mi[1:, 0] = 0.0  # zero weights: scipy's csgraph reads them as "no edge"
    parent, root = chow_liu_tree(mi)
    edges = _tree_edges(parent)
    trees = list(_all_spanning_trees(d))
    assert len(trees) == d ** (d - 2)
    best = max(trees, key=lambda t: sum(mi[tuple(e)] for e in t))
    assert edges == best
    assert parent[root] == -1 and np.sum(parent < 0) == 1
    ecc = _eccentricities(edges, d)
    assert ecc[root] == ecc.min()
    for v in range(d):  # following parents from any node reaches the root
        seen = {v}
        while parent[v] >= 0:
            v = int(parent[v])
            assert v not in seen
            seen.add(v)
        assert v == root


def test_chow_liu_tree_of_one_variable():
    parent, root = chow_liu_tree(np.zeros((1, 1)))
    assert root == 0 and list(parent) == [-1]


def test_hclt_region_graph():
    cats = np.array([2, 3, 2, 2, 3, 2, 2])
    X = chain_data(cats, 400, seed=3)
    graph = hclt(X, cats)
    graph.validate()
    d = len(cats)
    inputs = graph.input_regions()
    assert len(inputs) == d
    assert sorted(graph.scopes[r][0] for r in inputs) == list(range(d))
    assert sorted(graph.scopes[graph.root]) == list(range(d))
    # One inner region per variable; its partition holds the variable's input region and
    # the inner regions of its children in the Chow-Liu tree.
    inner = [r for r in range(graph.n_regions) if not graph.is_input(r)]
    assert len(inner) == d and all(len(graph.partitions[r]) == 1 for r in inner)
    variable = {}
    for r in inner:
        (own,) = [c for c in graph.partitions[r][0] if graph.is_input(c)]
        variable[r] = graph.scopes[own][0]
    edges = {frozenset((variable[r], variable[c]))
             for r in inner for c in graph.partitions[r][0] if c in variable}
    parent, root = chow_liu_tree(mutual_information(X, cats))
    assert edges == _tree_edges(parent)
    assert variable[graph.root] == root
    # The chain data make the Chow-Liu tree the chain itself.
    assert edges == {frozenset((j, j + 1)) for j in range(d - 1)}


def test_hand_made_graphs_validate():
    assert partitions_graph().validate().n_variables == 5
    assert kronecker_graph().validate().n_variables == 4


@pytest.mark.parametrize(
    "scopes, partitions, root, product, message",
    [
        ([(0,), (1,), (0, 1)], [[], [], [(0, 1), (0, 0)]], 2, "hadamard", "overlap"),
        ([(0,), (1,), (0, 1)], [[], [], [(0, 1), (0,)]], 2, "hadamard", "cover"),
        ([(0,), (1,), (0, 1), (1,)], [[], [], [(0, 1)], []], 2, "hadamard", "reachable"),
        # an input region over several variables is allowed (full-covariance Gaussian
        # units), but not one that repeats a variable
        ([(0, 0), (1,), (0, 1)], [[], [], [(0, 1)]], 2, "hadamard", "distinct variables"),
        ([(0,), (1,), (2,), (0, 1, 2)], [[], [], [], [(0, 1, 2)]], 3, "kronecker", "2 children"),
        ([(0,), (1,), (0, 1)], [[], [], [(0, 1)]], 2, "outer", "product"),
        # two mixing regions that mix each other: a cycle, not a DAG
        ([(0,), (0,), (0,)], [[], [(2,)], [(1,)]], 1, "hadamard", "cycle"),
    ],
)
def test_invalid_region_graphs_raise(scopes, partitions, root, product, message):
    with pytest.raises(ValueError, match=message):
        RegionGraph(scopes, partitions, root=root, product=product).validate()
