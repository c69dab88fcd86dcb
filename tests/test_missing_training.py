"""Training with missing values (NaN, missing at random) for every leaf type and solver."""

import numpy as np
import pytest
from scipy.stats import norm

from skpc import PCDensityEstimator


def latent_data(kind, n, seed):
    """Six columns driven by a hidden 3-state variable: strong dependencies to learn."""
    rng = np.random.default_rng(seed)
    z = rng.integers(3, size=n)
    gaussian = z[:, None] * 2.0 + rng.normal(size=(n, 6))
    categorical = np.where(rng.random((n, 6)) < 0.8, z[:, None], rng.integers(3, size=(n, 6)))
    if kind == "gaussian":
        return gaussian
    if kind == "categorical":
        return categorical.astype(float)
    return np.column_stack([gaussian[:, :3], categorical[:, 3:]]).astype(float)


def independent_loglik(train, test, kinds):
    """Held-out log-likelihood of the best fully factorised model fitted on the observed entries."""
    total = np.zeros(len(test))
    for j, kind in enumerate(kinds):
        col = train[~np.isnan(train[:, j]), j]
        if kind == "gaussian":
            total += norm.logpdf(test[:, j], col.mean(), col.std())
        else:
            freq = np.bincount(col.astype(int), minlength=3) / len(col)
            total += np.log(freq[test[:, j].astype(int)])
    return total.mean()


@pytest.mark.parametrize("kind", ["categorical", "gaussian", "mixed"])
@pytest.mark.parametrize("solver", ["em", "minibatch_em", "anemone"])
def test_fit_with_missing_values_learns_the_dependencies(kind, solver):
    train, test = latent_data(kind, 600, 0), latent_data(kind, 300, 1)
    holes = train.copy()
    holes[np.random.default_rng(2).random(train.shape) < 0.3] = np.nan
    pc = PCDensityEstimator(n_latents=4, solver=solver, batch_size=100, step_size=0.5, max_iter=15,
                            dtype="float64", random_state=0).fit(holes)
    kinds = pc.leaf_types_.tolist()
    assert kinds == {"gaussian": ["gaussian"] * 6, "categorical": ["categorical"] * 6,
                     "mixed": ["gaussian"] * 3 + ["categorical"] * 3}[kind]
    assert np.all(np.isfinite(pc.history_["train_loglik"]))
    # The hidden variable explains about a nat per row over the independent model.
    assert pc.score(test) > independent_loglik(holes, test, kinds) + 0.5
    # Missing entries in the queries are marginalised: finite, and for categorical columns
    # p(observed part) >= p(complete row).
    scores = pc.score_samples(holes[:50])
    assert np.all(np.isfinite(scores))
    if kind == "categorical":
        assert np.all(scores >= pc.score_samples(train[:50]) - 1e-12)


@pytest.mark.parametrize("kind", ["categorical", "mixed"])
def test_full_batch_em_with_missing_values_is_monotone(kind):
    X = latent_data(kind, 400, 3)
    X[np.random.default_rng(4).random(X.shape) < 0.3] = np.nan
    pc = PCDensityEstimator(n_latents=3, solver="em", max_iter=20, pseudocount=0.0, min_var=1e-6,
                            dtype="float64", random_state=0).fit(X)
    # The training log-likelihood here is the marginal one of the observed entries, which EM
    # never lowers.
    assert np.all(np.diff(pc.history_["train_loglik"]) > -1e-9)
    assert pc.history_["train_loglik"][-1] > pc.history_["train_loglik"][0] + 0.5
    # The history holds each epoch's log-likelihood before its update; EM's last update
    # cannot lower it either.
    assert pc.score(X) >= pc.history_["train_loglik"][-1] - 1e-9
