"""structure="auto": the capacity search on held-out rows (skpc/_capacity.py)."""

import warnings

import numpy as np
import pytest
from _circuits import chain_data
from scipy import stats
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity

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
    assert search["n_folds"] == _capacity.CV_FOLDS  # 240 x 3 cells: cross-validated
    records = search["candidates"]
    chosen = records[search["best"]]
    assert chosen["params"] == {k: v for k, v in search["chosen"].items()
                                if k not in ("_stop_after", "n_iter_no_change")}
    # The rule runs over the candidates scored on every fold (the others were screened out).
    full = [r for r in records if r["n_folds"] == search["n_folds"]]
    assert chosen in full and all(r["standard_error"] is None for r in records if r not in full)
    scores = np.array([r["valid_loglik"] for r in full])
    top = int(np.argmax(scores))
    assert full[top]["standard_error"] == 0
    # Within one standard error of the best score, and no candidate that is as close has
    # fewer parameters.
    assert chosen["valid_loglik"] >= scores[top] - chosen["standard_error"]
    close = [r for r in full if r["valid_loglik"] >= scores[top] - r["standard_error"]]
    assert chosen["n_parameters"] == min(r["n_parameters"] for r in close)
    # Continuous columns: every Gaussian mixture (a single Gaussian first), then the HCLTs.
    kinds = [(r["params"]["structure"], r["params"]["n_latents"]) for r in records]
    assert kinds[0] == ("rat", 1) and ("hclt", 16) in kinds
    params = [r["params"] for r in records]
    mixtures = [(p.get("_diagonal_cov", False), p["reg_covar"], p["n_latents"])
                for p in params if p["structure"] == "rat" and "_kernel_bandwidth" not in p]
    # Full and diagonal covariances, with the first reg_covar alone (enough rows here), then
    # the kinds grown past 8 components (after the grid).
    grid = [(diagonal, _capacity.REG_COVARS[0], k) for diagonal in (False, True)
            for k in _capacity.MIXTURE_SIZES]
    assert mixtures[:len(grid)] == grid
    assert all(k > max(_capacity.MIXTURE_SIZES) for _, _, k in mixtures[len(grid):])
    n_grid = len(_capacity.candidates(pc, searched[0].shape[0]))
    kernels = [r["params"]["_kernel_bandwidth"] for r in records if "_kernel_bandwidth" in r["params"]]
    assert kernels == list(_capacity.KERNEL_BANDWIDTHS)  # and last of the grid
    assert all("_kernel_bandwidth" in r["params"] for r in records[n_grid - len(kernels):n_grid])
    assert all(r["seconds"] > 0 for r in records) and search["seconds"] >= sum(r["seconds"] for r in records)


@pytest.mark.parametrize("n_rows", [10, 97, 240])
def test_the_folds_hold_out_every_row_exactly_once(n_rows):
    folds = _capacity.held_out_folds(n_rows, 3, seed=7)
    assert len(folds) == _capacity.CV_FOLDS
    np.testing.assert_array_equal(np.sort(np.concatenate(folds)), np.arange(n_rows))
    assert max(map(len, folds)) - min(map(len, folds)) <= 1


def test_larger_sets_hold_out_the_split_of_fit_s_early_stopping():
    n_rows = _capacity.CV_MAX_CELLS  # with 3 columns: above the cross-validation bound
    (fold,) = _capacity.held_out_folds(n_rows, 3, seed=7)
    order = np.random.RandomState(7).permutation(n_rows)
    np.testing.assert_array_equal(fold, np.sort(order[:_capacity._n_valid(n_rows)]))


