"""PCClassifier: scikit-learn compatibility and p(y | x) checked against enumeration."""

import inspect
import itertools
import pickle

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp
from sklearn.model_selection import cross_val_score
from sklearn.naive_bayes import CategoricalNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from skpc import PCClassifier, PCDensityEstimator
from skpc.structures import RegionGraph

CATS = np.array([2, 3, 2])
LABELS = np.array(["cat", "dog", "emu"])
#: A value no column saw in training: it stands for the share each categorical column keeps
#: for unseen values (handle_unknown="score"), part of the column's normalisation.
UNSEEN = 99.0


def _values(j):
    return [*range(CATS[j]), UNSEEN]


def _data(n, seed):
    """Three categorical features that depend on a string label, and on each other."""
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 3, n)
    X = np.column_stack([np.where(rng.random(n) < 0.8, (z + j) % c, rng.integers(0, c, n))
                         for j, c in enumerate(CATS)]).astype(float)
    return X, LABELS[z]


@pytest.fixture(scope="module")
def fitted():
    X, y = _data(400, seed=0)
    return PCClassifier(n_latents=4, max_iter=10, dtype="float64", random_state=0).fit(X, y), X, y


@parametrize_with_checks([PCClassifier(random_state=0)])
def test_sklearn_compatible(estimator, check, monkeypatch):
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


@pytest.mark.parametrize("front", ["PCClassifier", "PCOutlierDetector", "PCImputer"])
def test_forwarded_parameters_have_the_estimators_names_and_defaults(front):
    import skpc  # noqa: PLC0415

    own = {"PCOutlierDetector": {"contamination", "refit_inliers"},
           "PCImputer": {"strategy", "missing_values", "add_indicator", "keep_empty_features"}}
    own = own.get(front, set())
    ours = inspect.signature(getattr(skpc, front)).parameters
    theirs = inspect.signature(PCDensityEstimator).parameters
    assert set(ours) - own == set(theirs) - {"warm_start"}
    for name in set(ours) - own:
        assert ours[name].default == theirs[name].default, name


def _enumerated_proba(clf, x):
    """p(y | x) by summing the circuit's complete-row probabilities over the missing features."""
    missing = np.flatnonzero(np.isnan(x))
    log_joint = np.empty(len(clf.classes_))
    for c in range(len(clf.classes_)):
        rows = []
        for values in itertools.product(*[_values(j) for j in missing]):
            row = np.r_[x, c]
            row[missing] = values
            rows.append(row)
        log_joint[c] = logsumexp(clf.estimator_.score_samples(np.array(rows)))
    return np.exp(log_joint - logsumexp(log_joint))


def test_the_joint_circuit_is_a_normalised_distribution_over_features_and_label(fitted):
    clf, _, _ = fitted
    values = [_values(j) for j in range(len(CATS))] + [[*range(len(LABELS)), UNSEEN]]
    states = np.array(list(itertools.product(*values)), dtype=float)
    assert np.isclose(logsumexp(clf.estimator_.score_samples(states)), 0.0, atol=1e-9)


