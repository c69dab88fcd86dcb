"""``structure="auto"``: the model's capacity chosen on held-out rows of the training data.

A small search, as ``LassoCV`` chooses its penalty: each candidate circuit is fitted
without some of the training rows and scored on them after every epoch, and the
candidate chosen on its held-out log-likelihood (one-standard-error rule; a front may
score and choose otherwise: ``_selection_scores``, ``_capacity_rule``) is refitted on
all the rows, for as many epochs as its best held-out epoch. Small training sets
(``CV_MAX_CELLS``) are cross-validated over ``CV_FOLDS`` folds as a race, the clear
losers on the folds scored so far screened out (``SCREEN_SE``); larger ones hold out one split of
``VALID_FRACTION``. The candidates contain the obvious baselines as special cases (a
single full-covariance Gaussian, Gaussian mixtures: RATs of depth 0 with multivariate
leaves; on mixed columns, mixtures of a full Gaussian times categoricals), so on
held-out rows the choice is never behind them. Large data skip the search
(``SEARCH_MAX_CELLS``) and get the fixed HCLT rule of ``structure="hclt"``.
The rules and the evidence for them: docs/defaults.md.
"""

import contextlib
import time
import warnings

import numpy as np
from scipy import stats
from sklearn.base import clone

from skpc.columns import missing_mask
from skpc.leaves import Gaussian, MultivariateGaussian, shared_kmeans

#: Training sets with at least this many cells (rows x columns) skip the search and get
#: ``structure="hclt"`` with its fixed size rule. Below it one fit takes seconds, so a
#: search of a few candidates stays cheap, and it is where a fixed size overfits most.
#: Every bundled debd set is above it (the smallest, dna, has 1600 x 180 = 288 000), so
#: their defaults are those of ``structure="hclt"``.
SEARCH_MAX_CELLS = 200_000

#: Fewer training rows than this: too few for ``CV_FOLDS`` folds of two rows; the search
#: is skipped. From here on every row is held out once, so even 10-20 rows (where a fixed
#: size overfits most: 15 rows of ``load_linnerud``, -30 nats against a single
#: Gaussian's -13) are scored as a whole.
SEARCH_MIN_ROWS = 10

#: Share of the training rows held out to score the candidates when the set is not
#: cross-validated (above ``CV_MAX_CELLS``).
VALID_FRACTION = 0.2

#: Small training sets are cross-validated: ``CV_FOLDS`` folds (every row held out once),
#: so that each candidate is scored on all the rows instead of a fifth of them; on a few
#: hundred rows one held-out part of a fifth leaves the choice to chance (wine's 27 rows).
CV_FOLDS = 5

#: Training sets with at most this many cells (rows x columns) get ``CV_FOLDS`` folds,
#: larger ones one held-out split of ``VALID_FRACTION``. With this bound the folds' fits
#: together cover fewer cells than one split of a set at ``SEARCH_MAX_CELLS``, so the
#: cross-validated search never costs more than the largest single-split one.
CV_MAX_CELLS = 20_000

#: Cross-validation screens as it goes: before each fold after the first, a candidate
#: whose score on the rows scored so far is more than this many standard errors below the
#: best one's is not fitted on the remaining folds. It spares the clear losers (a single
#: Gaussian on three clusters) most of the cost: on the continuous sets of
#: benchmarks/defaults.py screening after the first fold only gave the full
#: cross-validation's figures at 60% of its time, and screening before every fold the
#: same choices at another 70-90% of that (docs/defaults.md).
SCREEN_SE = 3.0

#: Sizes of the Gaussian-mixture candidates (full-covariance components). All are tried:
#: a mixture's held-out score need not rise and fall once with its size (EM's local
#: optima), and stopping at the first size that did not improve missed the best one
#: (make_classification, 450 x 12: 6 components at -1.59 behind a poor 4, docs/defaults.md).
#: Only sizes of at most a quarter of the rows a fit is fitted on (``max_components``; at
#: least 1): on fewer, most units are the covariance prior's pseudo-rows, and on tables of
#: 10-40 rows the larger sizes were about half of the search's cost.
MIXTURE_SIZES = (1, 2, 3, 4, 6, 8)

