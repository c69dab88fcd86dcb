"""The data layer (skpc/columns): column kinds, levels, unseen values, scale, types back."""

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import logsumexp
from sklearn.datasets import load_digits
from sklearn.model_selection import KFold, cross_val_score

from skpc import PCDensityEstimator, PCImputer
from skpc.columns import AUTO_MAX_LEVELS, Columns

FAST = dict(n_latents=4, max_iter=3, random_state=0)


def mixed_frame(n=300, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "city": rng.choice(["Paris", "Lyon", "Nice"], n, p=[0.5, 0.3, 0.2]),
        "height": rng.normal(170, 10, n),
        "smoker": rng.random(n) < 0.3,
        "grade": pd.Categorical(rng.choice(["a", "b", "c"], n), categories=["a", "b", "c"]),
        "kids": rng.integers(0, 4, n),
    })


# -- kinds -----------------------------------------------------------------------------------
def test_kinds_follow_the_documented_rule():
    rng = np.random.default_rng(0)
    n = 400  # isqrt(400) = 20 levels at most
    frame = pd.DataFrame({
        "word": rng.choice(["x", "y"], n), "flag": rng.random(n) < 0.5,
        "cat": pd.Categorical(rng.choice([10, 20], n)), "few": rng.integers(-1, 5, n),
        "sparse": rng.choice([-1, 3, 7], n), "many": rng.integers(0, 21, n),
        "real": rng.normal(size=n),
    })
    cols = Columns().fit(frame, names=np.array(frame.columns, dtype=object))
    assert cols.kinds.tolist() == ["categorical"] * 5 + ["gaussian"] * 2
    assert cols.levels[4].tolist() == [-1, 3, 7]
    assert cols.levels[0].tolist() == ["x", "y"]
    # The cap: never more than AUTO_MAX_LEVELS levels, however many rows.
    wide = np.tile(np.arange(AUTO_MAX_LEVELS + 1.0), 100)[:, None]
    assert Columns().fit(wide).kinds.tolist() == ["gaussian"]
    assert Columns().fit(wide[wide[:, 0] < AUTO_MAX_LEVELS]).kinds.tolist() == ["categorical"]


def test_overrides_use_the_fitted_attributes_format():
    X = np.c_[np.arange(40) % 3, np.arange(40) % 5, np.linspace(0, 1, 40)]
    pc = PCDensityEstimator(**FAST, n_categories=[0, 6, None]).fit(X)
    assert pc.leaf_types_.tolist() == ["gaussian", "categorical", "gaussian"]
    assert pc.n_categories_.tolist() == [0, 6, 0]
    again = PCDensityEstimator(**FAST, leaf=pc.leaf_types_, n_categories=pc.n_categories_).fit(X)
    assert again.n_categories_.tolist() == [0, 6, 0]
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    named = PCDensityEstimator(**FAST, leaf={"a": "gaussian"}).fit(frame)
    assert named.leaf_types_.tolist() == ["gaussian", "categorical", "gaussian"]
    with pytest.raises(ValueError, match=r"column 2 \('c'\).*leaf='gaussian' and n_categories=4"):
        PCDensityEstimator(**FAST, leaf="gaussian", n_categories={"c": 4}).fit(frame)
    with pytest.raises(ValueError, match=r"column 0 \('w'\) holds non-numeric.*leaf='gaussian'"):
        PCDensityEstimator(**FAST, leaf="gaussian").fit(pd.DataFrame({"w": ["u", "v"] * 5}))


@pytest.mark.parametrize("dtype", [np.float32, np.dtype("float64"), "float32", np.float64])
def test_numpy_dtypes_are_accepted(dtype):
    pc = PCDensityEstimator(**FAST, dtype=dtype).fit(np.random.default_rng(0).normal(size=(30, 2)))
    assert pc.circuit_.dtype == np.dtype(dtype)


