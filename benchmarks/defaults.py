"""Defaults on the data a user brings: ``PCDensityEstimator()`` against scikit-learn's models.

Prints markdown tables (issue 17):

(a) continuous data, standardised with the training split's statistics
    (``train_test_split(random_state=0)``): wine, breast cancer, diabetes, and synthetic
    rings, moons and spirals (2-D shapes with Gaussian noise columns). Test log-likelihood
    per row of ``PCDensityEstimator(random_state=s)`` (mean over seeds s = 0..4), of the
    structure="hclt" fixed rule (the defaults before issue 17), of ``GaussianMixture()``
    (seeds 0..4), of ``GaussianMixture`` tuned by ``GridSearchCV`` over ``n_components`` x
    ``covariance_type`` x ``reg_covar`` and of ``KernelDensity`` tuned over ``bandwidth``
    (3 folds on the training split, one search each), the target (the best tuned figure
    minus 0.02 nats per feature), and the fit time of the defaults next to one plain fit;
(b) ``load_digits`` (17 grey levels): the defaults against the structure="hclt" rule
    (seeds 0, 1);
(c) contaminated data: ROC AUC of ``-score_samples`` for the outliers (2-10% uniform over
    the data's bounding box, enlarged by a quarter), the model fitted on all the rows as
    in unsupervised anomaly detection (seeds 0..2); ``GaussianMixture`` tuned by BIC and
    ``IsolationForest`` beside;
(d) the choice the defaults made on each set (seed 0);
(f) ``--only more``: section (a)'s protocol on other shapes and sizes (iris, 20 rows of
    linnerud, make_classification, a swiss roll and an S curve, two 1-D modes, 40 rows of
    two 8-D blobs, skewed log-normal columns, ``load_digits`` on its first 10 principal
    components, two circles), with (g) the choices there;
(e) ``--only rules``: variants of the search (``RULES``: one held-out split or 5-fold
    cross-validation, the one-standard-error rule or the best score, the first fold's
    screening, the Gaussian mixtures' covariance prior) compared on validation data
    only: the procedure runs on 75% of each training split and is scored on the other
    25% (the test split is not used), seeds 0..4; the last row is the mean fit seconds;
(h) ``--only variants``: the four synthetic shapes (rings, moons, spirals, blobs) at 300,
    1200 and 3000 rows with 0-6 noise columns, section (a)'s protocol (seeds 0, 1); (i)
    their contaminated versions (2, 5 and 10% outliers, with and without noise columns),
    section (c)'s protocol, beside the *oracle*: the AUC of ranking the rows by the
    density that generated the inliers, which no model fitted on the rows beats on average;
(k) ``--only growth``: the sets where mixtures of more than 8 components or kernels
    narrower than the grid's are tried, with and without them, in one run.
(j) ``--only clusters``: section (c)'s protocol on ``make_blobs`` clusters in 6, 10 and 20
    dimensions and one correlated Gaussian in 5, which chose nothing, and a tight cluster
    inside a wide one in 3, where a diagonal unit collapsed onto three outliers and led to
    the rows a diagonal unit needs (docs/defaults.md).

Run from the repository root: ``PYTHONPATH=. python benchmarks/defaults.py``
(``--quick``: 2 seeds and smaller grids, for a check).
"""

import argparse
import contextlib
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.special import logsumexp
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_linnerud,
    load_wine,
    make_blobs,
    make_circles,
    make_classification,
    make_moons,
    make_s_curve,
    make_swiss_roll,
)
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neighbors import KernelDensity
from sklearn.preprocessing import StandardScaler

from skpc import PCDensityEstimator, _capacity

sys.path.insert(0, str(Path(__file__).resolve().parent))
from missing_and_structures import table, timed  # noqa: E402  (the shared table and timer)


def rings(rng, n=600):
    radius = rng.choice([1.0, 2.5], n) + 0.1 * rng.standard_normal(n)
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])


def moons(rng, n=600):
    return make_moons(n, noise=0.08, random_state=int(rng.integers(2**31)))[0]


def spirals(rng, n=600):
    t = np.sqrt(rng.uniform(0, 1, n)) * 3 * np.pi
    arm = rng.choice([0, np.pi], n)
    X = np.column_stack([t * np.cos(t + arm), t * np.sin(t + arm)])
    return X + 0.3 * rng.standard_normal(X.shape)


