"""Bad inputs: each gets a clear error naming the column, value or parameter, or a documented result.

The table in docs/bad_input.md lists the same cases; each test below is one row of it.
"""

import itertools
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from skpc import PCDensityEstimator
from skpc._backend import CPU
from skpc.engine.memory import check_memory, circuit_bytes
from skpc.structures import RegionGraph

KW = dict(n_latents=2, max_iter=2, random_state=0)


def _data(n=40, d=3, k=3, seed=0):
    return np.random.default_rng(seed).integers(0, k, size=(n, d)).astype(float)


@pytest.fixture(scope="module")
def fitted():
    return PCDensityEstimator(**KW).fit(_data())


def _states(pc, unseen=True):
    """Every joint state over each column's levels and, with ``unseen``, one value never seen
    in training (the largest level + 1), for a model of numeric categorical columns."""
    values = [np.append(lv, lv.max() + 1) if unseen else lv for lv in pc.columns_.levels]
    return np.array(list(itertools.product(*values)), dtype=float)


def _total_probability(pc):
    """Total probability of the levels plus "unseen" of every column (1 when normalised)."""
    return np.exp(pc.score_samples(_states(pc))).sum()


# -- shapes --------------------------------------------------------------------------------------
def test_empty_data():
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        PCDensityEstimator(**KW).fit(np.empty((0, 3)))


def test_no_columns():
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        PCDensityEstimator(**KW).fit(np.empty((5, 0)))


def test_one_dimensional_and_three_dimensional_input():
    with pytest.raises(ValueError, match="Expected 2D array"):
        PCDensityEstimator(**KW).fit(np.zeros(5))
    with pytest.raises(ValueError, match="dim 3"):
        PCDensityEstimator(**KW).fit(np.zeros((2, 2, 2)))


def test_one_row_fits_a_normalised_model_over_the_rows_categories():
    row = np.array([[2.0, 0.0, 1.0]])
    pc = PCDensityEstimator(**KW, dtype="float64").fit(row)
    # The levels are the observed values: one per column.
    np.testing.assert_array_equal(pc.n_categories_, [1, 1, 1])
    assert [lv.tolist() for lv in pc.columns_.levels] == [[2.0], [0.0], [1.0]]
    assert _total_probability(pc) == pytest.approx(1.0, abs=1e-9)
    # The training row is the most likely state.
    states = _states(pc)
    np.testing.assert_array_equal(states[np.argmax(pc.score_samples(states))], row[0])


def test_one_column():
    X = _data(d=1)
    pc = PCDensityEstimator(**KW, dtype="float64").fit(X)
    assert _total_probability(pc) == pytest.approx(1.0, abs=1e-9)
    # With one variable the model is a mixture of categoricals, close to the frequencies.
    freq = np.bincount(X[:, 0].astype(int)) / len(X)
    np.testing.assert_allclose(np.exp(pc.score_samples(np.arange(3.0)[:, None])), freq, atol=0.05)


def test_wrong_number_of_features_at_score_time(fitted):
    with pytest.raises(ValueError, match="X has 2 features, but PCDensityEstimator is expecting 3"):
        fitted.score_samples(_data(d=2))


def test_region_graph_of_the_wrong_size():
    graph = RegionGraph([(0,)], [[]], 0)
    with pytest.raises(ValueError, match="region graph covers 1 variables, X has 3 columns"):
        PCDensityEstimator(**KW, structure=graph).fit(_data())


# -- values --------------------------------------------------------------------------------------
def test_constant_categorical_column_has_probability_one_but_the_unseen_share():
    X = _data()
    X[:, 1] = 0.0
    pc = PCDensityEstimator(**KW, dtype="float64").fit(X)
    assert pc.n_categories_[1] == 1
    marginal = X.copy()
    marginal[:, 1] = np.nan
    unseen = X.copy()
    unseen[:, 1] = 1.0
    # Its one level and "unseen" make up the whole marginal; the level holds almost all of it.
    both = np.logaddexp(pc.score_samples(X), pc.score_samples(unseen))
    np.testing.assert_allclose(both, pc.score_samples(marginal), atol=1e-12)
    gap = pc.score_samples(X) - pc.score_samples(marginal)
    assert np.all((gap < 0) & (gap > -1e-2))


