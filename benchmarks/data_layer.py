"""Users' own tables: cross-validation and imputation through the data layer (issue 15).

Three questions, each on ``load_digits`` (17 grey levels, integer data) and on two mixed
tables with string columns:

1. ``cross_val_score(PCDensityEstimator(), X, cv=3)``: finite scores?
2. ``HalvingRandomSearchCV`` over ``n_latents`` and ``pseudocount``: the share of NaN
   scores in its rounds (NaN candidates are eliminated at random) and the best score.
3. Imputation of 20% of the entries masked at random: accuracy on categorical columns and
   RMSE (in standard deviations) on numeric ones, for ``PCImputer`` (mode) against
   ``SimpleImputer(strategy="most_frequent")`` and ``KNNImputer`` on one-hot columns.

The mixed tables, made here (nothing is downloaded):

- ``survey``: 2000 rows from a latent-class model (4 classes) with string columns
  (``city``, ``plan``, ``channel``), a boolean, an integer count and two real columns;
- ``wine-mixed``: scikit-learn's wine data with the class as a string column, two columns
  binned into ``"low"/"mid"/"high"`` strings, and the other 11 columns as they are.

Run from the repository root (add ``--quick`` for a fast check)::

    python benchmarks/data_layer.py

To compare with an earlier version, run the same file with that version first on the
path (``PYTHONPATH=/path/to/old/checkout python benchmarks/data_layer.py``): steps that
version cannot do are reported as errors.
"""

import argparse
import platform
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.impute import KNNImputer, SimpleImputer
from sklearn.model_selection import HalvingRandomSearchCV, cross_val_score
from threadpoolctl import threadpool_limits

import skpc
from skpc import PCDensityEstimator, PCImputer


