"""Full-covariance Gaussians on rows with missing values: fit seconds and log-likelihood.

Breast cancer (569 x 30), standardised, with a share of its values removed at random;
one fit each of a Gaussian mixture circuit (a depth-0 RAT with multivariate leaves, 2 and
8 full components, 20 epochs) and of ``PCClassifier()`` (defaults: its capacity search) on
the 75% training split of ``train_test_split(random_state=0, stratify=y)``; mean training
log-likelihood per row, and the classifier's test accuracy and log loss. Nearly every row
with 20% missing has a missing pattern of its own, so every row needs its own conditional
Gaussian (see :class:`skpc.leaves.MultivariateGaussian`).

Run from the repository root: ``PYTHONPATH=. python benchmarks/missing_gaussians.py``
(``--no-classifier``: the mixtures only). Compare two versions by running the script on
both at the same time, one core each.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skpc import PCClassifier, PCDensityEstimator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from missing_and_structures import table  # noqa: E402

GMM = {"structure": "rat", "structure_params": {"depth": 0, "n_repetitions": 1, "multivariate_leaves": True}}


def with_missing(X, share, seed=0):
    X = X.copy()
    X[np.random.default_rng(seed).random(X.shape) < share] = np.nan
    return X


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-classifier", action="store_true")
    args = parser.parse_args()
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rows = []
    for share in (0.0, 0.05, 0.2, 0.4):
        Xm = with_missing(X, share)
        for k in (2, 8):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # 20 epochs need not converge; seconds are the point
                start = time.perf_counter()
                try:
                    score = f"{PCDensityEstimator(**GMM, n_latents=k, random_state=0).fit(Xm).score(Xm):.4f}"
                except np.linalg.LinAlgError as error:  # (before session 17, in float32)
                    score = f"LinAlgError: {error}"
                seconds = time.perf_counter() - start
            rows.append([f"{share:.0%}", f"GMM {k} full", f"{seconds:.2f}", score, ""])
        if args.no_classifier or share not in (0.0, 0.2):
            continue
        Xtr, Xte, ytr, yte = train_test_split(Xm, y, random_state=0, stratify=y)
        start = time.perf_counter()
        clf = PCClassifier(random_state=0).fit(Xtr, ytr)
        seconds = time.perf_counter() - start
        p = clf.predict_proba(Xte)
        rows.append([f"{share:.0%}", "PCClassifier()", f"{seconds:.1f}", "",
                     f"{accuracy_score(yte, p.argmax(axis=1)):.4f} / {log_loss(yte, p):.4f}"])
        print(rows[-1], flush=True)
    print(table(["missing", "model", "fit s", "train LL per row", "test accuracy / log loss"], rows))


if __name__ == "__main__":
    main()