#: ... and past the largest while it is the best, on continuous columns: a mixture kind
#: (shape, ``reg_covar``) whose largest size has its best first-fold score is also tried
#: with 1.5 and 2 times as many components, on the first fold and then in the race, up
#: to this many components (and a quarter of the rows the fold is fitted on). A grid's
#: edge is no optimum: 16 blobs in 3-D (600 training rows) scored 0.28 nats per test row
#: with at most 8 components, where ``GaussianMixture`` with 16 reaches 0.92 (0.90 now).
MAX_MIXTURE_SIZE = 64

#: ... and only while the step to the largest size was a clear gain: its paired first-fold
#: scores more than this many standard errors above the next size's (``_clearly_below``).
GROW_SE = 2.0

#: ``reg_covar="auto"``: the values tried with the Gaussian-mixture candidates (0 first;
#: all of them only where a full covariance is short of rows, ``ROWS_PER_COVARIANCE_ENTRY``).
REG_COVARS = (0.0, 1e-2, 1e-1)

#: The Gaussian-mixture candidates' components, and their refit's, have a prior on their
#: covariances (``MultivariateGaussian``'s ``cov_prior``) for the units short of rows
#: (``covariance_rows``): a unit with the flow of fewer rows than its covariance needs gets
#: the shortfall, times this factor, as pseudo-rows of the columns' covariance over the
#: training rows (Ledoit-Wolf shrunk: well conditioned on fewer rows than columns too).
#: Without it a unit can collapse onto one row: held-out rows cannot see
#: that (the row is a training row), and as an outlier detector the model then ranks that
#: row above inliers (3 blobs with 2% outliers: ROC AUC 0.942 instead of 0.993; 4 blobs in
#: 10-D with 5% outliers: a unit of weight 0.001 on one outlier ranked it above 12% of the
#: inliers). On all-continuous columns a full covariance over ``d`` columns needs ``2 (d +
#: 1)`` rows, twice its minimum: a unit of 50 rows in 30-D held 45 outliers with a nearly
#: singular covariance and ranked them above the inliers (ROC AUC 0.78; 1.000 with the
#: doubled need), and breast cancer gained 2.4 nats per test row. A diagonal unit there
#: needs ``d + 1``: on fewer its rows can share a value in one column (3 outliers of 3-D
#: data within 0.01 in one column: a variance of 1.6e-5 there, ROC AUC 0.845 with 2 rows
#: needed, 0.923 with ``d + 1``). On mixed columns ``d + 1`` and 2, as before: the larger
#: needs cost ``PCImputer`` on wine-mixed (``benchmarks/data_layer.py``) accuracy 0.742 to
#: 0.710 and ``PCClassifier`` on breast cancer accuracy. A unit with enough rows keeps its
#: maximum-likelihood covariance, so tight clusters lose nothing (a prior of even one row
#: on every unit, as ``BayesianGaussianMixture``'s default, cost 8000 rows of thin clusters
#: in 20-D 1.6 nats per held-out row, and 30 rows of two 8-D blobs 0.36). anemone adds its
#: step's share of the pseudo-rows per update, so that at its fixed point they count once.
COV_PRIOR_ROWS = 1.0

#: The HCLT candidates' univariate Gaussian states, and their refit's, have the same prior
#: (``Gaussian``'s ``var_prior``; one private setting, ``_prior_rows``, for both leaf
#: kinds): a state with the flow of fewer than 2 rows (what a variance needs) gets the
#: shortfall, times ``COV_PRIOR_ROWS``, as pseudo-rows of the column's variance. Without it
#: a state collapsed onto one training outlier (moons + 3 noise columns, 3000 rows, 5%
#: outliers: ROC AUC 0.986 against 0.993 for the other starts). Only where every column is
#: continuous: on mixed columns (a classifier's features and label) it cost
#: ``PCClassifier`` on wine with 20% missing values log loss 0.083 to 0.102.

