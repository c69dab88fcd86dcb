"""Defaults on tables of 12-50 rows (issue 17): test log-likelihood per row and fit seconds.

Random rows of wine, iris, diabetes and breast cancer, linnerud, 40 rows of two 8-D blobs
and 24 of three 2-D blobs; standardised with the training split's statistics
(``train_test_split(random_state=0)``), ``PCDensityEstimator(random_state=s)`` for seeds
0-4, beside the diagonal and full (``reg_covar=0.1``) single Gaussians. Found here: the
covariance prior's target on fewer rows than columns (docs/defaults.md).

Run from the repository root: ``PYTHONPATH=. python benchmarks/tiny_tables.py``.
"""

import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_iris,
    load_linnerud,
    load_wine,
    make_blobs,
)
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skpc import PCDensityEstimator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from missing_and_structures import table, timed  # noqa: E402


def tables():
    rng = np.random.RandomState(1)
    return {
        "linnerud": np.column_stack([load_linnerud().data, load_linnerud().target]),
        "two 8-D blobs": make_blobs(40, 8, centers=2, random_state=0)[0],
        "wine, 40 rows": load_wine().data[rng.choice(178, 40, replace=False)],
        "iris, 30 rows": load_iris().data[rng.choice(150, 30, replace=False)],
        "diabetes, 50 rows": load_diabetes().data[rng.choice(442, 50, replace=False)],
        "breast cancer, 50 rows": load_breast_cancer().data[rng.choice(569, 50, replace=False)],
        "3 blobs, 24 rows": make_blobs(24, 2, centers=3, random_state=2)[0],
    }


def main():
    rows = []
    for name, X in tables().items():
        train, test = train_test_split(X, random_state=0)
        scaler = StandardScaler().fit(train)
        train, test = scaler.transform(train), scaler.transform(test)
        fits = [timed(PCDensityEstimator(random_state=s), train) for s in range(5)]
        scores = [pc.score(test) for pc, _ in fits]
        diag = GaussianMixture(1, covariance_type="diag").fit(train).score(test)
        full = GaussianMixture(1, reg_covar=0.1).fit(train).score(test)
        mean = f"**{np.mean(scores):.2f}** ± {np.std(scores):.2f}"
        rows.append([f"{name} ({X.shape[0]}x{X.shape[1]})", mean, f"{diag:.2f}", f"{full:.2f}",
                     f"{np.mean([t for _, t in fits]):.1f}"])
        print(rows[-1], flush=True)
    print(table(["table (rows x columns)", "defaults", "one diagonal Gaussian", "one full Gaussian, reg 0.1",
                 "fit s"], rows))


if __name__ == "__main__":
    main()
