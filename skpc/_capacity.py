"""``structure="auto"``: the model's capacity chosen on held-out rows of the training data.

A small search, as ``LassoCV`` chooses its penalty: each candidate circuit is fitted on
``1 - VALID_FRACTION`` of the training rows, scored on the rest after every epoch, and the
candidate with the best held-out log-likelihood is refitted on all the rows, for as many
epochs as its best held-out epoch. The candidates contain the obvious baselines as
special cases (a single full-covariance Gaussian, Gaussian mixtures: RATs of depth 0 with
multivariate leaves), so on held-out rows the choice is never behind them. Large data skip
the search (``SEARCH_MAX_CELLS``) and get the fixed HCLT rule of ``structure="hclt"``.
The rules and the evidence for them: docs/defaults.md.
"""

import contextlib
import time
import warnings

import numpy as np
from sklearn.base import clone

#: Training sets with at least this many cells (rows x columns) skip the search and get
#: ``structure="hclt"`` with its fixed size rule. Below it one fit takes seconds, so a
#: search of a few candidates stays cheap, and it is where a fixed size overfits most.
#: Every bundled debd set is above it (the smallest, dna, has 1600 x 180 = 288 000), so
#: their defaults are those of ``structure="hclt"``.
SEARCH_MAX_CELLS = 200_000

#: Fewer training rows than this: no held-out part worth scoring; the search is skipped.
SEARCH_MIN_ROWS = 20

#: Share of the training rows held out to score the candidates.
VALID_FRACTION = 0.2

#: Random held-out splits per candidate (the same for every candidate); each further one
#: multiplies the search's cost.
N_SPLITS = 1

#: Sizes of the Gaussian-mixture candidates (full-covariance components), tried in order
#: while the held-out score improves.
MIXTURE_SIZES = (1, 2, 3, 4, 6, 8)

#: ``reg_covar="auto"``: the values tried with the Gaussian-mixture candidates (0 first).
REG_COVARS = (0.0, 1e-2, 1e-1)

#: ``n_iter_no_change`` of the candidates and the refit under ``max_iter="auto"``: their
#: schedule runs to the end (or to the chosen epoch) instead of stopping on a plateau.
NO_PATIENCE = 10**6

#: HCLT candidates: (n_latents, n_components); ``"auto"`` is ``structure="hclt"``'s rule.
#: On continuous columns only the single trees are candidates: there the rule's mixture
#: of 8 HCLTs (64 Gaussian states per column) gives uniform outliers mass; on moons and
#: rings with 5% of them it had the best held-out score and ranked them with ROC AUC 0.90
#: and 0.93, against 0.98-1.00 for the single trees (docs/defaults.md).
HCLT_SIZES = (("auto", "auto"), (8, 1), (16, 1), (32, 1))


#: Structures of the mixture candidates: their paths stop at the first size that does not
#: improve the held-out score.
MIXTURES = ("rat", "mixture")


def take(X, rows):
    """Rows of a user's table (DataFrame or array)."""
    return X.iloc[rows] if hasattr(X, "iloc") else X[rows]


def wanted(est, X):
    """Whether ``fit`` of ``est`` on ``X`` chooses its capacity by the search."""
    if est.structure != "auto" or est.n_latents != "auto" or est.structure_params:
        return False  # the user chose the structure or its size
    n, d = X.shape
    return SEARCH_MIN_ROWS <= n and n * d < SEARCH_MAX_CELLS


def candidates(est):
    """Settings of each candidate: dicts of estimator parameters."""
    hclts = [{"structure": "hclt", "n_latents": k, "structure_params": {"n_components": m}}
             for k, m in HCLT_SIZES]
    regs = REG_COVARS if est.reg_covar == "auto" else (est.reg_covar,)
    gaussian = est.leaf_types_ == "gaussian"
    if gaussian.any() and not gaussian.all():
        # Continuous and categorical columns (a classifier's label among them): mixtures
        # whose components are a full-covariance Gaussian times a distribution of each
        # categorical column (a Gaussian mixture per class, for a label).
        paths = [[{"structure": "mixture", "n_latents": k, "reg_covar": reg} for k in MIXTURE_SIZES]
                 for reg in regs]
        return [*paths, hclts]
    # Full-covariance units need continuous columns, and a RAT two of them (one continuous
    # column: the HCLTs are its mixtures of univariate Gaussians).
    if not gaussian.all() or len(est.leaf_types_) < 2:
        return [hclts]
    paths = [[{"structure": "rat", "n_latents": k, "reg_covar": reg,
               "structure_params": {"depth": 0, "n_repetitions": 1, "multivariate_leaves": True}}
              for k in MIXTURE_SIZES] for reg in regs]
    single = [{**h, "reg_covar": regs[0]} for h in hclts if h["structure_params"]["n_components"] == 1]
    return [*paths, single]


