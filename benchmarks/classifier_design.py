"""PCClassifier's design: one circuit over (x, y) against one circuit per class with class priors.

Both use PCDensityEstimator's defaults. The joint circuit is the one PCClassifier ships:
the label is one more categorical column and ``p(y | x)`` normalises ``p(x, y)`` over the
classes. The per-class model fits one circuit on each class's rows (with the features'
input types and categories taken from all the training rows, so that the densities are
comparable) and normalises ``p(y) p(x | y)``. Stratified 3-fold CV on wine and breast
cancer (standardised), the first of 3 folds on digits; 0% and 50% of the test entries
missing at random.

Run from the repository root::

    PYTHONPATH=. python benchmarks/classifier_design.py
"""

import time
import warnings

import numpy as np
from scipy.special import logsumexp
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from skpc._validation import column_summary
from threadpoolctl import threadpool_limits

from skpc import PCClassifier, PCDensityEstimator


def per_class(X_train, y_train, X_test, n_classes, n_cat):
    kinds, cats = PCDensityEstimator()._resolve_leaves(X_train, column_summary(X_train))
    cats = np.maximum(cats, n_cat)
    log_joint = []
    for c in range(n_classes):
        est = PCDensityEstimator(leaf=kinds, n_categories=cats, random_state=0).fit(X_train[y_train == c])
        log_joint.append(est.score_samples(X_test) + np.log(np.mean(y_train == c)))
    log_joint = np.column_stack(log_joint)
    return np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))


def joint(X_train, y_train, X_test, n_classes, n_cat):
    params = {"n_categories": n_cat} if n_cat > 1 else {}
    return PCClassifier(random_state=0, **params).fit(X_train, y_train).predict_proba(X_test)


def main():
    print("| set | missing | model | accuracy | log loss | seconds |\n|---|---|---|---|---|---|")
    for name, loader in [("wine", load_wine), ("breast_cancer", load_breast_cancer), ("digits", load_digits)]:
        X, y = loader(return_X_y=True)
        n_cat, n_classes = (17 if name == "digits" else 1), len(np.unique(y))
        results = {}
        for fold, (train, test) in enumerate(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y)):
            if fold > 0 and name == "digits":
                break
            X_train, X_test = X[train], X[test]
            if name != "digits":
                scaler = StandardScaler().fit(X_train)
                X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
            rng = np.random.default_rng(fold)
            for missing in (0.0, 0.5):
                X_masked = np.where(rng.random(X_test.shape) < missing, np.nan, X_test)
                for model, predict in [("per class", per_class), ("joint", joint)]:
                    start = time.perf_counter()
                    proba = predict(X_train, y[train], X_masked, n_classes, n_cat)
                    results.setdefault((missing, model), []).append((
                        accuracy_score(y[test], proba.argmax(axis=1)),
                        log_loss(y[test], proba, labels=range(n_classes)), time.perf_counter() - start))
        for (missing, model), values in results.items():
            acc, loss, seconds = np.mean(values, axis=0)
            print(f"| {name} | {missing:.0%} | {model} | {acc:.3f} | {loss:.3f} | {seconds:.1f} |")


if __name__ == "__main__":
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")
        main()
