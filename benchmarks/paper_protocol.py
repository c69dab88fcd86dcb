"""The anemone authors' comparison of four solvers, with their settings, at this machine's scale.

Liu, Shao & Van den Broeck (arXiv 2505.19982; pyjuice ``optim/anemone.py``, pc-arena
``configs/optim/*.yaml``) train HCLTs with

- anemone: batch 16,384, step 0.4 held for 1,000 updates then cosine to 0.1 by update
  20,000, pseudocount 1e-6;
- mini-batch EM: batch 512, step 0.1;
- Adam: batch 512, learning rate 5e-3, betas (0.9, 0.99);
- full-batch EM: one update per pass,

and report anemone < full EM < mini-batch EM < Adam in test NLL (UK Biobank HCLT-1024:
52.1 / 53.8 / 55.5 / 100.4; ImageNet32 HCLT-512: 2477 / 2480 / 2506 / 2518).

Here every solver gets the same training time per data set (``BUDGET_SECONDS``, CPU
seconds of this single-threaded process: the wall time of an idle core; the machine is
shared, so wall time would measure the other jobs' load): a two-epoch calibration fit
measures each solver's seconds per epoch (its second epoch), and its epoch budget
``max_iter`` (the length of its schedule) is the budget divided by that. The schedules are
the authors' as fractions of the update budget (hold 1,000/20,000 = 5 %, then cosine from
0.4 to 0.1 at its end); anemone's large batch is ``batches_per_update`` mini-batches of 512
rows (``ANEMONE_BATCHES``, scaled to the data sets' sizes: see RESULTS_learning.md). A
fifth variant, anemone with skpc's defaults (step 1 cosine to 0.1, batch 512, pseudocount
1e-3), is the package's own setting on the same budget.

Data sets (generated here, nothing downloaded):

- ``digits784``: 28 x 28 binary images (784 variables): scikit-learn's 8 x 8 digits
  upscaled 3x, shifted at random inside the 28 x 28 frame, noised and thresholded;
  30,000 training rows.
- ``dna``: the bundled debd data set (180 binary variables, 1,600 training rows).
- ``snp3``: 256 variables with 3 levels each, in the spirit of SNP genotypes: rows
  sampled from an HCLT (k=16) fitted to digits upscaled to 16 x 16 with their grey levels
  cut into 3; 30,000 training rows. The generator's own test log-likelihood is the
  ceiling.

Usage::

    nice python benchmarks/paper_protocol.py --seeds 3            # writes results/paper_protocol.json
    python benchmarks/paper_protocol.py --report-only             # tables and plots from the JSON
    python benchmarks/paper_protocol.py --report-only results/paper_protocol.json \
        results/paper_protocol_digits784.json                    # several runs together
"""

import argparse
import datetime
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from _curves import CurveRecorder  # noqa: E402 -- sets one BLAS thread before numpy loads

from skpc import PCDensityEstimator  # noqa: E402
from skpc.datasets import load_debd  # noqa: E402
from skpc.solvers import SOLVERS, Adam  # noqa: E402
from skpc.structures import hclt  # noqa: E402


class AuthorsAdam(Adam):
    """Adam with the authors' betas (0.9, 0.99); skpc's Adam has beta2 = 0.999."""

    def __init__(self, pseudocount):
        super().__init__(pseudocount, beta1=0.9, beta2=0.99)


class CPURecorder(CurveRecorder):
    """Also records each epoch's training CPU seconds (``cpu_seconds``, evaluation excluded).

    On a machine shared with other jobs a fit's wall time depends on their load; the CPU
    time of this single-threaded process is what the fit itself cost, so the budgets and
    the seconds axis use it.
    """

    def _report(self, history, epoch):
        now = time.process_time()
        cpu = now - self._cpu_start - self._cpu_eval
        super()._report(history, epoch)
        self.curve_[-1]["cpu_seconds"] = cpu
        self._cpu_eval += time.process_time() - now

    def fit_recording(self, X, eval_sets):
        self._cpu_start, self._cpu_eval = time.process_time(), 0.0
        return super().fit_recording(X, eval_sets)


