"""Where ``contamination="auto"`` puts the threshold: the share of inliers and outliers flagged.

``PCOutlierDetector().fit(X).predict(X)`` with its defaults, on clean sets (every flag is
a false alarm) and on sets with uniform outliers (2-10% of the rows, over the inliers'
bounding box enlarged by a quarter, standardised), against the rule before (``offset_``
the 1% quantile of the log-likelihood of 10 000 rows the circuit generates, at least the
1% quantile of the training rows; computed from the same fitted circuit), and against
``IsolationForest()`` and ``LocalOutlierFactor()`` with their own defaults
(``contamination="auto"``). Means over seeds 0..``--seeds``-1; each cell is "inliers
flagged % / outliers flagged %".

Run from the repository root: ``PYTHONPATH=. python benchmarks/outlier_threshold.py [--seeds 3]``
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor

from skpc import PCOutlierDetector

sys.path.insert(0, str(Path(__file__).resolve().parent))
from defaults import blobs, contaminated_data, moons, rings, with_noise  # noqa: E402
from missing_and_structures import table  # noqa: E402


def gaussian(d):
    return lambda rng: rng.standard_normal((1000, d))


SETS = [  # (name, inliers, share of outliers)
    ("Gaussian 2-D", gaussian(2), 0.0), ("Gaussian 10-D", gaussian(10), 0.0), ("3 blobs", blobs, 0.0),
    ("wine", lambda rng: load_wine().data, 0.0),
    ("3 blobs", blobs, 0.02), ("3 blobs", blobs, 0.05), ("3 blobs", blobs, 0.10),
    ("moons + 3 noise", with_noise(lambda r: moons(r, 1000)), 0.05),
    ("rings + 3 noise", with_noise(lambda r: rings(r, 1000)), 0.05),
    ("Gaussian 10-D", gaussian(10), 0.05), ("breast cancer", lambda rng: load_breast_cancer().data, 0.05),
]


def own_samples_rule(detector, X, seed):
    """The rule before: the 1% tail of the circuit's own samples, at least 1% of the rows."""
    samples = detector.estimator_.sample(10_000, random_state=seed)
    tail = np.quantile(detector.score_samples(samples), 0.01)
    scores = detector.score_samples(X)
    return scores < max(tail, np.quantile(scores, 0.01))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    methods = ["PCOutlierDetector (fence)", "own samples' 1% tail (before)", "IsolationForest",
               "LocalOutlierFactor"]
    rows = []
    for name, make, share in SETS:
        flags = {m: [] for m in methods}
        for seed in range(args.seeds):
            X, is_out = contaminated_data(make, share, seed)
            is_out = is_out.astype(bool)
            detector = PCOutlierDetector(random_state=seed).fit(X)
            found = {methods[0]: detector.predict(X) == -1, methods[1]: own_samples_rule(detector, X, seed),
                     methods[2]: IsolationForest(random_state=seed).fit(X).predict(X) == -1,
                     methods[3]: LocalOutlierFactor().fit_predict(X) == -1}
            for m, flagged in found.items():
                caught = 100 * flagged[is_out].mean() if share else np.nan
                flags[m].append((100 * flagged[~is_out].mean(), caught))
        cells = []
        for m in methods:
            inl, out = np.mean(flags[m], axis=0)
            cells.append(f"{inl:.1f} / -" if not share else f"{inl:.1f} / {out:.0f}")
        rows.append([name, f"{share:.0%}", *cells])
        print(rows[-1], flush=True)
    print(table(["data set", "outliers", *methods], rows))
    print(f"\n(inliers flagged % / outliers flagged %, mean over seeds 0-{args.seeds - 1}; total "
          f"{time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
