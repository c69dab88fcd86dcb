"""PCDensityEstimator as a scikit-learn estimator."""

import pickle
import warnings

import numpy as np
import pytest
from _circuits import (
    all_states,
    chain_data,
    chi_square_pvalue,
    kronecker_graph,
    partitions_graph,
    state_counts,
    states_with_unseen,
)
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import KBinsDiscretizer
from sklearn.utils.estimator_checks import parametrize_with_checks

from skpc import PCDensityEstimator

CATS = np.array([2, 3, 2, 2, 3])


@pytest.fixture(scope="module")
def X():
    return chain_data(CATS, 240, seed=0)


def _small(**params):
    return PCDensityEstimator(**{"n_latents": 4, "max_iter": 3, **params})


@parametrize_with_checks([
    _small(max_iter=2),  # the default solver, anemone
    _small(max_iter=2, solver="minibatch_em"),
    _small(max_iter=2, solver="em"),
])
def test_sklearn_compatible(estimator, check, monkeypatch):
    # check_array_api_input (numpy namespace, dispatch on) only runs when this is set.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


def test_pipeline_equals_the_steps_run_by_hand():
    rng = np.random.default_rng(1)
    z = rng.standard_normal((300, 1))
    X = z + 0.5 * rng.standard_normal((300, 4))
    steps = [("bins", KBinsDiscretizer(n_bins=3, encode="ordinal", strategy="uniform")),
             ("pc", _small(random_state=0))]
    pipe = Pipeline(steps).fit(X)
    codes = clone(steps[0][1]).fit_transform(X)
    pc = _small(random_state=0).fit(codes)
    np.testing.assert_array_equal(pipe.score_samples(X), pc.score_samples(codes))
    assert pipe.score(X) == pc.score(codes)


def _manual_cv_scores(estimator, X, cv):
    return np.array([clone(estimator).fit(X[train]).score(X[test]) for train, test in cv.split(X)])


def test_cross_val_score_equals_a_manual_loop(X):
    est, cv = _small(random_state=0), KFold(3, shuffle=True, random_state=0)
    np.testing.assert_array_equal(cross_val_score(est, X, cv=cv), _manual_cv_scores(est, X, cv))


def test_grid_search_over_n_latents_and_solver(X):
    grid = {"n_latents": [2, 4], "solver": ["em", "anemone"]}
    cv = KFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(_small(random_state=0), grid, cv=cv).fit(X)
    results = search.cv_results_
    assert len(results["params"]) == 4
    for params, mean in zip(results["params"], results["mean_test_score"], strict=True):
        expected = _manual_cv_scores(_small(random_state=0, **params), X, cv).mean()
        assert mean == pytest.approx(expected, rel=1e-12)
    best = results["params"][int(np.argmax(results["mean_test_score"]))]
    assert search.best_params_ == best
    refit = _small(random_state=0, **best).fit(X)
    np.testing.assert_array_equal(search.score_samples(X), refit.score_samples(X))


def test_clone_is_unfitted_with_the_same_parameters(X):
    pc = _small(solver="em", random_state=3).fit(X)
    copy = clone(pc)
    assert copy.get_params() == pc.get_params()
    assert not hasattr(copy, "circuit_")
    np.testing.assert_array_equal(copy.fit(X).score_samples(X), pc.score_samples(X))


def test_pickle_round_trip(X):
    pc = _small(random_state=0).fit(X)
    restored = pickle.loads(pickle.dumps(pc))
    np.testing.assert_array_equal(restored.score_samples(X), pc.score_samples(X))
    np.testing.assert_array_equal(restored.sample(50, random_state=1), pc.sample(50, random_state=1))
    assert restored.history_ == pc.history_


@pytest.mark.parametrize("solver", ["anemone", "minibatch_em", "em"])
def test_same_random_state_gives_identical_results(X, solver):
    a = _small(solver=solver, batch_size=64, random_state=7).fit(X)
    b = _small(solver=solver, batch_size=64, random_state=7).fit(X)
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    assert a.history_["train_loglik"] == b.history_["train_loglik"]
    np.testing.assert_array_equal(a.sample(20, random_state=0), b.sample(20, random_state=0))
    other = _small(solver=solver, batch_size=64, random_state=8).fit(X)
    assert not np.array_equal(other.score_samples(X), a.score_samples(X))


