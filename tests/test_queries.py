"""Conditional queries of PCDensityEstimator against brute-force enumeration of small circuits."""

import itertools

import numpy as np
import pytest
from _circuits import states_with_unseen
from scipy import stats

from skpc import PCDensityEstimator

CATS = np.array([2, 3, 2, 3, 2])


def _correlated_data(n=400, seed=0):
    """Categorical data with strong dependencies, so that conditionals differ from marginals."""
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 3, n)
    X = np.empty((n, len(CATS)))
    for j, c in enumerate(CATS):
        X[:, j] = np.where(rng.random(n) < 0.8, (z + j) % c, rng.integers(0, c, n))
    return X


@pytest.fixture(scope="module")
def model():
    pc = PCDensityEstimator(n_latents=3, max_iter=20, dtype="float64", random_state=0)
    return pc.fit(_correlated_data())


@pytest.fixture(scope="module")
def table(model):
    """Every state of the 5 variables, each also taking the unseen value c, and its
    log-probability; plus the mask of the states made of known levels only."""
    states, known = states_with_unseen(CATS)
    return states, model.score_samples(states), known


def _masked_rows(n, p_missing, seed):
    rng = np.random.default_rng(seed)
    X = _correlated_data(n, seed + 1)
    X[rng.random(X.shape) < p_missing] = np.nan
    return X


def _consistent(states, x):
    seen = ~np.isnan(x)
    return np.all(states[:, seen] == x[seen], axis=1)


def test_table_is_normalised(model, table):
    states, ll, known = table
    np.testing.assert_array_equal(model.n_categories_, CATS)
    # Known levels plus "unseen" sum to 1; the unseen value holds a small, positive share.
    assert np.exp(ll).sum() == pytest.approx(1.0, abs=1e-9)
    assert 0 < 1 - np.exp(ll[known]).sum() < 1e-3
    assert np.all(ll[~known].max() < ll[known].min())


def test_conditional_log_prob_equals_ratio_of_enumerated_sums(model, table):
    states, ll, _ = table
    p = np.exp(ll)
    X = _correlated_data(30, 5)
    query, evidence = [0, 3], [1, 4]
    got = model.conditional_log_prob(X, query, evidence)
    for x, g in zip(X, got, strict=True):
        num = p[np.all(states[:, query + evidence] == x[query + evidence], axis=1)].sum()
        den = p[np.all(states[:, evidence] == x[evidence], axis=1)].sum()
        assert g == pytest.approx(np.log(num / den), abs=1e-9)
    # Default evidence: every other observed entry; per-row boolean masks work too.
    X[:, 2] = np.nan
    mask = np.zeros(X.shape, dtype=bool)
    mask[:, 1] = True
    got = model.conditional_log_prob(X, mask)
    for x, g in zip(X, got, strict=True):
        rest = [0, 3, 4]
        num = p[np.all(states[:, [1, *rest]] == x[[1, *rest]], axis=1)].sum()
        den = p[np.all(states[:, rest] == x[rest], axis=1)].sum()
        assert g == pytest.approx(np.log(num / den), abs=1e-9)


def test_conditional_marginals_and_mean_match_enumeration(model, table):
    states, ll, _ = table
    p = np.exp(ll)
    X = _masked_rows(40, 0.5, 2)
    proba = model.conditional_marginals(X)
    mean = model.conditional_mean(X)
    assert proba.shape == (40, 5, 3)
    for x, pr, m in zip(X, proba, mean, strict=True):
        w = p * _consistent(states, x)
        w /= w.sum()
        for j in np.flatnonzero(np.isnan(x)):
            # Probabilities of the known levels only; the unseen value c holds the rest.
            expected = np.bincount(states[:, j].astype(int), weights=w, minlength=4)[: CATS[j]]
            np.testing.assert_allclose(pr[j, : CATS[j]], expected, atol=1e-9)
            assert 0 < 1 - pr[j, : CATS[j]].sum() < 1e-3
            # The conditional mean is over the known levels (renormalised).
            levels = np.arange(CATS[j])
            assert m[j] == pytest.approx(expected @ levels / expected.sum(), abs=1e-9)
        seen = ~np.isnan(x)
        np.testing.assert_array_equal(m[seen], x[seen])


def test_conditional_marginals_put_no_mass_beyond_a_columns_levels(model):
    """A binary column's third entry (the width is max(n_categories_) = 3) is not a level
    of that column: its probability is 0, whatever the column's "unseen" mass."""
    X = _masked_rows(40, 0.5, 2)
    proba = model.conditional_marginals(X)
    for j in np.flatnonzero(CATS < proba.shape[2]):
        np.testing.assert_array_equal(proba[:, j, CATS[j]:], 0.0)