def test_no_candidate_is_trained_on_the_rows_it_is_scored_on(monkeypatch):
    """Each fit of a candidate trains on the rows outside its fold and is scored on the
    fold: every candidate on the first fold, on each later fold those the race kept."""
    X = blobs(150, seed=8)
    seen = {}  # id of each fitted model: (its held-out rows, its training rows)
    run_epoch = Estimator._run_epoch

    def spy(self, X_all, rows, *args):
        seen[id(self)] = (getattr(self, "_valid_rows", None), np.array(rows))
        return run_epoch(self, X_all, rows, *args)

    monkeypatch.setattr(Estimator, "_run_epoch", spy)
    pc = PCDensityEstimator(random_state=0).fit(X)
    search = pc.capacity_search_
    assert search["n_folds"] == _capacity.CV_FOLDS
    fits = [f for f in seen.values() if f[0] is not None]  # the search's fits, not the refit
    assert len(fits) == sum(r["n_folds"] for r in search["candidates"])
    for held_out, trained in fits:
        assert np.intersect1d(held_out, trained).size == 0
        np.testing.assert_array_equal(np.union1d(held_out, trained), np.arange(len(X)))
    folds = _capacity.held_out_folds(*X.shape, search["random_states"][0])
    counts = [sum(np.array_equal(h, fold) for h, _ in fits) for fold in folds]
    # A race: fold j fits the candidates that stayed through folds 0..j-1.
    assert counts == [sum(r["n_folds"] > j for r in search["candidates"]) for j in range(len(folds))]
    assert counts[0] == len(search["candidates"]) and counts[1] < counts[0]


def test_screened_out_candidates_were_far_below_the_best_on_the_first_fold(searched):
    X, pc = searched
    search = pc.capacity_search_
    records = search["candidates"]
    # The first fold's score of a candidate is that of its first fit: recompute those of
    # the best candidate and of one screened out, and check the margin.
    (fold, *_) = _capacity.held_out_folds(*X.shape, search["random_states"][0])
    dropped = [r for r in records if r["n_folds"] == 1]
    assert dropped, "a single Gaussian on three clusters is screened out"
    first = {}
    for record in [records[search["best"]], dropped[0]]:
        fit = _capacity._fit_fold(pc, X, record["params"], search["random_states"][0], fold)
        first[id(record)] = fit["scores"]
    best, loser = first[id(records[search["best"]])], first[id(dropped[0])]
    se = np.std(best - loser, ddof=1) / np.sqrt(len(fold))
    assert np.mean(best - loser) > _capacity.SCREEN_SE * se


def test_a_recorded_score_is_that_of_the_candidate_fitted_alone(monkeypatch):
    """Above CV_MAX_CELLS the record agrees with an independent fit: the same settings
    with fit's own early stopping on the same held-out split."""
    X = blobs(240, seed=0)
    monkeypatch.setattr(_capacity, "CV_MAX_CELLS", 0)
    pc = PCDensityEstimator(random_state=0).fit(X)
    search = pc.capacity_search_
    assert search["n_folds"] == 1
    assert _capacity.refit_starts(pc, search["chosen"]) == 1  # one split: one start
    for record in search["candidates"][:2] + search["candidates"][-1:]:
        params = {k: v for k, v in record["params"].items() if not k.startswith("_")}
        alone = PCDensityEstimator(**params, early_stopping=True,
                                   validation_fraction=_capacity.VALID_FRACTION,
                                   n_iter_no_change=_capacity.NO_PATIENCE,
                                   random_state=search["random_states"][0])
        # The search's private settings (the Gaussian mixtures' covariance prior).
        vars(alone).update({k: v for k, v in record["params"].items() if k.startswith("_")})
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
    starts = _capacity.refit_starts(pc, chosen)
    assert all(n == 200 - n_valid for n, _ in sizes[:-starts])  # the candidates
    assert sizes[-starts:] == [(200, chosen["structure"])] * starts  # the refit's starts, on every row
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
    chose = [line for line in lines if line.startswith("chose ")]
    assert len(chose) == 1 and "refit on all 100 rows" in chose[0]
    # The refit reports each start and the epochs it will run, those the search chose.
    epochs = pc.capacity_search_["chosen"]["_stop_after"]
    assert f"{epochs} epochs" in chose[0]
    starts = [line for line in lines if line.startswith("refit start ")]
    assert starts == [f"refit start {i}/3" for i in (1, 2, 3)]
    reported = [line.split()[1] for line in lines if line.startswith("epoch ")]
    assert reported == [f"{e}/{epochs}" for e in range(1, epochs + 1)] * 3


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