def test_score_is_the_mean_of_score_samples(X):
    pc = _small(random_state=0).fit(X)
    Xm = X.copy()
    Xm[::3, 1] = np.nan
    for data in (X, Xm):
        assert pc.score(data) == pytest.approx(np.mean(pc.score_samples(data)), rel=1e-12)


def test_score_samples_marginalises_missing_values(X):
    pc = _small(dtype="float64", random_state=0).fit(X)
    states, _ = states_with_unseen(CATS)  # a missing entry may also be an unseen value
    joint = pc.score_samples(states)
    query = np.array([[np.nan, 2, np.nan, 1, np.nan], [1, np.nan, np.nan, np.nan, np.nan]])
    expected = [logsumexp(joint[np.all((states == q) | np.isnan(q), axis=1)]) for q in query]
    np.testing.assert_allclose(pc.score_samples(query), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "graph, cats", [(partitions_graph(), [2, 3, 2, 3, 2]), (kronecker_graph(), [3, 2, 2, 3])]
)
@pytest.mark.parametrize("solver", ["anemone", "minibatch_em", "em"])
def test_a_given_region_graph_is_used_as_the_structure(graph, cats, solver):
    cats = np.array(cats)
    data = chain_data(cats, 200, seed=9)
    pc = _small(structure=graph, n_latents=3, solver=solver, dtype="float64", random_state=0).fit(data)
    assert pc.structure_ is graph and pc.circuit_.graph is graph
    states, known = states_with_unseen(cats)
    p = np.exp(pc.score_samples(states))
    assert abs(p.sum() - 1) < 1e-9 and 0 < 1 - p[known].sum() < 1e-3
    assert pc.history_["train_loglik"][-1] > pc.history_["train_loglik"][0]
    with pytest.raises(ValueError, match="covers 4 variables, X has 3 columns"):
        _small(structure=kronecker_graph()).fit(data[:, :3])


def test_sample_shape_support_and_frequencies(X):
    pc = _small(dtype="float64", batch_size=4096, random_state=0).fit(X)
    samples = pc.sample(20000, random_state=0)  # several chunks of batch_size rows
    assert samples.shape == (20000, len(CATS))
    assert np.all((samples >= 0) & (samples < CATS) & (samples == np.round(samples)))
    states, known = states_with_unseen(CATS)
    p = np.exp(pc.score_samples(states))
    assert abs(p.sum() - 1) < 1e-6
    # Samples never take the unseen value: their law is the model's over the known levels.
    np.testing.assert_array_equal(states[known], all_states(CATS))
    assert chi_square_pvalue(state_counts(samples, CATS), p[known] / p[known].sum()) > 1e-3
    assert pc.sample(random_state=0).shape == (1, len(CATS))


def test_sample_of_mixed_data_has_finite_continuous_columns():
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.integers(0, 3, 200), rng.standard_normal(200) * 5 + 10, rng.integers(0, 2, 200)])
    pc = _small(random_state=0).fit(X)
    assert list(pc.leaf_types_) == ["categorical", "gaussian", "categorical"]
    samples = pc.sample(300, random_state=0)
    assert np.all(np.isin(samples[:, 0], [0, 1, 2])) and np.all(np.isin(samples[:, 2], [0, 1]))
    assert np.all(np.isfinite(samples[:, 1])) and len(np.unique(samples[:, 1])) == 300
    assert abs(samples[:, 1].mean() - 10) < 2  # the model's scale, not a unit normal


def test_verbose_prints_one_line_per_epoch(X, capsys):
    pc = _small(verbose=1, random_state=0).fit(X)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    # First what each column is (one line per column), then one line per epoch.
    assert lines[0] == "columns:"
    for j, (line, k) in enumerate(zip(lines[1 : 1 + len(CATS)], CATS, strict=True)):
        assert line.strip().startswith(f"column {j}: categorical, {k} levels (")
    lines = lines[1 + len(CATS):]
    assert len(lines) == pc.n_iter_ == 3
    for epoch, (line, ll) in enumerate(zip(lines, pc.history_["train_loglik"], strict=True), start=1):
        assert f"epoch    {epoch}/3" in line and f"{ll:.4f}" in line and "left" in line
    _small(random_state=0).fit(X)
    assert capsys.readouterr().out == ""