# -- unseen values ---------------------------------------------------------------------------
def _enumerate_with_unseen(pc, levels):
    """Every joint state over each column's known levels plus one unseen value."""
    grids = [list(lv) + [unseen] for lv, unseen in levels]
    return np.array(list(itertools.product(*grids)), dtype=np.float64)


@pytest.mark.parametrize("solver", ["em", "anemone"])
def test_known_levels_plus_unseen_are_normalised(solver):
    rng = np.random.default_rng(1)
    X = np.c_[rng.integers(0, 3, 200), rng.choice([-1, 4], 200), rng.integers(0, 2, 200)].astype(float)
    pc = PCDensityEstimator(n_latents=3, max_iter=3, solver=solver, dtype="float64", random_state=0).fit(X)
    states = _enumerate_with_unseen(pc, [([0, 1, 2], 9), ([-1, 4], 0), ([0, 1], 5)])
    p = np.exp(pc.score_samples(states))
    assert abs(p.sum() - 1) < 1e-10
    unseen_mass = p[np.isin(states[:, 0], 9) | np.isin(states[:, 1], 0) | np.isin(states[:, 2], 5)].sum()
    assert 0 < unseen_mass < 1e-3
    # A marginal (NaN) sums over known and unseen values alike.
    x = np.array([[1.0, np.nan, np.nan]])
    assert pc.score_samples(x)[0] == pytest.approx(logsumexp(np.log(p[states[:, 0] == 1])), abs=1e-10)


def test_an_unseen_value_scores_finite_and_below_every_seen_value():
    frame = mixed_frame()
    pc = PCDensityEstimator(**FAST).fit(frame)
    rows = frame.head(20)
    for column, levels in [("city", ["Paris", "Lyon", "Nice"]), ("kids", [0, 1, 2, 3]),
                           ("smoker", [False, True])]:
        seen = np.column_stack([pc.score_samples(rows.assign(**{column: lv})) for lv in levels])
        unseen_value = {"city": "Berlin", "kids": 7, "smoker": "maybe"}[column]
        unseen = pc.score_samples(rows.assign(**{column: unseen_value}))
        assert np.all(np.isfinite(unseen)) and np.all(unseen < seen.min(axis=1))
    strict = PCDensityEstimator(**FAST, handle_unknown="error").fit(frame)
    with pytest.raises(ValueError, match=r"column 0 \('city'\).*'Berlin' at row 0.*handle_unknown='score'"):
        strict.score_samples(rows.assign(city="Berlin"))


def test_unseen_evidence_in_queries_and_imputer():
    frame = mixed_frame()
    pc = PCDensityEstimator(**FAST).fit(frame)
    query = frame.head(6).assign(city="Berlin")
    query.loc[:, "height"] = np.nan
    filled = pc.sample_conditional(query, random_state=0)
    assert filled["city"].tolist() == ["Berlin"] * 6 and filled["height"].notna().all()
    imputed = PCImputer(**FAST).fit(frame).set_output(transform="pandas").transform(query)
    assert imputed["city"].tolist() == ["Berlin"] * 6 and imputed["height"].notna().all()


def test_cross_validation_on_integer_data_gives_finite_scores():
    X = load_digits().data[:450]
    scores = cross_val_score(PCDensityEstimator(random_state=0), X, cv=3)
    assert np.all(np.isfinite(scores))
    # A fold whose test part holds values its training part never saw.
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"level": np.r_[rng.integers(0, 3, 90), [7] * 10],
                          "name": np.r_[rng.choice(["u", "v"], 90), ["w"] * 10]})
    scores = cross_val_score(PCDensityEstimator(**FAST), table, cv=KFold(5))
    assert np.all(np.isfinite(scores))