def test_predict_proba_equals_enumeration_with_and_without_missing_features(fitted):
    clf, X, _ = fitted
    rng = np.random.default_rng(1)
    X_missing = X[:40].copy()
    X_missing[rng.random(X_missing.shape) < 0.4] = np.nan
    X_missing[0] = np.nan  # nothing observed: the class prior
    for rows in (X[:40], X_missing):
        proba = clf.predict_proba(rows)
        expected = np.array([_enumerated_proba(clf, x) for x in rows])
        np.testing.assert_allclose(proba, expected, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        np.testing.assert_allclose(clf.predict_log_proba(rows), np.log(expected), rtol=1e-9)
        assert (clf.predict(rows) == clf.classes_[expected.argmax(axis=1)]).all()


def test_string_labels_are_sorted_classes_and_score_is_accuracy(fitted):
    clf, X, y = fitted
    assert clf.classes_.tolist() == sorted(LABELS)
    assert set(clf.predict(X)) <= set(LABELS)
    assert clf.score(X, y) == np.mean(clf.predict(X) == y)
    assert clf.score(X, y) > 0.8  # the label is recoverable from the features 80% of the time


def _naive_bayes_graph(d):
    """A root sum over products of every single-variable region: one hidden class."""
    return RegionGraph(scopes=[(v,) for v in range(d + 1)] + [tuple(range(d + 1))],
                       partitions=[[] for _ in range(d + 1)] + [[tuple(range(d + 1))]], root=d + 1,
                       product="hadamard")


def test_a_circuit_encoding_naive_bayes_reproduces_categorical_nb():
    X, y = _data(300, seed=2)
    nb = CategoricalNB(alpha=0.5).fit(X, y)
    k, d = len(nb.classes_), X.shape[1]
    clf = PCClassifier(structure=_naive_bayes_graph(d), n_latents=k, solver="em", max_iter=1,
                       dtype="float64", random_state=0).fit(X, y)
    leaf, root = clf.estimator_.circuit_.blocks
    probs = np.zeros_like(leaf.params[0])  # (variable, category, unit = class)
    for j in range(d):
        probs[j, : CATS[j]] = np.exp(nb.feature_log_prob_[j]).T
    probs[d, :k] = np.eye(k)  # the label's units: unit c is class c
    leaf.set_params((probs,))
    root.set_params((np.exp(nb.class_log_prior_)[None, None, :],))
    X_test, _ = _data(50, seed=3)
    np.testing.assert_allclose(clf.predict_proba(X_test), nb.predict_proba(X_test), rtol=1e-9)
    # A missing feature drops out of naive Bayes: as if it had never been there.
    X_missing = X_test.copy()
    X_missing[:, 1] = np.nan
    nb_without = CategoricalNB(alpha=0.5).fit(X[:, [0, 2]], y)
    np.testing.assert_allclose(clf.predict_proba(X_missing), nb_without.predict_proba(X_test[:, [0, 2]]),
                               rtol=1e-9)


def test_features_missing_in_training_are_marginalised():
    X, y = _data(400, seed=4)
    X_missing = X.copy()
    X_missing[np.random.default_rng(5).random(X.shape) < 0.3] = np.nan
    clf = PCClassifier(n_latents=4, max_iter=30, random_state=0).fit(X_missing, y)
    X_test, y_test = _data(200, seed=6)
    assert clf.score(X_test, y_test) > 0.85  # 0.925 when trained on the complete rows


def test_class_conditional_samples_follow_the_circuit(fitted):
    clf, _, _ = fitted
    X_new, y_new = clf.sample(4000, y="dog", random_state=0)
    assert X_new.shape == (4000, 3) and (y_new == "dog").all()
    states = np.array(list(itertools.product(*[range(c) for c in CATS])), dtype=float)
    log_joint = clf.estimator_.score_samples(np.column_stack([states, np.full(len(states), 1)]))
    expected = np.exp(log_joint - logsumexp(log_joint))  # p(x | y = dog)
    index = np.ravel_multi_index(X_new.astype(int).T, CATS)
    observed = np.bincount(index, minlength=len(states)) / len(X_new)
    assert 0.5 * np.abs(observed - expected).sum() < 0.03  # total variation
    X_all, y_all = clf.sample(4000, random_state=1)
    prior = clf.predict_proba(np.full((1, 3), np.nan))[0]
    np.testing.assert_allclose([np.mean(y_all == c) for c in clf.classes_], prior, atol=0.03)
    _, y_each = clf.sample(3, y=["emu", "cat", "emu"], random_state=0)
    assert y_each.tolist() == ["emu", "cat", "emu"]
    for unknown in ("yak", "emus"):  # "emus" must not be cut to the class "emu"
        with pytest.raises(ValueError, match=f"'{unknown}'"):
            clf.sample(2, y=unknown)


def test_dataframes_pipelines_cross_validation_and_pickle():
    X, y = _data(300, seed=7)
    # A feature named like the label column, and a shuffled index (rows are taken by position).
    frame = pd.DataFrame(X, columns=["a", "label", "c"], index=np.random.default_rng(0).permutation(300))
    clf = PCClassifier(n_latents=4, max_iter=5, random_state=0).fit(frame, y)
    assert clf.feature_names_in_.tolist() == ["a", "label", "c"]
    plain = PCClassifier(n_latents=4, max_iter=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(frame), plain.predict_proba(X))
    clone = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clone.predict_proba(frame), clf.predict_proba(frame))
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X)
    pipe = make_pipeline(FunctionTransformer(), PCClassifier(n_latents=4, max_iter=5, random_state=0))
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.6


def test_bad_parameters_and_labels_get_clear_errors():
    X, y = _data(60, seed=8)
    with pytest.raises(ValueError, match="Unknown label type"):
        PCClassifier().fit(X, np.linspace(0, 1, 60))
    with pytest.raises(ValueError, match="leaf has 2 entries"):
        PCClassifier(leaf=["categorical"] * 2).fit(X, y)
    with pytest.raises(ValueError, match="structure='pd'"):
        PCClassifier(structure="pd").fit(X, y)
    many, rows = np.repeat(np.arange(70), 3), np.tile(X[:3], (70, 1))  # more classes than leaf="auto" takes
    fitted = PCClassifier(n_latents=2, max_iter=1).fit(rows, many)
    assert fitted.estimator_.n_categories_[-1] == 70
    # A feature value never seen in training: scored as unseen by default, an error on request.
    new = np.array([[0.0, 7.0, 1.0]])
    assert np.isfinite(PCClassifier(n_latents=2, max_iter=1).fit(X, y).predict_log_proba(new)).all()
    with pytest.raises(ValueError, match="column 1"):
        PCClassifier(n_latents=2, max_iter=1, handle_unknown="error").fit(X, y).predict(new)


