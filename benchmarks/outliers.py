"""Outlier benchmark: PCOutlierDetector against scikit-learn's outlier detectors.

Each detector is fitted on a contaminated set and scores the same rows (the unsupervised
setting these detectors are used in); the table reports the ROC AUC of the scores and the
precision at the true contamination (the share of true outliers among the ``n_outliers``
lowest-scored rows), as means over the seeds (synthetic sets) or the anomaly classes
(digits).

Sets: ``blobs`` (three 2-D Gaussian clusters) and ``moons`` (two interleaved 2-D
half-circles) and ``mixture10d`` (four correlated Gaussian clusters in 10-D), each with 5%
rows drawn uniformly from the bounding box; ``digits``: the images of nine classes with
5% images of the tenth as anomalies (each of the first ``--digits`` classes in turn);
``nltcs``: 3000 rows of the binary nltcs set with 5% rows whose entries are shuffled
column by column (each value stays as common, only the combinations are odd). The
continuous sets are standardised for every method; digits and nltcs are given as they are
(grey levels and 0/1 values).

``PCOutlierDetector`` has the estimator's default ``structure="auto"`` (its capacity
chosen on held-out rows); ``PCOutlierDetector(structure="hclt")`` is the fixed HCLT rule
(a mixture of 8 HCLTs with 8 states on these sizes), the detector's default before.

Run from the repository root::

    PYTHONPATH=. python benchmarks/outliers.py [--seeds 3] [--digits 10] \\
        [--out benchmarks/results/outliers.jsonl]
    PYTHONPATH=. python benchmarks/outliers.py --print benchmarks/results/outliers.jsonl

Every method runs with one BLAS thread (the machines are shared).
"""

import time
import warnings

import _records
import numpy as np
from sklearn.covariance import EllipticEnvelope
from sklearn.datasets import load_digits, make_blobs, make_moons
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from skpc import PCOutlierDetector
from skpc.datasets import load_debd

FRACTION = 0.05
SETS = ("blobs", "moons", "mixture10d", "digits", "nltcs")


def _with_uniform_noise(X, rng):
    n_out = int(round(FRACTION / (1 - FRACTION) * len(X)))
    low, high = X.min(axis=0), X.max(axis=0)
    noise = rng.uniform(low, high, size=(n_out, X.shape[1]))
    return np.vstack([X, noise]), np.r_[np.zeros(len(X)), np.ones(n_out)]


def tasks(name, n_seeds, n_digits=10):
    """``(X, is_outlier, continuous)`` for each seed or anomaly class of a set."""
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        for k in range(n_digits):
            rng = np.random.default_rng(k)
            inliers = X[y != k]
            n_out = int(round(FRACTION / (1 - FRACTION) * len(inliers)))
            odd = X[y == k][rng.choice(np.sum(y == k), n_out, replace=False)]
            yield np.vstack([inliers, odd]), np.r_[np.zeros(len(inliers)), np.ones(n_out)], False
        return
    for seed in range(n_seeds):
        rng = np.random.default_rng(seed)
        if name == "blobs":
            X, _ = make_blobs(950, 2, centers=3, cluster_std=[1.0, 1.5, 0.5], random_state=seed)
        elif name == "moons":
            X, _ = make_moons(950, noise=0.08, random_state=seed)
        elif name == "mixture10d":
            centres = rng.normal(scale=4.0, size=(4, 10))
            mixing = [rng.normal(size=(10, 10)) / np.sqrt(10) for _ in range(4)]
            which = rng.integers(0, 4, 950)
            X = np.stack([centres[c] + rng.normal(size=10) @ mixing[c] for c in which])
        else:  # nltcs with shuffled rows
            data = load_debd("nltcs", "train")
            data = data[rng.choice(len(data), 3000, replace=False)]
            n_out = int(round(FRACTION / (1 - FRACTION) * len(data)))
            odd = np.column_stack([rng.permutation(col)[:n_out] for col in data.T])
            yield np.vstack([data, odd]), np.r_[np.zeros(len(data)), np.ones(n_out)], False
            continue
        X, is_out = _with_uniform_noise(X, rng)
        yield X, is_out, True