@pytest.mark.parametrize("solver", ["em", "anemone", "minibatch_em"])
def test_constant_gaussian_column_has_a_floored_variance(solver):
    X = np.random.default_rng(0).normal(size=(40, 3))
    X[:, 2] = 2.5
    pc = PCDensityEstimator(**KW, dtype="float64", solver=solver).fit(X)
    gaussian = pc.circuit_.leaves[0]
    assert gaussian.kind == "gaussian"
    var = gaussian.var[gaussian.variables == 2]
    assert np.all(var >= gaussian.min_var)
    if solver == "em":  # the exact M-step: the empirical variance 0, floored
        np.testing.assert_allclose(var, gaussian.min_var)
    assert np.all(np.isfinite(pc.score_samples(X)))


def test_all_nan_column_is_rejected_by_name():
    X = pd.DataFrame(_data(), columns=["a", "b", "c"])
    X["b"] = np.nan
    with pytest.raises(ValueError, match=r"column 1 \('b'\) has no observed value \(all NaN\)"):
        PCDensityEstimator(**KW).fit(X)


def test_all_nan_row_trains_and_scores_log_one(fitted):
    X = _data()
    X[5] = np.nan
    pc = PCDensityEstimator(**KW, dtype="float64").fit(X)
    assert pc.score_samples(X)[5] == pytest.approx(0.0, abs=1e-12)
    assert fitted.score_samples(np.full((1, 3), np.nan))[0] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_values_are_rejected_with_row_and_column(fitted, value):
    X = _data()
    X[7, 2] = value
    with pytest.raises(ValueError, match=rf"column 2 has the value {value} at row 7; use NaN"):
        PCDensityEstimator(**KW).fit(X)
    with pytest.raises(ValueError, match=rf"column 2 has the value {value} at row 7"):
        fitted.score_samples(X)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_too_large_for_float32_are_standardised_first(dtype):
    """A column at the 1e30 scale is standardised in float64 before the circuit sees it: the
    fit is that of the column divided by 1e30, and log-densities drop by log(1e30)."""
    X = np.random.default_rng(0).normal(size=(30, 2))
    big = X.copy()
    big[:, 1] *= 1e30
    pc = PCDensityEstimator(**KW, dtype=dtype).fit(big)
    small = PCDensityEstimator(**KW, dtype=dtype).fit(X)
    assert list(pc.leaf_types_) == ["gaussian", "gaussian"]
    assert pc.columns_.scale[1] == pytest.approx(1e30 * X[:, 1].std(), rel=1e-12)
    scores = pc.score_samples(big)
    assert np.all(np.isfinite(scores))
    np.testing.assert_allclose(scores, small.score_samples(X) - np.log(1e30), rtol=1e-5)


def test_values_outside_the_support_at_score_time(fitted):
    X = _data()
    X[3, 1] = 3.0
    # An unseen value scores finite and below every seen value of its column.
    scores = fitted.score_samples(X)
    assert np.all(np.isfinite(scores))
    seen = [fitted.score_samples(np.r_[X[3, :1], c, X[3, 2:]][None])[0] for c in range(3)]
    assert scores[3] < min(seen) - 1
    # handle_unknown="error" raises, naming the column, the value, the row and the fix.
    strict = PCDensityEstimator(**KW, handle_unknown="error").fit(_data())
    message = r"column 1 is categorical and got the value 3.0 at row 3, not seen in training .*handle_unknown"
    with pytest.raises(ValueError, match=message):
        strict.score_samples(X)