def test_predict_mpe_is_the_argmax_over_all_completions(model, table):
    states, ll, known = table
    X = _masked_rows(60, 0.6, 3)
    X[0] = np.nan  # all 72 completions
    mpe, log_prob = model.predict_mpe(X, return_log_prob=True)
    for x, y, lp in zip(X, mpe, log_prob, strict=True):
        ok = _consistent(states, x) & known  # MPE never completes with the unseen value
        best = np.flatnonzero(ok)[np.argmax(ll[ok])]
        np.testing.assert_array_equal(y, states[best])
        assert lp == pytest.approx(ll[best], abs=1e-9)


def test_local_search_mpe_is_coordinatewise_optimal_and_beats_max_product(model, table):
    states, ll, _ = table
    X = _masked_rows(60, 0.6, 4)
    X[0] = np.nan
    found = model.predict_mpe(X, exact_limit=0)  # no enumeration: max-product + local search
    start = model._descend(X, "argmax", 0)
    lookup = {tuple(s): v for s, v in zip(states, ll, strict=True)}
    for x, y, y0 in zip(X, found, start, strict=True):
        np.testing.assert_array_equal(y[~np.isnan(x)], x[~np.isnan(x)])
        assert lookup[tuple(y)] >= lookup[tuple(y0)] - 1e-12
        for j in np.flatnonzero(np.isnan(x)):
            for c in range(CATS[j]):
                z = y.copy()
                z[j] = c
                assert lookup[tuple(z)] <= lookup[tuple(y)] + 1e-9


def test_max_product_pass_bounds_the_mpe(model, table):
    """max-product value = max_{x_miss, z} log p(x, z): below log p of its own completion
    and below the exact MPE (both by brute force)."""
    states, ll, _ = table
    X = _masked_rows(60, 0.6, 6)
    circuit = model.circuit_
    value = circuit.root_values(circuit.forward(X, mode="max")).copy()
    completed = model._descend(X, "argmax", 0)
    assert np.all(value <= model.score_samples(completed) + 1e-9)
    for x, v in zip(X, value, strict=True):
        assert v <= ll[_consistent(states, x)].max() + 1e-9


