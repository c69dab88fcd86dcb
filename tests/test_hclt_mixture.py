"""The mixture-of-HCLTs structure: a normalised circuit over differing trees."""


import numpy as np
import pytest
from _circuits import states_with_unseen

from skpc import PCDensityEstimator
from skpc.structures import hclt, hclt_mixture


def _data(n=200, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 2, size=(n, d)).astype(float)
    X[:, 1] = np.where(rng.random(n) < 0.7, X[:, 0], X[:, 1])  # one strong edge, the rest weak
    return X


def _edges(graph, root_region):
    """Parent-child pairs of tree regions below ``root_region`` (by their variable sets)."""
    edges, stack = set(), [root_region]
    while stack:
        r = stack.pop()
        for part in graph.partitions[r]:
            for c in part:
                if graph.partitions[c]:
                    edges.add((graph.scopes[r], graph.scopes[c]))
                    stack.append(c)
    return edges


def test_mixture_of_hclts_is_normalised_and_marginalises():
    X = _data()
    graph = hclt_mixture(X, 3, np.full(5, 2), random_state=0)
    pc = PCDensityEstimator(structure=graph, n_latents=3, max_iter=3, dtype="float64", random_state=0).fit(X)
    states, _ = states_with_unseen(np.full(5, 2))  # levels 0, 1 and the unseen value 2
    p = np.exp(pc.score_samples(states))
    assert abs(p.sum() - 1.0) < 1e-6
    # p(x0 = 1, x3 = 0) by brute force against the NaN marginal.
    query = np.array([[1.0, np.nan, np.nan, 0.0, np.nan]])
    brute = p[(states[:, 0] == 1) & (states[:, 3] == 0)].sum()
    assert np.exp(pc.score_samples(query))[0] == pytest.approx(brute, rel=1e-9)


def test_components_are_hclts_over_bootstrap_trees():
    X = _data(n=60)
    graph = hclt_mixture(X, 6, np.full(5, 2), random_state=1)
    components = [part[0] for part in graph.partitions[graph.root]]
    assert len(components) == 6
    assert all(graph.scopes[c] == tuple(range(5)) for c in components)
    first = hclt(X, np.full(5, 2))
    assert _edges(graph, components[0]) == _edges(first, first.root)  # the first tree is the data's own
    trees = {frozenset(_edges(graph, c)) for c in components}
    assert len(trees) > 1  # bootstrap resamples change the weak edges


def test_n_components_is_checked():
    with pytest.raises(ValueError, match="n_components"):
        hclt_mixture(_data(), 0)


def test_estimator_option_builds_a_normalised_mixture():
    X = _data()
    pc = PCDensityEstimator(structure_params={"n_components": 3}, n_latents=3, max_iter=3,
                            dtype="float64", random_state=0).fit(X)
    assert pc.structure_.name == "hclt-mixture"
    assert len(pc.structure_.partitions[pc.structure_.root]) == 3
    states, _ = states_with_unseen(np.full(5, 2))
    assert abs(np.exp(pc.score_samples(states)).sum() - 1.0) < 1e-9
    # The bootstrap trees come from random_state: the same seed builds the same mixture.
    again = PCDensityEstimator(structure_params={"n_components": 3}, n_latents=3, max_iter=3,
                               dtype="float64", random_state=0).fit(X)
    np.testing.assert_array_equal(pc.score_samples(states), again.score_samples(states))
    # One component is the plain HCLT.
    single = PCDensityEstimator(structure_params={"n_components": 1}, n_latents=3, max_iter=1).fit(X)
    assert single.structure_.name == "hclt"


@pytest.mark.parametrize("params, match", [({"n_components": 0}, "n_components"),
                                           ({"n_components": 2.5}, "n_components"),
                                           ({"depth": 2}, "unknown key")])
def test_estimator_rejects_bad_hclt_params(params, match):
    with pytest.raises(ValueError, match=match):
        PCDensityEstimator(structure_params=params, max_iter=1).fit(_data())


def test_mixture_model_file_round_trip(tmp_path):
    X = _data()
    pc = PCDensityEstimator(structure_params={"n_components": 2}, n_latents=2, max_iter=2,
                            random_state=0).fit(X)
    pc.save(tmp_path / "m.skpc")
    loaded = PCDensityEstimator.load(tmp_path / "m.skpc")
    np.testing.assert_array_equal(loaded.score_samples(X), pc.score_samples(X))


@pytest.mark.parametrize("n, k, m", [(200, 8, 8), (5000, 16, 4)])
def test_auto_size_follows_the_number_of_rows(n, k, m):
    X = _data(n=n)
    pc = PCDensityEstimator(max_iter=1, random_state=0).fit(X)
    assert pc.n_latents == "auto" and pc.n_latents_ == k
    assert pc.structure_.name == "hclt-mixture" and len(pc.structure_.partitions[pc.structure_.root]) == m
    assert pc.circuit_.n_units == k


@pytest.mark.parametrize("params, k, name", [
    ({"n_latents": 4}, 4, "hclt"),  # a number of latents: a single HCLT, as before
    ({"structure_params": {"n_components": 1}}, 32, "hclt"),
    ({"structure_params": {"n_components": 2}}, 8, "hclt-mixture"),
    ({"structure": "rat"}, 32, "rat"),
])
def test_auto_size_of_single_trees_and_other_structures(params, k, name):
    pc = PCDensityEstimator(max_iter=1, random_state=0, **params).fit(_data())
    assert pc.n_latents_ == k and pc.structure_.name == name


def test_auto_size_survives_a_model_file(tmp_path):
    X = _data()
    pc = PCDensityEstimator(max_iter=1, random_state=0).fit(X)
    pc.save(tmp_path / "m.skpc")
    loaded = PCDensityEstimator.load(tmp_path / "m.skpc")
    assert loaded.n_latents == "auto" and loaded.n_latents_ == 8
    np.testing.assert_array_equal(loaded.score_samples(X), pc.score_samples(X))
