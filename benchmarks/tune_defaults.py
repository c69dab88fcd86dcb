"""Choose defaults on validation data: sweeps of the estimator's learning settings.

Each grid varies a few settings around a base configuration; every configuration is fit
once per data set and seed for a fixed epoch budget, and ranked by its mean *regret*
(the gap of its final validation log-likelihood to the best configuration of the same
data set). Test data are never read for the choice.

Usage::

    python benchmarks/tune_defaults.py --grid steps --datasets nltcs plants dna --epochs 30 --jobs 2
    python benchmarks/tune_defaults.py --grid anemone --base '{"step_size": 0.8}' ...
    python benchmarks/tune_defaults.py --grid issue4_candidates --pick 0 1 2 --datasets plants --epochs 50

Results are appended as JSON lines to ``benchmarks/results/tune_<grid>.jsonl``.
"""

import argparse
import itertools
import json
import os
import sys
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Run from a checkout: the package and _curves for this process and its workers.
sys.path[:0] = [str(HERE), str(HERE.parent)]
os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")])

from _curves import fit_curve, summary  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402

GRIDS = {
    # Step size, schedule and batch size of each mini-batch solver (Adam: learning rate),
    # then units per region and pseudocount around a base anemone setting.
    "steps": [
        *({"solver": "anemone", "step_size": a, "batch_size": b, "schedule": "cosine"}
          for a, b in itertools.product([0.3, 0.5, 0.7, 0.9, 1.0], [256, 512, 1024])),
        *({"solver": "anemone", "step_size": a, "batch_size": 512, "schedule": "constant"}
          for a in [0.5, 0.9]),
        *({"solver": "minibatch_em", "step_size": a, "batch_size": b, "schedule": "constant"}
          for a, b in itertools.product([0.3, 0.6, 1.0], [256, 512])),
        {"solver": "minibatch_em", "step_size": 1.0, "batch_size": 512, "schedule": "cosine"},
        *({"solver": "adam", "step_size": a, "batch_size": b, "schedule": "cosine"}
          for a, b in itertools.product([0.03, 0.1, 0.3], [256, 512])),
        {"solver": "em"},
        *({"solver": "anemone", "step_size": 0.7, "batch_size": 512, "schedule": "cosine", "n_latents": k}
          for k in [16, 64]),
        *({"solver": "anemone", "step_size": 0.7, "batch_size": 512, "schedule": "cosine", "pseudocount": p}
          for p in [0.001, 0.1, 1.0]),
    ],
    # Second pass, after "steps" showed that a smaller pseudocount helps.
    "pseudocount": [
        *({"solver": "anemone", "step_size": a, "batch_size": 512, "schedule": "cosine", "pseudocount": p}
          for a, p in itertools.product([0.7, 1.0], [0.0001, 0.001])),
        {"solver": "minibatch_em", "step_size": 1.0, "batch_size": 512, "schedule": "cosine",
         "pseudocount": 0.001},
    ],
    # Issue 4 ("defaults that win"): capacity and smoothing around the current defaults
    # (anemone a=1.0 cosine, batch 512, pseudocount 0.001), screened on dna and jester.
    "issue4": [
        {"solver": "anemone"},
        {"solver": "anemone", "n_latents": 16},
        {"solver": "anemone", "pseudocount": 0.01},
        *({"solver": "anemone", "components": m, "n_latents": k}
          for m, k in [(4, 16), (4, 12), (8, 8), (2, 24)]),
        {"solver": "anemone", "components": 4, "n_latents": 16, "pseudocount": 0.01},
    ],
    # Second pass, after "issue4" showed that more, smaller HCLTs help on dna.
    "issue4_mix": [
        *({"solver": "anemone", "components": m, "n_latents": k}
          for m, k in [(8, 8), (8, 4), (16, 4), (16, 8), (8, 12), (32, 2)]),
        {"solver": "anemone", "components": 8, "n_latents": 8, "pseudocount": 0.01},
    ],
    # The candidates of the two passes above, on the other data sets.
    "issue4_candidates": [
        {"solver": "anemone"},
        *({"solver": "anemone", "components": m, "n_latents": k}
          for m, k in [(4, 16), (8, 8), (8, 4), (16, 4)]),
    ],
}


def run(name, config, seed, epochs, base):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        params = {**base, **config}
        solver = params.pop("solver")
        result = fit_curve(name, solver, seed, epochs, splits=("valid",), **params)
    return {"dataset": name, "config": config, "seed": seed, "epochs": epochs, "base": base,
            **summary(result), "valid_curve": [r["valid"] for r in result["curve"]]}


def rank(rows, keep=None):
    """Configurations sorted by mean regret of final validation log-likelihood.

    ``keep(config)`` restricts the ranking to some configurations.
    """
    rows = [r for r in rows if keep is None or keep(r["config"])]
    best = {}
    for r in rows:
        best[r["dataset"]] = max(best.get(r["dataset"], -1e300), r["final_valid"])
    regret = {}
    for r in rows:
        key = json.dumps(r["config"], sort_keys=True)
        regret.setdefault(key, {}).setdefault(r["dataset"], []).append(best[r["dataset"]] - r["final_valid"])
    table = []
    for key, per in regret.items():
        means = {d: sum(v) / len(v) for d, v in per.items()}
        table.append((sum(means.values()) / len(means), key, means))
    return sorted(table)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grid", choices=sorted(GRIDS), required=True)
    parser.add_argument("--datasets", nargs="+", default=["nltcs", "plants", "dna"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--base", type=json.loads, default={},
                        help="settings shared by all configurations (JSON)")
    parser.add_argument("--pick", type=int, nargs="+", default=None,
                        help="run only these configurations of the grid (0-based positions)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    out = Path(args.out or HERE / "results" / f"tune_{args.grid}.jsonl")
    out.parent.mkdir(parents=True, exist_ok=True)
    grid = GRIDS[args.grid] if args.pick is None else [GRIDS[args.grid][i] for i in args.pick]
    tasks = [(d, c, s) for c in grid for d in args.datasets for s in range(args.seeds)]
    # Largest first, so that the pool's tail is short.
    cost = {"nltcs": 1, "dna": 1.2, "jester": 3, "plants": 4, "baudio": 5}
    tasks.sort(key=lambda t: -cost.get(t[0], 1) * (t[1].get("n_latents", 32) / 32) ** 2)
    rows = []
    with open(out, "a") as f:
        for row in Parallel(n_jobs=args.jobs, return_as="generator_unordered")(
            delayed(run)(d, c, s, args.epochs, args.base) for d, c, s in tasks
        ):
            rows.append(row)
            f.write(json.dumps(row) + "\n")
            f.flush()
            print(f"{row['dataset']:7s} {json.dumps(row['config']):60s} valid {row['final_valid']:9.4f}"
                  f"  best@{row['best_epoch']:3d} {row['best_valid']:9.4f}  {row['sec_per_epoch']:.2f}s/ep",
                  flush=True)
    print("\nmean regret of final validation LL (nats), best first:")
    for regret, key, means in rank(rows):
        print(f"{regret:8.4f}  {key:60s} " + " ".join(f"{d}={v:.3f}" for d, v in sorted(means.items())))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