def test_mixtures_take_every_reg_covar_where_their_covariance_is_short_of_rows():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 8))  # 36 entries per covariance, under 10 rows each
    pc = PCDensityEstimator(random_state=0, max_iter=2).fit(X)
    mixtures = [p for p in (r["params"] for r in pc.capacity_search_["candidates"])
                if p["structure"] == "rat" and "_kernel_bandwidth" not in p]
    for diagonal in (False, True):
        regs = [p["reg_covar"] for p in mixtures if p.get("_diagonal_cov", False) == diagonal]
        assert regs == [reg for reg in _capacity.REG_COVARS for _ in _capacity.MIXTURE_SIZES]
    for p in mixtures:  # each has the prior: below 2 (d + 1) rows for a full covariance, d + 1 diagonal
        needed = _capacity.COV_PRIOR_ROWS * (8 + 1) * (1 if p.get("_diagonal_cov") else 2)
        assert p["_prior_rows"]["multivariate_gaussian"] == needed
    full = {(r["params"]["n_latents"], r["params"]["reg_covar"]): r for r in pc.capacity_search_["candidates"]
            if r["params"].get("structure") == "rat" and not r["params"].get("_diagonal_cov")}
    diagonal_records = [r for r in pc.capacity_search_["candidates"] if r["params"].get("_diagonal_cov")]
    for r in diagonal_records:  # k (d + d) free parameters against k (d + d (d + 1) / 2), plus the weights
        twin = full[(r["params"]["n_latents"], r["params"]["reg_covar"])]
        assert twin["n_parameters"] - r["n_parameters"] == r["params"]["n_latents"] * (36 - 8)
    wide = PCDensityEstimator(random_state=0, max_iter=2).fit(rng.standard_normal((400, 3)))
    regs = [p["reg_covar"] for p in (r["params"] for r in wide.capacity_search_["candidates"])
            if p["structure"] == "rat" and "_kernel_bandwidth" not in p]
    assert regs == [_capacity.REG_COVARS[0]] * 2 * len(_capacity.MIXTURE_SIZES)  # enough rows: the first
    # 100 rows over 8 columns: short for a full covariance (36 entries), not for a diagonal one (8).
    pc.leaf_types_ = np.array(["gaussian"] * 8)
    between = [p for p in _capacity.candidates(pc, 100)
               if p["structure"] == "rat" and "_kernel_bandwidth" not in p]
    # With a fifth of the values missing, 100 rows are 80 rows' worth: short for a diagonal one too.
    holes = rng.random((100, 8)) < 0.2
    with_nan = [p for p in _capacity.candidates(pc, 100, holes) if p["structure"] == "rat"]
    expected = [(False, _capacity.REG_COVARS, between), (True, _capacity.REG_COVARS[:1], between),
                (True, _capacity.REG_COVARS, with_nan)]
    for diagonal, regs, listed in expected:
        got = [p["reg_covar"] for p in listed if p.get("_diagonal_cov", False) == diagonal]
        assert got == [reg for reg in regs for _ in _capacity.MIXTURE_SIZES]
    assert not any("_kernel_bandwidth" in p for p in with_nan)  # kernels need complete rows


@pytest.mark.parametrize(("n_rows", "largest"), [(12, 2), (15, 3), (30, 6), (40, 8), (1000, 8)])
def test_mixture_sizes_stop_at_a_quarter_of_the_rows_a_fit_is_fitted_on(n_rows, largest):
    pc = PCDensityEstimator()
    pc.leaf_types_ = np.array(["gaussian"] * 3)
    sizes = {p["n_latents"] for p in _capacity.candidates(pc, n_rows)
             if p["structure"] == "rat" and "_kernel_bandwidth" not in p}
    # A fit holds out a fifth: 12 rows leave 10, whose quarter is 2 components.
    assert sizes == {k for k in _capacity.MIXTURE_SIZES if k <= largest}


