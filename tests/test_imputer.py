"""PCImputer: scikit-learn compatibility and imputations checked against enumeration."""

import numpy as np
import pandas as pd
import pytest
from _circuits import states_with_unseen
from sklearn.datasets import load_digits
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skpc import PCImputer

CATS = np.array([3, 2, 3, 2])


@parametrize_with_checks(
    [
        PCImputer(n_latents=4, max_iter=5, random_state=0),
        PCImputer("mpe", n_latents=3, max_iter=3, random_state=0),
    ]
)
def test_sklearn_compatible(estimator, check, monkeypatch):
    # The array-API check runs numpy inputs with array-API dispatch on; it only needs the flag.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


def _data(n, seed):
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 3, n)
    X = np.column_stack([np.where(rng.random(n) < 0.85, (z + j) % c, rng.integers(0, c, n)) for j, c in
                         enumerate(CATS)]).astype(float)
    return X


@pytest.fixture(scope="module")
def fitted():
    X = _data(500, 0)
    X[np.random.default_rng(1).random(X.shape) < 0.2] = np.nan  # fitted on incomplete data
    imp = PCImputer(n_latents=3, max_iter=10, dtype="float64", random_state=0).fit(X)
    # Every state of the levels, each column also taking an unseen value (the rest of the mass).
    states, known = states_with_unseen(CATS)
    p = np.exp(imp.estimator_.score_samples(states))
    assert p.sum() == pytest.approx(1.0, abs=1e-9)
    return imp, states, p, known


def _rows():
    X = _data(40, 2)
    X[np.random.default_rng(3).random(X.shape) < 0.5] = np.nan
    return X


def _conditional(states, p, x):
    seen = ~np.isnan(x)
    w = p * np.all(states[:, seen] == x[seen], axis=1)
    return w / w.sum()


@pytest.mark.parametrize("strategy", ["mode", "mean", "mpe"])
def test_strategies_match_enumeration(fitted, strategy):
    imp, states, p, known = fitted
    X = _rows()
    out = imp.set_params(strategy=strategy).transform(X)
    for x, y in zip(X, out, strict=True):
        w = _conditional(states, p, x)
        if strategy == "mpe":  # the most probable completion by known levels
            np.testing.assert_array_equal(y, states[np.argmax(w * known)])
            continue
        for j in range(len(x)):
            if not np.isnan(x[j]):
                assert y[j] == x[j]
                continue
            # p(x_j = c | observed) over the known levels c (other gaps summed over every value).
            marginal = np.bincount(states[:, j].astype(int), weights=w)[: CATS[j]]
            if strategy == "mean":
                assert y[j] == pytest.approx(marginal @ np.arange(CATS[j]) / marginal.sum(), abs=1e-12)
            else:
                assert y[j] == np.argmax(marginal)


def test_sample_strategy_keeps_observed_and_is_seeded(fitted):
    imp, states, p, known = fitted
    X = _rows()
    imp.set_params(strategy="sample")
    a, b = imp.transform(X), imp.transform(X)
    np.testing.assert_array_equal(a, b)
    seen = ~np.isnan(X)
    np.testing.assert_array_equal(a[seen], X[seen])
    assert not np.isnan(a).any()
    assert np.all((a >= 0) & (a < CATS))
    # Every completion is of known levels and has positive conditional probability.
    for x, y in zip(X, a, strict=True):
        assert _conditional(states[known], p[known], x)[np.all(states[known] == y, axis=1)][0] > 0


def test_more_accurate_than_most_frequent_on_dependent_columns():
    rng = np.random.default_rng(4)
    X = _data(1500, 5)
    mask = rng.random(X.shape) < 0.3
    Xm = np.where(mask, np.nan, X)
    filled = PCImputer(n_latents=4, max_iter=20, random_state=0).fit_transform(Xm)
    baseline = SimpleImputer(strategy="most_frequent").fit_transform(Xm)
    acc = np.mean(filled[mask] == X[mask])
    assert acc > np.mean(baseline[mask] == X[mask]) + 0.2


def test_pipeline_and_grid_search_on_digits():
    X, y = load_digits(return_X_y=True)
    X, y = X[:400], y[:400]
    X = np.where(np.random.default_rng(0).random(X.shape) < 0.3, np.nan, X)
    pipe = make_pipeline(
        PCImputer(n_latents=4, max_iter=3, n_categories=17, random_state=0),
        StandardScaler(),
        LogisticRegression(max_iter=200),
    )
    grid = GridSearchCV(pipe, {"pcimputer__strategy": ["mode", "mean"]}, cv=2).fit(X, y)
    assert grid.best_params_["pcimputer__strategy"] in ("mode", "mean")
    assert grid.best_score_ > 0.8  # ten classes: chance is 0.1
    assert grid.predict(X[:5]).shape == (5,)


def test_feature_names_and_errors():
    X = pd.DataFrame(_data(100, 6), columns=["a", "b", "c", "d"])
    X.iloc[::4, 1] = np.nan
    imp = PCImputer(n_latents=2, max_iter=2, random_state=0).fit(X)
    assert list(imp.get_feature_names_out()) == ["a", "b", "c", "d"]
    assert not np.isnan(imp.transform(X)).any()
    X["c"] = np.nan
    with pytest.warns(UserWarning, match=r"without any observed values: column 2 \('c'\) \(dropped"):
        PCImputer(n_latents=2, max_iter=2).fit(X)
    with pytest.raises(ValueError, match="strategy"):
        PCImputer(strategy="median").fit(X)
    Z = _data(10, 7)
    Z[0, 0] = 7.0
    Z[0, 1] = np.nan
    # A plain array after fitting on a DataFrame warns (scikit-learn's rule). The unseen
    # value 7 is evidence like any other: it is kept, and the row's gap is filled.
    with pytest.warns(UserWarning, match="feature names"):
        out = imp.transform(Z)
    assert out[0, 0] == 7.0 and out[0, 1] in (0.0, 1.0)
    strict = PCImputer(n_latents=2, max_iter=2, handle_unknown="error", random_state=0)
    strict.fit(X.drop(columns="c"))
    with pytest.raises(ValueError, match=r"column 0 \('a'\) is categorical and got the value 7.0 at row 0"):
        strict.transform(pd.DataFrame(Z[:, [0, 1, 3]], columns=["a", "b", "d"]))