#: Diagonal-covariance mixtures are candidates beside the full ones (``GaussianMixture``'s
#: ``covariance_type="diag"``, which BIC's choice among mixtures also tries): clusters
#: with uniform outliers in many columns want a broad diagonal component for the
#: outliers, where full ones fit them badly (4 blobs in 10-D with 5% outliers: 6 full
#: ``GaussianMixture`` components -6.2 nats per held-out row, 6 diagonal ones -1.19).
#: Each shape tries every ``reg_covar`` only where its covariance is short of data:
#: fewer than this many training rows per entry of one component's covariance
#: (``d (d + 1) / 2`` full, ``d`` diagonal, over ``d`` continuous columns); elsewhere
#: ``reg_covar`` 0 alone. On 30 rows of two 8-D blobs the full components overfit (-4.96
#: nats per test row against -4.43 with diagonal ones, which ``GaussianMixture`` tuned by
#: cross-validation also picks). In 189 searches of benchmarks/defaults.py on sets with
#: enough rows (every section but digits, contaminated ones included) no candidate with
#: ``reg_covar`` above 0 was the best or the chosen one, so leaving them out there changes
#: no choice; nor, in 39 searches of its sections (a) and (f), was a diagonal one with
#: ``reg_covar`` above 0 within one standard error of the best outside the two sets
#: short of rows for a diagonal covariance (30 rows of 8-D blobs, 15 of linnerud). Rows
#: count by their observed values: ``PCImputer`` on wine-mixed (124 rows, 11 continuous
#: columns, 20% missing; benchmarks/data_layer.py) chooses a diagonal mixture with
#: ``reg_covar`` 0.01 (accuracy 0.742), and counting all 124 rows, enough for a diagonal
#: covariance, left that out (0.710).
ROWS_PER_COVARIANCE_ENTRY = 10

#: Kernel density estimates are candidates too where the Gaussian mixtures are (every
#: column continuous), on complete tables (a kernel sits on each row) of at most this
#: many training rows (and ``KERNEL_MAX_COLUMNS``): a mixture of one diagonal Gaussian
#: per row, all of one width (``KERNEL_BANDWIDTHS``), nothing fitted.
#: On a low-dimensional manifold (a noisy swiss roll) it is the best density a few hundred
#: rows give (``KernelDensity`` tuned: -3.24 nats per test row on the swiss roll,
#: against -3.64 for the tuned GaussianMixture and -3.66 for the other candidates). Its
#: scoring cost grows as rows x rows, and with many rows the fitted circuits catch up.
KERNEL_MAX_ROWS = 2000

#: ... and at most this many columns: kernels need rows that fill the space. On
#: ``load_digits`` projected on its first 6-30 principal components (1347 training rows),
#: ``KernelDensity`` tuned beats the tuned GaussianMixture up to 16 columns (by 0.62 nats
#: per test row at 10, 0.24 at 16) and trails it from 20 on (1.2 nats at 20, 2.9 at 30).
KERNEL_MAX_COLUMNS = 16

#: Widths of the kernel candidates, as multiples of Scott's rule ``n ** (-1 / (d + 4))``
#: (standardised columns, ``n`` training rows, ``d`` columns). ``KernelDensity`` tuned by
#: 5-fold cross-validation picked 0.25-1 times Scott's width on the fourteen continuous
#: sets of benchmarks/defaults.py.
KERNEL_BANDWIDTHS = tuple(2.0 ** np.arange(-2.0, 0.75, 0.5))

#: ... and 0.71 and 0.5 times the narrowest where it has the kernels' best first-fold
#: score, clearly (``GROW_SE``), down to this width (``_past_the_edges``): a thin ring of
#: 800 rows (noise 0.02 across a circle of radius 1) scored -0.62 nats per test row with
#: 24 diagonal components on one seed of five, and -0.24 with kernels of 0.09 x Scott's.
KERNEL_MIN_BANDWIDTH = 2.0**-4

