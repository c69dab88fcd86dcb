"""HCLT on the five debd data sets: test log-likelihood, epochs, speed and peak memory.

Each (data set, solver, seed) is fit in its own subprocess, so that its peak resident
memory (``ru_maxrss``) is that of one fit. Settings not given on the command line are
the estimator's defaults; the validation and test log-likelihoods of the fitted model are
printed with the reference figures (a mixture of four HCLTs with 12 states, DESIGN.md
section 7) beside. Choose settings on the validation column only.

Usage::

    python benchmarks/debd.py --datasets nltcs plants --solvers anemone em --seeds 1
    python benchmarks/debd.py --solvers anemone --seeds 3          # the defaults table
    python benchmarks/debd.py --datasets dna --solvers anemone --seeds 4 \
        --params '{"structure_params": {"n_components": 8}, "n_latents": 8, "max_iter": 20}' \
        --json benchmarks/results/issue4_dna_seeds.jsonl
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from skpc import PCDensityEstimator  # noqa: E402
from skpc.datasets import DEBD, REFERENCE_TEST_LL, load_debd  # noqa: E402


def fit_one(name, solver, seed, params):
    """Fit and score one model in this process; returns a dict of figures."""
    X, X_valid, X_test = load_debd(name), load_debd(name, "valid"), load_debd(name, "test")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        pc = PCDensityEstimator(solver=solver, random_state=seed, **params).fit(X)
        seconds = time.perf_counter() - start
    train_seconds = pc.history_["seconds"][-1]
    return {
        "dataset": name, "solver": solver, "seed": seed, "valid": pc.score(X_valid),
        "test": pc.score(X_test),
        "epochs": pc.n_iter_, "sec_per_epoch": train_seconds / pc.n_iter_, "fit_seconds": seconds,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_subprocess(name, solver, seed, params):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    spec = json.dumps([name, solver, seed, params])
    out = subprocess.run([sys.executable, __file__, "--one", spec], capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"{name}/{solver}/{seed} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DEBD), choices=DEBD)
    parser.add_argument("--solvers", nargs="+", default=["anemone", "em"])
    parser.add_argument("--k", type=int, default=None, help="n_latents (default: the estimator's)")
    parser.add_argument("--epochs", type=int, default=None, help="max_iter (default: the estimator's)")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--params", type=json.loads, default={}, help="other estimator settings (JSON)")
    parser.add_argument("--jobs", type=int, default=1, help="fits run in parallel (each one thread)")
    parser.add_argument("--json", default=None, help="append every fit's figures to this JSON-lines file")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(fit_one(*json.loads(args.one))))
        return
    params = dict(args.params)
    if args.k is not None:
        params["n_latents"] = args.k
    if args.epochs is not None:
        params["max_iter"] = args.epochs
    tasks = [(d, s, seed) for d in args.datasets for s in args.solvers for seed in range(args.seeds)]
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(lambda t: run_subprocess(*t, params), tasks))
    print(f"settings: {json.dumps(params) if params else 'estimator defaults'}")
    if args.json:
        with open(args.json, "a") as f:
            f.writelines(json.dumps({**r, "params": params}) + "\n" for r in rows)
    print(f"{'data set':9s} {'solver':13s} {'valid LL':>16s} {'test LL':>16s} {'reference':>9s} "
          f"{'epochs':>7s} {'s/epoch':>8s} {'peak MB':>8s}")

    def cell(values):
        values = np.asarray(values)
        return f"{values.mean():9.3f}" + (f" ± {values.std():.2f}" if len(values) > 1 else " " * 7)

    for d in args.datasets:
        for s in args.solvers:
            group = [r for r in rows if r["dataset"] == d and r["solver"] == s]
            epochs = np.mean([r["epochs"] for r in group])
            speed = np.mean([r["sec_per_epoch"] for r in group])
            peak = max(r["peak_mb"] for r in group)
            print(f"{d:9s} {s:13s} {cell([r['valid'] for r in group])} {cell([r['test'] for r in group])} "
                  f"{REFERENCE_TEST_LL[d]:9.2f} {epochs:7.1f} {speed:8.2f} {peak:8.0f}")


if __name__ == "__main__":
    main()
