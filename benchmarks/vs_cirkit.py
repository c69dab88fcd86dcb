"""skpc against libcirkit in one run: seconds per mini-batch EM epoch and peak memory.

The same job for both libraries: an HCLT with categorical inputs learned from the plants
training set, k units per region, mini-batch EM with step size 1, batch 512, pseudocount
1e-3, float32. Each measurement is a fresh process (so peak RSS is the job's own); the
libraries alternate for every k, and the ratio is taken within the run, because this
machine is shared and its speed drifts.

libcirkit is never a dependency of skpc. It needs torch, so it lives in its own venv::

    python -m venv /tmp/cirkit-venv
    /tmp/cirkit-venv/bin/pip install torch==2.13.0 libcirkit==0.3.1 numpy
    python benchmarks/vs_cirkit.py --cirkit-python /tmp/cirkit-venv/bin/python

libcirkit is timed with 1 and with 2 torch threads and its faster setting is used; skpc
runs as it ships (BLAS threads chosen by the estimator). Prints a markdown table.

The HCLTs are not quite the same circuit, so the table gives both parameter counts and
two libcirkit layer types of its Chow-Liu template: "cp-t" (children multiplied, then
one k x k sum: skpc's shape, but a leaf variable's input units feed its parent's product
directly, so fewer sum blocks than skpc's one per tree edge) and "cp" (a k x k sum on
each child before the product: more weights than skpc).
"""

import argparse
import gzip
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "skpc" / "datasets" / "data" / "plants"


def load(split):
    import numpy as np

    with gzip.open(DATA / f"plants.{split}.data.gz", "rt") as f:
        return np.loadtxt(f, delimiter=",", dtype=np.int64)


def skpc_worker(k, epochs, solver, threads, layer):
    import warnings

    from skpc import PCDensityEstimator

    warnings.simplefilter("ignore")
    X, X_test = load("train"), load("test")
    est = PCDensityEstimator(
        n_latents=k, solver=solver, batch_size=512, step_size=1.0, schedule="constant",
        pseudocount=1e-3, max_iter=1, warm_start=True, random_state=0,
    )
    est.fit(X)  # structure, buffers and a first epoch: not timed
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        est.fit(X)
        seconds.append(time.perf_counter() - start)
    return seconds, est.score(X_test), est.circuit_.n_parameters()


def cirkit_worker(k, epochs, solver, threads, layer):
    import torch
    from cirkit.backend.torch.em_optimizer import EM
    from cirkit.pipeline import compile as cirkit_compile
    from cirkit.templates import data_modalities
    from cirkit.templates.utils import Parameterization, parameterization_to_factory

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    X, X_test = torch.from_numpy(load("train")), torch.from_numpy(load("test"))
    # EM needs the parameters to be the probabilities themselves (no softmax).
    probs = Parameterization(activation="none", initialization="dirichlet")
    symbolic = data_modalities.tabular_data(
        region_graph="chow-liu-tree", data=X, sum_product_layer=layer,
        input_layers={"name": "categorical",
                      "args": {"num_categories": 2, "probs_factory": parameterization_to_factory(probs)}},
        sum_weight_param=probs, num_input_units=k, num_sum_units=k,
    )
    circuit = cirkit_compile(symbolic)
    optimiser = EM(circuit, lr=1.0, pseudocount=1e-3)

    def run_epoch():
        order = torch.randperm(len(X))
        for i in range(0, len(X), 512):
            optimiser.zero_grad()
            circuit(X[order[i:i + 512]]).sum().backward()
            optimiser.step()

    run_epoch()  # first epoch: not timed
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        run_epoch()
        seconds.append(time.perf_counter() - start)
    with torch.no_grad():
        test = torch.cat([circuit(X_test[i:i + 2048]).flatten() for i in range(0, len(X_test), 2048)])
    return seconds, float(test.mean()), sum(p.numel() for p in circuit.parameters())


def measure(python, library, k, epochs, solver="minibatch_em", threads=1, layer="cp-t"):
    command = [python, __file__, "--worker", library, "--k", str(k), "--epochs", str(epochs),
               "--solver", solver, "--threads", str(threads), "--layer", layer]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cirkit-python", help="python of a venv with libcirkit and torch")
    parser.add_argument("--ks", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--worker", choices=["skpc", "cirkit"], help=argparse.SUPPRESS)
    parser.add_argument("--k", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--solver", default="minibatch_em", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--layer", default="cp-t", help=argparse.SUPPRESS)
    parser.add_argument("--cirkit-layers", nargs="+", default=["cp-t", "cp"],
                        help="libcirkit sum_product_layer of its Chow-Liu template")
    args = parser.parse_args()

    if args.worker:
        work = skpc_worker if args.worker == "skpc" else cirkit_worker
        seconds, test, n_params = work(args.k, args.epochs, args.solver, args.threads, args.layer)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"seconds": seconds, "test": test, "peak_mib": peak, "parameters": n_params}))
        return
    if not args.cirkit_python:
        parser.error("--cirkit-python is required (see the module docstring)")

    print(f"plants, batch 512, step 1, {args.epochs} timed epochs after one untimed; median s/epoch; "
          "test LL after the epochs; peak RSS of the process")
    print("\n| k | libcirkit layer | libcirkit 1 thread | libcirkit 2 threads | skpc minibatch_em | "
          "skpc anemone | speed-up (best libcirkit / skpc minibatch_em) | peak MiB libcirkit / skpc | "
          "test LL libcirkit / skpc | parameters libcirkit / skpc |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for k in args.ks:
        mb = measure(sys.executable, "skpc", k, args.epochs)
        an = measure(sys.executable, "skpc", k, args.epochs, solver="anemone")
        for layer in args.cirkit_layers:
            c1 = measure(args.cirkit_python, "cirkit", k, args.epochs, threads=1, layer=layer)
            c2 = measure(args.cirkit_python, "cirkit", k, args.epochs, threads=2, layer=layer)
            med = {name: statistics.median(r["seconds"]) for name, r in
                   (("c1", c1), ("c2", c2), ("mb", mb), ("an", an))}
            best = min(med["c1"], med["c2"])
            print(f"| {k} | {layer} | {med['c1']:.2f} | {med['c2']:.2f} | {med['mb']:.2f} | "
                  f"{med['an']:.2f} | "
                  f"{best / med['mb']:.1f}x | {max(c1['peak_mib'], c2['peak_mib']):.0f} / "
                  f"{max(mb['peak_mib'], an['peak_mib']):.0f} | {c1['test']:.2f} / {mb['test']:.2f} | "
                  f"{c1['parameters']:,} / {mb['parameters']:,} |", flush=True)


if __name__ == "__main__":
    main()