#: Starts of the refit: the chosen candidate is fitted on all the rows this many times
#: from different random starts and the one with the highest training log-likelihood is
#: kept, as ``GaussianMixture`` keeps the best of ``n_init``. One start scattered on small
#: sets: on 225 rows of three blobs and two noise columns the chosen HCLT scored -3.52
#: and -3.23 per test row for seeds 0 and 1, from the same held-out -3.05. With 3 starts
#: (benchmarks/defaults.py, test log-likelihood per row): diabetes +0.10, rings, moons
#: and spirals + 3 noise columns +0.08, +0.03, +0.04, make_classification +0.14, and of
#: the ``--only variants`` shapes the four that missed their targets +0.04 to +0.13 (all
#: met now); wine, the swiss roll and two 1-D modes unchanged, breast cancer and iris
#: -0.01. The contaminated sets' ROC AUCs moved by at most 0.003 either way. Only after
#: cross-validation (``CV_MAX_CELLS``), where the refit costs a few percent of the search.
REFIT_STARTS = 3

#: ``n_iter_no_change`` of the candidates and the refit under ``max_iter="auto"``: their
#: schedule runs to the end (or to the chosen epoch) instead of stopping on a plateau.
NO_PATIENCE = 10**6

#: HCLT candidates: (n_latents, n_components); ``"auto"`` is ``structure="hclt"``'s rule.
#: On continuous columns only the single trees are candidates: there the rule's mixture
#: of 8 HCLTs (64 Gaussian states per column) gives uniform outliers mass; on moons and
#: rings with 5% of them it had the best held-out score and ranked them with ROC AUC 0.90
#: and 0.93, against 0.98-1.00 for the single trees (docs/defaults.md).
HCLT_SIZES = (("auto", "auto"), (8, 1), (16, 1), (32, 1))


def covariance_rows(d, diagonal, continuous):
    """The rows below which a mixture's unit over ``d`` continuous columns gets the prior:
    on all-continuous columns (``continuous``) ``2 (d + 1)`` for a full covariance and
    ``d + 1`` for a diagonal one; beside categorical columns ``d + 1`` and 2."""
    if continuous:
        return d + 1 if diagonal else 2 * (d + 1)
    return 2 if diagonal else d + 1


def _prior_rows(covariance=None):
    """``_prior_rows`` of a candidate: the rows below which a unit of each Gaussian leaf
    kind gets the prior's pseudo-rows (times ``COV_PRIOR_ROWS``): 2 for a variance,
    ``covariance`` (from ``covariance_rows``) for a covariance (none without)."""
    rows = {Gaussian.kind: 2 * COV_PRIOR_ROWS}
    if covariance is not None:
        rows[MultivariateGaussian.kind] = covariance * COV_PRIOR_ROWS
    return rows


def take(X, rows):
    """Rows of a user's table (DataFrame or array)."""
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]


def wanted(est, X):
    """Whether ``fit`` of ``est`` on ``X`` chooses its capacity by the search."""
    if est.structure != "auto" or est.n_latents != "auto" or est.structure_params:
        return False  # the user chose the structure or its size
    n, d = X.shape
    return SEARCH_MIN_ROWS <= n and n * d < SEARCH_MAX_CELLS


