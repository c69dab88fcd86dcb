"""The authors' knobs: several mini-batches per update, momentum on the flows, the warm-up
hold and end step of the cosine schedule, and the errors where a knob means nothing."""

import numpy as np
import pytest
from _circuits import CIRCUITS, HCLT_CATEGORIES, all_states, chain_data, log_p, weighted_stats

from skpc import PCDensityEstimator
from skpc.solvers import SOLVERS, Anemone, MiniBatchEM


def _params(circuit):
    return [np.array(p) for params in circuit.get_params() for p in params]


def _assert_same_params(a, b, atol):
    for pa, pb in zip(_params(a), _params(b), strict=True):
        np.testing.assert_allclose(pa, pb, rtol=0, atol=atol)


def _stats(circuit, X):
    stats = circuit.new_stats()
    circuit.accumulate(np.asarray(X, dtype=np.float64), stats)
    return stats


def _normalise(G, block, eps):
    """``(G + eps/|ch|) / (sum G + eps)`` over a block's children (valid categories at leaves)."""
    axis, valid = (2, np.ones_like(G)) if block.kind == "sum" else (1, np.asarray(block.valid))
    return (G + valid * eps / valid.sum(axis=axis, keepdims=True)) / (G.sum(axis=axis, keepdims=True) + eps)


# -- batches_per_update ---------------------------------------------------------------------------
@pytest.mark.parametrize("solver", [MiniBatchEM, Anemone])
@pytest.mark.parametrize("name", sorted(CIRCUITS))
def test_flows_of_m_batches_summed_equal_one_update_on_the_batches_concatenated(solver, name):
    (a, cats), (b, _) = CIRCUITS[name](seed=1), CIRCUITS[name](seed=1)
    X = chain_data(cats, 90, seed=2)
    X[np.random.default_rng(2).random(X.shape) < 0.1] = np.nan
    batches = np.array_split(X, 3)
    summed = a.new_stats()
    for part in batches:  # what batches_per_update=3 does: one stats list, three passes
        a.accumulate(part, summed)
    whole = _stats(b, np.concatenate(batches))
    for fa, fb in zip(a.sufficient(summed), b.sufficient(whole), strict=True):
        for x, y in zip(fa, fb, strict=True):
            np.testing.assert_allclose(x, y, rtol=0, atol=1e-10)
    solver(0.01).update(a, summed, len(X), 0.4)
    solver(0.01).update(b, whole, len(X), 0.4)
    _assert_same_params(a, b, atol=1e-10)


@pytest.mark.parametrize("solver", ["minibatch_em", "anemone", "adam"])
def test_batches_per_update_fits_like_the_larger_batch_in_passes_of_batch_size(solver):
    X = chain_data(HCLT_CATEGORIES, 300, seed=3)
    common = dict(solver=solver, n_latents=3, max_iter=3, dtype="float64", random_state=0,
                  step_size=0.05 if solver == "adam" else 0.6)
    split = PCDensityEstimator(batch_size=20, batches_per_update=4, **common).fit(X)
    large = PCDensityEstimator(batch_size=80, **common).fit(X)
    _assert_same_params(split.circuit_, large.circuit_, atol=1e-10)
    np.testing.assert_allclose(split.history_["train_loglik"], large.history_["train_loglik"], rtol=1e-12)
    # Memory stays that of one mini-batch: no pass held more than batch_size rows.
    def largest_pass(pc):  # workspaces are keyed by (rows, slot); "top-down" is the data-free row
        return max(key[0] for key in pc.circuit_._workspaces if isinstance(key, tuple))

    assert largest_pass(split) <= 20
    assert largest_pass(large) == 75  # 300 rows in 4 updates


# -- the schedule ----------------------------------------------------------------------------------
class _Recorder(MiniBatchEM):
    """Mini-batch EM that records the step size of every update."""

    steps = []

    def step(self, circuit, suff, n_samples, step_size):
        _Recorder.steps.append(step_size)
        super().step(circuit, suff, n_samples, step_size)


def _steps(monkeypatch, X, **params):
    monkeypatch.setitem(SOLVERS, "minibatch_em", _Recorder)
    _Recorder.steps = []
    PCDensityEstimator(solver="minibatch_em", n_latents=2, random_state=0, **params).fit(X)
    return np.array(_Recorder.steps)


