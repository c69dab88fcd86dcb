"""Solvers: EM monotonicity, the identities between the update rules, anemone's closed form."""

import math

import numpy as np
import pytest
from _circuits import CIRCUITS, HCLT_CATEGORIES, all_states, chain_data, log_p, weighted_stats

from skpc import PCDensityEstimator
from skpc.solvers import EM, Anemone, MiniBatchEM, step_size_at


def _batch(circuit, X):
    stats = circuit.new_stats()
    ll = circuit.accumulate(np.asarray(X, dtype=np.float64), stats)
    return stats, float(ll.sum())


def _params(circuit):
    return [np.array(p) for params in circuit.get_params() for p in params]


def _assert_same_params(a, b, atol=1e-12):
    for pa, pb in zip(_params(a), _params(b), strict=True):
        np.testing.assert_allclose(pa, pb, rtol=0, atol=atol)


def _twins(name="hclt", seed=0):
    """Two circuits with identical structure and parameters."""
    (a, cats), (b, _) = CIRCUITS[name](seed=seed), CIRCUITS[name](seed=seed)
    _assert_same_params(a, b, atol=0)
    return a, b, cats


@pytest.mark.parametrize("name", sorted(CIRCUITS))
def test_full_batch_em_never_decreases_training_loglik(name):
    circuit, cats = CIRCUITS[name](n_units=4)
    X = chain_data(cats, 300, seed=1)
    X[np.random.default_rng(1).random(X.shape) < 0.1] = np.nan  # EM with missing values too
    solver, history = EM(pseudocount=0.0), []
    for _ in range(15):
        stats, ll = _batch(circuit, X)
        history.append(ll / len(X))
        solver.update(circuit, stats, len(X), 1.0)
    assert np.all(np.diff(history) >= -1e-10), np.diff(history)
    assert history[-1] > history[0] + 0.05  # it learns
    assert abs(np.exp(log_p(circuit, all_states(cats))).sum() - 1) < 1e-9


def test_estimator_em_history_never_decreases():
    X = chain_data(HCLT_CATEGORIES, 300, seed=2)
    pc = PCDensityEstimator(n_latents=4, solver="em", max_iter=12, tol=0, pseudocount=1e-6,
                            dtype="float64", random_state=0).fit(X)
    history = np.array(pc.history_["train_loglik"])
    assert len(history) == 12
    assert np.all(np.diff(history) >= -1e-9), np.diff(history)


@pytest.mark.parametrize("name", sorted(CIRCUITS))
@pytest.mark.parametrize("pseudocount", [0.0, 0.05])
def test_anemone_with_step_one_equals_minibatch_em_with_step_one(name, pseudocount):
    a, b, cats = _twins(name)
    X = chain_data(cats, 64, seed=3)
    stats, _ = _batch(a, X)
    Anemone(pseudocount).update(a, stats, len(X), 1.0)
    MiniBatchEM(pseudocount).update(b, stats, len(X), 1.0)
    _assert_same_params(a, b)


@pytest.mark.parametrize("solver", [MiniBatchEM, Anemone])
def test_step_one_on_all_data_equals_one_full_batch_em_step(solver):
    a, b, cats = _twins()
    X = chain_data(cats, 200, seed=4)
    # Full-batch EM accumulates in chunks; the mini-batch solver sees one batch of all rows.
    stats = a.new_stats()
    for sl in a.chunks(len(X), 64):
        a.accumulate(X[sl], stats)
    EM(0.01).update(a, stats, len(X), 1.0)
    one_batch, _ = _batch(b, X)
    solver(0.01).update(b, one_batch, len(X), 1.0)
    _assert_same_params(a, b)


def _normalise(G, block, eps):
    """``(G + eps/|ch|) / (sum G + eps)`` over a block's children (valid categories at leaves)."""
    axis, valid = (2, np.ones_like(G)) if block.kind == "sum" else (1, np.asarray(block.valid))
    n_children = valid.sum(axis=axis, keepdims=True)
    return (G + valid * eps / n_children) / (G.sum(axis=axis, keepdims=True) + eps)


