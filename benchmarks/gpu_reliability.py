"""GPU checks of issue 7 (reliability).

Save on the GPU and load on the CPU, determinism on the GPU, interruption, the memory
check, and a 2,000-variable circuit with k = 64 in float32 and float64. Needs cupy and a
CUDA device. Run from the repository root: ``python benchmarks/gpu_reliability.py``; its
output is quoted in docs/determinism.md.
"""

import importlib
import os
import pickle
import sys
import tempfile
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import skpc  # noqa: E402
from skpc import PCDensityEstimator  # noqa: E402
from skpc._backend import get_backend
from skpc.datasets import load_debd  # noqa: E402
from skpc.solvers import SOLVERS  # noqa: E402

warnings.filterwarnings("ignore")


def params(pc):
    backend = pc.circuit_.backend
    return [backend.to_numpy(p) for ps in pc.circuit_.get_params() for p in ps]


def same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def max_diff(a, b):
    return max(float(np.max(np.abs(x - y.astype(x.dtype)))) for x, y in zip(a, b, strict=True))


def check_device_round_trips(name, data, dtype, folder):
    kw = dict(n_latents=16, max_iter=3, batch_size=512, random_state=0, dtype=dtype)
    start = time.perf_counter()
    g1 = PCDensityEstimator(**kw, device="gpu").fit(data)
    seconds = time.perf_counter() - start
    g2 = PCDensityEstimator(**kw, device="gpu").fit(data)
    c1 = PCDensityEstimator(**kw).fit(data)
    sc1 = g1.score_samples(data)
    print(f"[{name} {dtype}] gpu fit {seconds:.2f}s  device_={g1.device_}")
    print(f"  GPU determinism: params bit-identical={same(params(g1), params(g2))}, samples identical="
          f"{np.array_equal(g1.sample(500, random_state=3), g2.sample(500, random_state=3))}, "
          f"scores identical={np.array_equal(sc1, g2.score_samples(data))}")
    print(f"  GPU vs CPU, same seed: params max diff {max_diff(params(g1), params(c1)):.3g}, "
          f"mean LL gpu {sc1.mean():.6f} cpu {c1.score(data):.6f}")
    path = os.path.join(folder, f"{name}_{dtype}.skpc")
    g1.save(path)
    cpu, gpu = skpc.load(path), skpc.load(path, device="gpu")
    print(f"  saved on GPU, loaded on CPU: device_={cpu.device_}, "
          f"params identical={same(params(g1), params(cpu))}, "
          f"scores max diff {np.max(np.abs(cpu.score_samples(data) - sc1)):.3g}; "
          f"loaded on GPU: scores identical={np.array_equal(gpu.score_samples(data), sc1)}")
    unpickled = pickle.loads(pickle.dumps(g1))
    print(f"  pickle of a GPU model: unpickles on {unpickled.circuit_.backend.name}, "
          f"scores max diff {np.max(np.abs(unpickled.score_samples(data) - sc1)):.3g}")


def check_interruption(X):
    cls = SOLVERS["anemone"]
    original, count = cls.update, [0]

    def update(self, circuit, stats, n, a):
        count[0] += 1
        if count[0] == 12:  # 4 batches per epoch: the 12th update is in epoch 3
            raise KeyboardInterrupt
        return original(self, circuit, stats, n, a)

    kw = dict(n_latents=8, batch_size=500, schedule="constant", n_iter_no_change=50, random_state=0,
              device="gpu")
    reference = PCDensityEstimator(**kw, max_iter=2).fit(X)
    cls.update = update
    pc = PCDensityEstimator(**kw, max_iter=10)
    try:
        pc.fit(X)
    except KeyboardInterrupt:
        print(f"[interrupt gpu] n_iter_={pc.n_iter_}, params equal to the 2-epoch fit: "
              f"{same(params(pc), params(reference))}")
    finally:
        cls.update = original


def check_chain(rng):
    hclt_module = importlib.import_module("skpc.structures.hclt")
    d, n = 2000, 512
    flips = rng.random((n, d)) < 0.1
    C = ((np.cumsum(flips, axis=1) + rng.integers(0, 2, size=(n, 1))) % 2).astype(float)
    mi, tree = hclt_module.mutual_information, hclt_module.chow_liu_tree
    hclt_module.mutual_information = lambda X, c, a: None
    hclt_module.chow_liu_tree = lambda m: (np.arange(-1, d - 1), 0)
    graph = hclt_module.hclt(C, np.full(d, 2))
    hclt_module.mutual_information, hclt_module.chow_liu_tree = mi, tree
    scores = {}
    for dtype in ("float32", "float64"):
        start = time.perf_counter()
        pc = PCDensityEstimator(structure=graph, n_latents=64, max_iter=2, batch_size=256, random_state=0,
                                dtype=dtype, device="gpu").fit(C)
        scores[dtype] = pc.score_samples(C)
        print(f"[chain 2000x64 gpu {dtype}] fit+score {time.perf_counter() - start:.2f}s mean LL "
              f"{scores[dtype].mean():.4f} finite={np.isfinite(scores[dtype]).all()} "
              f"params finite={all(np.isfinite(p).all() for p in params(pc))}")
    rel = np.max(np.abs(scores["float32"] - scores["float64"]) / np.abs(scores["float64"]))
    print(f"[chain] float32 vs float64 max relative difference {rel:.3g}")


def main():
    print("device:", get_backend("gpu").device_name())
    X = load_debd("nltcs")[:4000]
    rng = np.random.default_rng(0)
    mixed = np.c_[rng.integers(0, 3, size=(3000, 6)), rng.normal(size=(3000, 3))]
    mixed[rng.random(mixed.shape) < 0.1] = np.nan
    with tempfile.TemporaryDirectory() as folder:
        for name, data in [("nltcs", X), ("mixed", mixed)]:
            for dtype in ("float32", "float64"):
                check_device_round_trips(name, data, dtype, folder)
    check_interruption(X[:2000])
    try:
        PCDensityEstimator(n_latents=200_000, max_iter=1, device="gpu").fit(X[:50, :3])
    except ValueError as e:
        print("[memory gpu]", str(e)[:200])
    check_chain(rng)


if __name__ == "__main__":
    main()
