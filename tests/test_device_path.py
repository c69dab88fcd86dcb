"""The whole device code path on a strict stand-in for cupy (no GPU needed).

``tests/strict_backend.py`` refuses every implicit host/device mix the way cupy does, so a
leak (a numpy call on device data, a host array in a device operation, a ``float()`` of a
device array) fails here. The stand-in computes with numpy underneath, so its results must
equal the CPU ones exactly.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose

import skpc.estimator
from skpc import PCDensityEstimator
from tests.strict_backend import DeviceArray, DeviceLeak, StrictBackend, strict


@pytest.fixture
def strict_gpu(monkeypatch):
    real = skpc.estimator.get_backend
    monkeypatch.setattr(skpc.estimator, "get_backend", lambda d: StrictBackend() if d == "gpu" else real(d))


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 2, n)
    X = np.column_stack([
        (rng.random(n) < np.where(z, 0.8, 0.2)).astype(float),
        rng.integers(0, 3, n).astype(float),
        (rng.random(n) < np.where(z, 0.3, 0.7)).astype(float),
        rng.normal(np.where(z, 1.0, -1.0), 0.5),
    ])
    X[rng.random(X.shape) < 0.1] = np.nan
    return X


def test_the_stand_in_refuses_leaks():
    d = strict.ones(3)
    with pytest.raises(DeviceLeak):
        np.sum(d)
    with pytest.raises(DeviceLeak):
        d + np.ones(3)
    with pytest.raises(DeviceLeak):
        d.tolist()
    with pytest.raises(DeviceLeak):
        d[np.array([0, 1])]  # indexing with host indices
    assert isinstance(d + 1.0, DeviceArray)


@pytest.mark.parametrize("solver", ["anemone", "em", "minibatch_em", "adam"])
def test_fit_and_queries_on_the_device_path_equal_the_cpu(strict_gpu, solver):
    X = _data()
    kw = dict(n_latents=3, max_iter=2, batch_size=64, solver=solver, random_state=0, dtype="float64")
    cpu = PCDensityEstimator(**kw).fit(X)
    gpu = PCDensityEstimator(**kw, device="gpu").fit(X)
    assert gpu.device_ == "gpu" and isinstance(gpu.circuit_.sum_layers[0].weights, DeviceArray)
    assert_allclose(gpu.history_["train_loglik"], cpu.history_["train_loglik"], rtol=1e-12)
    scores = gpu.score_samples(X)
    assert type(scores) is np.ndarray  # results come back to the host
    assert_allclose(scores, cpu.score_samples(X), rtol=1e-12)
    assert_allclose(gpu.sample(50, random_state=1), cpu.sample(50, random_state=1))
    filled = gpu.sample_conditional(X[:20], random_state=2)
    assert_allclose(filled, cpu.sample_conditional(X[:20], random_state=2))
    assert_allclose(gpu.predict_mpe(X[:20]), cpu.predict_mpe(X[:20]))
    assert_allclose(gpu.conditional_mean(X[:20]), cpu.conditional_mean(X[:20]), rtol=1e-12)
    Xq = X[~np.isnan(X[:, 0])][:20]
    assert_allclose(gpu.conditional_log_prob(Xq, [0]), cpu.conditional_log_prob(Xq, [0]), rtol=1e-12)


def test_partial_fit_on_the_device_path(strict_gpu):
    X = _data()
    kw = dict(n_latents=3, batch_size=64, random_state=0, dtype="float64", n_categories=[2, 3, 2, 0])
    kw["leaf"] = ["categorical", "categorical", "categorical", "gaussian"]
    gpu = PCDensityEstimator(**kw, device="gpu").partial_fit(X[:150]).partial_fit(X[150:])
    cpu = PCDensityEstimator(**kw).partial_fit(X[:150]).partial_fit(X[150:])
    assert_allclose(gpu.score_samples(X), cpu.score_samples(X), rtol=1e-12)