def test_convergence_warning_only_when_max_iter_runs_out(X):
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        pc = _small(max_iter=2, tol=0.0, random_state=0).fit(X)
    assert not pc.converged_ and pc.n_iter_ == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        pc = _small(max_iter=20, tol=1e6, n_iter_no_change=1, random_state=0).fit(X)
    assert pc.converged_ and pc.n_iter_ == 2


def _overfitting(**params):
    """Full-batch EM with many latents on few rows: the validation log-likelihood peaks early."""
    return PCDensityEstimator(n_latents=16, solver="em", pseudocount=1e-6, tol=0.0, dtype="float64",
                              early_stopping=True, validation_fraction=0.3, random_state=0, **params)


def test_early_stopping_keeps_the_best_epoch():
    X = chain_data(CATS, 80, seed=5)
    full = _overfitting(max_iter=15, n_iter_no_change=15).fit(X)
    valid = np.array(full.history_["valid_loglik"])
    assert len(valid) == len(full.history_["train_loglik"]) == full.n_iter_ == 15
    best = int(np.argmax(valid)) + 1
    assert best < 15 and valid[-1] < valid.max() - 1e-3  # the last epoch is worse
    # The same run stopped at the best epoch has the parameters that were kept.
    stopped = _overfitting(max_iter=best, n_iter_no_change=15).fit(X)
    assert stopped.history_["valid_loglik"] == full.history_["valid_loglik"][:best]
    np.testing.assert_allclose(full.score_samples(X), stopped.score_samples(X), rtol=0, atol=1e-12)
    # With patience, training stops n_iter_no_change epochs after the best one.
    patient = _overfitting(max_iter=15, n_iter_no_change=2).fit(X)
    assert patient.converged_ and patient.n_iter_ == best + 2
    np.testing.assert_allclose(patient.score_samples(X), stopped.score_samples(X), rtol=0, atol=1e-12)


def test_early_stopping_keeps_the_best_epoch_below_tol():
    """A best epoch whose gain is below tol is still the one kept (as in scikit-learn's MLP)."""
    X = chain_data(CATS, 80, seed=5)
    full = _overfitting(max_iter=15, n_iter_no_change=15).fit(X)
    valid = np.array(full.history_["valid_loglik"])
    best = int(np.argmax(valid)) + 1
    gain = valid[best - 1] - valid[best - 2]
    assert 0 < gain  # the best epoch improved on the one before
    # tol above that last gain: patience counts from the epoch before, the parameters
    # kept are still those of the best epoch.
    pc = _overfitting(max_iter=best + 1, n_iter_no_change=15).set_params(tol=gain * 1.5).fit(X)
    assert pc.history_["valid_loglik"] == full.history_["valid_loglik"][:best + 1]
    stopped = _overfitting(max_iter=best, n_iter_no_change=15).fit(X)
    np.testing.assert_allclose(pc.score_samples(X), stopped.score_samples(X), rtol=0, atol=1e-12)


def test_verbose_2_adds_one_line_per_mini_batch(X, capsys):
    pc = _small(verbose=2, batch_size=100, random_state=0).fit(X)  # 240 rows: 3 batches of 80
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines[0] == "columns:" and len(lines[1:6]) == 5  # verbose=1's block, one line per column
    lines = lines[6:]
    batches = [line for line in lines if line.lstrip().startswith("batch")]
    assert len(lines) - len(batches) == pc.n_iter_ == 3
    assert len(batches) == 3 * 3 and all("rows 80" in line and "step" in line for line in batches)
    assert lines[3].startswith("epoch") and lines[:3] == batches[:3]


def test_warm_start_rebuilds_when_a_structural_parameter_changes(X):
    pc = _small(n_latents=2, random_state=0, warm_start=True).fit(X)
    circuit = pc.circuit_
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        pc.set_params(max_iter=2).fit(X)  # not structural: continues the same circuit
    assert pc.circuit_ is circuit
    with pytest.warns(UserWarning, match=r"n_latents=3 \(was 2\) changed since the circuit was built"):
        pc.set_params(n_latents=3).fit(X)
    assert pc.circuit_ is not circuit and pc.n_latents_ == 3
    fresh = _small(n_latents=3, max_iter=2, random_state=0).fit(X)
    np.testing.assert_array_equal(pc.score_samples(X), fresh.score_samples(X))
    with pytest.warns(UserWarning, match="leaf="):
        pc.set_params(leaf="categorical", n_categories=3).fit(X)