@pytest.mark.parametrize("name", sorted(CIRCUITS))
@pytest.mark.parametrize("a, pseudocount", [(0.4, 0.0), (0.7, 0.05)])
def test_anemone_matches_its_closed_form(name, a, pseudocount):
    """``G = (a/B) F_B + (1-a) TD theta``, then the M-step (DESIGN.md section 3).

    TD * theta (and TD * E[T] at input nodes) is computed by enumerating every state:
    ``E_{x ~ p}[F_x]``. The pseudocount is on anemone's per-sample scale, eps / B.
    """
    circuit, cats = CIRCUITS[name](peaked=True)
    states = all_states(cats)
    td = weighted_stats(circuit, states, np.exp(log_p(circuit, states)))
    X = chain_data(cats, 50, seed=5)
    X[np.random.default_rng(5).random(X.shape) < 0.2] = np.nan
    stats, _ = _batch(circuit, X)
    batch = circuit.sufficient(stats)
    B = len(X)
    expected = [
        _normalise((a / B) * fb + (1 - a) * t, block, pseudocount / B)
        for block, (fb,), (t,) in zip(circuit.blocks, batch, td, strict=True)
    ]
    if pseudocount == 0:
        # The same update written with a step size per sum node:
        # theta' = (1 - l) theta + l F_B(n, c) / F_B(n), l = a Fbar / (a Fbar + (1 - a) TD).
        n_leaves = len(circuit.leaves)
        for i, block in enumerate(circuit.sum_layers):
            (fb,), (t,) = batch[n_leaves + i], td[n_leaves + i]
            fbar, td_node = fb.sum(axis=2, keepdims=True) / B, t.sum(axis=2, keepdims=True)
            lam = a * fbar / (a * fbar + (1 - a) * td_node)
            per_node = (1 - lam) * block.weights + lam * fb / fb.sum(axis=2, keepdims=True)
            np.testing.assert_allclose(per_node, expected[n_leaves + i], rtol=0, atol=1e-12)
    Anemone(pseudocount).update(circuit, stats, B, a)
    for actual, want in zip(_params(circuit), expected, strict=True):
        np.testing.assert_allclose(actual, want, rtol=0, atol=1e-12)
    assert abs(np.exp(log_p(circuit, states)).sum() - 1) < 1e-9


def test_minibatch_em_blends_old_and_new_parameters():
    a, b, cats = _twins()
    old = _params(a)
    X = chain_data(cats, 40, seed=6)
    stats, _ = _batch(a, X)
    MiniBatchEM(0.01).update(a, stats, len(X), 0.3)
    EM(0.01).update(b, stats, len(X), 1.0)  # the batch's own M-step
    for blended, before, target in zip(_params(a), old, _params(b), strict=True):
        np.testing.assert_allclose(blended, 0.7 * before + 0.3 * target, rtol=0, atol=1e-12)


def test_step_size_schedules():
    assert step_size_at(0.4, "constant", 0.0) == 0.4
    assert step_size_at(0.4, "constant", 0.9) == 0.4
    # Cosine decay from a to a/10 by default (chosen on validation data, RESULTS_learning.md).
    assert step_size_at(1.0, "cosine", 0.0) == pytest.approx(1.0, abs=1e-15)
    assert step_size_at(1.0, "cosine", 1.0) == pytest.approx(0.1, abs=1e-15)
    assert step_size_at(1.0, "cosine", 0.5) == pytest.approx(0.55, abs=1e-15)
    # The anemone authors' 0.4 -> 0.1; cos(pi/3) = 1/2: three quarters of the way from the floor.
    assert step_size_at(0.4, "cosine", 1.0, final_step_size=0.1) == pytest.approx(0.1, abs=1e-15)
    third = step_size_at(0.4, "cosine", 1 / 3, final_step_size=0.1)
    assert third == pytest.approx(0.1 + 0.75 * 0.3, abs=1e-15)
    assert step_size_at(1.0, "cosine", 0.5, final_step_size=0.0) == pytest.approx(0.5, abs=1e-15)
    # Clamped outside [0, 1] and non-increasing inside.
    assert step_size_at(0.4, "cosine", -1.0) == pytest.approx(0.4, abs=1e-15)
    assert step_size_at(0.4, "cosine", 2.0) == pytest.approx(0.04, abs=1e-15)
    values = [step_size_at(0.4, "cosine", t) for t in np.linspace(0, 1, 50)]
    assert all(x >= y for x, y in zip(values, values[1:], strict=False))
    assert math.isclose(min(values), 0.04) and math.isclose(max(values), 0.4)