#: The authors' settings; anemone's ``batches_per_update`` is set per data set.
AUTHORS = {
    "em": {"solver": "em", "pseudocount": 1e-6},
    "minibatch_em": {"solver": "minibatch_em", "batch_size": 512, "step_size": 0.1,
                     "schedule": "constant", "pseudocount": 1e-6},
    "adam": {"solver": "adam", "batch_size": 512, "step_size": 5e-3, "schedule": "constant"},
    "anemone": {"solver": "anemone", "batch_size": 512, "step_size": 0.4, "final_step_size": 0.1,
                "schedule": "cosine", "schedule_warmup": 1000 / 20000, "pseudocount": 1e-6},
    "anemone (skpc defaults)": {"solver": "anemone", "batch_size": 512},
    # The authors' anemone schedule on mini-batch EM's 512-row updates (a diagnostic).
    "anemone, 512 rows per update": {"solver": "anemone", "batch_size": 512, "step_size": 0.4,
                                     "final_step_size": 0.1, "schedule": "cosine",
                                     "schedule_warmup": 1000 / 20000, "pseudocount": 1e-6},
    # The authors' anemone with pyjuice's default momentum on the flows (a diagnostic).
    "anemone, momentum 0.9": {"solver": "anemone", "batch_size": 512, "step_size": 0.4,
                              "final_step_size": 0.1, "schedule": "cosine", "schedule_warmup": 1000 / 20000,
                              "pseudocount": 1e-6, "momentum": 0.9},
}
#: The authors' test NLL (lower is better): (em, minibatch_em, adam, anemone).
AUTHORS_NLL = {"UK Biobank, HCLT-1024": (53.8, 55.5, 100.4, 52.1),
               "ImageNet32, HCLT-512": (2480, 2506, 2518, 2477)}
#: Mini-batches of 512 rows per anemone update (the authors: 16,384 = 32 x 512).
ANEMONE_BATCHES = {"dna": 1, "snp3": 8, "digits784": 8}
#: Training CPU seconds per run (equal for every solver of a data set) and HCLT states. The
#: recorded digits784 runs used ``--budget-scale 0.75`` (30 s) to finish in time.
BUDGET_SECONDS = {"dna": 12, "snp3": 25, "digits784": 40}
N_LATENTS = {"dna": 32, "snp3": 32, "digits784": 16}
DATASETS = list(BUDGET_SECONDS)


def _digit_images(scale):
    from scipy import ndimage  # noqa: PLC0415
    from sklearn.datasets import load_digits  # noqa: PLC0415

    images = load_digits().images / 16.0
    return np.stack([ndimage.zoom(im, scale, order=1) for im in images])


def make_digits784(n, rng):
    """Binary 28 x 28 images: upscaled digits at random offsets, noised, thresholded."""
    big = _digit_images(3)  # 24 x 24
    pick, dy, dx = rng.integers(0, len(big), n), rng.integers(0, 5, n), rng.integers(0, 5, n)
    frame = np.zeros((n, 28, 28))
    for i in range(n):
        frame[i, dy[i]:dy[i] + 24, dx[i]:dx[i] + 24] = big[pick[i]]
    return (frame + rng.normal(0, 0.15, frame.shape) > 0.5).astype(np.float32).reshape(n, 784)


def make_snp3(n, rng):
    """Rows with 3 levels per variable sampled from an HCLT fitted to 3-level 16 x 16 digits.

    Returns the rows and the generator (whose test log-likelihood is the ceiling).
    """
    grey = _digit_images(2).reshape(-1, 256)
    levels = np.digitize(grey, [0.25, 0.7]).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gen = PCDensityEstimator(n_latents=16, n_categories=3, max_iter=20, random_state=0).fit(levels)
    return gen.sample(n, random_state=int(rng.integers(2**31))).astype(np.float32), gen


