"""Quality levers of HCLT, measured on validation data: mixtures of HCLTs, EM polish.

- ``mixture``: a mixture of M HCLTs (:func:`skpc.structures.hclt_mixture`: Chow-Liu
  trees from bootstrap resamples of the training data, each component with its own input
  units, mixed by one root sum); compared at the same number of epochs with one HCLT.
- ``polish``: anemone for the budget, then a few full-batch EM epochs (warm start).

Usage::

    python benchmarks/levers.py --datasets nltcs plants dna --epochs 30 --jobs 2
"""

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# Run from a checkout: the package and _curves for this process and its workers.
sys.path[:0] = [str(HERE), str(HERE.parent)]
os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")])

from _curves import fit_curve, summary  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402


def run(name, label, seed, epochs, params):
    params = dict(params)
    polish = params.pop("polish", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit_curve(name, params.pop("solver", "anemone"), seed, epochs - polish, polish=polish,
                           splits=("valid",), **params)
    return {"dataset": name, "label": label, "seed": seed, **summary(result)}


VARIANTS = {
    "hclt k=32": {},
    "hclt k=32 +5 EM polish": {"polish": 5},
    "4 hclts k=16": {"components": 4, "n_latents": 16},
    "4 hclts k=32": {"components": 4, "n_latents": 32},
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["nltcs", "plants", "dna"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--common", type=json.loads, default={}, help="JSON settings for every run")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    tasks = [(d, v, s) for v in args.variants for d in args.datasets for s in range(args.seeds)]
    rows = Parallel(n_jobs=args.jobs)(
        delayed(run)(d, v, s, args.epochs, {**args.common, **VARIANTS[v]}) for d, v, s in tasks
    )
    print(f"{'variant':24s} " + " ".join(f"{d + ' valid':>13s}" for d in args.datasets) + "   s/epoch")
    for v in args.variants:
        group = {d: [r for r in rows if r["label"] == v and r["dataset"] == d] for d in args.datasets}
        cells = " ".join(f"{np.mean([r['final_valid'] for r in group[d]]):13.3f}" for d in args.datasets)
        speed = np.mean([r["sec_per_epoch"] for g in group.values() for r in g])
        print(f"{v:24s} {cells}   {speed:.2f}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