def with_noise(shape, n_noise=3):
    def make(rng):
        X = shape(rng)
        return np.column_stack([X, rng.standard_normal((len(X), n_noise))])
    return make


CONTINUOUS = {
    "wine": lambda rng: load_wine().data,
    "breast cancer": lambda rng: load_breast_cancer().data,
    "diabetes": lambda rng: load_diabetes().data,
    "rings + 3 noise": with_noise(rings),
    "moons + 3 noise": with_noise(moons),
    "spirals + 3 noise": with_noise(spirals),
}

#: ``--only more``: other shapes and sizes, tried as a user would (a tiny table, a manifold,
#: skewed columns, one column), the same protocol as section (a).
MORE = {
    "iris": lambda rng: load_iris().data,
    "linnerud (exercise + body)": lambda rng: np.column_stack([load_linnerud().data, load_linnerud().target]),
    "make_classification": lambda rng: make_classification(500, 12, n_informative=6, random_state=0)[0],
    "swiss roll": lambda rng: make_swiss_roll(600, noise=0.3, random_state=0)[0],
    "S curve": lambda rng: make_s_curve(600, noise=0.1, random_state=0)[0],
    "two 1-D modes": lambda rng: np.r_[rng.normal(0, 1, 200), rng.normal(5, 0.5, 100)][:, None],
    "two 8-D blobs": lambda rng: make_blobs(40, 8, centers=2, random_state=0)[0],
    "log-normal 3-D": lambda rng: np.exp(rng.normal(size=(400, 3)) @ np.array([[1, .5, 0], [0, 1, .3],
                                                                                [0, 0, 1]])),
    "digits, 10 principal components": lambda rng: PCA(10, random_state=0).fit_transform(load_digits().data),
    "two circles": lambda rng: make_circles(500, noise=0.05, factor=0.5, random_state=0)[0],
}


def describe(pc):
    chosen = (pc.capacity_search_ or {}).get("chosen")
    if chosen is None:
        return f"{pc.structure_.name}, k={pc.n_latents_} (no search)"
    if "_kernel_bandwidth" in chosen:  # nothing fitted
        return f"kernel density, {chosen['_kernel_bandwidth']:.2f} x Scott's bandwidth"
    if chosen["structure"] == "rat":
        text = f"GMM {chosen['n_latents']} {'diag' if chosen.get('_diagonal_cov') else 'full'}"
    else:
        text = f"HCLT {chosen['structure_params']['n_components']}x{chosen['n_latents']}"
    return f"{text}, reg_covar={chosen.get('reg_covar', 0):g}, {pc.n_iter_} epochs"


def tuned_baselines(train, test, gmm_grid, bandwidths):
    """Test log-likelihood per row of ``GaussianMixture`` tuned over ``gmm_grid`` (and its
    best parameters) and of ``KernelDensity`` tuned over ``bandwidths``: one
    ``GridSearchCV`` each, 3 folds on ``train``. The target is the best of the two less
    0.02 nats per feature."""
    gmm = GridSearchCV(GaussianMixture(random_state=0), gmm_grid, cv=3).fit(train)
    kde = GridSearchCV(KernelDensity(), {"bandwidth": bandwidths}, cv=3).fit(train)
    return gmm.best_estimator_.score(test), gmm.best_params_, np.mean(kde.best_estimator_.score_samples(test))


def gmm_by_bic(X, seed):
    """The ``GaussianMixture`` of lowest BIC over 1-8 components x the four covariance types."""
    fits = [GaussianMixture(k, covariance_type=c, random_state=seed).fit(X)
            for k in range(1, 9) for c in ("full", "diag", "tied", "spherical")]
    return min(fits, key=lambda g: g.bic(X))


