"""Defaults on the data a user brings: ``PCDensityEstimator()`` against scikit-learn's models.

Prints four markdown tables (issue 17):

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
    two 8-D blobs, skewed log-normal columns), with (g) the choices there;
(e) ``--only rules``: variants of the search (``RULES``: one held-out split or 5-fold
    cross-validation, the one-standard-error rule or the best score, the first fold's
    screening, the Gaussian mixtures' covariance prior) compared on validation data
    only: the procedure runs on 75% of each training split and is scored on the other
    25% (the test split is not used), seeds 0..4; the last row is the mean fit seconds.

Run from the repository root: ``PYTHONPATH=. python benchmarks/defaults.py``
(``--quick``: 2 seeds and smaller grids, for a check).
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    load_linnerud,
    load_wine,
    make_blobs,
    make_classification,
    make_moons,
    make_s_curve,
    make_swiss_roll,
)
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
}


def describe(pc):
    chosen = (pc.capacity_search_ or {}).get("chosen")
    if chosen is None:
        return f"{pc.structure_.name}, k={pc.n_latents_} (no search)"
    if "_kernel_bandwidth" in chosen:
        text = f"kernel density, {chosen['_kernel_bandwidth']:.2f} x Scott's bandwidth"
    elif chosen["structure"] == "rat":
        text = f"GMM {chosen['n_latents']} {'diag' if chosen.get('_diagonal_cov') else 'full'}"
    else:
        text = f"HCLT {chosen['structure_params']['n_components']}x{chosen['n_latents']}"
    return f"{text}, reg_covar={chosen.get('reg_covar', 0):g}, {pc.n_iter_} epochs"


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
        gmm = GridSearchCV(GaussianMixture(random_state=0), gmm_grid, cv=3).fit(train)
        kde = GridSearchCV(KernelDensity(), {"bandwidth": np.logspace(-1, 0.5, 16)}, cv=3).fit(train)
        tuned = {"GMM": gmm.best_estimator_.score(test),
                 "KDE": np.mean(kde.best_estimator_.score_samples(test))}
        target = max(tuned.values()) - 0.02 * X.shape[1]
        mean = np.mean(ours)
        met = "yes" if mean >= target and mean > np.mean(gm_default) else "**no**"
        gp = gmm.best_params_
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


def blobs(rng, n=1000):
    centres = np.array([[0, 0], [4, 1], [1, 5]])
    return centres[rng.integers(0, 3, n)] + 0.3 * rng.standard_normal((n, 2))


CONTAMINATED = [("3 blobs (2-D)", blobs, 0.02), ("3 blobs (2-D)", blobs, 0.05),
                ("3 blobs (2-D)", blobs, 0.10),
                ("moons + 3 noise (5-D)", with_noise(lambda r: moons(r, 1000)), 0.05),
                ("rings + 3 noise (5-D)", with_noise(lambda r: rings(r, 1000)), 0.05)]


def contaminated_data(make, share, seed):
    """Inliers from ``make`` plus ``share`` as many rows uniform over their bounding box
    enlarged by a quarter, standardised; and whether each row is an outlier."""
    rng = np.random.default_rng(100 + seed)
    inliers = make(rng)
    low, high = inliers.min(axis=0), inliers.max(axis=0)
    pad = 0.25 * (high - low)
    n_out = int(round(share * len(inliers)))
    outliers = rng.uniform(low - pad, high + pad, (n_out, inliers.shape[1]))
    X = StandardScaler().fit_transform(np.vstack([inliers, outliers]))
    return X, np.r_[np.zeros(len(inliers)), np.ones(n_out)]


def contaminated(seeds):
    rows = []
    for name, make, share in CONTAMINATED:
        auc = {"defaults": [], "GMM by BIC": [], "IsolationForest": []}
        for seed in seeds:
            X, y = contaminated_data(make, share, seed)
            pc = PCDensityEstimator(random_state=seed).fit(X)
            auc["defaults"].append(roc_auc_score(y, -pc.score_samples(X)))
            fits = [GaussianMixture(k, covariance_type=c, random_state=seed).fit(X)
                    for k in range(1, 9) for c in ("full", "diag", "tied", "spherical")]
            gmm = min(fits, key=lambda g: g.bic(X))
            auc["GMM by BIC"].append(roc_auc_score(y, -gmm.score_samples(X)))
            forest = IsolationForest(random_state=seed).fit(X)
            auc["IsolationForest"].append(roc_auc_score(y, -forest.score_samples(X)))
        means = {k: np.mean(v) for k, v in auc.items()}
        ok = means["defaults"] >= 0.97 and means["defaults"] >= means["GMM by BIC"] - 1e-9
        met = "yes" if ok else "**no**"
        rows.append([name, f"{share:.0%}", f"**{means['defaults']:.3f}** (min {min(auc['defaults']):.3f})",
                     f"{means['GMM by BIC']:.3f}", f"{means['IsolationForest']:.3f}", met])
        print(rows[-1], flush=True)
    return table(["data set", "outliers", "defaults", "GMM tuned by BIC", "IsolationForest", "met?"], rows)


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


def rules(seeds):
    """Validation log-likelihood of each search rule (never the test split), and the mean
    fit seconds of each rule over all the sets."""
    shipped = {name: getattr(_capacity, name) for variant in RULES.values() for name in variant}
    rows, seconds = [], {name: 0.0 for name in RULES}
    for name, make in CONTINUOUS.items():
        X = make(np.random.default_rng(0))
        train = train_test_split(X, random_state=0)[0]
        inner, valid = train_test_split(train, test_size=0.25, random_state=1)
        scaler = StandardScaler().fit(inner)
        inner, valid = scaler.transform(inner), scaler.transform(valid)
        row = [name]
        for rule, variant in RULES.items():
            for attr, value in variant.items():
                setattr(_capacity, attr, value)
            scores = []
            for seed in seeds:
                pc, t = timed(PCDensityEstimator(random_state=seed), inner)
                scores.append(pc.score(valid))
                seconds[rule] += t / len(seeds) / len(CONTINUOUS)
            for attr, value in shipped.items():
                setattr(_capacity, attr, value)
            row.append(f"{np.mean(scores):.2f} (min {min(scores):.2f})")
        rows.append(row)
        print(row, flush=True)
    rows.append(["mean fit s", *(f"{seconds[r]:.2f}" for r in RULES)])
    return table(["data set", *RULES], rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", nargs="+", default=["continuous", "digits", "contaminated"],
                        choices=["continuous", "more", "digits", "contaminated", "rules"])
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
    if "digits" in args.only:
        sections.append(("(b) load_digits (17 grey levels), test log-likelihood", digits(seeds[:2])))
    if "contaminated" in args.only:
        sections.append(("(c) Contaminated data: ROC AUC of -score_samples (mean over seeds)",
                         contaminated(seeds[:3])))
    if "rules" in args.only:
        sections.append(("(e) Search rules on validation data (75/25 split of the training rows)",
                         rules(seeds)))
    print("\n\n".join(f"### {title}\n\n{body}" for title, body in sections))
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
