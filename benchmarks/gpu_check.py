"""GPU check: the same engine on cupy agrees with numpy, and how much faster it is.

Run on a machine with an NVIDIA GPU and ``pip install -e '.[gpu]'``::

    python benchmarks/gpu_check.py            # about 3-5 minutes on an H100

It prints:

1. the relative difference of GPU and CPU ``score_samples`` of one fitted model
   (float32, k = the first of ``--ks``; the target is < 1e-4);
2. final training log-likelihoods of the same configuration fitted on each device;
3. a table of seconds per training epoch (anemone) and scoring rows/s on CPU and GPU for
   HCLT with k = 32, 128, 512 on plants and on a synthetic set of 1e6 binary rows.
"""

import argparse
import copy
import time
import warnings

import numpy as np

from skpc import PCDensityEstimator
from skpc._backend import get_backend
from skpc.datasets import load_debd

warnings.simplefilter("ignore")


def on_device(est, device):
    """A copy of a fitted estimator whose circuit lives on ``device``."""
    moved = copy.deepcopy(est)
    moved.circuit_.to(get_backend(device))
    moved.device_ = moved.device = device
    return moved


def timed_epoch(est, X):
    est.set_params(max_iter=1, warm_start=True)
    t = time.perf_counter()
    est.fit(X)
    return time.perf_counter() - t


def rows_per_second(est, X):
    t = time.perf_counter()
    est.score_samples(X)
    return len(X) / (time.perf_counter() - t)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[32, 128, 512])
    parser.add_argument("--synthetic-rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    gpu = get_backend("gpu")  # raises with install instructions when there is no GPU
    print("device:", gpu.device_name())
    X, X_test = load_debd("plants"), load_debd("plants", "test")

    # 1. One model, scored on both devices.
    k = args.ks[0]  # the agreement checks use the smallest model of the speed table
    cpu_model = PCDensityEstimator(n_latents=k, max_iter=3, random_state=0).fit(X)
    a, b = cpu_model.score_samples(X_test), on_device(cpu_model, "gpu").score_samples(X_test)
    print(f"1. score_samples, GPU vs CPU, same model (float32): max relative difference "
          f"{np.max(np.abs(a - b) / np.abs(a)):.2e} (target < 1e-4)")

    # 2. The same configuration fitted on each device.
    fits = {d: PCDensityEstimator(n_latents=k, max_iter=5, random_state=0, device=d).fit(X)
            for d in ("cpu", "gpu")}
    print("2. fit on each device, final train LL / test LL: " + ", ".join(
        f"{d} {f.history_['train_loglik'][-1]:.4f} / {f.score(X_test):.4f}" for d, f in fits.items()))

    # 3. Speed.
    rng = np.random.default_rng(0)
    synthetic = (rng.random((args.synthetic_rows, 50)) < 0.3).astype(np.float32)
    print("\n| data | k | CPU s/epoch | GPU s/epoch | speed-up | CPU score rows/s | GPU score rows/s |")
    print("|---|---|---|---|---|---|---|")
    for name, data in (("plants", X), (f"synthetic {args.synthetic_rows:,} x 50", synthetic)):
        for k in args.ks:
            base = PCDensityEstimator(n_latents=k, max_iter=1, random_state=0).fit(data[:2048])
            cells = []
            for device in ("cpu", "gpu"):
                est = on_device(base, device)
                if device == "cpu" and len(data) > 100_000 and k >= 128:
                    cells.append((float("nan"), float("nan")))  # hours on a CPU: skipped
                    continue
                timed_epoch(est, data[:4096])  # warm-up (kernels, workspaces)
                cells.append((timed_epoch(est, data), rows_per_second(est, data)))
            (ce, cr), (ge, gr) = cells
            row = f"| {name} | {k} | {ce:.2f} | {ge:.2f} | {ce / ge:.1f}x | {cr:,.0f} | {gr:,.0f} |"
            print(row, flush=True)


if __name__ == "__main__":
    main()