def test_warmup_hold_and_final_step_size_give_the_documented_step_sequence(monkeypatch):
    X = chain_data(HCLT_CATEGORIES, 100, seed=4)
    # batch 10: 10 updates per epoch, 4 epochs: T = 40 updates; the authors' shape.
    steps = _steps(monkeypatch, X, batch_size=10, max_iter=4, step_size=0.4, final_step_size=0.1,
                   schedule_warmup=0.05)
    assert len(steps) == 40
    # Update t takes progress t / T: held while t / T <= 0.05, i.e. t = 0, 1, 2.
    np.testing.assert_array_equal(steps[:3], 0.4)
    # Then half a cosine from 0.4 at t / T = 0.05 down to 0.1 at t / T = 1.
    t = np.arange(3, 40)
    phase = (t / 40 - 0.05) / 0.95
    np.testing.assert_allclose(steps[3:], 0.1 + 0.15 * (1 + np.cos(np.pi * phase)), rtol=0, atol=1e-15)
    assert np.all(np.diff(steps[2:]) < 0) and steps[-1] > 0.1 > steps[-1] - 0.001
    # Halfway through the decay (t / T = 0.525, phase 1/2) the step is the mean of the two ends.
    assert steps[21] == pytest.approx(0.25, abs=1e-15)


def test_schedule_counts_updates_and_defaults_are_unchanged(monkeypatch):
    X = chain_data(HCLT_CATEGORIES, 100, seed=4)
    # Two mini-batches per update: half the updates, the same decay over them.
    steps = _steps(monkeypatch, X, batch_size=10, batches_per_update=2, max_iter=4, step_size=0.4,
                   final_step_size=0.1, schedule_warmup=0.05)
    assert len(steps) == 20
    np.testing.assert_array_equal(steps[:2], 0.4)  # t / 20 <= 0.05: t = 0, 1
    np.testing.assert_allclose(steps[2:], 0.1 + 0.15 * (1 + np.cos(np.pi * (np.arange(2, 20) / 20 - 0.05)
                                                                    / 0.95)), rtol=0, atol=1e-15)
    # Defaults: no hold, the cosine from step_size to a tenth of it.
    steps = _steps(monkeypatch, X, batch_size=25, max_iter=2, step_size=0.8)
    t = np.arange(8) / 8
    np.testing.assert_allclose(steps, 0.08 + 0.36 * (1 + np.cos(np.pi * t)), rtol=0, atol=1e-15)
    assert len(_steps(monkeypatch, X, batch_size=25, max_iter=2, schedule="constant")) == 8


# -- momentum -------------------------------------------------------------------------------------
def _closed_form(solver, circuit, suff, n, a, eps):
    """The update from the statistics ``suff`` of ``n`` rows (DESIGN.md section 3), TD(n) theta by
    enumeration for anemone."""
    if solver is MiniBatchEM:
        return [(1 - a) * old + a * _normalise(f, block, eps)
                for block, (f,), (old,) in zip(circuit.blocks, suff, circuit.get_params(), strict=True)]
    states = all_states(HCLT_CATEGORIES)
    td = weighted_stats(circuit, states, np.exp(log_p(circuit, states)))
    return [_normalise((a / n) * f + (1 - a) * t, block, eps / n)
            for block, (f,), (t,) in zip(circuit.blocks, suff, td, strict=True)]


@pytest.mark.parametrize("solver", [MiniBatchEM, Anemone])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_momentum_updates_from_the_bias_corrected_average_of_the_flows(solver, momentum):
    """Three updates; the expected ones use ``sum_j (1-m) m^(t-j) f_j / (1 - m^(t+1))``."""
    circuit, cats = CIRCUITS["hclt"](peaked=True)
    run = solver(0.02, momentum=momentum)
    seen, sizes = [], [40, 40, 30]
    for t, (n, seed) in enumerate(zip(sizes, [5, 6, 7], strict=True)):
        stats = _stats(circuit, chain_data(cats, n, seed))
        seen.append(circuit.sufficient(stats))
        weights = np.array([(1 - momentum) * momentum ** (t - j) for j in range(t + 1)])
        weights /= 1 - momentum ** (t + 1)
        average = [(sum(w * s[i][0] for w, s in zip(weights, seen, strict=True)),)
                   for i in range(len(seen[0]))]
        rows = float(np.dot(weights, sizes[: t + 1]))
        expected = _closed_form(solver, circuit, average, rows, 0.5, 0.02)
        run.update(circuit, stats, n, 0.5)
        for actual, want in zip(_params(circuit), expected, strict=True):
            np.testing.assert_allclose(actual, want, rtol=0, atol=1e-12)
    if momentum == 0:
        assert run._average is None  # today's update: the statistics are used as they are