def test_each_unit_gets_the_prior_for_the_rows_its_covariance_needs():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    mixed = np.column_stack([X, rng.integers(0, 3, 40)])
    one = np.column_stack([X[:, 0], rng.integers(0, 3, 40)])  # one continuous column
    full, diag = ("multivariate_gaussian", False), ("multivariate_gaussian", True)
    # On continuous columns a full covariance needs 2 (d + 1) rows and a diagonal one d + 1;
    # on mixed ones d + 1 and 2; a univariate state 2 (no prior for mixed columns' HCLTs).
    for data, needed in ((X, {full: 8, diag: 4, ("gaussian", False): 2}),
                         (mixed, {full: 4, diag: 2}), (one, {("gaussian", False): 2})):
        pc = PCDensityEstimator(random_state=0, max_iter=1).fit(data)
        for record in pc.capacity_search_["candidates"]:
            params = record["params"]
            if "_kernel_bandwidth" in params or "_prior_rows" not in params:
                assert params["structure"] in ("rat", "hclt")  # the kernels; mixed columns' HCLTs
                continue
            model = clone(pc)
            with _capacity.settings(model, params):  # as the refit of a chosen candidate
                model.fit(data)
            for leaf in model.circuit_.leaves:
                if leaf.kind == "categorical":
                    continue
                prior = leaf.cov_prior if leaf.kind == "multivariate_gaussian" else leaf.var_prior
                key = (leaf.kind, bool(getattr(leaf, "diagonal", False)))
                assert prior * len(data) == pytest.approx(_capacity.COV_PRIOR_ROWS * needed[key])


def test_ten_rows_are_cross_validated():
    X = blobs(_capacity.SEARCH_MIN_ROWS, seed=3)
    pc = PCDensityEstimator(random_state=0, max_iter=2).fit(X)
    assert pc.capacity_search_["n_folds"] == _capacity.CV_FOLDS
    fewer = PCDensityEstimator(random_state=0, max_iter=2).fit(X[:-1])
    assert fewer.capacity_search_ is None


def kernel_model(X, bandwidth, dtype="float64"):
    """A kernel candidate fitted alone on ``X``, as the search fits it."""
    model = PCDensityEstimator(structure="rat", structure_params={"depth": 0, "n_repetitions": 1,
                                                                  "multivariate_leaves": True}, dtype=dtype)
    kernels = {"_kernel_bandwidth": bandwidth, "_stop_after": 1}
    with warnings.catch_warnings(), _capacity.settings(model, kernels):
        warnings.simplefilter("error")  # nothing to converge: no warning
        return model.fit(X)


def test_a_kernel_candidate_is_the_kernel_density_estimate_of_its_rows():
    rng = np.random.default_rng(4)
    centres = rng.standard_normal((60, 3)) * [1.0, 3.0, 0.2] + [0.0, 5.0, -1.0]
    pc = kernel_model(centres, 0.5)
    assert pc.n_latents_ == 60 and pc.n_iter_ == 1 and pc.converged_
    # In the user's units: equal-weight product kernels of width h * std_j (the data
    # layer's population std), h by Scott's rule.
    h = 0.5 * len(centres) ** (-1 / (3 + 4)) * np.std(centres, axis=0)
    Y = rng.standard_normal((25, 3)) * [1.0, 3.0, 0.2] + [0.0, 5.0, -1.0]
    z = (Y[:, None, :] - centres[None]) / h
    expected = logsumexp(-0.5 * (z**2).sum(axis=2) - np.log(h).sum() - 1.5 * np.log(2 * np.pi), axis=1)
    np.testing.assert_allclose(pc.score_samples(Y), expected - np.log(len(centres)), rtol=1e-10)
    # A missing entry integrates its kernel factor out: the 2-D estimate of the other columns.
    Y[0, 1] = np.nan
    z2 = z[0][:, [0, 2]]
    marginal = logsumexp(-0.5 * (z2**2).sum(axis=1) - np.log(h[[0, 2]]).sum() - np.log(2 * np.pi))
    np.testing.assert_allclose(pc.score_samples(Y[:1]), marginal - np.log(len(centres)), rtol=1e-10)