def test_negative_and_fractional_values_of_categorical_columns():
    X = _data()
    for bad in (-1.0, 0.5):
        Y = X.copy()
        Y[4, 0] = bad
        pc = PCDensityEstimator(**KW, leaf="categorical", dtype="float64").fit(Y)
        # The observed values are the levels, whatever their sign or spacing.
        assert pc.columns_.levels[0].tolist() == sorted([bad, 0.0, 1.0, 2.0])
        assert _total_probability(pc) == pytest.approx(1.0, abs=1e-9)
        # Under leaf="auto" a few integer levels are categorical, a fractional value Gaussian.
        pc = PCDensityEstimator(**KW).fit(Y)
        expected = "categorical" if bad == -1.0 else "gaussian"
        assert list(pc.leaf_types_) == [expected, "categorical", "categorical"]


def test_sparse_negative_integer_levels_are_categorical():
    X = np.random.default_rng(3).choice([-1.0, 3.0, 7.0], size=(60, 2))
    pc = PCDensityEstimator(**KW, dtype="float64").fit(X)
    assert list(pc.leaf_types_) == ["categorical", "categorical"]
    np.testing.assert_array_equal(pc.n_categories_, [3, 3])
    assert _total_probability(pc) == pytest.approx(1.0, abs=1e-9)
    assert np.all(np.isin(pc.sample(200, random_state=0), [-1.0, 3.0, 7.0]))


def test_n_categories_smaller_than_the_data():
    with pytest.raises(ValueError, match=r"column \d is categorical and got the value 2.0 at row \d+"):
        PCDensityEstimator(**KW, n_categories=2, handle_unknown="error").fit(_data())
    # Under handle_unknown="score" the value 2 is "unseen": declared levels stay 0..1.
    pc = PCDensityEstimator(**KW, n_categories=2).fit(_data())
    np.testing.assert_array_equal(pc.n_categories_, [2, 2, 2])
    assert np.all(np.isfinite(pc.score_samples(_data())))
    assert np.all(np.isin(pc.sample(100, random_state=0), [0.0, 1.0]))


def test_missing_values_at_score_time_are_marginalised(fitted):
    X = _data()[:5]
    X[:, 2] = np.nan
    expected = np.log(sum(np.exp(fitted.score_samples(np.c_[X[:, :2], np.full(5, c)])) for c in range(3)))
    np.testing.assert_allclose(fitted.score_samples(X), expected, rtol=1e-5)


# -- dtypes --------------------------------------------------------------------------------------
@pytest.mark.parametrize("convert", [lambda X: X.astype(object), np.ndarray.tolist])
def test_numeric_objects_and_lists_match_floats(fitted, convert):
    X = _data()
    np.testing.assert_array_equal(fitted.score_samples(convert(X)), fitted.score_samples(X))
    pc = PCDensityEstimator(**KW).fit(convert(X))
    np.testing.assert_array_equal(pc.circuit_.get_params()[0][0], fitted.circuit_.get_params()[0][0])


def test_numeric_strings_are_string_levels(fitted):
    """Strings are levels, even when they spell numbers: '0.0' < '1.0' < '2.0' sort as the
    numbers do, so the codes and the fit are those of the floats; a float is not among them."""
    X = _data()
    pc = PCDensityEstimator(**KW).fit(X.astype(str))
    assert list(pc.leaf_types_) == ["categorical"] * 3
    assert pc.columns_.levels[0].tolist() == ["0.0", "1.0", "2.0"]
    np.testing.assert_array_equal(pc.circuit_.get_params()[0][0], fitted.circuit_.get_params()[0][0])
    np.testing.assert_array_equal(pc.score_samples(X.astype(str)), fitted.score_samples(X))
    # The numeric model takes the strings as unseen values, far below the real fit.
    assert np.all(fitted.score_samples(X.astype(str)) < fitted.score_samples(X) - 5)