def continuous(seeds, quick, sets=CONTINUOUS):
    gmm_grid = {"n_components": [1, 2, 3, 4, 6, 8], "covariance_type": ["full", "diag", "tied", "spherical"],
                "reg_covar": [1e-6, 1e-4, 1e-3, 1e-2, 1e-1]}
    if quick:
        gmm_grid = {"n_components": [1, 2, 4], "covariance_type": ["full", "diag"], "reg_covar": [1e-6, 1e-2]}
    rows, choices = [], []
    for name, make in sets.items():
        X = make(np.random.default_rng(0))
        train, test = train_test_split(X, random_state=0)
        scaler = StandardScaler().fit(train)
        train, test = scaler.transform(train), scaler.transform(test)
        ours, plain, t_ours, t_plain, gm_default = [], [], [], [], []
        for seed in seeds:
            pc, t = timed(PCDensityEstimator(random_state=seed), train)
            ours.append(pc.score(test))
            t_ours.append(t)
            if seed == seeds[0]:
                search = pc.capacity_search_
                choices.append([name, describe(pc), f"{search['seconds']:.1f}" if search else "-"])
            fixed, t = timed(PCDensityEstimator(structure="hclt", random_state=seed), train)
            plain.append(fixed.score(test))
            t_plain.append(t)
            gm_default.append(GaussianMixture(random_state=seed).fit(train).score(test))
        gmm, gp, kde = tuned_baselines(train, test, gmm_grid, np.logspace(-1, 0.5, 16))
        tuned = {"GMM": gmm, "KDE": kde}
        target = max(tuned.values()) - 0.02 * X.shape[1]
        mean = np.mean(ours)
        met = "yes" if mean >= target and mean > np.mean(gm_default) else "**no**"
        rows.append([
            f"{name} ({X.shape[0]}x{X.shape[1]})", f"**{mean:.2f}** ± {np.std(ours):.2f}",
            f"{np.mean(plain):.2f}", f"{np.mean(gm_default):.2f}",
            f"{tuned['GMM']:.2f} ({gp['n_components']} {gp['covariance_type']}, {gp['reg_covar']:g})",
            f"{tuned['KDE']:.2f}", f"{target:.2f}", met,
            f"{np.mean(t_ours):.2f} / {np.mean(t_plain):.2f} ({np.mean(t_ours) / np.mean(t_plain):.1f}x)",
        ])
        print(rows[-1], flush=True)
    header = ["data set (n x d)", "defaults", "hclt rule (before)", "GaussianMixture()", "GMM tuned",
              "KDE tuned", "target", "met?", "fit s: defaults / hclt rule"]
    return table(header, rows), choices


def digits(seeds):
    X = load_digits().data
    train, test = train_test_split(X, test_size=0.25, random_state=0)
    ours, plain, t_ours, t_plain, choice = [], [], [], [], ""
    for seed in seeds:
        pc, t = timed(PCDensityEstimator(n_categories=17, random_state=seed), train)
        ours.append(pc.score(test))
        t_ours.append(t)
        choice = choice or describe(pc)
        fixed, t = timed(PCDensityEstimator(structure="hclt", n_categories=17, random_state=seed), train)
        plain.append(fixed.score(test))
        t_plain.append(t)
    row = [f"digits ({X.shape[0]}x{X.shape[1]})", f"{np.mean(ours):.2f} ± {np.std(ours):.2f}",
           f"{np.mean(plain):.2f} ± {np.std(plain):.2f}", choice,
           f"{np.mean(t_ours):.1f} / {np.mean(t_plain):.1f} ({np.mean(t_ours) / np.mean(t_plain):.1f}x)"]
    print(row, flush=True)
    header = ["data set", "defaults", "hclt rule (before)", "choice (seed 0)", "fit s: defaults / hclt rule"]
    return table(header, [row])


BLOB_CENTRES = np.array([[0.0, 0.0], [4.0, 1.0], [1.0, 5.0]])


def blobs(rng, n=1000):
    return BLOB_CENTRES[rng.integers(0, 3, n)] + 0.3 * rng.standard_normal((n, 2))


CONTAMINATED = [("3 blobs (2-D)", blobs, 0.02), ("3 blobs (2-D)", blobs, 0.05),
                ("3 blobs (2-D)", blobs, 0.10),
                ("moons + 3 noise (5-D)", with_noise(lambda r: moons(r, 1000)), 0.05),
                ("rings + 3 noise (5-D)", with_noise(lambda r: rings(r, 1000)), 0.05)]