def test_a_kernel_model_samples_from_its_kernels_and_survives_a_model_file(tmp_path):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((40, 2))
    pc = kernel_model(X, 0.25, dtype="float32")
    pc.save(tmp_path / "kde.skpc")
    np.testing.assert_array_equal(PCDensityEstimator.load(tmp_path / "kde.skpc").score_samples(X),
                                  pc.score_samples(X))
    # A draw is a training row plus noise of the kernel's width: near one row.
    h = 0.25 * 40 ** (-1 / 6) * X.std(axis=0)
    draws = pc.sample(400, random_state=0)
    nearest = np.min(np.abs(draws[:, None, :] - X[None]) / h, axis=1)
    assert np.mean(nearest < 3) > 0.95


def test_the_search_picks_a_kernel_density_on_a_thin_manifold(monkeypatch):
    """A noisy swiss roll: the kernels beat every fitted candidate of the grid on held-out
    rows (mixtures of more components, grown past the grid, can follow the roll too)."""
    from sklearn.datasets import make_swiss_roll  # noqa: PLC0415

    monkeypatch.setattr(_capacity, "MAX_MIXTURE_SIZE", max(_capacity.MIXTURE_SIZES))
    X = make_swiss_roll(400, noise=0.3, random_state=0)[0]
    pc = PCDensityEstimator(random_state=0).fit(X)
    search = pc.capacity_search_
    assert "_kernel_bandwidth" in search["chosen"] and pc.n_latents_ == 400
    records = search["candidates"]
    fitted = [r["valid_loglik"] for r in records if "_kernel_bandwidth" not in r["params"]]
    assert records[search["best"]]["valid_loglik"] > max(fitted) + 0.1  # on every row / its folds' rows
    assert not _capacity.candidates(pc, _capacity.KERNEL_MAX_ROWS + 1)[-1].get("_kernel_bandwidth")
    wide = PCDensityEstimator().set_params(leaf="gaussian")  # as fitted on more columns than kernels take
    wide.leaf_types_ = np.array(["gaussian"] * (_capacity.KERNEL_MAX_COLUMNS + 1))
    assert not any("_kernel_bandwidth" in c for c in _capacity.candidates(wide, 400))
    # A table with a missing value has no kernel candidates (a kernel sits on each row).
    X[5, 1] = np.nan
    with_nan = PCDensityEstimator(random_state=0, max_iter=2).fit(X)
    assert not any("_kernel_bandwidth" in r["params"] for r in with_nan.capacity_search_["candidates"])
    assert np.isfinite(with_nan.score_samples(X)).all()


@pytest.mark.parametrize("n_rows", [3, 8, 30, 400])
def test_screening_is_a_paired_t_test_at_the_level_of_screen_se(n_rows):
    """A gap screens out where a one-sided paired t-test rejects at p = Phi(-SCREEN_SE):
    checked against scipy's test on both sides of its threshold."""
    rng = np.random.default_rng(n_rows)
    noise = rng.standard_normal(n_rows)
    noise = (noise - noise.mean()) / noise.std(ddof=1)  # mean 0, sd 1: the gap is its own t / sqrt(n)
    level = stats.norm.sf(_capacity.SCREEN_SE)
    for t in (0.9, 1.1):
        gap = t * stats.t.isf(level, n_rows - 1) / np.sqrt(n_rows)
        best = rng.standard_normal(n_rows)
        scores = best - gap - noise
        p = stats.ttest_rel(best, scores, alternative="greater").pvalue
        assert _capacity._clearly_below(scores, best, _capacity.SCREEN_SE) == (p < level) == (t > 1)


def test_the_refit_keeps_the_best_of_its_starts_by_training_log_likelihood(monkeypatch):
    X = blobs(150, seed=2)
    refits = []  # the user's estimator's fits after the search: (its circuit, training log-likelihood)
    train = Estimator._train

    def spy(self, *args, **kwargs):
        train(self, *args, **kwargs)
        if getattr(self, "_valid_rows", None) is None:
            refits.append((self.circuit_, self.history_["train_loglik"][-1]))

    monkeypatch.setattr(Estimator, "_train", spy)
    pc = PCDensityEstimator(random_state=0).fit(X)
    assert "_kernel_bandwidth" not in pc.capacity_search_["chosen"]
    assert len(refits) == _capacity.REFIT_STARTS
    assert len({id(c) for c, _ in refits}) == _capacity.REFIT_STARTS  # each start builds its circuit
    best = max(range(len(refits)), key=lambda i: refits[i][1])
    assert pc.circuit_ is refits[best][0] and pc.history_["train_loglik"][-1] == refits[best][1]