@pytest.mark.parametrize("bad", ["a", "1,5"])
def test_a_string_in_an_object_column_is_a_level(fitted, bad):
    X = _data().astype(object)
    X[2, 1] = bad
    pc = PCDensityEstimator(**KW).fit(X)
    assert pc.leaf_types_[1] == "categorical"
    assert pc.columns_.levels[1].tolist() == [0.0, 1.0, 2.0, bad]  # numbers first, then text
    assert np.all(np.isfinite(pc.score_samples(X)))
    # Its marginal over the four levels and a value never seen sums to 1.
    rows = np.full((5, 3), np.nan, dtype=object)
    rows[:, 1] = [0.0, 1.0, 2.0, bad, "never seen"]
    marginal = np.exp(pc.score_samples(rows))
    assert marginal.sum() == pytest.approx(1.0, rel=1e-5) and 0 < marginal[4] < marginal[:4].min()
    # The other columns are as in the numeric data.
    np.testing.assert_array_equal(pc.columns_.levels[0], fitted.columns_.levels[0])


def test_none_in_an_object_column_is_a_missing_value():
    X = _data().astype(object)
    X[2, 1] = None
    Y = _data()
    Y[2, 1] = np.nan
    pc = PCDensityEstimator(**KW).fit(X)
    np.testing.assert_array_equal(pc.score_samples(X), PCDensityEstimator(**KW).fit(Y).score_samples(Y))


@pytest.mark.parametrize("bad", [{"x": 1}, [1, 2]])
def test_containers_in_an_object_column_name_column_and_value(bad):
    X = _data().astype(object)
    X[2, 1] = bad
    message = (rf"column 1 holds {re.escape(repr(bad))} \({type(bad).__name__}\): "
               "the argument must be a string or a number")
    with pytest.raises(TypeError, match=message):
        PCDensityEstimator(**KW).fit(X)
    with pytest.raises(TypeError, match=message):
        PCDensityEstimator(**KW).fit(_data()).score_samples(X)


def test_booleans_are_two_categories():
    X = _data(k=2)
    pc = PCDensityEstimator(**KW).fit(X.astype(bool))
    np.testing.assert_array_equal(pc.n_categories_, [2, 2, 2])
    np.testing.assert_array_equal(pc.score_samples(X.astype(bool)), pc.score_samples(X))


def test_complex_data_is_rejected():
    with pytest.raises(ValueError, match="Complex data not supported: X has the complex dtype"):
        PCDensityEstimator(**KW).fit(_data() + 0j)
    with pytest.raises(ValueError, match="Complex data not supported: column 0 has the complex dtype"):
        PCDensityEstimator(**KW).fit(_data()[:, :1] + 0j)
    frame = pd.DataFrame({"a": _data()[:, 0], "z": _data()[:, 1] + 1j})
    with pytest.raises(ValueError, match=r"column 1 \('z'\) has the complex dtype"):
        PCDensityEstimator(**KW).fit(frame)