def detectors(seed):
    """Name -> function returning the scores of the rows it is fitted on (low = outlier)."""

    def pc(refit, **params):
        return lambda X: PCOutlierDetector(contamination=FRACTION, refit_inliers=refit, random_state=seed,
                                           **params).fit(X).score_samples(X)

    def lof(X):
        return LocalOutlierFactor(n_neighbors=20).fit(X).negative_outlier_factor_

    return {
        "PCOutlierDetector": pc(False),
        "PCOutlierDetector(refit_inliers=True)": pc(True),
        'PCOutlierDetector(structure="hclt")': pc(False, structure="hclt"),
        "IsolationForest": lambda X: IsolationForest(random_state=seed).fit(X).score_samples(X),
        "LocalOutlierFactor": lof,
        "EllipticEnvelope": lambda X: EllipticEnvelope(contamination=FRACTION, random_state=seed)
        .fit(X).score_samples(X),
        "OneClassSVM": lambda X: OneClassSVM(nu=FRACTION, gamma="scale").fit(X).score_samples(X),
    }


def run(name, args):
    records = []
    for i, (X, is_out, continuous) in enumerate(tasks(name, args.seeds, args.digits)):
        if continuous:
            X = StandardScaler().fit_transform(X)
        n_out = int(is_out.sum())
        for method, score in detectors(i).items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s = np.asarray(score(X), dtype=float)
            seconds = time.perf_counter() - start
            lowest = np.argsort(s, kind="stable")[:n_out]
            records.append({"set": name, "task": i, "method": method, "rows": len(X), "features": X.shape[1],
                            "auc": roc_auc_score(is_out, -s), "precision": float(is_out[lowest].mean()),
                            "seconds": seconds})
        print(f"  {name} task {i + 1} done", flush=True)
    return records


def table(records):
    """One markdown table: mean AUC and precision per set and method; bold = best."""
    sets = list(dict.fromkeys(r["set"] for r in records))
    methods = list(dict.fromkeys(r["method"] for r in records))

    def mean(s, m, key):
        return np.mean([r[key] for r in records if r["set"] == s and r["method"] == m])

    lines = ["| method | " + " | ".join(f"{s} AUC | {s} prec." for s in sets) + " | mean AUC | mean s |",
             "|---" * (2 * len(sets) + 3) + "|"]
    mean_auc = {m: np.mean([mean(s, m, "auc") for s in sets]) for m in methods}
    for m in methods:
        cells = []
        for s in sets:
            for key in ("auc", "precision"):
                value, top = mean(s, m, key), max(mean(s, o, key) for o in methods)
                cells.append(f"**{value:.3f}**" if value == top else f"{value:.3f}")
        auc = f"**{mean_auc[m]:.3f}**" if mean_auc[m] == max(mean_auc.values()) else f"{mean_auc[m]:.3f}"
        seconds = np.mean([r["seconds"] for r in records if r["method"] == m])
        lines.append(f"| {m} | {' | '.join(cells)} | {auc} | {seconds:.2f} |")
    about = ", ".join(
        f"{s}: {records[[r['set'] for r in records].index(s)]['rows']} rows x "
        f"{records[[r['set'] for r in records].index(s)]['features']}, "
        f"{len({r['task'] for r in records if r['set'] == s})} tasks" for s in sets)
    return "\n".join(lines) + f"\n\n({about}; {FRACTION:.0%} outliers.)\n"


def arguments(parser):
    parser.add_argument("--seeds", type=int, default=3, help="seeds of each synthetic set")
    parser.add_argument("--digits", type=int, default=10, help="anomaly classes of digits (0, 1, ...)")


if __name__ == "__main__":
    _records.main(__doc__, SETS, run, table, arguments)
