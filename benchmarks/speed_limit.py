"""How close an epoch comes to the machine's matrix-product rate, and where the rest goes.

For each data set, k and batch size, mini-batch EM (step 1) on an HCLT, one epoch, with
two engine settings measured in the same run (their ratio is what the threads bought):

- ``before``: one thread, the whole batch at once (the engine of issue 3 for k < 256);
- ``threads``: the batch in tiles of ``TILE_ROWS`` rows on one thread per core (today's).

Printed per configuration: seconds per epoch (wall, and the CPU seconds of all threads:
on a machine shared with other jobs these show whether the threads had a core to run on),
training and scoring rows/s, the seconds
of the epoch's matrix products alone (the same shapes and the same tiling, random
values, run the way the engine runs them), and the share of the 2-thread 2048^3 float32
product rate measured at the start of the run. An epoch's work is counted as 6 flops per
sum-layer weight per row (forward 2, backward 4). A last table profiles one epoch of
today's engine on one thread: matrix products, the rest of the sum layers, input layers,
the solver's update, and everything else.

Data: plants (17,412 x 69, bundled) and binary 28x28 images (784 variables) made here
from scikit-learn's ``load_digits``: each 8x8 digit upscaled 3x (bilinear), placed at a
random offset in a 28x28 frame, noised and thresholded.

Usage: ``python benchmarks/speed_limit.py [--data plants images] [--ks 16 32 64 128 256]
[--batches 512 2048] [--image-rows 10000] [--rounds 2]``
"""

import argparse
import os
import platform
import time
import warnings

import numpy as np
from scipy.ndimage import zoom
from sklearn.datasets import load_digits
from threadpoolctl import threadpool_info, threadpool_limits

from skpc import PCDensityEstimator
from skpc.datasets import load_debd
from skpc.engine import parallel
from skpc.engine.layers import SumLayer
from skpc.leaves import Categorical
from skpc.solvers import SOLVERS

warnings.simplefilter("ignore")

ENGINES = {  # (threads, tile rows)
    "before": (1, 10**9),
    "threads": (parallel.THREADS, parallel.TILE_ROWS),
}


def use_engine(name):
    parallel.THREADS, parallel.TILE_ROWS = ENGINES[name]


def product_rate(threads, reps=5):
    """GFLOP/s of a 2048^3 float32 product with ``threads`` BLAS threads."""
    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    with threadpool_limits(limits=threads, user_api="blas"):
        a @ a
        t = time.perf_counter()
        for _ in range(reps):
            a @ a
        return 2 * 2048**3 * reps / (time.perf_counter() - t) / 1e9


def binary_images(n, seed=0):
    """``n`` binary 28x28 images (784 columns) from upscaled, shifted, noised digits."""
    rng = np.random.default_rng(seed)
    digits = load_digits().images / 16.0
    big = np.stack([zoom(d, 3, order=1) for d in digits])  # (1797, 24, 24)
    out = np.zeros((n, 28, 28), dtype=np.float32)
    picks = rng.integers(0, len(big), n)
    shifts = rng.integers(0, 5, (n, 2))
    for i, (p, (dy, dx)) in enumerate(zip(picks, shifts)):
        out[i, dy : dy + 24, dx : dx + 24] = big[p]
    out += rng.normal(0, 0.15, out.shape).astype(np.float32)
    return (out > 0.5).astype(np.float32).reshape(n, 784)


def epoch_flops(circuit, n_rows):
    return 6 * sum(L.weights.size for L in circuit.sum_layers) * n_rows


def timed_epoch(est, X, epochs=3):
    """Wall seconds of the fastest epoch but the first (workspaces) of one fit, and the
    process's CPU seconds per epoch of that fit (all threads; fit's checks of X included)."""
    est.set_params(max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1)
    cpu = time.process_time()
    est.fit(X)
    cpu = (time.process_time() - cpu) / epochs
    return float(np.diff(est.history_["seconds"]).min()), cpu


