"""The engine against brute force on small circuits (float64).

Three structures: an HCLT learned from data, a hand-made Hadamard region graph with
several partitions per region (shared children, a repeated variable, a mixing region),
and a Kronecker region graph. References are computed without the engine's passes:
enumeration of every joint state, finite differences, and Monte-Carlo frequencies.
"""

import numpy as np
import pytest
from _circuits import (
    CIRCUITS,
    all_states,
    chi_square_pvalue,
    log_p,
    row_stats,
    state_counts,
    weighted_stats,
)
from scipy.special import logsumexp

from skpc.engine import layers

NAMES = sorted(CIRCUITS)


def _assert_stats_close(actual, expected, atol):
    assert len(actual) == len(expected)
    for a_block, e_block in zip(actual, expected, strict=True):
        for a, e in zip(a_block, e_block, strict=True):
            np.testing.assert_allclose(a, e, rtol=0, atol=atol)


def _finite_difference_stats(circuit, X, h=1e-5):
    """Central differences of ``sum_x log p(x)`` w.r.t. every log-parameter."""
    grads = []
    for block in circuit.blocks:
        (base,) = (p.copy() for p in block.params)
        grad = np.zeros_like(base)
        for idx in zip(*np.nonzero(base), strict=True):
            values = []
            for step in (h, -h):
                moved = base.copy()
                moved[idx] *= np.exp(step)
                block.set_params((moved,))
                values.append(log_p(circuit, X).sum())
            grad[idx] = (values[0] - values[1]) / (2 * h)
        block.set_params((base,))
        grads.append((grad,))
    return grads


def _batch_stats(circuit, X):
    stats = circuit.new_stats()
    circuit.accumulate(np.asarray(X, dtype=np.float64), stats)
    return circuit.sufficient(stats)


def _with_missing(X, fraction, seed):
    rng = np.random.default_rng(seed)
    X = X.copy()
    X[rng.random(X.shape) < fraction] = np.nan
    return X


def _peaked(name):
    """A circuit with peaked parameters, its categories, every state and log p of each."""
    circuit, cats = CIRCUITS[name](peaked=True)
    states = all_states(cats)
    return circuit, cats, states, log_p(circuit, states)