def test_dates_are_rejected():
    frame = pd.DataFrame({"a": [0.0, 1.0], "when": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    with pytest.raises(ValueError, match=r"column 1 \('when'\) has the dtype datetime64"):
        PCDensityEstimator(**KW).fit(frame)


# -- pandas and sparse ---------------------------------------------------------------------------
def test_dataframe_with_feature_names(fitted):
    X = _data()
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    pc = PCDensityEstimator(**KW).fit(frame)
    np.testing.assert_array_equal(pc.feature_names_in_, ["a", "b", "c"])
    np.testing.assert_array_equal(pc.score_samples(frame), fitted.score_samples(X))
    with pytest.raises(ValueError, match="feature names should match"):
        pc.score_samples(frame[["c", "b", "a"]])
    bad = frame.copy()
    bad.loc[3, "c"] = 7
    assert np.isfinite(pc.score_samples(bad)[3])  # scored as "unseen"
    strict = PCDensityEstimator(**KW, handle_unknown="error").fit(frame)
    with pytest.raises(ValueError, match=r"column 2 \('c'\) is categorical and got the value 7.0 at row 3"):
        strict.score_samples(bad)


def test_dataframe_without_feature_names(fitted):
    X = _data()
    pc = PCDensityEstimator(**KW).fit(pd.DataFrame(X))
    assert not hasattr(pc, "feature_names_in_")
    np.testing.assert_array_equal(pc.score_samples(pd.DataFrame(X)), fitted.score_samples(X))


def test_dataframe_with_numeric_categorical_dtype_uses_the_values(fitted):
    X = _data()
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).astype("category")
    pc = PCDensityEstimator(**KW).fit(frame)
    np.testing.assert_array_equal(pc.n_categories_, [3, 3, 3])
    np.testing.assert_array_equal(pc.score_samples(frame), fitted.score_samples(X))


def test_dataframe_with_string_categories_is_normalised_over_levels_and_unseen():
    frame = pd.DataFrame({"a": [0.0, 1.0, 0.0], "colour": pd.Categorical(["red", "blue", "red"])})
    pc = PCDensityEstimator(**KW, dtype="float64").fit(frame)
    assert list(pc.leaf_types_) == ["categorical", "categorical"]
    assert pc.columns_.levels[1].tolist() == ["blue", "red"]
    # Each column's levels and one value it never saw ("green", 2): total probability 1.
    states = pd.DataFrame(list(itertools.product([0.0, 1.0, 2.0], ["blue", "red", "green"])),
                          columns=["a", "colour"])
    scores = pc.score_samples(states)
    assert np.exp(scores).sum() == pytest.approx(1.0, abs=1e-9)
    assert np.all(np.isfinite(scores))
    for a in range(3):  # "green" is below both seen colours, whatever the value of a
        block = scores[3 * a: 3 * a + 3]
        assert block[2] < block[:2].min()
    strict = PCDensityEstimator(**KW, handle_unknown="error").fit(frame)
    message = r"column 1 \('colour'\) is categorical and got the value 'green' at row 2"
    with pytest.raises(ValueError, match=message):
        strict.score_samples(states[:3])


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_input_is_a_type_error(fitted, fmt):
    X = sp.random(10, 3, density=0.5, format=fmt, random_state=0)
    with pytest.raises(TypeError, match="X is a sparse matrix.*needs dense data"):
        PCDensityEstimator(**KW).fit(X)
    with pytest.raises(TypeError, match="X is a sparse matrix"):
        fitted.score_samples(X)


# -- parameters ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "param, value",
    [("n_latents", 0), ("n_latents", 2.5), ("batch_size", 0), ("max_iter", 0), ("step_size", 0.0),
     ("step_size", 1.5), ("step_size", -0.1), ("pseudocount", -1.0), ("validation_fraction", 1.0),
     ("solver", "sgd"), ("dtype", "float16"), ("device", "tpu")],
)
def test_absurd_parameters_name_the_parameter(param, value):
    with pytest.raises(InvalidParameterError, match=rf"The '{param}' parameter of PCDensityEstimator"):
        PCDensityEstimator(**{**KW, param: value}).fit(_data())


def test_step_size_one_is_allowed():
    pc = PCDensityEstimator(**KW, step_size=1.0, solver="minibatch_em").fit(_data())
    assert all(np.all(np.isfinite(p)) for params in pc.circuit_.get_params() for p in params)


def test_batch_size_above_the_data_size_is_one_full_batch():
    X = _data()
    big = PCDensityEstimator(**KW, batch_size=10_000).fit(X)
    exact = PCDensityEstimator(**KW, batch_size=len(X)).fit(X)
    for a, b in zip(big.circuit_.get_params(), exact.circuit_.get_params(), strict=True):
        np.testing.assert_array_equal(a[0], b[0])


def test_sample_count_must_be_positive(fitted):
    for n in (0, -3, 2.5):
        with pytest.raises(ValueError, match=f"n_samples must be a positive integer, got {n}"):
            fitted.sample(n)


