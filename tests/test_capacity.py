"""structure="auto": the capacity search on held-out rows (skpc/_capacity.py)."""

import warnings

import numpy as np
import pytest
from _circuits import chain_data
from sklearn.exceptions import ConvergenceWarning

from skpc import PCDensityEstimator, _capacity
from skpc.estimator import PCDensityEstimator as Estimator


def blobs(n, seed):
    """Three well separated 2-D clusters and a pure-noise column, standardised."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [4.0, 1.0], [1.0, 5.0]])
    X = np.column_stack([centres[rng.integers(0, 3, n)] + 0.5 * rng.standard_normal((n, 2)),
                         rng.standard_normal(n)])
    return (X - X.mean(axis=0)) / X.std(axis=0)


@pytest.fixture(scope="module")
def searched():
    X = blobs(240, seed=0)
    return X, PCDensityEstimator(random_state=0).fit(X)


def test_the_chosen_candidate_follows_the_one_standard_error_rule(searched):
    _, pc = searched
    search = pc.capacity_search_
    records = search["candidates"]
    scores = np.array([r["valid_loglik"] for r in records])
    chosen = records[search["best"]]
    assert chosen["params"] == {k: v for k, v in search["chosen"].items()
                                if k not in ("_stop_after", "n_iter_no_change")}
    top = int(np.argmax(scores))
    assert records[top]["standard_error"] == 0
    # Within one standard error of the best score, and no candidate that is as close has
    # fewer parameters.
    assert chosen["valid_loglik"] >= scores[top] - chosen["standard_error"]
    close = [r for r in records if r["valid_loglik"] >= scores[top] - r["standard_error"]]
    assert chosen["n_parameters"] == min(r["n_parameters"] for r in close)
    # Continuous columns: the Gaussian mixtures (a single Gaussian first) and the HCLTs.
    kinds = [(r["params"]["structure"], r["params"]["n_latents"]) for r in records]
    assert kinds[0] == ("rat", 1) and ("hclt", 16) in kinds
    assert all(r["seconds"] > 0 for r in records) and search["seconds"] >= sum(r["seconds"] for r in records)


def test_a_recorded_score_is_that_of_the_candidate_fitted_alone(searched):
    """The record agrees with an independent fit: the same settings with fit's own early
    stopping on the same held-out split."""
    X, pc = searched
    search = pc.capacity_search_
    for record in search["candidates"][:2] + search["candidates"][-1:]:
        alone = PCDensityEstimator(**record["params"], early_stopping=True,
                                   validation_fraction=_capacity.VALID_FRACTION,
                                   n_iter_no_change=_capacity.NO_PATIENCE,
                                   random_state=search["random_states"][0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            alone.fit(X)
        assert max(alone.history_["valid_loglik"]) == pytest.approx(record["valid_loglik"], rel=1e-6)
        assert int(np.argmax(alone.history_["valid_loglik"])) + 1 == record["best_epoch"]


def test_the_refit_uses_all_rows_and_the_chosen_settings(monkeypatch):
    X = blobs(200, seed=1)
    sizes = []
    build = Estimator._build

    def spy(self, X_build, rng):
        sizes.append((X_build.shape[0], self.structure))
        return build(self, X_build, rng)

    monkeypatch.setattr(Estimator, "_build", spy)
    pc = PCDensityEstimator(random_state=0).fit(X)
    chosen = pc.capacity_search_["chosen"]
    n_valid = pc.capacity_search_["n_valid_rows"]
    assert n_valid == 40
    assert all(n == 200 - n_valid for n, _ in sizes[:-1])  # the candidates
    assert sizes[-1] == (200, chosen["structure"])  # the refit, on every row
    assert pc.n_iter_ == chosen["_stop_after"] <= pc.max_iter_  # stopped at the best held-out epoch
    assert pc.n_latents_ == chosen["n_latents"] and pc.reg_covar_ == chosen["reg_covar"]
    # The user's parameters are untouched.
    assert pc.get_params() == PCDensityEstimator(random_state=0).get_params()


def test_the_default_never_loses_to_the_single_gaussian_on_held_out_rows():
    X = blobs(600, seed=2)
    train, test = X[:400], X[400:]
    gaussian = PCDensityEstimator(structure="rat", n_latents=1, random_state=0, structure_params={
        "depth": 0, "n_repetitions": 1, "multivariate_leaves": True}).fit(train)
    default = PCDensityEstimator(random_state=0).fit(train)
    assert default.score(test) > gaussian.score(test) + 0.5  # three clusters, not one


def test_large_data_skip_the_search_and_fit_the_hclt_rule(monkeypatch):
    X = chain_data(np.array([2, 3, 2, 2, 3]), 240, seed=0)
    monkeypatch.setattr(_capacity, "SEARCH_MAX_CELLS", X.size)  # this set counts as large
    default = PCDensityEstimator(max_iter=3, random_state=0).fit(X)
    hclt = PCDensityEstimator(structure="hclt", max_iter=3, random_state=0).fit(X)
    assert default.capacity_search_ is None
    np.testing.assert_array_equal(default.score_samples(X), hclt.score_samples(X))
    monkeypatch.setattr(_capacity, "SEARCH_MAX_CELLS", X.size + 1)
    assert PCDensityEstimator(max_iter=3, random_state=0).fit(X).capacity_search_ is not None


@pytest.mark.parametrize("params", [{"n_latents": 4}, {"structure_params": {"n_components": 2}},
                                    {"structure": "hclt"}])
def test_a_size_given_by_the_user_skips_the_search(params):
    pc = PCDensityEstimator(max_iter=2, random_state=0, **params).fit(blobs(100, seed=3))
    assert pc.capacity_search_ is None


def test_discrete_data_search_the_hclt_family_only():
    X = chain_data(np.array([2, 3, 2, 2, 3]), 240, seed=0)
    pc = PCDensityEstimator(max_iter=3, random_state=0).fit(X)
    records = pc.capacity_search_["candidates"]
    assert {r["params"]["structure"] for r in records} == {"hclt"}
    assert pc.structure_.name.startswith("hclt")


def test_one_continuous_column_searches_the_hclts():
    X = blobs(120, seed=6)[:, :1]
    pc = PCDensityEstimator(max_iter=3, random_state=0).fit(X)
    assert {r["params"]["structure"] for r in pc.capacity_search_["candidates"]} == {"hclt"}
    assert np.isfinite(pc.score(X))


def test_verbose_reports_the_candidates_and_the_choice(capsys):
    pc = PCDensityEstimator(random_state=0, verbose=1).fit(blobs(100, seed=4))
    lines = capsys.readouterr().out.splitlines()
    candidates = [line for line in lines if line.startswith("candidate ")]
    assert len(candidates) == len(pc.capacity_search_["candidates"])
    assert any(line.startswith("chose ") and "refit on all 100 rows" in line for line in lines)


def test_a_searched_model_survives_a_model_file(searched, tmp_path):
    X, pc = searched
    pc.save(tmp_path / "m.skpc")
    loaded = PCDensityEstimator.load(tmp_path / "m.skpc")
    np.testing.assert_array_equal(loaded.score_samples(X), pc.score_samples(X))


# -- convergence warnings -----------------------------------------------------------------------
def test_a_fit_that_ran_its_planned_schedule_does_not_warn():
    X = blobs(150, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        PCDensityEstimator(random_state=0).fit(X)  # the search and its refit
        pc = PCDensityEstimator(structure="hclt", random_state=0).fit(X)  # the whole cosine schedule
    assert pc.n_iter_ == pc.max_iter_


@pytest.mark.parametrize("params", [{"schedule": "constant"}, {"solver": "em"}])
def test_a_fit_cut_short_while_improving_warns(params):
    """With a constant step or full-batch EM, max_iter is a cap, not a plan."""
    X = blobs(150, seed=5)
    with pytest.warns(ConvergenceWarning, match="still improving"):
        pc = PCDensityEstimator(structure="hclt", max_iter=2, random_state=0, **params).fit(X)
    assert np.diff(pc.history_["train_loglik"])[-1] > pc.tol and not pc.converged_
    # The same fit run long enough to stop improving does not warn.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        pc = PCDensityEstimator(structure="hclt", max_iter=300, random_state=0, **params).fit(X)
    assert pc.converged_