def search(est, X, rng):
    """Fit the candidates on part of ``X``, score them on the rest; return the refit's settings.

    Records every candidate in ``est.capacity_search_``. Each list of candidates is a
    path tried in order; a Gaussian-mixture path stops at the first size that does not
    improve its held-out score.
    """
    start = time.perf_counter()
    # The same held-out splits for every candidate, so that their scores are paired.
    seeds = [int(s) for s in rng.randint(np.iinfo(np.int32).max, size=N_SPLITS)]
    records, rows = [], []
    for path in candidates(est):
        best_on_path = -np.inf
        for settings in path:
            tic = time.perf_counter()
            record, scores = _evaluate(est, X, settings, seeds)
            record["seconds"] = time.perf_counter() - tic
            records.append(record)
            rows.append(scores)
            if est.verbose:
                print(f"candidate {_describe(record['params']):55s} valid {record['valid_loglik']:9.4f} "
                      f"(best epoch {record['best_epoch']})  {record['seconds']:6.2f}s", flush=True)
            if record["valid_loglik"] <= best_on_path and settings["structure"] in MIXTURES:
                break
            best_on_path = max(best_on_path, record["valid_loglik"])
    best = RULES[est._capacity_rule](records, np.array(rows))
    chosen = dict(records[best]["params"])
    if est.max_iter == "auto":  # the refit runs as the candidate did, to its best held-out epoch
        chosen.update(_stop_after=records[best]["best_epoch"], n_iter_no_change=NO_PATIENCE)
    est.capacity_search_ = {
        "candidates": records, "best": best, "chosen": chosen, "random_states": seeds,
        "n_valid_rows": _n_valid(X.shape[0]), "seconds": time.perf_counter() - start,
    }
    if est.verbose:
        print(f"chose {_describe(chosen)} by held-out log-likelihood; refit on all {X.shape[0]} rows "
              f"(search {est.capacity_search_['seconds']:.1f}s)", flush=True)
    return chosen


def _n_valid(n_rows):
    return max(1, int(round(VALID_FRACTION * n_rows)))  # as fit's early stopping


def _evaluate(est, X, settings, seeds):
    """Held-out record of one candidate, and its held-out per-row log-likelihoods.

    Each split is the one ``fit`` with ``early_stopping=True`` holds out for its
    ``random_state``; the candidate is scored after every epoch, and its per-row scores
    (``_selection_scores``: the log-likelihood, or a front's own measure) are taken at its
    best epoch (the parameters early stopping keeps).
    """
    # The kinds of the whole training set; a level that only the held-out rows hold scores
    # as "unseen" there, as it would on new data.
    fixed = {"early_stopping": True, "validation_fraction": VALID_FRACTION, "verbose": 0,
             "warm_start": False, "leaf": est.leaf_types_}
    if est.max_iter == "auto":  # let the whole schedule run: the best epoch is chosen
        fixed["n_iter_no_change"] = NO_PATIENCE
    n_valid = _n_valid(X.shape[0])
    curves, scores = [], []
    for seed in seeds:
        model = clone(est).set_params(**fixed, **settings, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the candidates' fits are internal
            model.fit(X)
        curves.append(model.history_["valid_loglik"])
        held_out = np.sort(np.random.RandomState(seed).permutation(X.shape[0])[:n_valid])
        scores.append(model._selection_scores(model._codes(take(X, held_out))))
    length = min(len(c) for c in curves)
    curve = np.mean([c[:length] for c in curves], axis=0)
    if settings["structure"] == "hclt":  # the sizes used, "auto" resolved
        k, m = model._hclt_size(X.shape[0] - n_valid)
        settings = {**settings, "n_latents": k, "structure_params": {"n_components": m}}
    record = {
        "params": _plain(settings), "valid_loglik": float(np.mean(scores)),
        "n_parameters": int(model.circuit_.n_parameters()), "best_epoch": int(np.argmax(curve)) + 1,
    }
    return record, np.concatenate(scores)


def _plain(settings):
    return {k: dict(v) if isinstance(v, dict) else v for k, v in settings.items()}


def _describe(params):
    """One short line for a candidate's settings."""
    p = params.get("structure_params", {})
    if params.get("structure") == "rat":
        text = f"gaussian mixture, {params['n_latents']} full-covariance components"
    elif params.get("structure") == "mixture":
        text = f"mixture, {params['n_latents']} components (full-covariance Gaussian x categorical)"
    else:
        text = f"hclt, n_latents={params['n_latents']}, n_components={p.get('n_components')}"
    extra = [f"{k}={params[k]:g}" for k in ("reg_covar", "_stop_after") if k in params]
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


def _one_standard_error(records, rows):
    """The candidate with the fewest parameters whose held-out log-likelihood is within one
    standard error of the best one's (Breiman's one-standard-error rule).

    The error is that of the mean per-row difference from the best candidate (both are
    scored on the same rows); it is stored in each record as ``"standard_error"``.
    """
    top = int(np.argmax(rows.mean(axis=1)))
    diff = rows[top] - rows
    se = diff.std(axis=1, ddof=1) / np.sqrt(rows.shape[1]) if rows.shape[1] > 1 else np.zeros(len(rows))
    for record, error in zip(records, se):
        record["standard_error"] = float(error)
    close = np.flatnonzero(diff.mean(axis=1) <= se)
    return int(close[np.argmin([records[i]["n_parameters"] for i in close])])


def _best_score(records, rows):
    """The candidate with the best held-out score (standard errors recorded as above)."""
    _one_standard_error(records, rows)
    return int(np.argmax(rows.mean(axis=1)))


#: How an estimator's ``_capacity_rule`` picks among the candidates.
RULES = {"one standard error": _one_standard_error, "best score": _best_score}
