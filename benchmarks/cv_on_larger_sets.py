"""Whether the defaults' search still pays for its 5 folds on a few thousand rows.

Section (h) of benchmarks/defaults.py cross-validates the search on every set of at most
``CV_MAX_CELLS`` cells, however many rows. Here each set of more than 2000 training rows
is fitted twice with ``PCDensityEstimator(random_state=seed)`` (seeds 0 and 1): with the
shipped rule (5 folds, 3 refit starts) and with one held-out split (``CV_MAX_CELLS = 0``,
one refit start, as on larger sets), where a fifth of the rows (400 to 900) is held out.
Lines: test log-likelihood per row (``train_test_split(random_state=0)``, standardised)
and fit seconds, means over the seeds; then two contaminated settings at 3000 rows with
the ROC AUC of ``-score_samples`` (seeds 0-2, benchmarks/defaults.py's protocol).

Run from the repository root: ``PYTHONPATH=. python benchmarks/cv_on_larger_sets.py``.
"""

import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skpc import PCDensityEstimator, _capacity

sys.path.insert(0, str(Path(__file__).parent))
from defaults import contaminated_data, gmm_by_bic, shape_with_noise  # noqa: E402
from missing_and_structures import table  # noqa: E402

RULES = {"5 folds (shipped)": _capacity.CV_MAX_CELLS, "one split": 0}  # CV_MAX_CELLS of each
SETS = [(f"{shape} {n}x{2 + k}", shape_with_noise(shape, n, k))
        for shape in ("rings", "moons", "spirals", "blobs") for n, k in ((3000, 3), (4000, 0), (6000, 1))]
SETS += [("normal 5000x2", lambda rng: rng.normal(size=(5000, 2))),
         ("correlated normal 3000x6", lambda rng: rng.normal(size=(3000, 6)) @ rng.normal(size=(6, 6)))]


def main():
    warnings.simplefilter("ignore")  # the fits' own warnings are not what is measured
    rows, seconds = [], {rule: 0.0 for rule in RULES}
    for name, make in SETS:
        train, test = train_test_split(make(np.random.default_rng(7)), random_state=0)
        scaler = StandardScaler().fit(train)
        train, test = scaler.transform(train), scaler.transform(test)
        row = [name]
        for rule, cells in RULES.items():
            _capacity.CV_MAX_CELLS = cells
            scores, times = [], []
            for seed in (0, 1):
                tic = time.perf_counter()
                pc = PCDensityEstimator(random_state=seed).fit(train)
                times.append(time.perf_counter() - tic)
                scores.append(pc.score(test))
            seconds[rule] += sum(times)
            row.append(f"{np.mean(scores):.4f} ({np.mean(times):.2f} s)")
        rows.append(row)
        print(row, flush=True)
    contaminated = (("blobs 2-D, 5% outliers", "blobs", 0), ("moons 5-D, 5% outliers", "moons", 3))
    for name, shape, n_noise in contaminated:
        make = shape_with_noise(shape, 3000, n_noise)
        data = [contaminated_data(make, 0.05, seed) for seed in (0, 1, 2)]
        row = [name]
        for cells in RULES.values():
            _capacity.CV_MAX_CELLS = cells
            auc = [roc_auc_score(y, -PCDensityEstimator(random_state=s).fit(X).score_samples(X))
                   for s, (X, y) in enumerate(data)]
            row.append(f"AUC {np.mean(auc):.4f}")
        bic = np.mean([roc_auc_score(y, -gmm_by_bic(X, s).score_samples(X)) for s, (X, y) in enumerate(data)])
        rows.append([*row[:1], *(f"{cell} (BIC {bic:.4f})" for cell in row[1:])])
        print(rows[-1], flush=True)
    rows.append(["all density fits, seconds", *(f"{s:.1f}" for s in seconds.values())])
    print(table(["data set (n x d)", *RULES], rows))


if __name__ == "__main__":
    main()
