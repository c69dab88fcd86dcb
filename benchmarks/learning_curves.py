"""Learning curves of em, minibatch_em, anemone and adam on the five debd data sets.

For each data set, one HCLT structure (built from the training data, hence the same for
every solver) is trained by each solver from the same random initialisations (one per
seed) for the same budget of epochs. After every epoch the mean log-likelihood of the
training, validation and test sets is recorded with the training seconds so far.

Outputs (in ``benchmarks/``): ``results/learning_curves.json`` (every curve),
``learning_curves_epoch.png`` and ``learning_curves_seconds.png`` (test log-likelihood
vs epochs and vs seconds, one panel per data set) and the tables of ``RESULTS_learning.md``.

Usage::

    python benchmarks/learning_curves.py --epochs 50 --seeds 3 --jobs 2
    python benchmarks/learning_curves.py --report-only     # redraw from the JSON
"""

import argparse
import datetime
import json
import os
import platform
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# Run from a checkout: the package and _curves for this process and its workers.
sys.path[:0] = [str(HERE), str(HERE.parent)]
os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")])

from _curves import DEBD, REFERENCE_TEST_LL, fit_curve, summary  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402

#: Per-solver settings (the step sizes chosen on validation data by tune_defaults.py).
SOLVER_PARAMS = {
    "em": {"pseudocount": 0.001},
    "minibatch_em": {"step_size": 1.0, "schedule": "cosine", "batch_size": 512, "pseudocount": 0.001},
    "anemone": {"step_size": 1.0, "schedule": "cosine", "batch_size": 512, "pseudocount": 0.001},
    "adam": {"step_size": 0.1, "schedule": "cosine", "batch_size": 256},
}
#: Best figures measured for other PC libraries (DESIGN.md section 7).
OTHER_LIBRARIES = {"plants": -13.38, "dna": -80.15}
#: Text after this line of RESULTS_learning.md is kept when the tables are rewritten.
NOTES = "<!-- notes: kept when the tables above are regenerated -->"
COST = {"nltcs": 1, "dna": 1.2, "jester": 3, "plants": 4, "baudio": 5}


def best_configs(path):
    """Each solver's best configuration in a tune_defaults.py result file."""
    from tune_defaults import rank  # noqa: PLC0415

    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    out = {}
    for solver in {r["config"]["solver"] for r in rows}:
        table = rank(rows, lambda c, s=solver: c["solver"] == s and "n_latents" not in c)
        out[solver] = {k: v for k, v in json.loads(table[0][1]).items() if k != "solver"}
    return out


