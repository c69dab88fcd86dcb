"""Imputation benchmark: PCImputer against scikit-learn's imputers.

On ``load_digits`` (8x8 images, 17 grey levels) and on a binary density-estimation data set,
entries are masked at random (10%, 30%, 50%) or in blocks (half of each digit image: its top,
bottom, left or right half; half of the columns of each binary row, chosen at random). Every
imputer is fitted on the masked training split and fills the masked test split; the table
reports the accuracy (filled value rounded to the nearest category equals the truth) and the
RMSE over the masked test entries, and the seconds of fit + transform.

Run from the repository root::

    python benchmarks/imputation.py [--n-latents 32] [--max-iter 30] [--debd nltcs] [--max-train 6000]

Every method runs with one BLAS thread (on a busy 2-core machine, threaded BLAS made
IterativeImputer 30 times slower).
"""

import argparse
import platform
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from threadpoolctl import threadpool_limits

from skpc import PCImputer
from skpc.datasets import load_debd

PC_STRATEGIES = ("mode", "mpe", "mean", "sample")


def random_mask(shape, rate, rng):
    return rng.random(shape) < rate


def block_mask(shape, rng, image=None):
    """Half of each row: a random half of an ``image``-shaped row, else a random half of the columns."""
    n, d = shape
    mask = np.zeros(shape, dtype=bool)
    if image is None:
        for i in range(n):
            mask[i, rng.choice(d, d // 2, replace=False)] = True
        return mask
    h, w = image
    halves = np.zeros((4, h, w), dtype=bool)
    halves[0, : h // 2] = halves[1, h // 2 :] = halves[2, :, : w // 2] = halves[3, :, w // 2 :] = True
    return halves[rng.integers(0, 4, n)].reshape(n, d)


def load(name):
    """Train and test splits with their number of categories per column."""
    if name == "digits":
        X = load_digits().data
        order = np.random.default_rng(0).permutation(len(X))
        cut = int(0.8 * len(X))
        return X[order[:cut]], X[order[cut:]], 17, (8, 8)
    return load_debd(name, "train"), load_debd(name, "test"), 2, None


def baselines(n_categories):
    top = n_categories - 1
    return {
        "SimpleImputer(mean)": lambda: SimpleImputer(strategy="mean"),
        "SimpleImputer(most_frequent)": lambda: SimpleImputer(strategy="most_frequent"),
        "KNNImputer(5)": lambda: KNNImputer(n_neighbors=5),
        "IterativeImputer": lambda: IterativeImputer(max_iter=10, min_value=0, max_value=top, random_state=0),
    }


def scores(filled, truth, mask, n_categories):
    values, true = filled[mask], truth[mask]
    accuracy = np.mean(np.clip(np.round(values), 0, n_categories - 1) == true)
    rmse = np.sqrt(np.mean((values - true) ** 2))
    return accuracy, rmse


def run_setting(train, test, n_categories, train_mask, test_mask, args):
    """Rows (method, accuracy, rmse, seconds) for one masking setting."""
    X_train, X_test = np.where(train_mask, np.nan, train), np.where(test_mask, np.nan, test)
    rows = []
    for name, make in baselines(n_categories).items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            filled = make().fit(X_train).transform(X_test)
        rows.append((name, *scores(filled, test, test_mask, n_categories), time.perf_counter() - start))
    start = time.perf_counter()
    imputer = PCImputer(n_latents=args.n_latents, max_iter=args.max_iter, n_categories=n_categories,
                        random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        imputer.fit(X_train)
    fit_seconds = time.perf_counter() - start
    for strategy in PC_STRATEGIES:
        start = time.perf_counter()
        filled = imputer.set_params(strategy=strategy).transform(X_test)
        seconds = fit_seconds + time.perf_counter() - start
        rows.append((f"PCImputer({strategy})", *scores(filled, test, test_mask, n_categories), seconds))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-latents", type=int, default=32)
    parser.add_argument("--max-iter", type=int, default=30)
    parser.add_argument("--debd", default="nltcs", help="binary data set (nltcs, plants, ...)")
    parser.add_argument("--max-train", type=int, default=6000, help="use at most this many training rows")
    args = parser.parse_args(argv)
    print(f"# Imputation benchmark\n\n{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"{platform.processor() or platform.machine()}, numpy {np.__version__}; "
          f"PCImputer(n_latents={args.n_latents}, max_iter={args.max_iter}); "
          f"fit on the masked training split, scored on the masked test entries; one BLAS thread.\n",
          flush=True)
    for data in ("digits", args.debd):
        train, test, n_categories, image = load(data)
        if args.max_train:
            train = train[: args.max_train]
        settings = [(f"random {int(r * 100)}%", lambda s, r=r, g=None: random_mask(s, r, g))
                    for r in (0.1, 0.3, 0.5)]
        settings.append(("block (half)", lambda s, g=None, image=image: block_mask(s, g, image)))
        print(f"## {data}: {len(train)} train rows, {len(test)} test rows, {train.shape[1]} columns, "
              f"{n_categories} categories\n")
        print("| mask | method | accuracy | RMSE | seconds |\n|---|---|---|---|---|")
        for label, make_mask in settings:
            rng = np.random.default_rng(1)
            train_mask, test_mask = make_mask(train.shape, g=rng), make_mask(test.shape, g=rng)
            rows = run_setting(train, test, n_categories, train_mask, test_mask, args)
            best_acc, best_rmse = max(r[1] for r in rows), min(r[2] for r in rows)
            for method, acc, rmse, seconds in rows:
                acc_s = f"**{acc:.4f}**" if acc == best_acc else f"{acc:.4f}"
                rmse_s = f"**{rmse:.4f}**" if rmse == best_rmse else f"{rmse:.4f}"
                print(f"| {label} | {method} | {acc_s} | {rmse_s} | {seconds:.1f} |", flush=True)
        print()


if __name__ == "__main__":
    with threadpool_limits(1):
        main()