def survey(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.choice(4, n, p=[0.4, 0.3, 0.2, 0.1])
    pick = lambda table, names: np.array(names)[[rng.choice(len(names), p=table[k]) for k in z]]  # noqa: E731
    city = pick([[.6, .2, .1, .1], [.1, .6, .2, .1], [.2, .2, .5, .1], [.25, .25, .25, .25]],
                ["Paris", "Lyon", "Nice", "Lille"])
    plan = pick([[.7, .2, .1], [.2, .6, .2], [.1, .2, .7], [.34, .33, .33]], ["basic", "plus", "pro"])
    channel = pick([[.8, .2], [.5, .5], [.2, .8], [.5, .5]], ["web", "shop"])
    return pd.DataFrame({
        "city": city, "plan": plan, "channel": channel,
        "member": rng.random(n) < np.array([0.2, 0.5, 0.8, 0.5])[z],
        "visits": rng.poisson(np.array([1.0, 3.0, 6.0, 2.0])[z]),
        "spend": rng.normal(np.array([20.0, 50.0, 120.0, 60.0])[z], np.array([5.0, 10.0, 30.0, 20.0])[z]),
        "age": rng.normal(np.array([25.0, 40.0, 55.0, 35.0])[z], 6.0),
    })


def wine_mixed():
    data = load_wine(as_frame=True)
    frame = data.frame.drop(columns="target").copy()
    for column in ("alcohol", "color_intensity"):
        frame[column] = pd.qcut(frame[column], 3, labels=["low", "mid", "high"]).astype(str)
    frame.insert(0, "cultivar", np.array(["barolo", "grignolino", "barbera"])[data.target])
    return frame


def digits():
    return load_digits().data


def attempt(fn):
    """``fn()``, or the first line of the error it raised."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 -- an old version's failure is the measurement
        return f"error: {type(e).__name__}: {str(e).splitlines()[0][:70]}"


def cv_row(name, X, quick):
    start = time.perf_counter()
    est = PCDensityEstimator(random_state=0, max_iter=3 if quick else "auto")
    scores = attempt(lambda: cross_val_score(est, X, cv=3, error_score="raise"))
    seconds = time.perf_counter() - start
    if isinstance(scores, str):
        return f"| {name} | cross_val_score | {scores} | {seconds:.0f} |"
    return f"| {name} | cross_val_score | {np.array2string(scores, precision=2)} | {seconds:.0f} |"


def halving_row(name, X, quick):
    start = time.perf_counter()
    search = HalvingRandomSearchCV(
        PCDensityEstimator(max_iter=3 if quick else 10, random_state=0),
        {"n_latents": [2, 4, 8, 16], "pseudocount": [1e-3, 1e-2, 0.1, 1.0]},
        n_candidates=8, cv=3, random_state=0, error_score=np.nan,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # failing fits warn once per candidate
        fitted = attempt(lambda: search.fit(X))
    seconds = time.perf_counter() - start
    if isinstance(fitted, str):
        return f"| {name} | HalvingRandomSearchCV | {fitted} | {seconds:.0f} |"
    results = pd.DataFrame(search.cv_results_)
    nan = results.groupby("iter")["mean_test_score"].apply(lambda s: f"{s.isna().mean():.0%}")
    best = search.best_score_
    return (f"| {name} | HalvingRandomSearchCV | NaN share per round {'/'.join(nan)}; best {best:.2f} "
            f"({search.best_params_}) | {seconds:.0f} |")


def canon(values):
    """Values as comparable text: numbers (and booleans) as floats, the rest as strings."""
    out = []
    for v in values:
        if v in ("True", "False"):
            v = v == "True"
        try:
            out.append(str(float(v)))
        except (TypeError, ValueError):
            out.append(str(v))
    return np.array(out)


def one_hot(frame, categorical):
    return pd.get_dummies(frame, columns=categorical, dummy_na=False, dtype=float)


def impute_rows(name, frame, quick, rate=0.2, seed=0):
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frame))
    cut = int(0.7 * len(frame))
    train = frame.iloc[order[:cut]].reset_index(drop=True)
    test = frame.iloc[order[cut:]].reset_index(drop=True)
    mask = rng.random(test.shape) < rate
    masked = test.mask(mask)
    train_masked = train.mask(rng.random(train.shape) < rate)
    categorical = [c for c in frame.columns if not pd.api.types.is_float_dtype(frame[c])]
    numeric = [c for c in frame.columns if c not in categorical]
    std = train[numeric].std()

    def report(label, filled, seconds):
        hits = [canon(filled.loc[mask[:, j], c]) == canon(test.loc[mask[:, j], c])
                for j, c in enumerate(frame.columns) if c in categorical]
        errors = [((filled.loc[mask[:, j], c].astype(float) - test.loc[mask[:, j], c]) / std[c]).to_numpy()
                  for j, c in enumerate(frame.columns) if c in numeric]
        acc = np.concatenate(hits).mean()
        rmse = float(np.sqrt(np.mean(np.concatenate(errors) ** 2)))
        return f"| {name} | {label} | {acc:.3f} | {rmse:.3f} | {seconds:.1f} |"

    rows = []
    start = time.perf_counter()
    imp = PCImputer(random_state=0, max_iter=3 if quick else "auto")
    filled = attempt(lambda: pd.DataFrame(imp.fit(train_masked).transform(masked), columns=frame.columns))
    if isinstance(filled, str):
        rows.append(f"| {name} | PCImputer (mode) | {filled} | | |")
    else:
        rows.append(report("PCImputer (mode)", filled, time.perf_counter() - start))
    start = time.perf_counter()
    simple = SimpleImputer(strategy="most_frequent").fit(train_masked.astype(object))
    filled = pd.DataFrame(simple.transform(masked.astype(object)), columns=frame.columns)
    rows.append(report("SimpleImputer(most_frequent)", filled, time.perf_counter() - start))
    start = time.perf_counter()
    # KNNImputer on one-hot columns (NaN in every dummy of a missing category), numeric
    # columns standardised; each category decoded as its largest dummy.
    dummies = lambda f: one_hot(f, categorical)  # noqa: E731
    hot_train = dummies(train_masked)
    hot_test = dummies(masked).reindex(columns=hot_train.columns, fill_value=0.0)
    for c in categorical:
        cols = [k for k in hot_train.columns if k.startswith(f"{c}_")]
        hot_train.loc[train_masked[c].isna(), cols] = np.nan
        hot_test.loc[masked[c].isna(), cols] = np.nan
    scale = hot_train.std().replace(0, 1)
    knn = KNNImputer(n_neighbors=5).fit(hot_train / scale)
    out = pd.DataFrame(knn.transform(hot_test / scale), columns=hot_train.columns) * scale
    filled = masked.copy()
    for c in numeric:
        filled[c] = out[c]
    for c in categorical:
        cols = [k for k in hot_train.columns if k.startswith(f"{c}_")]
        filled[c] = np.array([k[len(c) + 1:] for k in cols])[out[cols].to_numpy().argmax(axis=1)]
    rows.append(report("KNNImputer (one-hot)", filled, time.perf_counter() - start))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs per fit (a smoke run)")
    args = parser.parse_args()
    print(f"skpc {skpc.__version__} from {skpc.__file__}; {platform.processor() or platform.machine()}, "
          f"numpy {np.__version__}, pandas {pd.__version__}")
    tables = {"digits": digits(), "survey": survey(), "wine-mixed": wine_mixed()}
    # The table reports failures and scores; the epoch-budget warnings of the many small
    # fits would only bury it.
    warnings.simplefilter("ignore", category=ConvergenceWarning)
    with threadpool_limits(1, "blas"):
        print("\n| data | workflow | result | seconds |\n|---|---|---|---|")
        for name, X in tables.items():
            print(cv_row(name, X, args.quick), flush=True)
            print(halving_row(name, X, args.quick), flush=True)
        print("\n| data | imputer | accuracy (categorical) | RMSE / std (numeric) | seconds |")
        print("|---|---|---|---|---|")
        for name in ("survey", "wine-mixed"):
            for row in impute_rows(name, tables[name], args.quick):
                print(row, flush=True)


if __name__ == "__main__":
    main()
