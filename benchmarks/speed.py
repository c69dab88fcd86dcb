"""Engine speed: seconds per epoch, scoring throughput, peak memory and sum-layer GFLOP/s.

Prints markdown tables (recorded in benchmarks/RESULTS.md):

1. the float32 matrix-product rate of this machine, measured in the same run;
2. HCLT on plants for each k: seconds per epoch of EM and anemone, scoring rows/s, the
   process's peak resident memory, and the GFLOP/s of the sum layers' matrix products
   (forward and backward flops over the time spent inside the sum layers);
3. HCLT on synthetic binary data of growing N: time per EM epoch grows linearly in N,
   peak memory stays flat (chunked passes).

Usage: ``python benchmarks/speed.py [--ks 16 32 64 128 256] [--rows 10000 100000 1000000]``
"""

import argparse
import platform
import resource
import time
import tracemalloc
import warnings

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from skpc import PCDensityEstimator
from skpc.datasets import load_debd
from skpc.engine.layers import SumLayer

warnings.simplefilter("ignore")


def matmul_rate():
    """GFLOP/s of a 2048^3 float32 product and of a PC-shaped batched product."""
    rng = np.random.default_rng(0)
    a = rng.random((2048, 2048), dtype=np.float32)
    rates = []
    for shape in ((2048, 2048, 2048), (20, 64, 64, 512)):
        if len(shape) == 3:
            x, y, flops = a, a, 2 * 2048**3
        else:
            f, m, k, n = shape
            x, y = rng.random((f, m, k), dtype=np.float32), rng.random((f, k, n), dtype=np.float32)
            flops = 2 * f * m * k * n
        np.matmul(x, y)
        reps = 5
        t = time.perf_counter()
        for _ in range(reps):
            np.matmul(x, y)
        rates.append(flops * reps / (time.perf_counter() - t) / 1e9)
    return rates


class SumLayerClock:
    """Accumulates wall time spent inside SumLayer.forward/backward."""

    def __init__(self):
        self.seconds = 0.0
        self._orig = SumLayer.forward, SumLayer.backward

    def __enter__(self):
        clock = self

        def timed(fn):
            def wrapper(*args, **kwargs):
                t = time.perf_counter()
                out = fn(*args, **kwargs)
                clock.seconds += time.perf_counter() - t
                return out

            return wrapper

        SumLayer.forward, SumLayer.backward = timed(self._orig[0]), timed(self._orig[1])
        return self

    def __exit__(self, *exc):
        SumLayer.forward, SumLayer.backward = self._orig


def sum_layer_flops(circuit, n_rows):
    """Matrix-product flops of one forward+backward pass over ``n_rows`` rows."""
    per_row = sum(2 * L.n_folds * L.n_out * L.n_in for L in circuit.sum_layers)
    return 3 * per_row * n_rows  # forward mix, backward edge statistics, backward flows


def epoch(est, X, solver):
    """Wall seconds of one clean epoch (no instrumentation)."""
    est.set_params(solver=solver, max_iter=1, warm_start=True)
    t = time.perf_counter()
    est.fit(X)
    return time.perf_counter() - t


def instrumented_epoch(est, X, solver):
    """Seconds inside the sum layers and peak traced memory (MiB) of one more epoch.

    Kept apart from :func:`epoch`: tracemalloc slows numpy's allocations down.
    """
    est.set_params(solver=solver, max_iter=1, warm_start=True)
    with SumLayerClock() as clock:
        est.fit(X)
    tracemalloc.start()
    est.fit(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return clock.seconds, peak / 2**20


def plants_table(ks):
    X = load_debd("plants")
    print("\n| k | EM s/epoch | minibatch_em s/epoch | anemone s/epoch | score rows/s | "
          "process peak RSS MiB | sum-layer GFLOP/s |")
    print("|---|---|---|---|---|---|---|")
    for k in ks:
        est = PCDensityEstimator(n_latents=k, max_iter=1, random_state=0).fit(X[:1024])
        epoch(est, X, "em")  # warm-up: workspaces allocated
        em, mb, an = epoch(est, X, "em"), epoch(est, X, "minibatch_em"), epoch(est, X, "anemone")
        em_layers = instrumented_epoch(est, X, "em")[0]
        t = time.perf_counter()
        est.score_samples(X)
        rows = len(X) / (time.perf_counter() - t)
        gflops = sum_layer_flops(est.circuit_, len(X)) / em_layers / 1e9
        # ru_maxrss is the process's peak so far; k grows down the table, and so does memory.
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        row = f"| {k} | {em:.3f} | {mb:.3f} | {an:.3f} | {rows:,.0f} | {peak:.0f} | {gflops:.1f} |"
        print(row, flush=True)


def scaling_table(sizes, k=16, d=50):
    rng = np.random.default_rng(0)
    base = (rng.random((20000, d)) < 0.3).astype(np.float32)
    base[:, 1::2] = np.logical_xor(base[:, ::2], rng.random((20000, d // 2)) < 0.1)
    print(f"\n| N (synthetic, {d} binary columns, k={k}) | EM s/epoch | s per 1e5 rows | "
          "peak MiB allocated during an epoch |")
    print("|---|---|---|---|")
    for n in sizes:
        X = base[rng.integers(0, len(base), n)]
        est = PCDensityEstimator(n_latents=k, max_iter=1, random_state=0).fit(X[:2048])
        seconds = epoch(est, X, "em")
        peak = instrumented_epoch(est, X, "em")[1]
        print(f"| {n:,} | {seconds:.2f} | {seconds / n * 1e5:.3f} | {peak:.0f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    blas = ", ".join(f"{i['internal_api']} {i['num_threads']} threads" for i in threadpool_info())
    print(f"machine: {platform.processor() or platform.machine()}, numpy {np.__version__}, {blas}")
    for threads in (None, 1):
        with threadpool_limits(limits=threads, user_api="blas"):
            big, shaped = matmul_rate()
        label = "all BLAS threads" if threads is None else "1 BLAS thread (as the engine runs)"
        print(f"float32 matmul, {label}: {big:.1f} GFLOP/s at 2048^3, "
              f"{shaped:.1f} GFLOP/s at 20 x (64x64 @ 64x512)")
    plants_table(args.ks)
    scaling_table(args.rows)


if __name__ == "__main__":
    main()
