"""Shared helpers of the benchmark scripts: a fit that records learning curves.

``fit_curve`` trains :class:`~skpc.PCDensityEstimator` for a fixed budget of epochs (no
early stop) and records, after every epoch, the mean log-likelihood of the training set
(as accumulated during the epoch, the estimator's ``history_``: for full-batch EM that is
the log-likelihood before the epoch's update) and of the validation and test sets, with
the training seconds (evaluation time excluded).
"""

import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from skpc import PCDensityEstimator  # noqa: E402
from skpc.datasets import DEBD, REFERENCE_TEST_LL, load_debd  # noqa: E402
from skpc.structures import hclt_mixture  # noqa: E402

__all__ = ["DEBD", "REFERENCE_TEST_LL", "CurveRecorder", "fit_curve", "load_splits"]


def load_splits(name):
    return {split: load_debd(name, split) for split in ("train", "valid", "test")}


class CurveRecorder(PCDensityEstimator):
    """PCDensityEstimator that evaluates held-out sets after every epoch.

    The evaluation runs in the per-epoch report hook; its time is subtracted from the
    recorded training seconds.
    """

    def _report(self, history, epoch):
        start = time.perf_counter()
        record = {
            "epoch": epoch + 1,
            "seconds": history["seconds"][-1] - self._eval_seconds,
            "train": history["train_loglik"][-1],
        }
        for name, X in self._eval_sets.items():
            record[name] = float(np.mean(self._log_likelihood(X)))
        self.curve_.append(record)
        self._eval_seconds += time.perf_counter() - start
        super()._report(history, epoch)

    def fit_recording(self, X, eval_sets):
        self._eval_sets, self._eval_seconds, self.curve_ = eval_sets, 0.0, []
        return self.fit(X)


def fit_curve(name, solver, seed, epochs, polish=0, splits=("valid", "test"), components=1, **params):
    """Fit one HCLT on data set ``name`` and return its learning curve.

    Parameters
    ----------
    name : str
        A debd data set.
    solver : str
    seed : int
    epochs : int
        Fixed budget (the run never stops early).
    polish : int
        Full-batch EM epochs run after the budget (warm start), recorded after it.
    splits : tuple of str
        Held-out splits evaluated after every epoch.
    components : int
        More than 1: a mixture of that many HCLTs (:func:`skpc.structures.hclt_mixture`).
    **params
        Other PCDensityEstimator parameters.

    Returns
    -------
    dict
        ``curve`` (per-epoch records), ``build_seconds`` and the run's settings.
    """
    data = load_splits(name)
    evals = {split: data[split] for split in splits}
    if components > 1:
        X = data["train"]
        params["structure"] = hclt_mixture(X, components, np.full(X.shape[1], 2), random_state=seed)
    est = CurveRecorder(solver=solver, max_iter=epochs, n_iter_no_change=epochs + 1, tol=0.0,
                        random_state=seed, **params)
    start = time.perf_counter()
    est.fit_recording(data["train"], evals)
    total = time.perf_counter() - start
    curve = est.curve_
    build = total - est._eval_seconds - curve[-1]["seconds"]
    if polish:
        offset, epochs_done = curve[-1]["seconds"], len(curve)
        est.set_params(warm_start=True, solver="em", max_iter=polish, n_iter_no_change=polish + 1)
        est.fit_recording(data["train"], evals)
        for rec in est.curve_:
            rec["epoch"] += epochs_done
            rec["seconds"] += offset
        curve = curve + est.curve_
    params.pop("structure", None)
    return {"dataset": name, "solver": solver, "seed": seed, "epochs": epochs, "polish": polish,
            "components": components, "params": params, "build_seconds": build, "curve": curve}


def summary(run):
    """Final and best-validation figures of one run."""
    curve = run["curve"]
    best = max(curve, key=lambda r: r["valid"])
    last = curve[-1]
    return {
        "final_test": last.get("test"), "final_valid": last["valid"], "final_train": last["train"],
        "best_epoch": best["epoch"], "best_valid": best["valid"], "best_test": best.get("test"),
        "sec_per_epoch": last["seconds"] / last["epoch"],
    }