# -- scale -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("c", [1e-4, 0.37, 1e4])
def test_scaling_a_gaussian_column_shifts_log_densities_by_minus_log_c(dtype, c):
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=200) * rng.choice([1.0, 3.0], 200), rng.integers(0, 3, 200)]
    X[::9, 0] = np.nan
    scaled = X.copy()
    scaled[:, 0] *= c
    kw = dict(n_latents=3, max_iter=4, random_state=0, dtype=dtype, structure="rat")
    base = PCDensityEstimator(**kw).fit(X).score_samples(X)
    moved = PCDensityEstimator(**kw).fit(scaled).score_samples(scaled)
    shift = np.where(np.isnan(X[:, 0]), 0.0, -np.log(c))
    tol = 2e-4 if dtype == "float32" else 1e-8
    np.testing.assert_allclose(moved, base + shift, rtol=0, atol=tol)


def test_a_tiny_scale_column_is_fitted_as_well_as_a_unit_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 1))
    kw = dict(n_latents=1, max_iter=5, solver="em", random_state=0, dtype="float64")
    tiny = PCDensityEstimator(**kw).fit(0.01 * x)
    assert tiny.sample(4000, random_state=0).std() == pytest.approx(0.01 * x.std(), rel=0.05)
    assert tiny.score(0.01 * x) == pytest.approx(PCDensityEstimator(**kw).fit(x).score(x) - np.log(0.01))


# -- outputs in the user's types ---------------------------------------------------------------
def test_dataframe_round_trip_keeps_columns_and_dtypes():
    frame = mixed_frame()
    pc = PCDensityEstimator(**FAST).fit(frame)
    out = pc.sample(50, random_state=0)
    assert list(out.columns) == list(frame.columns)
    assert out.dtypes.tolist() == frame.dtypes.tolist()
    assert set(out["city"]) <= {"Paris", "Lyon", "Nice"}
    assert isinstance(out["city"].iloc[0], str)
    assert out["grade"].cat.categories.tolist() == ["a", "b", "c"]


def test_sampled_string_frequencies_match_the_model_marginals():
    frame = mixed_frame(n=600)
    pc = PCDensityEstimator(**FAST).fit(frame)
    levels = ["Lyon", "Nice", "Paris"]
    probe = pd.DataFrame({name: [np.nan] for name in frame.columns})
    marginal = np.exp([pc.score_samples(probe.assign(city=lv))[0] for lv in levels])
    counts = pc.sample(3000, random_state=1)["city"].value_counts().reindex(levels).to_numpy()
    assert stats.chisquare(counts, marginal / marginal.sum() * counts.sum()).pvalue > 1e-3
    # Power: the same test rejects a distribution 5 points off.
    wrong = marginal / marginal.sum() + np.array([0.05, -0.05, 0.0])
    assert stats.chisquare(counts, wrong * counts.sum()).pvalue < 1e-3


BIG = 16777217.0  # not a float32: rounding it through the engine's dtype would show


@pytest.mark.parametrize("query", ["sample_conditional", "predict_mpe", "conditional_mean"])
def test_observed_entries_pass_completing_queries_bit_for_bit(query):
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=100) * 1e7 + BIG, rng.integers(0, 3, 100), rng.normal(size=100) / 3]
    X[3, 0] = BIG
    pc = PCDensityEstimator(**FAST).fit(X)
    Q = X[:10].copy()
    Q[::2, 2] = np.nan
    out = getattr(pc, query)(Q)
    seen = ~np.isnan(Q)
    assert np.array_equal(out[seen], Q[seen]) and out[3, 0] == BIG
    frame = mixed_frame().head(10).copy()
    frame.loc[::3, "height"] = np.nan
    fitted = PCDensityEstimator(**FAST).fit(mixed_frame())
    back = getattr(fitted, query)(frame)
    kept = frame.notna().to_numpy()
    assert (back.to_numpy()[kept] == frame.to_numpy()[kept]).all()