def _fold_fit(score):
    return [{"scores": np.full(5, float(score))}]


def test_a_mixture_kind_grows_past_its_largest_size_while_that_is_its_best():
    """Each kind (shape, reg_covar) whose largest size scores best on the first fold is tried
    with 1.5 and 2 times the components; a kind that peaked inside its sizes is not."""
    full = {"structure": "rat", "reg_covar": 0.0}
    diagonal = {**full, "_diagonal_cov": True}
    tried = [{**full, "n_latents": k} for k in (4, 6, 8)] + [{**diagonal, "n_latents": k} for k in (4, 6, 8)]
    tried.append({"structure": "hclt", "n_latents": 32, "structure_params": {"n_components": 8}})
    fits = [_fold_fit(s) for s in (-3.0, -2.0, -1.0, -1.5, -2.0, -2.5, 0.0)]  # full peaks at 8, diagonal at 4
    grown = _capacity._past_the_edges(tried, fits, n_fitted=1000)
    assert grown == [{**full, "n_latents": 12}, {**full, "n_latents": 16}]
    # Bounded by MAX_MIXTURE_SIZE and by a quarter of the rows a fold's fit is fitted on.
    assert _capacity._past_the_edges(tried, fits, n_fitted=50) == [{**full, "n_latents": 12}]
    largest = _capacity.MAX_MIXTURE_SIZE
    top = [{**full, "n_latents": k} for k in (largest * 3 // 4, largest)]
    assert _capacity._past_the_edges(top, [_fold_fit(-1.0), _fold_fit(0.0)], n_fitted=10**6) == []


def test_a_mixture_kind_stops_growing_where_its_last_step_gained_little():
    """The largest size is the best of its kind but not clearly (within ``GROW_SE``
    standard errors of the paired per-row differences from the next size): no growth."""
    full = {"structure": "rat", "reg_covar": 0.0}
    tried = [{**full, "n_latents": k} for k in (6, 8)]
    noise = np.random.default_rng(0).standard_normal(200)
    below = [{"scores": noise}]
    for gain, grows in ((0.5, True), (0.01, False)):  # per row, against differences of spread 1
        fits = [below, [{"scores": noise + gain + np.random.default_rng(1).standard_normal(200)}]]
        diff = fits[1][0]["scores"] - noise
        assert (diff.mean() > _capacity.GROW_SE * diff.std(ddof=1) / np.sqrt(200)) == grows
        assert bool(_capacity._past_the_edges(tried, fits, n_fitted=1000)) == grows


def test_kernels_grow_narrower_while_the_narrowest_is_their_best():
    """Kernels whose narrowest width scores best get 0.71 and 0.5 times it, down to
    ``KERNEL_MIN_BANDWIDTH``; nothing wider is tried where the widest is best, and the
    HCLTs do not grow."""
    kernel = {"structure": "rat", "n_latents": "auto", "reg_covar": 0.0, "_stop_after": 1}
    widths = [{**kernel, "_kernel_bandwidth": h} for h in (1.0, 0.5, 0.25)]
    rising = [_fold_fit(s) for s in (-3.0, -2.0, -1.0)]
    assert _capacity._past_the_edges(widths, rising, 1000) == [
        {**kernel, "_kernel_bandwidth": 0.25 * 2**-0.5}, {**kernel, "_kernel_bandwidth": 0.25 / 2}]
    narrowest = [{**kernel, "_kernel_bandwidth": h} for h in (2 * _capacity.KERNEL_MIN_BANDWIDTH,
                                                              _capacity.KERNEL_MIN_BANDWIDTH)]
    assert _capacity._past_the_edges(narrowest, rising[:2], 1000) == []
    falling = [_fold_fit(s) for s in (-1.0, -2.0, -3.0)]  # the widest is best: nothing wider is tried
    assert _capacity._past_the_edges(widths, falling, 1000) == []
    tree = {"structure": "hclt", "structure_params": {"n_components": 1}}
    trees = [{**tree, "n_latents": k} for k in (8, 16, 32)]
    assert _capacity._past_the_edges(trees, rising, 1000) == []


def test_a_ring_gets_kernels_narrower_than_the_grid():
    """A thin circle of 800 rows: the narrowest kernel of the grid is the kernels' best, the
    search goes narrower, and the kernel that stays in the race to the last fold has about
    the width ``KernelDensity`` tuned by 5-fold cross-validation chooses."""
    rng = np.random.default_rng(0)
    t = rng.uniform(0, 2 * np.pi, 800)
    X = np.c_[np.cos(t), np.sin(t)] + rng.normal(0, 0.02, (800, 2))
    pc = PCDensityEstimator(random_state=0).fit(X)
    kernels = [r for r in pc.capacity_search_["candidates"] if "_kernel_bandwidth" in r["params"]]
    assert min(r["params"]["_kernel_bandwidth"] for r in kernels) < min(_capacity.KERNEL_BANDWIDTHS)
    raced = max(kernels, key=lambda r: (r["n_folds"], r["valid_loglik"]))
    assert raced["n_folds"] == _capacity.CV_FOLDS
    Xs = (X - X.mean(axis=0)) / X.std(axis=0)
    kde = GridSearchCV(KernelDensity(), {"bandwidth": np.logspace(-2.5, -0.5, 21)}, cv=5).fit(Xs)
    h = raced["params"]["_kernel_bandwidth"] * len(X) ** (-1 / 6)  # on standardised columns
    assert 0.5 < h / kde.best_params_["bandwidth"] < 2


def test_sixteen_blobs_get_sixteen_components():
    """On 16 tight blobs the mixtures grow past 8 components and the refit takes the
    candidate's updates per epoch (its 600 rows in one batch, as a fold's 480 were)."""
    rng = np.random.default_rng(4)
    centres = rng.uniform(-10, 10, (16, 2))
    data = centres[rng.integers(0, 16, 800)] + 0.2 * rng.standard_normal((800, 2))
    X, test = data[:600], data[600:]
    pc = PCDensityEstimator(random_state=0).fit(X)
    sizes = {r["params"]["n_latents"] for r in pc.capacity_search_["candidates"]
             if r["params"]["structure"] == "rat" and "_kernel_bandwidth" not in r["params"]}
    assert {12, 16} <= sizes
    chosen = pc.capacity_search_["chosen"]
    assert chosen["structure"] == "rat" and chosen["n_latents"] >= 16 and chosen["batch_size"] == 600
    assert pc.batch_size == 512  # the user's parameter, untouched
    # As good on new rows as the best of GaussianMixture's 8 or 16 components (within 0.05).
    best = max(GaussianMixture(k, covariance_type=c, random_state=0).fit(X).score(test)
               for k in (8, 16) for c in ("full", "diag"))
    assert pc.score(test) > best - 0.05


@pytest.mark.parametrize("n_fitted, n_rows, batch_size, per_update, expected",
                         [(480, 600, 512, 1, 600), (360, 450, 512, 1, 512), (400, 700, 256, 2, 350),
                          (816, 1020, 512, 1, 512), (1000, 1250, 256, 2, 256)])
def test_the_refit_takes_one_update_per_epoch_where_a_candidate_did(n_fitted, n_rows, batch_size, per_update,
                                                                    expected):
    """A candidate fitted on one batch per update (an EM step per epoch) has its refit take
    one update of all the rows per epoch; elsewhere the refit keeps ``batch_size``."""
    est = PCDensityEstimator(batch_size=batch_size, batches_per_update=per_update)
    assert _capacity._same_updates(est, n_fitted, n_rows) == expected

    def updates(n, batch):
        return -(-n // min(batch * per_update, n))

    one_step = updates(n_fitted, batch_size) == 1
    assert (updates(n_rows, expected) == 1) == one_step
    assert one_step or expected == batch_size
