"""PCOutlierDetector: scikit-learn's outlier-detector contract on a circuit's log-likelihood."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from skpc import PCDensityEstimator, PCOutlierDetector
from skpc.outlier import AUTO_FENCE, AUTO_TAIL


def _contaminated(n_in, n_out, seed):
    """Two correlated Gaussian clusters with uniform noise around them (the last rows)."""
    rng = np.random.default_rng(seed)
    centre = rng.choice([-3.0, 3.0], size=(n_in, 1))
    inliers = centre + rng.normal(size=(n_in, 2)) @ np.array([[1.0, 0.8], [0.0, 0.6]])
    return np.vstack([inliers, rng.uniform(-8, 8, size=(n_out, 2))]), np.r_[np.zeros(n_in), np.ones(n_out)]


# The defaults (float32: scores do not depend on a row's position, see skpc/_queries.py's
# ROW_MULTIPLE) and the trimmed refit in float64, of a fixed size (no capacity search: the
# defaults' instance checks that, and the search was half the suite's time).
@parametrize_with_checks([
    PCOutlierDetector(random_state=0),
    PCOutlierDetector(contamination=0.1, refit_inliers=True, random_state=0, dtype="float64", n_latents=4),
])
def test_sklearn_compatible(estimator, check, monkeypatch):
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


@pytest.mark.parametrize("refit_inliers", [True, False])
@pytest.mark.parametrize("contamination", [0.01, 0.05, 0.2, 0.5])
def test_flagged_fraction_is_the_contamination_within_one_row(contamination, refit_inliers):
    X, _ = _contaminated(380, 20, seed=0)
    detector = PCOutlierDetector(contamination=contamination, refit_inliers=refit_inliers, n_latents=4,
                                 max_iter=5, random_state=0)
    flagged = np.sum(detector.fit_predict(X) == -1)
    assert abs(flagged - contamination * len(X)) <= 1


def test_decision_function_is_score_minus_offset_and_agrees_with_predict():
    X, _ = _contaminated(380, 20, seed=1)
    detector = PCOutlierDetector(contamination=0.05, random_state=0).fit(X)
    X_new, _ = _contaminated(200, 50, seed=2)
    X_new[::7, 0] = np.nan
    scores, decision = detector.score_samples(X_new), detector.decision_function(X_new)
    labels = detector.predict(X_new)
    np.testing.assert_array_equal(decision, scores - detector.offset_)
    np.testing.assert_array_equal(labels == -1, decision < 0)
    assert set(labels) == {-1, 1}
    # score_samples is the circuit's log-likelihood, NaN entries marginalised.
    np.testing.assert_allclose(scores, detector.estimator_.score_samples(X_new), rtol=1e-12)


def test_auto_threshold_is_the_lower_fence_of_the_training_scores_and_finds_the_noise():
    X, is_out = _contaminated(950, 50, seed=3)
    detector = PCOutlierDetector(random_state=0).fit(X)
    scores = detector.score_samples(X)
    q1, q3 = np.quantile(scores, 0.25), np.quantile(scores, 0.75)
    assert np.isclose(detector.offset_, q1 - AUTO_FENCE * (q3 - q1))
    flagged = detector.predict(X) == -1
    # The noise's share does not move the fence: it flags most noise rows, and the noise
    # inside the clusters is as probable as the inliers.
    assert flagged[is_out == 1].mean() > 0.8
    assert flagged[is_out == 0].mean() < 0.05


def test_auto_threshold_flags_at_least_its_tail_of_the_training_rows():
    # One Gaussian over rows uniform on a disc: a row's log-likelihood is linear in its
    # squared radius, which is uniform, so the scores have no tail and the fence lies below
    # every training row; the floor still flags 1% of them.
    rng = np.random.default_rng(8)
    radius, angle = np.sqrt(rng.uniform(0, 1, 400)), rng.uniform(0, 2 * np.pi, 400)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    gaussian = {"depth": 0, "n_repetitions": 1, "multivariate_leaves": True}
    detector = PCOutlierDetector(structure="rat", structure_params=gaussian, n_latents=1,
                                 random_state=0).fit(X)
    scores = detector.score_samples(X)
    q1, q3 = np.quantile(scores, 0.25), np.quantile(scores, 0.75)
    assert q1 - AUTO_FENCE * (q3 - q1) < scores.min()
    assert np.isclose(detector.offset_, np.quantile(scores, AUTO_TAIL))
    assert abs(np.sum(detector.predict(X) == -1) - AUTO_TAIL * len(X)) <= 1


def test_refitting_on_the_inliers_separates_contaminated_training_data_better():
    X, is_out = _contaminated(900, 100, seed=4)
    X_clean, _ = _contaminated(2000, 0, seed=5)
    params = dict(contamination=0.1, n_latents=8, random_state=0)
    plain = PCOutlierDetector(refit_inliers=False, **params).fit(X)
    trimmed = PCOutlierDetector(refit_inliers=True, **params).fit(X)
    # The trimmed circuit puts less mass on the noise and more on the clusters.
    assert trimmed.score_samples(X_clean).mean() > plain.score_samples(X_clean).mean()
    assert roc_auc_score(is_out, -trimmed.score_samples(X)) >= roc_auc_score(is_out, -plain.score_samples(X))
    # It is the circuit fitted on the rows that the first fit did not flag.
    rng = np.random.RandomState(0)
    first = PCDensityEstimator(n_latents=8, random_state=rng).fit(X)
    scores = first.score_samples(X)
    inliers = scores >= np.percentile(scores, 10)
    second = PCDensityEstimator(n_latents=8, random_state=rng).fit(X[inliers])
    np.testing.assert_array_equal(trimmed.score_samples(X), second.score_samples(X))


def test_the_refit_keeps_categories_seen_only_in_the_flagged_rows():
    rng = np.random.default_rng(7)
    X = rng.integers(0, 2, size=(300, 4)).astype(float)
    X[:6, 0] = 2  # category 2 only in six rows, which are flagged
    detector = PCOutlierDetector(contamination=0.05, refit_inliers=True, n_latents=2, max_iter=5,
                                 random_state=0).fit(X)
    assert detector.estimator_.n_categories_.tolist() == [3, 2, 2, 2]
    assert (detector.predict(X[:6]) == -1).all()


def test_dataframes_keep_their_feature_names():
    X, _ = _contaminated(200, 10, seed=6)
    frame = pd.DataFrame(X, columns=["x", "y"])
    detector = PCOutlierDetector(contamination=0.05, n_latents=4, max_iter=5, random_state=0).fit(frame)
    assert detector.feature_names_in_.tolist() == ["x", "y"]
    np.testing.assert_array_equal(detector.predict(frame), detector.fit_predict(frame))


def test_model_file_round_trip(tmp_path):
    import skpc  # noqa: PLC0415

    X, _ = _contaminated(200, 10, seed=8)
    detector = PCOutlierDetector(contamination=0.05, n_latents=2, max_iter=2, random_state=0).fit(X)
    skpc.save(detector, tmp_path / "detector.skpc")
    again = skpc.load(tmp_path / "detector.skpc")
    assert again.offset_ == detector.offset_
    np.testing.assert_array_equal(again.decision_function(X), detector.decision_function(X))


def test_refit_on_a_table_with_strings_booleans_and_a_rare_level():
    rng = np.random.default_rng(9)
    z = rng.integers(0, 3, 400)
    frame = pd.DataFrame({"city": np.array(["Lyon", "Paris", "Nice"])[z], "member": z == 1,
                          "visits": rng.poisson(1 + z), "age": 30 + 10 * z + rng.normal(size=400)})
    frame.loc[:3, "city"] = "Rome"  # a level of four rows only
    detector = PCOutlierDetector(contamination=0.05, refit_inliers=True, n_latents=4, max_iter=5,
                                 random_state=0).fit(frame)
    assert abs(np.sum(detector.predict(frame) == -1) - 20) <= 1
    assert np.isfinite(detector.decision_function(frame.iloc[:4])).all()