def candidates(est, n_rows, missing=None):
    """Settings of each candidate for ``n_rows`` training rows, ``missing`` their mask of
    missing values (None: none missing): dicts of estimator parameters."""
    hclts = [{"structure": "hclt", "n_latents": k, "structure_params": {"n_components": m}}
             for k, m in HCLT_SIZES]
    regs = REG_COVARS if est.reg_covar == "auto" else (est.reg_covar,)

    gaussian = est.leaf_types_ == "gaussian"
    complete = missing is None or not missing.any()
    # The rows' worth of observed values in the continuous columns: missing values leave a
    # covariance fewer rows to be estimated from.
    observed = n_rows if complete or not gaussian.any() else n_rows * (1 - missing[:, gaussian].mean())
    sizes = [k for k in MIXTURE_SIZES if k <= max(1, max_components(n_rows - _n_valid(n_rows)))]

    def mixtures(structure):
        """Every size with full and diagonal covariances, all with the prior; every
        ``reg_covar`` where a covariance of that shape is short of rows
        (``ROWS_PER_COVARIANCE_ENTRY``), the first one elsewhere."""
        d = int(gaussian.sum())

        def short(diagonal):
            return observed < ROWS_PER_COVARIANCE_ENTRY * (d if diagonal else d * (d + 1) // 2)

        return [{**structure, "n_latents": k, "reg_covar": reg,
                 "_prior_rows": _prior_rows(covariance_rows(d, diagonal, gaussian.all())),
                 **({"_diagonal_cov": True} if diagonal else {})}
                for diagonal in ((False, True) if d > 1 else (False,))
                for reg in (regs if short(diagonal) else regs[:1]) for k in sizes]

    if gaussian.any() and not gaussian.all():
        # Continuous and categorical columns (a classifier's label among them): mixtures
        # whose components are a Gaussian times a distribution of each categorical column
        # (a Gaussian mixture per class, for a label).
        return [*mixtures({"structure": "mixture"}), *hclts]
    hclts = [{**h, "_prior_rows": _prior_rows()} for h in hclts]
    # Full-covariance units need continuous columns, and a RAT two of them (one continuous
    # column: the HCLTs are its mixtures of univariate Gaussians).
    if not gaussian.all() or len(est.leaf_types_) < 2:
        return hclts
    depth_0 = {"depth": 0, "n_repetitions": 1, "multivariate_leaves": True}  # a Gaussian mixture
    gmm = {"structure": "rat", "structure_params": depth_0}
    single = [{**h, "reg_covar": regs[0]} for h in hclts if h["structure_params"]["n_components"] == 1]
    # A kernel density estimate: the mixture with a unit per row, fixed, scored after one "epoch".
    small = complete and n_rows <= KERNEL_MAX_ROWS and len(est.leaf_types_) <= KERNEL_MAX_COLUMNS
    kernels = [{**gmm, "n_latents": "auto", "reg_covar": 0.0, "_kernel_bandwidth": float(h), "_stop_after": 1}
               for h in KERNEL_BANDWIDTHS] if small else []
    return [*mixtures(gmm), *single, *kernels]


def search(est, X, rng):
    """Fit the candidates on part of ``X``, score them on the rest; return the refit's settings.

    Records every candidate in ``est.capacity_search_``. Every candidate is scored on the
    first fold; on small data (``held_out_folds``) each further fold scores the ones not
    far behind the best on the folds before (``SCREEN_SE``).
    """
    start = time.perf_counter()
    # The same held-out rows for every candidate, so that their scores are paired.
    seed = int(rng.randint(np.iinfo(np.int32).max))
    folds = held_out_folds(*X.shape, seed)
    tried = candidates(est, X.shape[0], missing_mask(X))
    fits = []  # for each candidate, its fits (one per fold it was scored on)

    def first_fold(settings):
        fits.append([_fit_fold(est, X, settings, seed, folds[0])])
        if est.verbose:
            print(f"candidate {_describe(settings):55s} valid {np.mean(fits[-1][0]['scores']):9.4f} "
                  f"({fits[-1][0]['seconds']:.2f}s)", flush=True)

    with shared_kmeans():  # candidates of one size share their start on a fold
        for settings in tried:
            first_fold(settings)
        for larger in iter(lambda: _past_the_edges(tried, fits, X.shape[0] - len(folds[0])), []):
            for settings in larger:
                tried.append(settings)
                first_fold(settings)
        alive = list(range(len(tried)))
        for fold in folds[1:]:  # a race: the clear losers on the rows scored so far drop out
            scored = {i: np.concatenate([f["scores"] for f in fits[i]]) for i in alive}
            leader = max(scored.values(), key=np.mean)
            alive = [i for i in alive if not _clearly_below(scored[i], leader, SCREEN_SE)]
            for i in alive:
                fits[i].append(_fit_fold(est, X, tried[i], seed, fold))
    records = [_record(est, X, settings, f) for settings, f in zip(tried, fits)]
    full = [i for i, f in enumerate(fits) if len(f) == len(folds)]  # scored on every fold
    rows = np.array([np.concatenate([fold["scores"] for fold in fits[i]]) for i in full])
    best = full[RULES[est._capacity_rule]([records[i] for i in full], rows)]
    chosen = dict(records[best]["params"])
    if est.max_iter == "auto":  # the refit runs as the candidate did, to its best held-out epoch
        chosen.update(_stop_after=records[best]["best_epoch"], n_iter_no_change=NO_PATIENCE)
        batch = _same_updates(est, X.shape[0] - len(folds[0]), X.shape[0])
        if batch != est.batch_size:  # as many updates per epoch as the candidate took
            chosen["batch_size"] = batch
    est.capacity_search_ = {
        "candidates": records, "best": best, "chosen": chosen, "random_states": [seed],
        "n_folds": len(folds), "n_valid_rows": len(folds[0]), "seconds": time.perf_counter() - start,
    }
    if est.verbose:
        for i in full:
            print(f"{len(folds)} folds: {_describe(records[i]['params']):55s} valid "
                  f"{records[i]['valid_loglik']:9.4f} (best epoch {records[i]['best_epoch']})", flush=True)
        print(f"chose {_describe(chosen)}; refit on all {X.shape[0]} rows "
              f"(search {est.capacity_search_['seconds']:.1f}s)", flush=True)
    return chosen


def _past_the_edges(tried, fits, n_fitted):
    """Settings past the edge of each kind's grid where that edge has its kind's best
    first-fold score, clearly above the next one's (``GROW_SE``): 1.5 and 2 times the
    components of a Gaussian mixture (shape, ``reg_covar``; up to ``MAX_MIXTURE_SIZE`` and
    a quarter of the ``n_fitted`` rows a first-fold fit is fitted on), and kernels of 0.71
    and 0.5 times the narrowest width (down to ``KERNEL_MIN_BANDWIDTH``).

    Not the mixtures of mixed columns (``structure="mixture"``): there ``PCClassifier``
    chose grown sizes on breast cancer by its held-out log loss and did worse on the test
    folds (0.141 / 0.139 / 0.168 to 0.148 / 0.150 / 0.169 at 0 / 20 / 50% missing values,
    benchmarks/classification.py). Nor the single HCLTs: with 48 and 64 states the moons
    and rings with 3 noise columns and 5% outliers chose 64 and ranked the outliers lower
    (ROC AUC 0.9875 to 0.9856 and 0.9932 to 0.9891, benchmarks/defaults.py section (c)).
    """
    scores = [fit[0]["scores"] for fit in fits]
    size_names = ("n_latents", "_kernel_bandwidth")

    def size(settings):  # the kind's size, larger toward its edge; None: not grown
        if "_kernel_bandwidth" in settings:
            return -settings["_kernel_bandwidth"]
        return settings["n_latents"] if settings["structure"] == "rat" else None

    def kind(settings):
        return repr({name: value for name, value in settings.items() if name not in size_names})

    kinds = {}
    for i, settings in enumerate(tried):
        if size(settings) is not None:
            kinds.setdefault(kind(settings), []).append(i)
    grown = []
    for members in kinds.values():
        if len(members) < 2:
            continue
        *_, below, top = sorted(members, key=lambda i: size(tried[i]))
        if np.mean(scores[top]) < max(np.mean(scores[i]) for i in members):
            continue  # this kind peaked inside its grid
        if not _clearly_below(scores[below], scores[top], GROW_SE):
            continue  # its last step gained too little to go on
        edge = tried[top]
        if "_kernel_bandwidth" in edge:
            h = edge["_kernel_bandwidth"]
            grown += [{**edge, "_kernel_bandwidth": h * f} for f in (2**-0.5, 0.5)
                      if h * f >= KERNEL_MIN_BANDWIDTH * (1 - 1e-9)]
        else:
            k = edge["n_latents"]
            grown += [{**edge, "n_latents": m} for m in (k * 3 // 2, 2 * k)
                      if m <= max_components(n_fitted)]
    return grown


def max_components(n_fitted):
    """The most components a mixture candidate fitted on ``n_fitted`` rows has: a quarter
    of them, up to ``MAX_MIXTURE_SIZE``."""
    return min(MAX_MIXTURE_SIZE, n_fitted // 4)


def _same_updates(est, n_fitted, n_rows):
    """``batch_size`` for the refit on ``n_rows``: where a candidate's fit on ``n_fitted``
    rows took one update per epoch (all its rows in one step, an EM step), the refit takes
    one too; elsewhere ``batch_size`` as given.

    With 600 training rows a candidate's fold (480 rows) is one batch of 512, the refit
    two: on 16 blobs in 3-D one full-batch update took the k-means start to its optimum on
    every fold (the held-out curve was best after one epoch), and the refit's two updates
    of 512 and 88 rows from its own start did not (0.74 nats per test row, 0.90 with one
    batch). Matching the updates per epoch of larger folds too (880 rows in two batches,
    the refit's 1100 in two of 550) moved the chosen HCLT's outlier ranking on rings in
    5-D with 10% outliers from 0.9887 to 0.9852 and helped nothing measured.
    """
    if n_fitted > est.batch_size * est.batches_per_update:
        return est.batch_size
    return max(est.batch_size, -(-n_rows // est.batches_per_update))


def refit_starts(est, chosen):
    """How many starts the refit of the ``chosen`` settings takes: ``REFIT_STARTS`` (or the
    front's ``_refit_starts``) after a cross-validated search; one without a search, after
    a single split (larger data: there a refit costs as much as a candidate's fit, and
    one start scatters less) and for kernels, which have nothing to start."""
    if not chosen or "_kernel_bandwidth" in chosen or est.capacity_search_["n_folds"] == 1:
        return 1
    return REFIT_STARTS if est._refit_starts is None else est._refit_starts


def held_out_folds(n_rows, n_columns, seed):
    """The held-out rows of each fit of a candidate (sorted arrays).

    Up to ``CV_MAX_CELLS`` cells: ``CV_FOLDS`` folds of a random permutation, every row in
    exactly one. Above: the one split ``fit`` with ``early_stopping=True`` holds out for
    ``random_state=seed`` (``VALID_FRACTION`` of the rows).
    """
    order = np.random.RandomState(seed).permutation(n_rows)
    if n_rows * n_columns <= CV_MAX_CELLS and n_rows >= 2 * CV_FOLDS:
        return [np.sort(fold) for fold in np.array_split(order, CV_FOLDS)]
    return [np.sort(order[:_n_valid(n_rows)])]


def _n_valid(n_rows):
    return max(1, int(round(VALID_FRACTION * n_rows)))  # as fit's early stopping


def _clearly_below(scores, best, n_se):
    """Whether per-row held-out ``scores`` are more than ``n_se`` standard errors (of the
    paired per-row differences) below ``best``'s on the same rows.

    On few rows the standard error is itself uncertain, so ``n_se`` is read as the
    one-sided level of a paired t-test (``n_se`` of a normal mean: 3 is p = 0.00135), whose
    threshold grows as rows get fewer: 19 standard errors on 3 rows, 4.2 on 8, 3.2 on 30.
    With the normal threshold the 3 rows of the first fold of 15 rows of ``load_linnerud``
    screened out the candidate that was the best on all 15.
    """
    diff = best - scores
    if len(diff) < 2:
        return False
    limit = stats.t.ppf(stats.norm.cdf(n_se), len(diff) - 1)
    return bool(np.mean(diff) > limit * np.std(diff, ddof=1) / np.sqrt(len(diff)))


def _fit_fold(est, X, settings, seed, fold):
    """One fit of a candidate without the ``fold`` rows, scored on them.

    ``fit`` with ``early_stopping=True`` holds the fold out and scores it after every
    epoch; the per-row scores (``_selection_scores``: the log-likelihood, or a front's own
    measure) are taken at the best epoch (the parameters early stopping keeps).
    """
    tic = time.perf_counter()
    # The kinds of the whole training set; a level that only the held-out rows hold scores
    # as "unseen" there, as it would on new data.
    fixed = {"early_stopping": True, "validation_fraction": VALID_FRACTION, "verbose": 0,
             "warm_start": False, "leaf": est.leaf_types_}
    if est.max_iter == "auto":  # let the whole schedule run: the best epoch is chosen
        fixed["n_iter_no_change"] = NO_PATIENCE
    public = {k: v for k, v in settings.items() if not k.startswith("_")}
    model = clone(est).set_params(**fixed, **public, random_state=seed)
    vars(model).update({k: v for k, v in settings.items() if k.startswith("_")}, _valid_rows=fold)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the candidates' fits are internal
        model.fit(X)
    scores = model._selection_scores(model._codes(take(X, fold)))
    return {"curve": np.array(model.history_["valid_loglik"]), "scores": scores,
            "model": model, "seconds": time.perf_counter() - tic}


def _record(est, X, settings, fits):
    """What ``capacity_search_`` keeps of a candidate: its settings (``"auto"`` sizes
    resolved), held-out score (mean over its held-out rows), number of parameters, the best
    epoch of its mean held-out curve (the refit's) and seconds."""
    model = fits[0]["model"]
    if settings["structure"] == "hclt":  # the sizes used, "auto" resolved
        k, m = model._hclt_size(X.shape[0] - len(model._valid_rows))
        settings = {**settings, "n_latents": k, "structure_params": {"n_components": m}}
    length = min(len(f["curve"]) for f in fits)
    curve = np.average([f["curve"][:length] for f in fits], axis=0, weights=[len(f["scores"]) for f in fits])
    scores = np.concatenate([f["scores"] for f in fits])
    return {
        "params": _plain(settings), "valid_loglik": float(np.mean(scores)),
        "n_parameters": int(model.circuit_.n_free_parameters()), "best_epoch": int(np.argmax(curve)) + 1,
        "n_folds": len(fits), "seconds": float(sum(f["seconds"] for f in fits)), "standard_error": None,
    }


def _plain(settings):
    return {k: dict(v) if isinstance(v, dict) else v for k, v in settings.items()}


def _describe(params):
    """One short line for a candidate's settings."""
    p = params.get("structure_params", {})
    shape = "diagonal" if params.get("_diagonal_cov") else "full-covariance"
    if "_kernel_bandwidth" in params:  # nothing fitted: no reg_covar, no epochs
        return f"kernel density, bandwidth {params['_kernel_bandwidth']:.3g} x Scott's rule"
    if params.get("structure") == "rat":
        text = f"gaussian mixture, {params['n_latents']} {shape} components"
    elif params.get("structure") == "mixture":
        text = f"mixture, {params['n_latents']} components ({shape} Gaussian x categorical)"
    else:
        text = f"hclt, n_latents={params['n_latents']}, n_components={p.get('n_components')}"
    extra = [f"reg_covar={params['reg_covar']:g}"] if "reg_covar" in params else []
    if "_stop_after" in params:  # the refit's length, chosen on the held-out curve
        extra.append(f"{params['_stop_after']} epochs")
    return ", ".join([text, *extra])


@contextlib.contextmanager
def settings(est, chosen):
    """Run ``est``'s fit with the ``chosen`` parameters, then put the user's back."""
    missing = object()
    given = {name: vars(est).get(name, missing) for name in chosen}
    vars(est).update(chosen)
    try:
        yield
    finally:
        for name, value in given.items():
            if value is missing:
                del vars(est)[name]
            else:
                setattr(est, name, value)


def _standard_errors(records, rows):
    """The index of the best mean held-out score, each candidate's mean per-row gap to it
    and that gap's standard error (stored in each record as ``"standard_error"``)."""
    top = int(np.argmax(rows.mean(axis=1)))
    diff = rows[top] - rows
    se = diff.std(axis=1, ddof=1) / np.sqrt(rows.shape[1]) if rows.shape[1] > 1 else np.zeros(len(rows))
    for record, error in zip(records, se):
        record["standard_error"] = float(error)
    return top, diff.mean(axis=1), se


def _one_standard_error(records, rows):
    """The candidate with the fewest parameters whose held-out log-likelihood is within one
    standard error of the best one's (Breiman's one-standard-error rule).

    The error is that of the mean per-row difference from the best candidate (both are
    scored on the same rows).
    """
    _, gap, se = _standard_errors(records, rows)
    close = np.flatnonzero(gap <= se)
    return int(close[np.argmin([records[i]["n_parameters"] for i in close])])


def _best_score(records, rows):
    """The candidate with the best held-out score (standard errors recorded as above)."""
    return _standard_errors(records, rows)[0]


#: How an estimator's ``_capacity_rule`` picks among the candidates.
RULES = {"one standard error": _one_standard_error, "best score": _best_score}
