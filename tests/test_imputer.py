"""PCImputer: scikit-learn compatibility and imputations checked against enumeration."""

import itertools

import numpy as np
import pandas as pd
import pytest
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
    states = np.array(list(itertools.product(*[range(c) for c in CATS])), dtype=float)
    return imp, states, np.exp(imp.estimator_.score_samples(states))


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
    imp, states, p = fitted
    X = _rows()
    out = imp.set_params(strategy=strategy).transform(X)
    for x, y in zip(X, out, strict=True):
        w = _conditional(states, p, x)
        if strategy == "mpe":
            np.testing.assert_array_equal(y, states[np.argmax(w)])
            continue
        for j in range(len(x)):
            if not np.isnan(x[j]):
                assert y[j] == x[j]
            elif strategy == "mean":
                assert y[j] == pytest.approx(w @ states[:, j], abs=1e-9)
            else:
                assert y[j] == np.argmax(np.bincount(states[:, j].astype(int), weights=w))


def test_sample_strategy_keeps_observed_and_is_seeded(fitted):
    imp, states, p = fitted
    X = _rows()
    imp.set_params(strategy="sample")
    a, b = imp.transform(X), imp.transform(X)
    np.testing.assert_array_equal(a, b)
    seen = ~np.isnan(X)
    np.testing.assert_array_equal(a[seen], X[seen])
    assert not np.isnan(a).any()
    assert np.all((a >= 0) & (a < CATS))
    # Every completion has positive conditional probability.
    for x, y in zip(X, a, strict=True):
        assert _conditional(states, p, x)[np.all(states == y, axis=1)][0] > 0


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
    # A plain array after fitting on a DataFrame warns (scikit-learn's rule) before the error.
    with pytest.warns(UserWarning, match="feature names"), \
            pytest.raises(ValueError, match="column 0 is categorical"):
        imp.transform(Z)


# -- scikit-learn's imputer parameters, against SimpleImputer on the same input -------------------------
SMALL = dict(n_latents=2, max_iter=2, random_state=0)


def _incomplete(n=80, seed=8):
    X = _data(n, seed)
    X[np.random.default_rng(seed).random(X.shape) < 0.2] = np.nan
    X[:, 3] = np.where(np.isnan(X[:, 3]), 1.0, X[:, 3])  # a column without missing values
    return X


def test_missing_values_marker_is_imputed_like_nan():
    X = _incomplete()
    coded = np.where(np.isnan(X), -1, X)
    by_marker = PCImputer(missing_values=-1, **SMALL).fit(coded)
    np.testing.assert_array_equal(by_marker.transform(coded), PCImputer(**SMALL).fit(X).transform(X))
    assert not np.isin(-1, by_marker.transform(coded))
    # As SimpleImputer: with another marker, NaN is not a missing value but bad input.
    for imputer in (SimpleImputer(missing_values=-1), PCImputer(missing_values=-1, **SMALL)):
        with pytest.raises(ValueError, match="Input X contains NaN"):
            imputer.fit(X)
    assert not PCImputer(missing_values=-1).__sklearn_tags__().input_tags.allow_nan


@pytest.mark.parametrize("missing_values", [np.nan, -1])
def test_add_indicator_matches_simple_imputer(missing_values):
    X = pd.DataFrame(_incomplete(), columns=["a", "b", "c", "d"])
    X = X.fillna(missing_values)
    ours = PCImputer(missing_values=missing_values, add_indicator=True, **SMALL).fit(X)
    theirs = SimpleImputer(missing_values=missing_values, add_indicator=True).fit(X)
    # New rows with a missing value in column d, which had none in fit: no new indicator column.
    Z = X.iloc[:10].copy()
    Z.iloc[0, 3] = missing_values
    for rows in (X, Z):
        out, expected = ours.transform(rows), theirs.transform(rows)
        assert out.shape == expected.shape == (len(rows), 4 + 3)
        np.testing.assert_array_equal(out[:, 4:], expected[:, 4:])
    filled = PCImputer(missing_values=missing_values, **SMALL).fit(X).transform(X)
    np.testing.assert_array_equal(ours.transform(X)[:, :4], filled)
    np.testing.assert_array_equal(ours.get_feature_names_out(), theirs.get_feature_names_out())
    framed = ours.set_output(transform="pandas").transform(X)
    assert list(framed.columns) == ["a", "b", "c", "d", "missingindicator_a", "missingindicator_b",
                                    "missingindicator_c"]


@pytest.mark.filterwarnings(r"ignore:Skipping features without any observed values. \[1\]")
@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("add_indicator", [False, True])
def test_empty_features_match_simple_imputer(keep, add_indicator):
    X = _incomplete()
    X[:, 1] = np.nan  # no observed value in fit
    Z = X[:12].copy()
    Z[:6, 1] = 2.0  # observed in new rows
    kwargs = dict(keep_empty_features=keep, add_indicator=add_indicator)
    with pytest.warns(UserWarning, match=r"column 1 \("):
        ours = PCImputer(**kwargs, **SMALL).fit(X)
    theirs = SimpleImputer(**kwargs).fit(X)
    # The circuit is the one fitted without the empty column.
    without = PCImputer(**SMALL).fit(np.delete(X, 1, axis=1))
    for rows in (X, Z):
        out, expected = ours.transform(rows), theirs.transform(rows)
        assert out.shape == expected.shape
        kept = [0, 1, 2, 3] if keep else [0, 2, 3]
        np.testing.assert_array_equal(out[:, [kept.index(j) for j in (0, 2, 3)]],
                                      without.transform(np.delete(rows, 1, axis=1)))
        if keep:
            np.testing.assert_array_equal(out[:, 1], expected[:, 1])  # 0 where missing, else as given
        np.testing.assert_array_equal(out[:, len(kept):], expected[:, len(kept):])  # the indicators
    names = [f"x{j}" for j in range(4)]
    np.testing.assert_array_equal(ours.get_feature_names_out(names), theirs.get_feature_names_out(names))


def test_every_column_empty_is_a_clear_error():
    with pytest.raises(ValueError, match="every column of X is missing"):
        PCImputer(**SMALL).fit(np.full((5, 2), np.nan))
