"""Every candidate of the defaults' search, refitted on contaminated data: its ROC AUC.

For 3 blobs (2-D) with 2% uniform outliers (benchmarks/defaults.py, section (c), seeds
0-2), ``PCDensityEstimator()`` is fitted, and each candidate of its search is refitted
on all the rows with the settings and the epoch the search recorded; the line gives its
held-out score (± its standard error when cross-validated on every fold), its number of
parameters and the ROC AUC of ``-score_samples`` for the outliers. Run once with the
Gaussian mixtures' covariance prior (``COV_PRIOR_ROWS``, shipped) and once without:
a component collapsed onto one outlier shows as an AUC far below its neighbours'.

Run from the repository root: ``PYTHONPATH=. python benchmarks/defaults_candidates.py``.
"""

import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from skpc import PCDensityEstimator, _capacity

sys.path.insert(0, str(Path(__file__).resolve().parent))
from defaults import CONTAMINATED  # noqa: E402  (the contaminated sets of section (c))


def candidates_auc(make, share, seed):
    rng = np.random.default_rng(100 + seed)  # as section (c)
    inliers = make(rng)
    low, high = inliers.min(axis=0), inliers.max(axis=0)
    pad = 0.25 * (high - low)
    n_out = int(round(share * len(inliers)))
    X = StandardScaler().fit_transform(np.vstack([inliers, rng.uniform(low - pad, high + pad,
                                                                       (n_out, inliers.shape[1]))]))
    y = np.r_[np.zeros(len(inliers)), np.ones(n_out)]
    pc = PCDensityEstimator(random_state=seed).fit(X)
    search = pc.capacity_search_
    lines = [f"seed {seed}: chose #{search['best']}, AUC {roc_auc_score(y, -pc.score_samples(X)):.3f}"]
    for i, record in enumerate(search["candidates"]):
        params = record["params"]
        model = PCDensityEstimator(**{k: v for k, v in params.items() if not k.startswith("_")},
                                   n_iter_no_change=_capacity.NO_PATIENCE, random_state=seed)
        vars(model).update({k: v for k, v in params.items() if k.startswith("_")},
                           _stop_after=record["best_epoch"])
        model.fit(X)
        kind = "GMM" if params["structure"] == "rat" else "HCLT"
        se = "" if record["standard_error"] is None else f" ± {record['standard_error']:.3f}"
        lines.append(f"  #{i} {kind} {params['n_latents']}, reg_covar {params.get('reg_covar', 0):g}: "
                     f"valid {record['valid_loglik']:.3f}{se}, {record['n_parameters']} parameters, "
                     f"AUC {roc_auc_score(y, -model.score_samples(X)):.3f}")
    return lines


def main():
    warnings.filterwarnings("ignore")
    name, make, share = CONTAMINATED[0]
    shipped = _capacity.COV_PRIOR_ROWS
    for prior in (0.0, shipped):
        _capacity.COV_PRIOR_ROWS = prior
        print(f"## {name}, {share:.0%} outliers, COV_PRIOR_ROWS={prior:g}", flush=True)
        for seed in (0, 1, 2):
            print("\n".join(candidates_auc(make, share, seed)), flush=True)
    _capacity.COV_PRIOR_ROWS = shipped


if __name__ == "__main__":
    main()