def _blobs_in(d, centres, spread=1.0):
    """``make_blobs`` rows in ``d`` dimensions, their centres drawn from ``rng``."""
    return lambda rng, n: make_blobs(n, d, centers=centres, cluster_std=spread,
                                     random_state=int(rng.integers(2**31 - 1)))[0]


def _correlated(rng, n, d=5):
    return rng.standard_normal((n, d)) @ rng.standard_normal((d, d))


def _tight_in_wide(rng, n, d=3):
    """A quarter of the rows in a tight cluster (spread 0.05) at the centre of a wide one (2)."""
    return np.r_[rng.normal(0, 0.05, (n // 4, d)), rng.normal(0, 2, (n - n // 4, d))]


#: ``--only clusters``: section (c)'s protocol on clusters in 3-20 dimensions that chose
#: nothing (another draw per seed, as in section (c)).
CLUSTERS = [(f"{name} ({d}-D)", lambda rng, make=make, n=n: make(rng, n), share)
            for name, d, make, n in [
                ("4 blobs", 10, _blobs_in(10, 4), 1000),
                ("3 blobs, spreads 0.5 / 1 / 2", 6, _blobs_in(6, 3, [0.5, 1.0, 2.0]), 800),
                ("one correlated Gaussian", 5, _correlated, 500),
                ("5 blobs", 20, _blobs_in(20, 5), 1000),
                ("a tight cluster in a wide one", 3, _tight_in_wide, 400)]
            for share in (0.02, 0.05, 0.10)]


def contaminated_data(make, share, seed, raw=False):
    """Inliers from ``make`` plus ``share`` as many rows uniform over their bounding box
    enlarged by a quarter, standardised (``raw``: as drawn); and whether each row is an
    outlier."""
    rng = np.random.default_rng(100 + seed)
    inliers = make(rng)
    low, high = inliers.min(axis=0), inliers.max(axis=0)
    pad = 0.25 * (high - low)
    n_out = int(round(share * len(inliers)))
    X = np.vstack([inliers, rng.uniform(low - pad, high + pad, (n_out, inliers.shape[1]))])
    return X if raw else StandardScaler().fit_transform(X), np.r_[np.zeros(len(inliers)), np.ones(n_out)]


def contaminated(seeds, settings=CONTAMINATED):
    rows = []
    for name, make, share in settings:
        auc = {"defaults": [], "GMM by BIC": [], "IsolationForest": []}
        for seed in seeds:
            X, y = contaminated_data(make, share, seed)
            pc = PCDensityEstimator(random_state=seed).fit(X)
            auc["defaults"].append(roc_auc_score(y, -pc.score_samples(X)))
            auc["GMM by BIC"].append(roc_auc_score(y, -gmm_by_bic(X, seed).score_samples(X)))
            forest = IsolationForest(random_state=seed).fit(X)
            auc["IsolationForest"].append(roc_auc_score(y, -forest.score_samples(X)))
        means = {k: np.mean(v) for k, v in auc.items()}
        ok = means["defaults"] >= 0.97 and means["defaults"] >= means["GMM by BIC"] - 1e-9
        met = "yes" if ok else "**no**"
        rows.append([name, f"{share:.0%}", f"**{means['defaults']:.4f}** (min {min(auc['defaults']):.4f})",
                     f"{means['GMM by BIC']:.4f}", f"{means['IsolationForest']:.4f}", met])
        print(rows[-1], flush=True)
    return table(["data set", "outliers", "defaults", "GMM tuned by BIC", "IsolationForest", "met?"], rows)


def _log_curve_density(P, curve, weights, sd):
    """log of sum_j weights_j N(P; curve_j, sd^2 I) (up to a constant): a density spread
    along a curve by isotropic noise, in chunks of rows."""
    out = np.empty(len(P))
    for i in range(0, len(P), 256):
        d2 = ((P[i:i + 256, None, :] - curve[None]) ** 2).sum(axis=2)
        out[i:i + 256] = logsumexp(-0.5 * d2 / sd**2, b=weights, axis=1)
    return out


def _moons_curve():
    t = np.linspace(0, np.pi, 2000)
    curve = np.r_[np.c_[np.cos(t), np.sin(t)], np.c_[1 - np.cos(t), 1 - np.sin(t) - 0.5]]
    return curve, np.full(len(curve), 1.0 / len(curve))


def _spirals_curve():
    t = np.linspace(0, 3 * np.pi, 3000)[1:]
    weight = t / t.sum() / 2  # t = 3 pi sqrt(U): density proportional to t, two arms
    arms = [np.c_[t * np.cos(t + arm), t * np.sin(t + arm)] for arm in (0, np.pi)]
    return np.r_[arms[0], arms[1]], np.r_[weight, weight]


#: The log-density (up to a constant) that generated each shape's inliers, of raw rows.
TRUE_LOG_DENSITY = {
    "blobs": lambda P: logsumexp(-0.5 * ((P[:, None] - BLOB_CENTRES) ** 2).sum(axis=2) / 0.3**2, axis=1),
    "rings": lambda P: (logsumexp(-0.5 * (np.hypot(*P.T)[:, None] - [1.0, 2.5]) ** 2 / 0.1**2, axis=1)
                        - np.log(np.hypot(*P.T))),  # radius ~ N(1 or 2.5, 0.1), angle uniform
    "moons": lambda P: _log_curve_density(P, *_moons_curve(), 0.08),
    "spirals": lambda P: _log_curve_density(P, *_spirals_curve(), 0.3),
}

SHAPES = {"rings": rings, "moons": moons, "spirals": spirals, "blobs": blobs}


def shape_with_noise(shape, n, n_noise):
    """``n`` rows of a 2-D shape and ``n_noise`` standard normal columns."""
    def make(rng):
        X = SHAPES[shape](rng, n)
        return np.column_stack([X, rng.standard_normal((n, n_noise))]) if n_noise else X
    return make


def oracle_auc(shape, X_raw, y):
    """ROC AUC of ranking the rows by the density that generated the inliers: what no
    density model fitted on these rows can beat on average."""
    log_density = TRUE_LOG_DENSITY[shape](X_raw[:, :2]) - 0.5 * (X_raw[:, 2:] ** 2).sum(axis=1)
    return roc_auc_score(y, -log_density)


def variants():
    """(h) the shapes at other sizes and numbers of noise columns, section (a)'s protocol
    with 2 seeds and a smaller GaussianMixture grid; (i) contaminated variants, section
    (c)'s protocol, with the oracle's AUC."""
    grid = {"n_components": [1, 2, 3, 4, 6, 8], "covariance_type": ["full", "diag"],
            "reg_covar": [1e-6, 1e-3, 1e-1]}
    density = []
    for shape in SHAPES:
        for n, n_noise in ((300, 0), (300, 2), (1200, 1), (1200, 6), (3000, 3)):
            X = shape_with_noise(shape, n, n_noise)(np.random.default_rng(7))
            train, test = train_test_split(X, random_state=0)
            scaler = StandardScaler().fit(train)
            train, test = scaler.transform(train), scaler.transform(test)
            fits = [timed(PCDensityEstimator(random_state=seed), train) for seed in (0, 1)]
            ours = np.mean([pc.score(test) for pc, _ in fits])
            plain = GaussianMixture(random_state=0).fit(train).score(test)
            gmm, _, kde = tuned_baselines(train, test, grid, np.logspace(-1.3, 0.5, 16))
            target = max(gmm, kde) - 0.02 * X.shape[1]
            met = "yes" if ours >= target and ours > plain else "**no**"
            density.append([f"{shape} {n}x{X.shape[1]}", f"**{ours:.3f}**", f"{plain:.3f}", f"{gmm:.3f}",
                            f"{kde:.3f}", f"{target:.3f}", met, f"{np.mean([t for _, t in fits]):.2f}"])
            print(density[-1], flush=True)
    outliers = []
    for shape in SHAPES:
        for share in (0.02, 0.05, 0.10):
            for n_noise in ((0, 2) if shape == "blobs" else (0, 3)):
                auc = {"defaults": [], "BIC": [], "oracle": []}
                make = shape_with_noise(shape, 1000, n_noise)
                for seed in (0, 1, 2):
                    X, y = contaminated_data(make, share, seed)
                    auc["defaults"].append(roc_auc_score(y, -PCDensityEstimator(random_state=seed).fit(X)
                                                         .score_samples(X)))
                    auc["BIC"].append(roc_auc_score(y, -gmm_by_bic(X, seed).score_samples(X)))
                    raw = contaminated_data(make, share, seed, raw=True)[0]
                    auc["oracle"].append(oracle_auc(shape, raw, y))
                means = {k: np.mean(v) for k, v in auc.items()}
                met = ("yes" if means["defaults"] >= means["BIC"] else "**no**") + (
                    "" if means["defaults"] >= 0.97 else ", < 0.97")
                outliers.append([f"{shape} {2 + n_noise}-D", f"{share:.0%}", f"**{means['defaults']:.4f}**",
                                 f"{means['BIC']:.4f}", f"{means['oracle']:.4f}", met])
                print(outliers[-1], flush=True)
    return (table(["data set (n x d)", "defaults", "GaussianMixture()", "GMM tuned", "KDE tuned", "target",
                   "met?", "fit s"], density),
            table(["data set", "outliers", "defaults", "GMM by BIC", "oracle", "defaults >= BIC?"], outliers))


#: The search's rules with the estimator's (the one-standard-error rule) taking the best score.
_BEST_SCORE = {**_capacity.RULES, PCDensityEstimator._capacity_rule: _capacity._best_score}

RULES = {  # name: the _capacity settings of the variant (the others as shipped)
    "one split, 1-SE": {"CV_MAX_CELLS": 0},
    "one split, best score": {"CV_MAX_CELLS": 0, "RULES": _BEST_SCORE},
    "5 folds, 1-SE, covariance prior (shipped)": {},
    "5 folds, best score": {"RULES": _BEST_SCORE},
    "5 folds, 1-SE, no screening": {"SCREEN_SE": 1e9},
    "5 folds, 1-SE, no covariance prior": {"COV_PRIOR_ROWS": 0.0},
}


@contextlib.contextmanager
def patched(settings):
    """``_capacity``'s module settings replaced by ``settings`` (name: value) inside the
    block, the shipped ones restored after it."""
    shipped = {name: getattr(_capacity, name) for name in settings}
    vars(_capacity).update(settings)
    try:
        yield
    finally:
        vars(_capacity).update(shipped)


def rules(seeds):
    """Validation log-likelihood of each search rule (never the test split), and the mean
    fit seconds of each rule over all the sets."""
    rows, seconds = [], {name: 0.0 for name in RULES}
    for name, make in CONTINUOUS.items():
        X = make(np.random.default_rng(0))
        train = train_test_split(X, random_state=0)[0]
        inner, valid = train_test_split(train, test_size=0.25, random_state=1)
        scaler = StandardScaler().fit(inner)
        inner, valid = scaler.transform(inner), scaler.transform(valid)
        row = [name]
        for rule, variant in RULES.items():
            scores = []
            with patched(variant):
                for seed in seeds:
                    pc, t = timed(PCDensityEstimator(random_state=seed), inner)
                    scores.append(pc.score(valid))
                    seconds[rule] += t / len(seeds) / len(CONTINUOUS)
            row.append(f"{np.mean(scores):.2f} (min {min(scores):.2f})")
        rows.append(row)
        print(row, flush=True)
    rows.append(["mean fit s", *(f"{seconds[r]:.2f}" for r in RULES)])
    return table(["data set", *RULES], rows)


def thin_ring(rng, n=800, noise=0.02):
    """A circle of radius 1 with Gaussian noise of ``noise`` across it (tests/test_capacity.py's)."""
    t = rng.uniform(0, 2 * np.pi, n)
    return np.c_[np.cos(t), np.sin(t)] + rng.normal(0, noise, (n, 2))


#: ``--only growth``: sets where mixtures of more than 8 components or kernels narrower
#: than the grid's were tried (the grid's edge clearly best), a shape of section (h) among
#: them.
GROWTH = {
    "16 blobs (3-D)": lambda rng: make_blobs(800, 3, centers=16, cluster_std=0.4, random_state=4)[0],
    "breast cancer": CONTINUOUS["breast cancer"],
    "diabetes": CONTINUOUS["diabetes"],
    "swiss roll": MORE["swiss roll"],
    "S curve": MORE["S curve"],
    "rings 1200x3": lambda rng: shape_with_noise("rings", 1200, 1)(np.random.default_rng(7)),
    "spirals 1200x3": lambda rng: shape_with_noise("spirals", 1200, 1)(np.random.default_rng(7)),
    "moons 1200x3": lambda rng: shape_with_noise("moons", 1200, 1)(np.random.default_rng(7)),
    "two circles": MORE["two circles"],
    "a thin ring": thin_ring,
}


def growth(seeds):
    """(k) Test log-likelihood per row with the grids' edges grown (as shipped) and
    without (``MAX_MIXTURE_SIZE`` = the grid's largest size, ``KERNEL_MIN_BANDWIDTH`` its
    narrowest width, the refit's batches as given), in one run, section (a)'s split."""
    rows = []
    for name, make in GROWTH.items():
        X = make(np.random.default_rng(0))
        train, test = train_test_split(X, random_state=0)
        scaler = StandardScaler().fit(train)
        train, test = scaler.transform(train), scaler.transform(test)
        scores, seconds = {}, {}
        for variant in ("grown", "grid only"):
            patch = {} if variant == "grown" else {
                "MAX_MIXTURE_SIZE": max(_capacity.MIXTURE_SIZES),
                "KERNEL_MIN_BANDWIDTH": min(_capacity.KERNEL_BANDWIDTHS),
                "_same_updates": lambda est, n_fitted, n_rows: est.batch_size}
            with patched(patch):
                fits = [timed(PCDensityEstimator(random_state=seed), train) for seed in seeds]
            scores[variant] = np.mean([pc.score(test) for pc, _ in fits])
            seconds[variant] = np.mean([t for _, t in fits])
            if variant == "grown":
                chosen = describe(fits[0][0])
        rows.append([f"{name} ({X.shape[0]}x{X.shape[1]})", f"**{scores['grown']:.3f}**",
                     f"{scores['grid only']:.3f}", chosen, f"{seconds['grown'] / seconds['grid only']:.2f}"])
        print(rows[-1], flush=True)
    header = ["data set (n x d)", "grown (defaults)", "grid only", "choice (seed 0)", "fit time ratio"]
    return table(header, rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="+", default=["continuous", "digits", "contaminated"],
                        choices=["continuous", "more", "digits", "contaminated", "clusters", "rules",
                                 "variants", "growth"])
    args = parser.parse_args()
    seeds = [0, 1] if args.quick else [0, 1, 2, 3, 4]
    warnings.filterwarnings("ignore", category=UserWarning)  # KernelDensity/GMM grid points
    start = time.perf_counter()
    sections = []
    if "continuous" in args.only:
        body, choices = continuous(seeds, args.quick)
        sections.append(("(a) Continuous data, standardised: test log-likelihood per row", body))
        sections.append(("(d) The defaults' choice (seed 0) and the search's seconds",
                         table(["data set", "choice", "search s"], choices)))
    if "more" in args.only:
        body, choices = continuous(seeds, args.quick, MORE)
        sections.append(("(f) More shapes and sizes, standardised: test log-likelihood per row", body))
        sections.append(("(g) The defaults' choice there (seed 0)",
                         table(["data set", "choice", "search s"], choices)))
    if "variants" in args.only:
        density, outliers = variants()
        sections.append(("(h) The shapes at other sizes and noise columns: test log-likelihood per row "
                         "(seeds 0, 1)", density))
        sections.append(("(i) Contaminated variants: ROC AUC (seeds 0-2), with the oracle's", outliers))
    if "digits" in args.only:
        sections.append(("(b) load_digits (17 grey levels), test log-likelihood", digits(seeds[:2])))
    if "contaminated" in args.only:
        sections.append(("(c) Contaminated data: ROC AUC of -score_samples (mean over seeds)",
                         contaminated(seeds[:3])))
    if "clusters" in args.only:
        sections.append(("(j) Clusters in 3-20 dimensions, contaminated: ROC AUC (mean over seeds)",
                         contaminated(seeds[:3], CLUSTERS)))
    if "growth" in args.only:
        sections.append(("(k) Mixtures grown past 8 components, and the grid alone (seeds 0-2)",
                         growth(seeds[:3])))
    if "rules" in args.only:
        sections.append(("(e) Search rules on validation data (75/25 split of the training rows)",
                         rules(seeds)))
    print("\n\n".join(f"### {title}\n\n{body}" for title, body in sections))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
