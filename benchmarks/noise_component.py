"""A Gaussian mixture with a uniform noise component (mclust's; Banfield & Raftery 1993)
on section (c)'s contaminated blobs: would it be a candidate worth adding?

For 3 blobs (2-D) with 2, 5 and 10% uniform outliers (benchmarks/defaults.py, seeds
0-2), the line gives the held-out log-likelihood per row of the defaults' choice (its
search's record) and of ``k`` full Gaussians plus one uniform component over the
training rows' bounding box (widened by ``pad`` times its sides on each side), fitted
by EM from ``GaussianMixture``'s fit and scored on the same 5 folds as the search (the
best ``k`` of 2, 3, 4, 6 on those folds); the generating density's log-likelihood of
all the rows; and the ROC AUC of ``-score_samples`` of the defaults, of the noise
mixture refitted on all the rows, of ``GaussianMixture`` by BIC and of the generating
density (the oracle).

Run from the repository root: ``PYTHONPATH=. python benchmarks/noise_component.py``.
"""

import sys
import warnings
from pathlib import Path

import numpy as np
from scipy.special import logsumexp
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

from skpc import PCDensityEstimator, _capacity

sys.path.insert(0, str(Path(__file__).parent))
from defaults import CONTAMINATED, TRUE_LOG_DENSITY, contaminated_data, gmm_by_bic, oracle_auc  # noqa: E402
from missing_and_structures import table  # noqa: E402

SIZES = (2, 3, 4, 6)
PADS = (0.0, 0.1)


class NoiseMixture:
    """``k`` full-covariance Gaussians and a uniform density over a box, fitted by EM."""

    def __init__(self, k, pad, seed, n_iter=200):
        self.k, self.pad, self.seed, self.n_iter = k, pad, seed, n_iter

    def fit(self, X):
        low, high = X.min(axis=0), X.max(axis=0)
        self.low, self.high = low - self.pad * (high - low), high + self.pad * (high - low)
        self.log_uniform = -np.log(self.high - self.low).sum()
        self.gmm = GaussianMixture(self.k, random_state=self.seed, n_init=3).fit(X)
        self.noise = 0.05
        for _ in range(self.n_iter):
            joint = self._joint(X)
            resp = np.exp(joint - logsumexp(joint, axis=1, keepdims=True))
            self.noise = resp[:, -1].mean()
            weights = resp[:, :-1]
            counts = weights.sum(axis=0) + 1e-10
            means = weights.T @ X / counts[:, None]
            covs = np.array([(weights[:, j, None] * (X - means[j])).T @ (X - means[j]) / counts[j]
                             + 1e-6 * np.eye(X.shape[1]) for j in range(self.k)])
            g = self.gmm
            g.weights_, g.means_, g.covariances_ = counts / counts.sum(), means, covs
            g.precisions_cholesky_ = np.linalg.cholesky(np.linalg.inv(covs))
        return self

    def _joint(self, X):
        inside = np.all((X >= self.low) & (X <= self.high), axis=1)
        uniform = np.where(inside, self.log_uniform + np.log(self.noise), -np.inf)
        return np.c_[self.gmm._estimate_weighted_log_prob(X) + np.log1p(-self.noise), uniform]

    def score_samples(self, X):
        return logsumexp(self._joint(X), axis=1)


def truth_loglik(X_raw, y):
    """Mean log-density of the standardised rows under the density that generated them."""
    inliers = X_raw[y == 0]
    low, high = inliers.min(axis=0), inliers.max(axis=0)
    volume = np.prod(1.5 * (high - low))  # the outliers' box: a quarter more on each side
    log_in = TRUE_LOG_DENSITY["blobs"](X_raw) - np.log(3 * 2 * np.pi * 0.3**2)  # normalised
    share = y.mean()
    log_p = np.logaddexp(np.log1p(-share) + log_in, np.log(share) - np.log(volume))
    return log_p.mean() + np.log(StandardScaler().fit(X_raw).scale_).sum()


def main():
    rows = []
    for name, make, share in CONTAMINATED[:3]:
        for seed in range(3):
            X, y = contaminated_data(make, share, seed)
            X_raw, _ = contaminated_data(make, share, seed, raw=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pc = PCDensityEstimator(random_state=seed).fit(X)
                search = pc.capacity_search_
                folds = _capacity.held_out_folds(*X.shape, search["random_states"][0])
                held_out = {}
                for pad in PADS:
                    for k in SIZES:
                        scores = [NoiseMixture(k, pad, seed).fit(np.delete(X, f, axis=0)).score_samples(X[f])
                                  for f in folds]
                        held_out[pad, k] = np.concatenate(scores).mean()
                pad, k = max(held_out, key=held_out.get)
                noise = NoiseMixture(k, pad, seed).fit(X)
                models = (pc, noise, gmm_by_bic(X, seed))
                auc = [roc_auc_score(y, -model.score_samples(X)) for model in models]
            chosen = search["candidates"][search["best"]]
            best_pad0 = max(v for (p, _), v in held_out.items() if p == 0.0)
            rows.append([f"{name} {share:.0%}", seed, f"{chosen['valid_loglik']:.4f}",
                         f"{best_pad0:.4f}", f"{held_out[pad, k]:.4f} (k={k}, pad {pad:g})",
                         f"{truth_loglik(X_raw, y):.4f}", *(f"{a:.4f}" for a in auc),
                         f"{oracle_auc('blobs', X_raw, y):.4f}"])
            print(rows[-1], flush=True)
    print(table(["setting", "seed", "held out: defaults' choice", "noise mixture, pad 0",
                 "noise mixture, best", "generating density (all rows)", "AUC defaults",
                 "AUC noise mixture", "AUC GMM by BIC", "AUC oracle"], rows))


if __name__ == "__main__":
    main()