def products_alone(circuit, n_rows, batch, clock=time.perf_counter):
    """Seconds of one epoch's sum-layer matrix products, in the engine's tiles and threads."""
    rng = np.random.default_rng(0)
    dtype = circuit.dtype
    # The estimator's equal-sized batches, cut into the engine's tiles.
    batches = [len(p) for p in np.array_split(np.arange(n_rows), -(-n_rows // batch))]
    jobs = [sl.stop - sl.start for b in batches for sl in parallel.tiles(b)]
    sizes = sorted(set(jobs))
    arrays = {}
    for slot in range(parallel.THREADS):
        for rows in sizes:
            arrays[slot, rows] = [
                (L.weights, np.ascontiguousarray(np.swapaxes(L.weights, 1, 2)),
                 rng.random((L.n_folds, L.n_in, rows), dtype=dtype),
                 rng.random((L.n_folds, L.n_out, rows), dtype=dtype),
                 np.empty((L.n_folds, L.n_out, rows), dtype), np.empty((L.n_folds, L.n_in, rows), dtype))
                for L in circuit.sum_layers]

    def work(slot, rows):
        for w, wt, prod, ratio, mixed, back in arrays[slot, rows]:
            np.matmul(w, prod, out=mixed)  # forward mixing
            np.matmul(ratio, np.swapaxes(prod, 1, 2))  # edge statistics
            np.matmul(wt, ratio, out=back)  # product flows

    t = clock()
    for _ in parallel.run_waves(work, jobs):
        pass
    return clock() - t


class Clock:
    """Seconds spent in a set of methods (patched for one instrumented epoch)."""

    def __init__(self, targets):
        self.targets, self.seconds, self._orig = targets, dict.fromkeys(targets, 0.0), {}

    def __enter__(self):
        for name, (cls, attr) in self.targets.items():
            fn = getattr(cls, attr)
            self._orig[name] = fn

            def timed(*args, _fn=fn, _name=name, **kwargs):
                t = time.process_time()
                out = _fn(*args, **kwargs)
                self.seconds[_name] += time.process_time() - t
                return out

            setattr(cls, attr, timed)
        return self

    def __exit__(self, *exc):
        for name, (cls, attr) in self.targets.items():
            setattr(cls, attr, self._orig[name])


def profile(est, X, batch):
    """CPU seconds of one single-threaded epoch: products, rest of the sum layers, inputs,
    update, other (CPU time: other jobs on the machine do not count)."""
    targets = {"sum layers": (SumLayer, "forward"), "sum layers back": (SumLayer, "backward"),
               "inputs": (Categorical, "forward"), "inputs back": (Categorical, "accumulate"),
               "inputs prepare": (Categorical, "prepare")}
    targets["update"] = (SOLVERS[est.solver], "update")
    threads = parallel.THREADS
    parallel.THREADS = 1
    try:
        est.set_params(max_iter=1)
        est.fit(X)  # the workspaces of one thread
        with Clock(targets) as clock:
            total = time.process_time()
            est.fit(X)
            total = time.process_time() - total
        products = products_alone(est.circuit_, len(X), batch, clock=time.process_time)
    finally:
        parallel.THREADS = threads
    s = clock.seconds
    layers = s["sum layers"] + s["sum layers back"]
    parts = {"matrix products": products, "sum layers, rest": layers - products,
             "input layers": s["inputs"] + s["inputs back"] + s["inputs prepare"],
             "solver update": s["update"]}
    parts["other (checks of X, batches, Python)"] = total - sum(parts.values())
    return total, parts


def measure(est, X, batch):
    """Fastest epoch, its CPU seconds, scoring pass and products-alone pass of the current engine."""
    seconds, cpu = timed_epoch(est, X)
    t = time.perf_counter()
    est.score_samples(X)
    score = time.perf_counter() - t
    return seconds, cpu, score, products_alone(est.circuit_, len(X), batch)


def run(data_name, X, ks, batches, engines, rate, rounds):
    """Rows of the main table; the engines alternate for ``rounds`` rounds and each keeps its
    fastest figures (on a shared machine other jobs only ever add time)."""
    profiles = []
    for k in ks:
        for batch in batches:
            use_engine("before")
            est = PCDensityEstimator(n_latents=k, max_iter=1, random_state=0, solver="minibatch_em",
                                     step_size=1.0, schedule="constant", batch_size=batch,
                                     n_categories=2).fit(X[:2048])
            est.set_params(warm_start=True)
            flops = epoch_flops(est.circuit_, len(X))
            best = {}
            for _ in range(rounds):
                for name in engines:
                    use_engine(name)
                    got = measure(est, X, batch)
                    best[name] = np.minimum(best.get(name, got), got)
            for name in engines:
                seconds, cpu, score, products = best[name]
                train, scoring = len(X) / seconds, len(X) / score
                share, limit = flops / seconds / 1e9 / rate, flops / products / 1e9 / rate
                print(f"| {data_name} | {k} | {batch} | {name} | {seconds:.3f} | {cpu:.3f} | {train:,.0f} | "
                      f"{scoring:,.0f} | {scoring / train:.1f} | {products:.3f} | {100 * share:.0f}% | "
                      f"{100 * limit:.0f}% | {best[engines[0]][0] / seconds:.2f} |", flush=True)
            profiles.append((data_name, k, batch, engines[-1], *profile(est, X, batch)))
    return profiles


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["plants", "images"])
    parser.add_argument("--ks", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    parser.add_argument("--image-ks", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--batches", type=int, nargs="+", default=[512, 2048])
    parser.add_argument("--image-rows", type=int, default=10_000)
    parser.add_argument("--engines", nargs="+", default=list(ENGINES))
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    blas = ", ".join(f"{i['internal_api']} {i['num_threads']} threads" for i in threadpool_info()
                     if i["user_api"] == "blas")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"numpy {np.__version__}, {blas}; engine threads {parallel.THREADS}, "
          f"tile {parallel.TILE_ROWS} rows")
    rate2 = max(product_rate(2) for _ in range(3))
    print(f"float32 2048^3 product with 2 threads: {rate2:.1f} GFLOP/s (best of 3, this run; "
          f"load average {os.getloadavg()[0]:.1f})")
    print("\n| data | k | batch | engine | s/epoch | CPU s/epoch | train rows/s | score rows/s | "
          "score / train | "
          "products alone s | share of 2-thread rate | products alone, share | speed-up over the first |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    profiles = []
    for name in args.data:
        if name == "plants":
            X, ks = load_debd("plants").astype(np.float32), args.ks
        else:
            X, ks = binary_images(args.image_rows), args.image_ks
        profiles += run(name, X, ks, args.batches, args.engines, rate2, args.rounds)
    rate_end = max(product_rate(2) for _ in range(3))
    print(f"\nfloat32 2048^3 product with 2 threads at the end: {rate_end:.1f} GFLOP/s "
          f"(load average {os.getloadavg()[0]:.1f})")
    print("\nOne epoch on one thread, by part (CPU seconds and share):\n")
    names = list(profiles[0][5])
    print("| data | k | batch | engine | s/epoch | " + " | ".join(names) + " |")
    print("|---|---|---|---|---|" + "---|" * len(names))
    for data_name, k, batch, engine, total, parts in profiles:
        cells = " | ".join(f"{parts[n]:.3f} ({100 * parts[n] / total:.0f}%)" for n in names)
        print(f"| {data_name} | {k} | {batch} | {engine} | {total:.3f} | {cells} |", flush=True)


if __name__ == "__main__":
    main()
