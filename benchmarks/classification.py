"""Classification benchmark: PCClassifier against scikit-learn classifiers as features go missing.

Stratified k-fold cross-validation (5 folds) on breast cancer, wine and digits, and on two
tasks derived from the debd sets: predict one column of nltcs / plants (the one whose 0/1
split is the most balanced) from the others, on a random subset of ``--max-rows`` rows.
Every model is fitted on the complete training folds; then 0%, 20% and 50% of the test
entries are masked at random (the same mask for every model) and the table reports the
mean accuracy and log loss over the folds, and the mean seconds of one fit.

``PCClassifier(early_stopping)`` is ``early_stopping=True, max_iter=50``: the epochs are
chosen on a held-out tenth of the training rows (by their joint log-likelihood).

Competitors: HistGradientBoostingClassifier (native NaN handling), mean imputation +
StandardScaler + LogisticRegression, mean imputation + GaussianNB, IterativeImputer +
StandardScaler + LogisticRegression. On the continuous sets (breast cancer, wine) the
circuit gets the same StandardScaler as the logistic regressions (it passes NaN through);
on digits it is told the 17 grey levels (``n_categories=17``), since a test fold may show a
pixel a level that its training folds never do.

Run from the repository root::

    PYTHONPATH=. python benchmarks/classification.py [--folds 5] [--max-rows 3000] \\
        [--sets breast_cancer wine digits nltcs plants] [--out benchmarks/results/classification.jsonl]
    PYTHONPATH=. python benchmarks/classification.py --print benchmarks/results/classification.jsonl

Every method runs with one BLAS thread (the machines are shared).
"""

import time
import warnings

import _records
import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skpc import PCClassifier
from skpc.datasets import load_debd

MISSING = (0.0, 0.2, 0.5)
SETS = ("breast_cancer", "wine", "digits", "nltcs", "plants")
CONTINUOUS = {"breast_cancer", "wine"}


def load(name, max_rows):
    """Features, labels and a description of one task."""
    if name in ("breast_cancer", "wine", "digits"):
        loader = {"breast_cancer": load_breast_cancer, "wine": load_wine, "digits": load_digits}[name]
        X, y = loader(return_X_y=True)
        return X.astype(float), y, f"{X.shape[0]} rows, {X.shape[1]} features, {len(np.unique(y))} classes"
    data = load_debd(name, "train")
    rows = np.random.default_rng(0).choice(len(data), min(max_rows, len(data)), replace=False)
    data = data[np.sort(rows)]
    target = int(np.argmin(np.abs(data.mean(axis=0) - 0.5)))  # the most balanced column
    X, y = np.delete(data, target, axis=1), data[:, target].astype(int)
    return X, y, f"{X.shape[0]} rows, {X.shape[1]} binary features, column {target} as the label"


def models(name, seed):
    scale = [StandardScaler()] if name in CONTINUOUS else []
    # Digits: all 17 grey levels, also those a pixel never shows in a training fold.
    pc = {"random_state": seed, **({"n_categories": 17} if name == "digits" else {})}
    return {
        "PCClassifier": lambda: make_pipeline(*scale, PCClassifier(**pc)),
        "PCClassifier(early_stopping)": lambda: make_pipeline(
            *scale, PCClassifier(early_stopping=True, max_iter=50, **pc)),
        "HistGradientBoosting": lambda: HistGradientBoostingClassifier(random_state=seed),
        "mean + scaler + LogReg": lambda: make_pipeline(SimpleImputer(), StandardScaler(),
                                                        LogisticRegression(max_iter=5000)),
        "mean + GaussianNB": lambda: make_pipeline(SimpleImputer(), GaussianNB()),
        "IterativeImputer + LogReg": lambda: make_pipeline(
            IterativeImputer(random_state=seed), StandardScaler(), LogisticRegression(max_iter=5000)),
    }


def run(name, args):
    """One record per (model, fold, missing fraction)."""
    X, y, about = load(name, args.max_rows)
    labels = np.unique(y)
    records = []
    folds = StratifiedKFold(args.folds, shuffle=True, random_state=0).split(X, y)
    for fold, (train, test) in enumerate(folds):
        masks = {m: np.random.default_rng([fold, int(m * 100)]).random(X[test].shape) < m for m in MISSING}
        for method, make in models(name, fold).items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = make().fit(X[train], y[train])
                seconds = time.perf_counter() - start
                for m, mask in masks.items():
                    proba = model.predict_proba(np.where(mask, np.nan, X[test]))
                    records.append({
                        "set": name, "about": about, "method": method, "fold": fold, "missing": m,
                        "accuracy": accuracy_score(y[test], labels[proba.argmax(axis=1)]),
                        "log_loss": log_loss(y[test], proba, labels=labels), "seconds": seconds,
                    })
        print(f"  {name} fold {fold + 1}/{args.folds} done", flush=True)
    return records


def table(records):
    """Markdown tables (one per set) of the mean accuracy and log loss; bold = best."""
    lines = []
    for name in dict.fromkeys(r["set"] for r in records):
        rows = [r for r in records if r["set"] == name]
        methods = list(dict.fromkeys(r["method"] for r in rows))
        mean = {(meth, m, key): np.mean([r[key] for r in rows if r["method"] == meth and r["missing"] == m])
                for meth in methods for m in MISSING for key in ("accuracy", "log_loss", "seconds")}
        n_folds = len({r["fold"] for r in rows})
        lines += [f"### {name} ({rows[0]['about']}; {n_folds}-fold CV)", ""]
        header = " | ".join(f"acc {int(m * 100)}% | log loss {int(m * 100)}%" for m in MISSING)
        lines += [f"| method | {header} | fit s |", "|---" * (2 * len(MISSING) + 2) + "|"]
        for meth in methods:
            cells = []
            for m in MISSING:
                for key, best in (("accuracy", max), ("log_loss", min)):
                    value = mean[(meth, m, key)]
                    top = best(mean[(other, m, key)] for other in methods)
                    cells.append(f"**{value:.3f}**" if value == top else f"{value:.3f}")
            lines.append(f"| {meth} | {' | '.join(cells)} | {mean[(meth, 0.0, 'seconds')]:.2f} |")
        lines.append("")
    return "\n".join(lines)


def arguments(parser):
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--max-rows", type=int, default=3000, help="rows of each debd task")


if __name__ == "__main__":
    _records.main(__doc__, SETS, run, table, arguments)