def load(name):
    """``{"train", "valid", "test"}`` splits of a data set, and its ceiling (or None)."""
    if name == "dna":
        return {s: load_debd("dna", s) for s in ("train", "valid", "test")}, None
    rng = np.random.default_rng(20)
    X, gen = (make_digits784(36000, rng), None) if name == "digits784" else make_snp3(36000, rng)
    splits = {"train": X[:30000], "valid": X[30000:33000], "test": X[33000:]}
    return splits, (None if gen is None else float(gen.score(splits["test"])))


def variant_params(name, label):
    params = dict(AUTHORS[label])
    if label in ("anemone", "anemone, momentum 0.9"):
        params["batches_per_update"] = ANEMONE_BATCHES[name]
    return params


def fit(data, graph, k, params, seed, epochs):
    n_cat = 3 if data["train"].max() > 1 else 2
    est = CPURecorder(structure=graph, n_latents=k, n_categories=n_cat, max_iter=epochs, tol=0.0,
                        n_iter_no_change=epochs + 1, random_state=seed, **params)
    evals = {"valid": data["valid"], "test": data["test"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit_recording(data["train"], evals)
    return est


def n_updates(params, n_rows, epochs):
    if params["solver"] == "em":
        return epochs
    rows = params.get("batch_size", 512) * params.get("batches_per_update", 1)
    return epochs * -(-n_rows // min(rows, n_rows))


def compact(payload):
    """The payload as JSON with the curves' figures rounded to 4 decimals (a small file)."""
    runs = [dict(r, curve=[{k: round(v, 4) for k, v in c.items()} for c in r["curve"]])
            for r in payload["runs"]]
    return json.dumps(dict(payload, runs=runs), separators=(",", ":"))


def run(datasets, labels, seeds, path, payload):
    SOLVERS["adam"] = AuthorsAdam  # the authors' betas for this process's fits
    for name in datasets:
        data, ceiling = load(name)
        k = N_LATENTS[name]
        start = time.perf_counter()
        graph = hclt(data["train"], np.full(data["train"].shape[1], 3 if name == "snp3" else 2))
        payload["datasets"][name] = {"ceiling": ceiling, "structure_seconds": time.perf_counter() - start,
                                     "n_train": len(data["train"]), "n_latents": k,
                                     "budget_seconds": BUDGET_SECONDS[name], "epochs": {}}
        for label in labels:
            params = variant_params(name, label)
            # The second epoch's time: the first one also allocates the workspaces.
            curve = fit(data, graph, k, params, 0, 2).curve_  # evaluated as the runs are
            per_epoch = curve[1]["cpu_seconds"] - curve[0]["cpu_seconds"]
            epochs = max(2, int(BUDGET_SECONDS[name] / per_epoch))
            payload["datasets"][name]["epochs"][label] = epochs
            for seed in range(seeds):
                est = fit(data, graph, k, params, seed, epochs)
                payload["runs"].append({
                    "dataset": name, "label": label, "seed": seed, "params": params, "epochs": epochs,
                    "updates": n_updates(params, len(data["train"]), epochs), "curve": est.curve_})
                last = est.curve_[-1]
                print(f"{name:9s} {label:24s} seed {seed}  {epochs:4d} epochs"
                      f"  {last['cpu_seconds']:6.1f} cpu s  {last['seconds']:6.1f} s"
                      f"  valid {last['valid']:9.3f}  test {last['test']:9.3f}", flush=True)
                path.write_text(compact(payload))


def _order(means):
    """Labels from best (highest log-likelihood) to worst."""
    return " > ".join(lab for lab, _ in sorted(means.items(), key=lambda kv: -kv[1]))


#: The authors' ordering, best first (both of their tables).
AUTHORS_ORDER = ("anemone", "em", "minibatch_em", "adam")


def _agreement(means):
    """How many of the pairs of the four solvers are ordered as in the authors' tables."""
    pairs = [(a, b) for i, a in enumerate(AUTHORS_ORDER) for b in AUTHORS_ORDER[i + 1:]
             if a in means and b in means]
    same = [f"{a} > {b}" for a, b in pairs if means[a] > means[b]]
    return f"{len(same)} of {len(pairs)}"


def report(payload):
    """Markdown tables: test and validation log-likelihood at the end of the budget, and cost."""
    runs, labels = payload["runs"], list(AUTHORS)
    groups = {(name, lab): [r for r in runs if r["dataset"] == name and r["label"] == lab]
              for name in payload["datasets"] for lab in labels}

    def final(name, lab, split):
        return np.array([r["curve"][-1][split] for r in groups[(name, lab)]])

    head = "| data set | " + " | ".join(labels) + " |"
    rule = "|---" * (len(labels) + 1) + "|"
    out = ["Test log-likelihood (nats per row, mean ± std over seeds, end of the budget); "
           "the authors' test NLL below, negated:", "",
           head[:-1] + "| ceiling | ordering of the four (best first) | authors' pairs kept |",
           rule + "---|---|---|"]
    for name, info in payload["datasets"].items():
        cells, means = [], {}
        for lab in labels:
            if not groups[(name, lab)]:
                cells.append("")
                continue
            test = final(name, lab, "test")
            if lab in AUTHORS_ORDER:
                means[lab] = test.mean()
            spread = f" ± {test.std():.2f}" if len(test) > 1 else " (1 seed)"
            cells.append(f"{test.mean():.2f}{spread}")
        ceiling = "-" if info["ceiling"] is None else f"{info['ceiling']:.2f}"
        out.append(f"| {name} (HCLT k={info['n_latents']}) | " + " | ".join(cells)
                   + f" | {ceiling} | {_order(means)} | {_agreement(means)} |")
    for name, nll in AUTHORS_NLL.items():
        means = {lab: -v for lab, v in zip(("em", "minibatch_em", "adam", "anemone"), nll, strict=True)}
        out.append(f"| authors: {name} | " + " | ".join(f"{means[lab]:g}" for lab in labels[:4])
                   + f" | | | {_order(means)} | 6 of 6 |")
    out += ["", "Validation log-likelihood (mean over seeds, end of the budget):", "", head, rule]
    for name in payload["datasets"]:
        cells = [f"{final(name, lab, 'valid').mean():.2f}" if groups[(name, lab)] else "" for lab in labels]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out += ["", "Test log-likelihood at each run's best validation epoch (mean over seeds; the epochs):", "",
            head[:-1] + "| ordering of the four | authors' pairs kept |", rule + "---|---|"]
    for name in payload["datasets"]:
        cells, means = [], {}
        for lab in labels:
            best = [max(r["curve"], key=lambda c: c["valid"]) for r in groups[(name, lab)]]
            if not best:
                cells.append("")
                continue
            mean = np.mean([b["test"] for b in best])
            if lab in AUTHORS_ORDER:
                means[lab] = mean
            cells.append(f"{mean:.2f} (@" + "/".join(str(b["epoch"]) for b in best) + ")")
        out.append(f"| {name} | " + " | ".join(cells) + f" | {_order(means)} | {_agreement(means)} |")
    out += ["", "Budget per run: epochs, updates, training CPU seconds (mean), wall seconds (mean):", "",
            head, rule]
    for name, info in payload["datasets"].items():
        cells = []
        for lab in labels:
            g = groups[(name, lab)]
            if not g:
                cells.append("")
                continue
            cpu = np.mean([r["curve"][-1]["cpu_seconds"] for r in g])
            wall = np.mean([r["curve"][-1]["seconds"] for r in g])
            cells.append(f"{g[0]['epochs']} ep, {g[0]['updates']} upd, {cpu:.0f} / {wall:.0f} s")
        out.append(f"| {name} ({info['budget_seconds']:g} CPU s) | " + " | ".join(cells) + " |")
    return "\n".join(out)


def plot(payload, path_epoch, path_seconds):
    import matplotlib  # noqa: PLC0415 -- optional, only for the plots

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    runs, names = payload["runs"], list(payload["datasets"])
    for path, xkey in ((path_epoch, "epoch"), (path_seconds, "seconds")):
        fig, axes = plt.subplots(1, len(names), figsize=(5.2 * len(names), 4.2), squeeze=False)
        for ax, name in zip(axes[0], names, strict=True):
            lows, tops = [], []
            for i, label in enumerate(AUTHORS):
                group = [r for r in runs if r["dataset"] == name and r["label"] == label]
                if not group:
                    continue
                test = np.mean([[c["test"] for c in r["curve"]] for r in group], axis=0)
                x = (np.arange(1, len(test) + 1) if xkey == "epoch"
                     else np.mean([[c["cpu_seconds"] for c in r["curve"]] for r in group], axis=0))
                ax.plot(x, test, color=f"C{i}", marker="." if len(test) < 30 else None, label=label)
                lows.append(test[len(test) // 3])
                tops.append(test.max())
            ceiling = payload["datasets"][name]["ceiling"]
            if ceiling is not None:
                ax.axhline(ceiling, color="k", ls="--", lw=0.8, label="generator (ceiling)")
                tops.append(ceiling)
            low, top = min(lows), max(tops)
            ax.set_ylim(low - 0.1 * (top - low), top + 0.1 * (top - low))
            ax.set_title(f"{name} (HCLT k={payload['datasets'][name]['n_latents']})")
            ax.set_xlabel("epoch" if xkey == "epoch" else "training CPU seconds (one core)")
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel("test log-likelihood (nats, mean of seeds)")
        entries = {}  # every variant once, from whichever panel has it
        for ax in axes[0]:
            entries.update(zip(*ax.get_legend_handles_labels()[::-1]))
        fig.legend(entries.values(), entries.keys(), loc="lower center", ncol=len(entries), fontsize=8)
        fig.tight_layout(rect=(0, 0.07, 1, 1))
        fig.savefig(path, dpi=100)
        plt.close(fig)


def merge(payloads):
    """One payload from several runs of this script (e.g. one data set each)."""
    out = dict(payloads[0], datasets={}, runs=[])
    for p in payloads:
        out["datasets"].update(p["datasets"])
        out["runs"] += p["runs"]
    out["command"] = " ; ".join(p["command"] for p in payloads)
    out["date"] = ", ".join(sorted({p["date"] for p in payloads}))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=DATASETS, choices=DATASETS)
    parser.add_argument("--variants", nargs="+", default=list(AUTHORS), choices=list(AUTHORS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget-scale", type=float, default=1.0,
                        help="multiply every BUDGET_SECONDS (a quick trial run: 0.1)")
    parser.add_argument("--json", default=str(HERE / "results" / "paper_protocol.json"),
                        help="where the runs go; with --report-only, one or more files to read")
    parser.add_argument("--report-only", nargs="*", metavar="JSON",
                        help="tables and plots from the JSON files (default: --json) without running")
    args = parser.parse_args(argv)
    path = Path(args.json)
    if args.report_only is not None:
        payload = merge([json.loads(Path(p).read_text()) for p in args.report_only or [path]])
    else:
        payload = {
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, one fit at a time, 1 BLAS thread",
            "command": "python benchmarks/paper_protocol.py "
                       + " ".join(sys.argv[1:] if argv is None else argv),
            "datasets": {}, "runs": [],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        for name in BUDGET_SECONDS:
            BUDGET_SECONDS[name] *= args.budget_scale
        run(args.datasets, args.variants, args.seeds, path, payload)
    plot(payload, HERE / "paper_protocol_epoch.png", HERE / "paper_protocol_seconds.png")
    print(f"{payload['date']}, {payload['machine']}\n`{payload['command']}`\n")
    print(report(payload))


if __name__ == "__main__":
    main()