def _sample_units(circuit, n, seed):
    """Run the top-down choice of :meth:`Circuit.descend` and return the chosen units."""
    rng = np.random.default_rng(seed)
    ws = circuit.forward(np.full((n, circuit.n_variables), np.nan))
    units = np.full((circuit.n_rows, n), -1, dtype=np.int64)
    units[circuit.root_row] = 0
    for layer, prod in zip(circuit.sum_layers[::-1], ws.prods[::-1], strict=True):
        layer.choose(units, prod, rng, "sample")
    return units


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("peaked", [False, True])
def test_normalised_over_all_states(name, peaked):
    circuit, cats = CIRCUITS[name](peaked=peaked)
    total = np.exp(log_p(circuit, all_states(cats))).sum()
    assert abs(total - 1.0) < 1e-6


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("floor", [0.0, layers.LAZY_FLOOR, 0.5, np.inf])
def test_scoring_pass_equals_the_pass_that_keeps_everything(name, floor, monkeypatch):
    """Scoring keeps no products and leaves rows unnormalised above ``LAZY_FLOOR`` (0:
    always, inf: never); its log-likelihoods equal those of the training pass, and a
    row's score does not depend on the other rows of its batch."""
    monkeypatch.setattr(layers, "LAZY_FLOOR", floor)
    circuit, _, states, _ = _peaked(name)
    X = _with_missing(states, 0.3, seed=2)
    kept = circuit.accumulate(X, circuit.new_stats())
    scores = circuit.log_likelihood(X, 7)
    np.testing.assert_allclose(scores, kept, rtol=0, atol=1e-12)
    np.testing.assert_allclose(log_p(circuit, X), kept, rtol=0, atol=1e-12)
    order = np.random.default_rng(3).permutation(len(X))  # bit-equal in float32: test_columns.py
    np.testing.assert_allclose(circuit.log_likelihood(X[order], 7), scores[order], rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_marginals_equal_brute_force_sums(name):
    circuit, cats, states, joint = _peaked(name)
    rng = np.random.default_rng(1)
    rows = states[rng.choice(len(states), 12, replace=False)]
    masks = rng.random(rows.shape) < 0.5
    masks[0] = True  # everything missing: log 1 = 0
    masks[1] = False  # nothing missing
    queries = np.where(masks, np.nan, rows)
    expected = [
        logsumexp(joint[np.all((states == x) | mask, axis=1)])
        for x, mask in zip(rows, masks, strict=True)
    ]
    np.testing.assert_allclose(log_p(circuit, queries), expected, rtol=0, atol=1e-10)
    assert abs(log_p(circuit, queries[:1])[0]) < 1e-12


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("missing", [0.0, 0.4])
def test_flows_equal_finite_differences(name, missing):
    """``F(n, c) = d sum_x log p(x) / d log theta[n, c]``, also for marginals.

    At an input node the derivative counts observed values only (a missing variable is
    marginalised, its parameters do not move p), so it is compared with the observed part
    of the categorical statistics; the expected part is tested below.
    """
    circuit, cats = CIRCUITS[name]()
    states = all_states(cats)
    X = _with_missing(states[np.random.default_rng(2).choice(len(states), 15)], missing, seed=2)
    stats = circuit.new_stats()
    circuit.accumulate(X, stats)
    n_leaves = len(circuit.leaves)
    # Raw categorical statistics are (r, k, C+1); the last column is the missing flow.
    observed = [(np.transpose(s[0][:, :, :-1], (0, 2, 1)),) for s in stats[:n_leaves]]
    actual = observed + circuit.sufficient(stats)[n_leaves:]
    _assert_stats_close(actual, _finite_difference_stats(circuit, X), atol=1e-6)
    if missing == 0:
        _assert_stats_close(circuit.sufficient(stats), actual, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_flows_with_missing_values_are_expected_flows(name):
    """Stats of a row with NaN = sum over its completions of p(completion | observed) * stats."""
    circuit, cats, states, joint = _peaked(name)
    rng = np.random.default_rng(4)
    for x in _with_missing(states[rng.choice(len(states), 4)], 0.5, seed=4):
        completions = np.all((states == x) | np.isnan(x), axis=1)
        weights = np.exp(joint[completions] - logsumexp(joint[completions]))
        expected = weighted_stats(circuit, states[completions], weights)
        _assert_stats_close(row_stats(circuit, x), expected, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("missing", [0.0, 0.3])
def test_flows_sum_to_batch_size(name, missing):
    circuit, cats = CIRCUITS[name]()
    states = all_states(cats)
    X = _with_missing(states[np.random.default_rng(5).choice(len(states), 23)], missing, seed=5)
    suff = _batch_stats(circuit, X)
    root = [i for i, L in enumerate(circuit.sum_layers) if L.n_out == 1]
    assert len(root) == 1
    assert abs(suff[len(circuit.leaves) + root[0]][0].sum() - len(X)) < 1e-9
    # Every sample's induced tree reaches each variable exactly once, through one of its
    # input regions: the flows into the input regions of a variable sum to B.
    per_variable = np.zeros(circuit.n_variables)
    for leaf, s in zip(circuit.leaves, suff[: len(circuit.leaves)], strict=True):
        np.add.at(per_variable, leaf.variables, leaf.node_flow(s).sum(axis=1))
    np.testing.assert_allclose(per_variable, len(X), rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_top_down_stats_are_expected_flows(name):
    """TD(n) * theta = E_{x ~ p}[F_x(n, c)], the expectation taken over every state."""
    circuit, _, states, joint = _peaked(name)
    expected = weighted_stats(circuit, states, np.exp(joint))
    _assert_stats_close(circuit.sufficient(circuit.top_down_stats()), expected, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_top_down_probabilities_match_sampled_unit_frequencies(name):
    circuit, _ = CIRCUITS[name](peaked=True)
    n = 20000
    units = _sample_units(circuit, n, seed=6)
    suff = circuit.sufficient(circuit.top_down_stats())
    rows = circuit.leaf_rows + [L.rows for L in circuit.sum_layers]
    n_out = [circuit.n_units] * len(circuit.leaves) + [L.n_out for L in circuit.sum_layers]
    for block, s, row, k in zip(circuit.blocks, suff, rows, n_out, strict=True):
        td = block.node_flow(s)[:, :k]  # (regions, units)
        chosen = units[row]  # (regions, n)
        freq = np.stack([(chosen == u).mean(axis=1) for u in range(k)], axis=1)
        sigma = np.sqrt(np.clip(td * (1 - td), 0, None) / n)
        assert np.all(np.abs(freq - td) <= 5 * sigma + 1e-9), (freq, td)


def _sample(circuit, X, seed):
    return circuit.descend(np.asarray(X, dtype=np.float64), "sample", np.random.default_rng(seed))


@pytest.mark.parametrize("name", NAMES)
def test_sample_frequencies_match_p(name):
    circuit, cats, _, joint = _peaked(name)
    p = np.exp(joint)
    samples = _sample(circuit, np.full((20000, len(cats)), np.nan), seed=7)
    assert np.all((samples >= 0) & (samples < cats) & (samples == np.round(samples)))
    counts = state_counts(samples, cats)
    assert chi_square_pvalue(counts, p) > 1e-3
    # The same test rejects a sampler that is slightly off: 85% p, 15% uniform.
    wrong = 0.85 * p + 0.15 / len(p)
    assert chi_square_pvalue(counts, wrong) < 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_conditional_samples_match_posterior(name):
    circuit, cats, states, joint = _peaked(name)
    free = [j for j in range(len(cats)) if j not in (0, 2)]
    table = np.moveaxis(np.exp(joint).reshape(tuple(cats)), [0, 2], [-2, -1])
    prior = table.sum(axis=(-2, -1)).ravel()
    # Observe the values of x0, x2 that move the other variables furthest from their prior.
    posteriors = table.reshape(len(prior), -1) / table.sum(axis=tuple(range(len(free)))).ravel()
    shift = np.abs(posteriors - prior[:, None]).sum(axis=0)
    evidence = np.full(len(cats), np.nan)
    evidence[[0, 2]] = np.unravel_index(np.argmax(shift), (cats[0], cats[2]))
    n = 20000
    samples = _sample(circuit, np.tile(evidence, (n, 1)), seed=8)
    np.testing.assert_array_equal(samples[:, [0, 2]], np.tile(evidence[[0, 2]], (n, 1)))
    counts = state_counts(samples, cats)
    consistent = np.all((states == evidence) | np.isnan(evidence), axis=1)
    posterior = np.where(consistent, np.exp(joint - logsumexp(joint[consistent])), 0.0)
    assert counts[~consistent].sum() == 0
    assert chi_square_pvalue(counts[consistent], posterior[consistent]) > 1e-3
    # Ignoring the evidence (sampling the prior of the other variables) is rejected.
    counts_free = state_counts(samples[:, free], cats[free])
    assert chi_square_pvalue(counts_free, prior) < 1e-6