def _run(name, label, seed, epochs, params):
    params = dict(params)
    solver = params.pop("solver", label)
    polish = params.pop("polish", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit_curve(name, solver, seed, epochs - polish, polish=polish, **params)
    result["label"] = label
    return result


def run_study(datasets, variants, seeds, epochs, jobs, save=None):
    """Run every (data set, variant, seed); ``save(runs)`` is called after each one."""
    tasks = [(d, label, s) for d in datasets for label in variants for s in range(seeds)]
    tasks.sort(key=lambda t: -COST.get(t[0], 1))
    runs = []
    for result in Parallel(n_jobs=jobs, return_as="generator_unordered")(
        delayed(_run)(d, label, s, epochs, variants[label]) for d, label, s in tasks
    ):
        s = summary(result)
        print(f"{result['dataset']:7s} {result['label']:14s} seed {result['seed']}"
              f"  test {s['final_test']:9.4f}  {s['sec_per_epoch']:.2f}s/epoch", flush=True)
        runs.append(result)
        if save is not None:
            save(runs)
    return runs


def _mean_curve(runs, key, field):
    """Mean over seeds of ``field`` per epoch, and the mean seconds per epoch."""
    values = np.array([[r[field] for r in run["curve"]] for run in runs])
    seconds = np.array([[r["seconds"] for r in run["curve"]] for run in runs])
    return values.mean(axis=0), seconds.mean(axis=0)


def plot(runs, labels, path_epoch, path_seconds):
    import matplotlib  # noqa: PLC0415 -- optional, only for the plots

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    datasets = [d for d in DEBD if any(r["dataset"] == d for r in runs)]
    for path, xkey in ((path_epoch, "epoch"), (path_seconds, "seconds")):
        rows = -(-len(datasets) // 3)
        fig, axes = plt.subplots(rows, min(3, len(datasets)), figsize=(13, 4 * rows), squeeze=False)
        for ax in axes.flat[len(datasets):]:
            ax.set_visible(False)
        for ax, d in zip(axes.flat, datasets, strict=False):
            lows = []
            for i, label in enumerate(labels):
                group = [r for r in runs if r["dataset"] == d and r["label"] == label]
                if not group:
                    continue
                test, seconds = _mean_curve(group, label, "test")
                train, _ = _mean_curve(group, label, "train")
                x = np.arange(1, len(test) + 1) if xkey == "epoch" else seconds
                ax.plot(x, test, color=f"C{i}", label=f"{label} (test)")
                ax.plot(x, train, color=f"C{i}", ls=":", lw=1)
                lows.append(test[len(test) // 4])
            ref = REFERENCE_TEST_LL[d]
            ax.axhline(ref, color="k", ls="--", lw=0.8, label="reference (4 HCLTs, k=12)")
            top = max(ref, max(max(r["test"], r["train"]) for run in runs if run["dataset"] == d
                               for r in run["curve"]))
            low = min(lows + [ref])
            ax.set_ylim(low - 0.05 * (top - low) - 0.05, top + 0.05 * (top - low) + 0.05)
            ax.set_title(d)
            ax.set_xlabel("epoch" if xkey == "epoch" else "training seconds")
            ax.grid(alpha=0.3)
        for ax in axes[:, 0]:
            ax.set_ylabel("mean log-likelihood (nats)\nsolid: test, dotted: train")
        axes[0][0].legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


def _fmt(values):
    values = np.asarray(values)
    return f"{values.mean():.2f} ± {values.std():.2f}" if len(values) > 1 else f"{values.mean():.2f}"


def tables(runs, labels):
    """Markdown tables: final test LL, best-validation-epoch test LL, speed, epochs to EM."""
    datasets = [d for d in DEBD if any(r["dataset"] == d for r in runs)]
    groups = {(d, lab): [r for r in runs if r["dataset"] == d and r["label"] == lab]
              for d in datasets for lab in labels}
    sums = {key: [summary(r) for r in g] for key, g in groups.items() if g}
    head = "| data set | " + " | ".join(labels) + " | reference (4 HCLTs) | other libraries |\n"
    rule = "|---" * (len(labels) + 3) + "|\n"
    out = []
    for title, field in (("Final test log-likelihood (mean ± std over seeds, last epoch)", "final_test"),
                         ("Test log-likelihood at the best validation epoch", "best_test")):
        text = f"### {title}\n\n" + head + rule
        for d in datasets:
            cells = [_fmt([s[field] for s in sums[(d, lab)]]) if (d, lab) in sums else "" for lab in labels]
            other = OTHER_LIBRARIES.get(d)
            text += (f"| {d} | " + " | ".join(cells) + f" | {REFERENCE_TEST_LL[d]:.2f} | "
                     + (f"{other:.2f}" if other else "-") + " |\n")
        out.append(text)
    text = "### Seconds per epoch (training only) and best validation epoch\n\n"
    text += "| data set | " + " | ".join(labels) + " |\n" + "|---" * (len(labels) + 1) + "|\n"
    for d in datasets:
        cells = []
        for lab in labels:
            if (d, lab) in sums:
                s = sums[(d, lab)]
                cells.append(f"{np.mean([x['sec_per_epoch'] for x in s]):.2f} s, best@"
                             + "/".join(str(x["best_epoch"]) for x in s))
            else:
                cells.append("")
        text += f"| {d} | " + " | ".join(cells) + " |\n"
    out.append(text)
    if "em" in labels:
        text = ("### Epochs to reach full-batch EM's final test log-likelihood (mean curves)\n\n"
                "| data set | EM epochs | EM final test | " + " | ".join(x for x in labels if x != "em")
                + " |\n" + "|---" * (len(labels) + 2) + "|\n")
        for d in datasets:
            if not groups[(d, "em")]:
                continue
            em_curve, _ = _mean_curve(groups[(d, "em")], "em", "test")
            target = em_curve[-1]
            cells = []
            for lab in labels:
                if lab == "em" or not groups[(d, lab)]:
                    continue
                curve, _ = _mean_curve(groups[(d, lab)], lab, "test")
                hit = np.flatnonzero(curve >= target)
                cells.append(f"{hit[0] + 1}" if len(hit) else "never")
            text += f"| {d} | {len(em_curve)} | {target:.2f} | " + " | ".join(cells) + " |\n"
        out.append(text)
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DEBD), choices=DEBD)
    parser.add_argument("--solvers", nargs="+", default=list(SOLVER_PARAMS))
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--extra", type=json.loads, default={},
                        help="JSON {label: settings} of further variants on top of anemone's settings, "
                             "e.g. {\"anemone+em\": {\"polish\": 5}} (anemone, then 5 full-batch EM epochs "
                             "within the budget) or {\"mix\": {\"components\": 4, \"n_latents\": 16}}")
    parser.add_argument("--params", type=json.loads, default={},
                        help="JSON {solver: {param: value}} overriding SOLVER_PARAMS")
    parser.add_argument("--common", type=json.loads, default={}, help="JSON settings for every run")
    parser.add_argument("--tuned", default=None,
                        help="JSON lines of tune_defaults.py: each solver in it takes its best configuration "
                             "(by validation regret) among those at the default n_latents")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--json", default=str(HERE / "results" / "learning_curves.json"))
    parser.add_argument("--report-only", action="store_true")
    parser.add_argument("--results", default=str(HERE / "RESULTS_learning.md"))
    args = parser.parse_args(argv)

    chosen = dict(SOLVER_PARAMS)
    if args.tuned:
        chosen.update(best_configs(args.tuned))
    variants = {s: {**args.common, **chosen.get(s, {}), **args.params.get(s, {})} for s in args.solvers}
    for label, extra in args.extra.items():
        variants[label] = {**args.common, "solver": "anemone", **chosen.get("anemone", {}), **extra}
    path = Path(args.json)
    if args.report_only:
        payload = json.loads(path.read_text())
    else:
        start = datetime.datetime.now(datetime.UTC)
        payload = {
            "date": start.strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {args.jobs} runs in parallel, "
                       "1 BLAS thread each",
            "command": "python benchmarks/learning_curves.py "
                       + " ".join(sys.argv[1:] if argv is None else argv),
            "variants": variants, "epochs": args.epochs, "runs": [],
        }
        path.parent.mkdir(parents=True, exist_ok=True)

        def save(runs):
            path.write_text(json.dumps({**payload, "runs": runs}))

        payload["runs"] = run_study(args.datasets, variants, args.seeds, args.epochs, args.jobs, save)
    runs, labels = payload["runs"], list(payload["variants"])
    plot(runs, labels, HERE / "learning_curves_epoch.png", HERE / "learning_curves_seconds.png")
    body = tables(runs, labels)
    results = Path(args.results)
    notes = ""
    if results.exists() and NOTES in results.read_text():
        notes = results.read_text().split(NOTES, 1)[1]
    results.write_text(
        "# Learning curves: em, minibatch_em, anemone, adam on debd\n\n"
        f"- date: {payload['date']}\n- machine: {payload['machine']}\n"
        f"- command: `{payload['command']}`\n- epochs: {payload['epochs']} (same budget for every solver)\n"
        f"- settings: `{json.dumps(payload['variants'])}` (others: estimator defaults)\n\n"
        "![test LL vs epoch](learning_curves_epoch.png)\n\n"
        "![test LL vs seconds](learning_curves_seconds.png)\n\n"
        + body + "\n" + NOTES + notes
    )
    print(body)


if __name__ == "__main__":
    main()