@pytest.mark.parametrize("strategy", ["mode", "mpe", "mean", "sample"])
def test_imputer_keeps_observed_entries_and_dtypes(strategy):
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(size=120) + BIG, rng.integers(0, 3, 120)].astype(np.float64)
    X[::4, 1] = np.nan
    X[1::5, 0] = np.nan
    imp = PCImputer(**FAST, strategy=strategy).fit(X)
    out = imp.transform(X)
    seen = ~np.isnan(X)
    assert out.dtype == X.dtype and np.array_equal(out[seen], X[seen]) and not np.isnan(out).any()
    X32 = X.astype(np.float32)
    assert imp.transform(X32).dtype == np.float32
    frame = mixed_frame().astype({"kids": "float64"})
    frame.loc[::4, "city"] = None
    frame.loc[::5, "kids"] = np.nan
    out = PCImputer(**FAST, strategy=strategy).fit(frame).set_output(transform="pandas").transform(frame)
    assert out.dtypes.tolist() == frame.dtypes.tolist() and not out.isna().any().any()
    kept = frame.notna().to_numpy()
    assert (out.to_numpy()[kept] == frame.to_numpy()[kept]).all()


def test_columns_that_cannot_hold_the_filled_values_take_the_fitted_dtype():
    """New rows whose string and integer columns are all missing (as a CSV's empty column
    reads: float64 NaN), and a categorical column without a level the model fills in: the
    filled columns come back in the fitted dtypes (object for the categories), observed
    entries untouched, and the values are the model's levels."""
    fitted = PCDensityEstimator(**FAST).fit(mixed_frame())
    rows = mixed_frame().head(6).copy()
    rows["city"], rows["kids"] = np.nan, np.nan
    rows["grade"] = pd.Categorical(["a", None, None, "b", None, "a"], categories=["a", "b"])
    for out in (fitted.predict_mpe(rows), PCImputer(**FAST).set_output(transform="pandas")
                .fit(mixed_frame()).transform(rows)):
        assert set(out["city"]) <= {"Paris", "Lyon", "Nice"} and isinstance(out["city"].iloc[0], str)
        assert out["kids"].dtype == np.int64 and set(out["kids"]) <= {0, 1, 2, 3}
        assert set(out["grade"]) <= {"a", "b", "c"} and list(out["grade"].iloc[[0, 3, 5]]) == ["a", "b", "a"]
        np.testing.assert_array_equal(out["height"], rows["height"])


def test_conditional_log_prob_takes_column_names():
    frame = mixed_frame()
    pc = PCDensityEstimator(**FAST).fit(frame)
    rows = frame.head(5)
    by_name = pc.conditional_log_prob(rows, ["city"], ["kids", "smoker"])
    by_index = pc.conditional_log_prob(rows, [0], [4, 2])
    np.testing.assert_array_equal(by_name, by_index)
    with pytest.raises(ValueError, match="unknown column.*'town'"):
        pc.conditional_log_prob(rows, ["town"])


def test_scores_do_not_depend_on_the_rows_position():
    X = load_digits().data[:300]
    pc = PCDensityEstimator(**FAST).fit(X)  # float32
    base = pc.score_samples(X)
    for seed in range(5):
        order = np.random.default_rng(seed).permutation(len(X))
        assert np.array_equal(pc.score_samples(X[order]), base[order])
    assert np.array_equal(pc.score_samples(X[7:12]), base[7:12])


def test_verbose_describes_the_columns_compactly_for_wide_tables():
    X = np.random.default_rng(0).integers(0, 2, size=(50, 30)).astype(float)
    text = Columns().fit(X).describe()
    assert text.splitlines()[0] == "  column 0: categorical, 2 levels (0.0, 1.0)"
    assert len(text.splitlines()) == 11 and "20 more: 20 categorical, 0 gaussian" in text


def test_a_string_column_with_a_level_per_row_warns_and_names_the_column():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": [f"row-{i}" for i in range(60)], "x": rng.normal(size=60),
                          "city": rng.choice(["Paris", "Lyon"], 60)})
    with pytest.warns(UserWarning, match=r"column 0 \('id'\) holds 60 distinct values in 60 rows"):
        PCDensityEstimator(structure="hclt", max_iter=1, random_state=0).fit(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an ordinary string column does not warn
        PCDensityEstimator(structure="hclt", max_iter=1, random_state=0).fit(frame.drop(columns="id"))