def test_score_before_fit():
    with pytest.raises(NotFittedError):
        PCDensityEstimator().score_samples(_data())


# -- memory --------------------------------------------------------------------------------------
def test_model_too_large_for_memory_fails_before_allocating(monkeypatch):
    import skpc.estimator as estimator_module

    def no_circuit(*args, **kwargs):
        raise AssertionError("the circuit was allocated")

    monkeypatch.setattr(estimator_module, "Circuit", no_circuit)
    # 3 binary variables with k = 200,000: the HCLT's k x k blocks alone are 2 x 4e10 floats.
    with pytest.raises(ValueError, match=r"needs about [\d.]+ GiB .* lower n_latents \(now 200000\)"):
        PCDensityEstimator(n_latents=200_000, max_iter=1).fit(_data(k=2))


def test_memory_estimate_counts_exactly_what_the_circuit_allocates():
    X = np.c_[_data(n=30, d=4), np.random.default_rng(1).normal(size=30)]
    for dtype in ("float32", "float64"):
        pc = PCDensityEstimator(n_latents=5, max_iter=1, batch_size=16, dtype=dtype).fit(X)
        # The circuit holds K + 1 categories per categorical column (levels and "unseen").
        np.testing.assert_array_equal(pc.columns_.n_codes, np.r_[pc.n_categories_[:4] + 1, 0])
        params, work = circuit_bytes(pc.structure_, 5, pc.leaf_types_, pc.columns_.n_codes, 16, dtype)
        Z = np.asarray(pc.columns_.encode(X))  # the engine's codes
        circuit = pc.circuit_
        assert params == circuit.n_parameters() * np.dtype(dtype).itemsize
        ws = circuit.forward(circuit.to_device(Z[:16]))
        inputs = [a for p in ws.inputs for a in (p if isinstance(p, tuple) else [p])]
        assert ws.logs is not None  # a Gaussian column: exact log-densities are kept
        arrays = [ws.values, ws.flow, ws.scale, ws.logs, *ws.prods, *ws.mixed, *ws.pscales, *inputs]
        assert work == sum(a.nbytes for a in arrays)
        assert (circuit.parameter_bytes, 16 * circuit.row_bytes) == (params, work)


def test_memory_check_compares_with_the_limit():
    pc = PCDensityEstimator(**KW).fit(_data())
    args = (pc.structure_, 2, pc.leaf_types_, pc.n_categories_, 40, "float32", CPU)
    needed = check_memory(*args, available=10**12)
    assert check_memory(*args, available=needed) == needed
    message = r"only [\d.]+ KiB \([\d,]+ bytes\) is available on the cpu; lower n_latents \(now 2\)"
    with pytest.raises(ValueError, match=message):
        check_memory(*args, available=needed - 1)


# -- inputs are never modified -------------------------------------------------------------------
def test_inputs_are_never_modified():
    rng = np.random.default_rng(0)
    base = _data(n=50, d=4)
    base[rng.random(base.shape) < 0.2] = np.nan
    mixed = np.c_[base, rng.normal(size=50)]
    inputs = [mixed, mixed.astype(np.float32), np.asfortranarray(mixed),
              pd.DataFrame(mixed, columns=list("abcde"))]
    for X in inputs:
        before = X.copy()
        fortran = isinstance(X, np.ndarray) and X.flags.f_contiguous
        pc = PCDensityEstimator(n_latents=3, max_iter=2, batch_size=16, random_state=0,
                                early_stopping=True, dtype="float64").fit(X)
        pc.score_samples(X)
        pc.score(X)
        pc.set_params(warm_start=True).fit(X)
        if isinstance(X, pd.DataFrame):
            pd.testing.assert_frame_equal(X, before)
        else:
            np.testing.assert_array_equal(X, before)
            assert X.dtype == before.dtype and X.flags.f_contiguous == fortran