def test_anemone_with_step_one_equals_minibatch_em_with_step_one_under_the_new_knobs():
    (a, cats), (b, _) = CIRCUITS["partitions"](seed=2), CIRCUITS["partitions"](seed=2)
    anemone, mbem = Anemone(0.01, momentum=0.8), MiniBatchEM(0.01, momentum=0.8)
    for seed in range(3):
        X = chain_data(cats, 60, seed=seed)
        sa, sb = a.new_stats(), b.new_stats()
        for part in np.array_split(X, 3):  # three batches per update
            a.accumulate(part, sa)
            b.accumulate(part, sb)
        anemone.update(a, sa, len(X), 1.0)
        mbem.update(b, sb, len(X), 1.0)
        _assert_same_params(a, b, atol=1e-12)
    X = chain_data(HCLT_CATEGORIES, 200, seed=8)
    common = dict(n_latents=3, max_iter=3, step_size=1.0, schedule="constant", batch_size=25,
                  batches_per_update=2, momentum=0.5, dtype="float64", random_state=0)
    pa = PCDensityEstimator(solver="anemone", **common).fit(X)
    pb = PCDensityEstimator(solver="minibatch_em", **common).fit(X)
    _assert_same_params(pa.circuit_, pb.circuit_, atol=1e-10)


# -- where a knob means nothing --------------------------------------------------------------------
@pytest.mark.parametrize("solver, params, message", [
    ("em", {"momentum": 0.9}, r"momentum=0.9 means nothing for solver='em'"),
    ("em", {"batches_per_update": 4}, r"batches_per_update=4 means nothing for solver='em'"),
    ("em", {"final_step_size": 0.1}, r"final_step_size=0.1 means nothing for solver='em'"),
    ("em", {"schedule_warmup": 0.05}, r"schedule_warmup=0.05 means nothing for solver='em'"),
    ("adam", {"momentum": 0.9}, r"momentum=0.9 means nothing for solver='adam'"),
    ("anemone", {"schedule": "constant", "final_step_size": 0.1},
     r"final_step_size=0.1 shapes schedule='cosine' only, got schedule='constant'"),
    ("minibatch_em", {"schedule": "constant", "schedule_warmup": 0.1},
     r"schedule_warmup=0.1 shapes schedule='cosine' only"),
    ("anemone", {"step_size": 0.4, "final_step_size": 0.5},
     r"final_step_size=0.5 is above step_size=0.4.*solver='anemone'"),
])
def test_a_knob_where_it_means_nothing_is_an_error(solver, params, message):
    X = chain_data(HCLT_CATEGORIES, 50, seed=9)
    pc = PCDensityEstimator(solver=solver, n_latents=2, max_iter=1, **params)
    with pytest.raises(ValueError, match=message):
        pc.fit(X)
    with pytest.raises(ValueError, match=message):
        pc.partial_fit(X)
    assert not hasattr(pc, "circuit_")  # raised before any work


@pytest.mark.parametrize("params, name", [
    ({"momentum": 1.0}, "momentum"), ({"batches_per_update": 0}, "batches_per_update"),
    ({"schedule_warmup": 1.0}, "schedule_warmup"), ({"final_step_size": -0.1}, "final_step_size"),
])
def test_out_of_range_knobs_are_rejected_by_name(params, name):
    with pytest.raises(ValueError, match=f"'{name}' parameter of PCDensityEstimator"):
        PCDensityEstimator(**params).fit(chain_data(HCLT_CATEGORIES, 20, seed=0))


def test_neutral_values_are_accepted_everywhere():
    X = chain_data(HCLT_CATEGORIES, 60, seed=10)
    for solver in SOLVERS:
        PCDensityEstimator(solver=solver, n_latents=2, max_iter=1, final_step_size=None, schedule_warmup=0.0,
                           batches_per_update=1, momentum=0.0, step_size=0.1).fit(X)