def _deterministic_binary_model(seed):
    """An HCLT over binary variables with 2 units whose leaves are point masses on 0 and 1:
    every hidden state is a function of x, so max-product is exact MPE."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 2, size=(200, 6)).astype(float)
    X[:, 3] = X[:, 0]
    pc = PCDensityEstimator(n_latents=2, max_iter=2, dtype="float64", random_state=seed).fit(X)
    params = pc.circuit_.get_params()
    (probs,) = params[0]
    # Rows: the two levels and "unseen" (given no mass: point masses on 0 and 1).
    assert probs.shape[1] == 3
    probs[...] = np.eye(3, 2)[None]
    for layer in params[1:]:
        layer[0][...] = rng.dirichlet(np.ones(layer[0].shape[-1]), size=layer[0].shape[:-1])
    pc.circuit_.set_params(params)
    return pc


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_max_product_is_exact_on_a_deterministic_circuit(seed):
    pc = _deterministic_binary_model(seed)
    states = np.array(list(itertools.product([0, 1], repeat=6)), dtype=float)
    ll = pc.score_samples(states)
    assert np.exp(ll).sum() == pytest.approx(1.0, abs=1e-9)
    rng = np.random.default_rng(seed)
    X = states[rng.integers(0, 64, 40)]
    X[rng.random(X.shape) < 0.5] = np.nan
    value = pc.circuit_.root_values(pc.circuit_.forward(X, mode="max")).copy()
    completed = pc._descend(X, "argmax", 0)
    for x, v, y in zip(X, value, completed, strict=True):
        ok = _consistent(states, x)
        assert v == pytest.approx(ll[ok].max(), abs=1e-9)
        np.testing.assert_array_equal(y, states[np.flatnonzero(ok)[np.argmax(ll[ok])]])


@pytest.mark.parametrize("row", [[0, np.nan, np.nan, 1, np.nan], [np.nan, 2, 1, np.nan, np.nan]])
def test_conditional_samples_follow_the_enumerated_conditional(model, table, row):
    states, ll, known = table
    x = np.array(row)
    n = 6000
    samples = model.sample_conditional(np.repeat(x[None], n, axis=0), random_state=0)
    np.testing.assert_array_equal(samples[:, ~np.isnan(x)], np.broadcast_to(x[~np.isnan(x)], (n, 2)))
    ok = _consistent(states, x) & known  # sampling never draws the unseen value
    index = {tuple(s): i for i, s in enumerate(states[ok])}
    counts = np.bincount([index[tuple(s)] for s in samples], minlength=ok.sum())
    conditional = np.exp(ll[ok] - np.logaddexp.reduce(ll[ok]))
    assert stats.chisquare(counts, n * conditional).pvalue > 1e-3
    # The test has power: the same counts are far from the unconditional distribution.
    miss = np.isnan(x)
    free = np.exp(ll)
    prior = np.array([free[np.all(states[:, miss] == s[miss], axis=1)].sum() for s in states[ok]])
    assert stats.chisquare(counts, n * prior / prior.sum()).pvalue < 1e-6


@pytest.fixture(scope="module")
def mixed():
    """Two Gaussian columns and a binary one that switches their means."""
    rng = np.random.default_rng(0)
    c = rng.integers(0, 2, 600)
    g1 = rng.normal(np.where(c == 1, 2.0, -1.0), 0.6)
    g2 = 0.8 * g1 + rng.normal(0, 0.5, 600)
    X = np.column_stack([g1, c, g2])
    return PCDensityEstimator(n_latents=4, max_iter=10, dtype="float64", random_state=0).fit(X)


def test_gaussian_conditional_mean_and_samples_match_quadrature(mixed):
    assert list(mixed.leaf_types_) == ["gaussian", "categorical", "gaussian"]
    grid = np.linspace(-12, 12, 24001)
    for row in ([0.5, np.nan, np.nan], [np.nan, 1.0, np.nan], [-1.0, 0.0, np.nan]):
        x = np.array(row)
        full = np.repeat(x[None], len(grid), axis=0)
        full[:, 2] = grid
        density = np.exp(mixed.score_samples(full))
        weights = density / density.sum()
        exact_mean = weights @ grid
        assert mixed.conditional_mean(x[None])[0, 2] == pytest.approx(exact_mean, abs=1e-6)
        draws = mixed.sample_conditional(np.repeat(x[None], 4000, axis=0), random_state=1)[:, 2]
        cdf = np.cumsum(weights)
        assert stats.kstest(draws, lambda t, cdf=cdf: np.interp(t, grid, cdf)).pvalue > 1e-3


def test_categorical_marginal_given_gaussian_evidence(mixed):
    X = np.array([[1.8, np.nan, 1.5], [-1.2, np.nan, np.nan], [np.nan, np.nan, 0.0]])
    proba = mixed.conditional_marginals(X)
    assert proba.shape == (3, 3, 2)
    proba = proba[:, 1]
    for x, pr in zip(X, proba, strict=True):
        # The two levels and the unseen value 2, which holds the rest of the mass.
        both = np.repeat(x[None], 3, axis=0)
        both[:, 1] = [0, 1, 2]
        joint = np.exp(mixed.score_samples(both))
        np.testing.assert_allclose(pr, joint[:2] / joint.sum(), atol=1e-9)
        # Its MPE over the categorical entry is the more probable category.
    mpe = mixed.predict_mpe(X[:1])
    assert mpe[0, 1] == np.argmax(proba[0])


def test_query_input_errors(model):
    X = _correlated_data(5, 9)
    with pytest.raises(ValueError, match="column 1 is both a query and an evidence"):
        model.conditional_log_prob(X, [0, 1], [1])
    X[2, 0] = np.nan
    with pytest.raises(ValueError, match="row 2, column 0"):
        model.conditional_log_prob(X, [0])
    with pytest.raises(ValueError, match="out of range"):
        model.conditional_log_prob(X, [7])
    with pytest.raises(ValueError, match="boolean mask must have shape"):
        model.conditional_log_prob(X, np.ones(3, dtype=bool))
    # An unseen evidence value is scored as "unseen" (finite, below every known level)...
    unseen = np.array([[0, 5, np.nan, 0, 0]])
    mpe, lp = model.predict_mpe(unseen, return_log_prob=True)
    assert np.isfinite(lp[0]) and mpe[0, 2] in (0, 1)
    np.testing.assert_array_equal(mpe[0, [0, 1, 3, 4]], unseen[0, [0, 1, 3, 4]])
    seen = mpe.copy()
    seen[0, 1] = 2
    assert lp[0] < model.score_samples(seen)[0]
    # ... and raises under handle_unknown="error", naming the column and the value.
    strict = PCDensityEstimator(n_latents=3, max_iter=2, handle_unknown="error", random_state=0)
    strict.fit(_correlated_data(100))
    with pytest.raises(ValueError, match=r"column 1 is categorical and got the value 5\.0 at row 0"):
        strict.predict_mpe(unseen)
    with pytest.raises(ValueError, match="exact_limit"):
        model.predict_mpe(X, exact_limit=-1)