def test_explicit_leaf_and_n_categories_describe_the_features():
    X, y = _data(100, seed=9)
    clf = PCClassifier(leaf="categorical", n_categories=4, n_latents=2, max_iter=1).fit(X, y)
    assert clf.estimator_.n_categories_.tolist() == [4, 4, 4, 3]
    clf = PCClassifier(leaf=["gaussian", "categorical", "gaussian"], n_latents=2, max_iter=1).fit(X, y)
    assert clf.estimator_.leaf_types_.tolist() == ["gaussian", "categorical", "gaussian", "categorical"]


def test_model_file_round_trip(tmp_path):
    import skpc  # noqa: PLC0415

    X, y = _data(60, seed=10)
    clf = PCClassifier(n_latents=2, max_iter=1).fit(X, y)
    clf.save(tmp_path / "clf.skpc")
    again = PCClassifier.load(tmp_path / "clf.skpc")
    assert isinstance(skpc.load(tmp_path / "clf.skpc"), PCClassifier)
    assert again.classes_.tolist() == clf.classes_.tolist()
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


def test_string_columns_flow_through_fit_predict_and_sample():
    rng = np.random.default_rng(11)
    z = rng.integers(0, 3, 300)
    city = np.array(["Lyon", "Paris", "Nice"])[z]
    frame = pd.DataFrame({"city": city, "age": 30 + 10 * z + rng.normal(size=300)})
    frame.loc[rng.random(300) < 0.2, "city"] = None
    y = LABELS[z]
    clf = PCClassifier(n_latents=4, max_iter=30, random_state=0).fit(frame, y)  # 10 epochs: seed-dependent
    assert clf.score(frame, y) > 0.9
    new = pd.DataFrame({"city": ["Paris", "Berlin"], "age": [np.nan, np.nan]})  # Berlin: never seen
    proba = clf.predict_proba(new)
    assert proba[0].argmax() == 1 and np.isclose(proba.sum(axis=1), 1).all()
    X_new, y_new = clf.sample(50, y="emu", random_state=0)
    assert list(X_new.columns) == ["city", "age"] and (y_new == "emu").all()
    # in the training frame's types: strings and floats, not the objects of a NaN evidence frame
    assert X_new["age"].dtype == frame["age"].dtype and X_new["city"].map(type).eq(str).all()
    assert set(X_new["city"]) <= {"Lyon", "Paris", "Nice"}
    X_num, _ = PCClassifier(n_latents=2, max_iter=2).fit(frame[["age"]].to_numpy(), y).sample(5, y="cat")
    assert X_num.dtype == np.float64


def test_selection_scores_are_the_log_probability_of_the_true_label(fitted):
    clf, X, y = fitted
    labels = np.searchsorted(clf.classes_, y)
    codes = clf.estimator_._codes(np.column_stack([X, labels]))
    expected = clf.predict_log_proba(X)[np.arange(len(X)), labels]
    np.testing.assert_allclose(clf.estimator_._selection_scores(codes), expected, rtol=1e-10, atol=1e-12)


def test_early_stopping_keeps_the_epoch_of_the_best_held_out_log_loss():
    X, y = _data(400, seed=12)
    clf = PCClassifier(n_latents=4, max_iter=8, early_stopping=True, dtype="float64", random_state=0)
    clf.fit(X, y)
    # fit's first draw from random_state holds out validation_fraction of the rows
    held_out = np.sort(np.random.RandomState(0).permutation(len(X))[:40])
    log_proba = clf.predict_log_proba(X[held_out])[np.arange(40), np.searchsorted(clf.classes_, y[held_out])]
    assert np.isclose(max(clf.estimator_.history_["valid_loglik"]), log_proba.mean(), rtol=1e-10)


def test_the_search_scores_candidates_by_log_loss_and_tries_gaussian_mixtures_per_class():
    rng = np.random.default_rng(13)
    y = rng.integers(0, 3, 240)
    X = rng.normal(size=(240, 6)) + 2.0 * y[:, None]  # six continuous features; the joint is far below 0
    clf = PCClassifier(random_state=0).fit(X, y)
    search = clf.estimator_.capacity_search_
    structures = {c["params"]["structure"] for c in search["candidates"]}
    assert {"mixture", "hclt"} <= structures
    scores = np.array([c["valid_loglik"] for c in search["candidates"]])
    assert np.all(scores <= 0) and np.all(scores > -np.log(3) - 1)  # log p(y | x), not log p(x, y)
    full = [i for i, c in enumerate(search["candidates"]) if c["n_folds"] == search["n_folds"]]
    assert search["best"] == full[int(np.argmax(scores[full]))]  # the best held-out log loss, no 1-SE margin
    assert clf.score(X, y) > 0.95
