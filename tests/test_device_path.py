"""The whole device code path on a strict stand-in for cupy (no GPU needed).

``tests/strict_backend.py`` refuses every implicit host/device mix the way cupy does, so a
leak (a numpy call on device data, a host array in a device operation, a ``float()`` of a
device array) fails here. The stand-in computes with numpy underneath, so its results must
equal the CPU ones exactly.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn import config_context

import skpc.estimator
from skpc import PCClassifier, PCDensityEstimator, PCImputer
from skpc.engine import Circuit
from skpc.engine.memory import memory_needed
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


# -- where results go: numpy, or device arrays under array-API dispatch --------------------------
@pytest.fixture
def dispatch(monkeypatch):
    """``sklearn.config_context(array_api_dispatch=True)``; scikit-learn asks for SCIPY_ARRAY_API=1."""
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    try:
        with config_context(array_api_dispatch=True):
            pass
    except ImportError as e:  # scipy older than scikit-learn's array API support needs
        pytest.skip(str(e))
    return lambda: config_context(array_api_dispatch=True)


def _queries(est, X, Xq):
    """Every query's results on ``X`` (``Xq``: rows with column 0 observed)."""
    mpe, log_prob = est.predict_mpe(X, return_log_prob=True)
    return {
        "score_samples": est.score_samples(X),
        "sample_conditional": est.sample_conditional(X, random_state=2),
        "predict_mpe": mpe,
        "mpe_log_prob": log_prob,
        "conditional_marginals": est.conditional_marginals(X),
        "conditional_mean": est.conditional_mean(X),
        "conditional_log_prob": est.conditional_log_prob(Xq, strict.asarray(np.array([0]))
                                                         if isinstance(Xq, DeviceArray) else [0]),
    }


@pytest.fixture
def fitted_pair(strict_gpu):
    X = _data()
    kw = dict(n_latents=3, max_iter=2, batch_size=64, random_state=0, dtype="float64")
    return X, PCDensityEstimator(**kw).fit(X), PCDensityEstimator(**kw, device="gpu").fit(X)


def test_results_stay_on_the_device_under_array_api_dispatch(fitted_pair, dispatch):
    X, cpu, gpu = fitted_pair
    Xq = X[~np.isnan(X[:, 0])][:20]
    expected = _queries(cpu, X[:20], Xq)
    with dispatch():
        got = _queries(gpu, strict.asarray(X[:20]), strict.asarray(Xq))
        score = gpu.score(strict.asarray(X))
        samples = gpu.sample(30, random_state=1)
        host_input = gpu.score_samples(X[:20])
    for name, value in got.items():
        assert isinstance(value, DeviceArray), name
        assert_allclose(value.get(), expected[name], rtol=1e-12, err_msg=name)
    assert type(score) is float and score == pytest.approx(cpu.score(X), rel=1e-12)
    assert isinstance(samples, DeviceArray)
    assert_allclose(samples.get(), cpu.sample(30, random_state=1))
    assert type(host_input) is np.ndarray  # numpy input: numpy results, dispatch or not


def test_device_input_without_dispatch_gives_numpy(fitted_pair):
    X, cpu, gpu = fitted_pair
    Xq = X[~np.isnan(X[:, 0])][:20]
    expected = _queries(cpu, X[:20], Xq)
    for model in (gpu, cpu):  # device input is moved as needed, to either model
        got = _queries(model, strict.asarray(X[:20]), strict.asarray(Xq))
        for name, value in got.items():
            assert type(value) is np.ndarray, name
            assert_allclose(value, expected[name], rtol=1e-12, err_msg=name)
    assert type(gpu.sample(5, random_state=0)) is np.ndarray


def test_a_cpu_model_returns_numpy_under_dispatch(fitted_pair, dispatch):
    X, cpu, _ = fitted_pair
    with dispatch():
        scores = cpu.score_samples(strict.asarray(X))
        samples = cpu.sample(5, random_state=0)
    assert type(scores) is np.ndarray and type(samples) is np.ndarray
    assert_allclose(scores, cpu.score_samples(X))


@pytest.mark.parametrize("strategy", ["mode", "mpe", "mean", "sample"])
def test_imputer_transform_follows_the_same_rule(strict_gpu, dispatch, strategy):
    X = _data()
    kw = dict(strategy=strategy, n_latents=3, max_iter=2, batch_size=64, random_state=0, dtype="float64")
    cpu = PCImputer(**kw).fit(X)
    gpu = PCImputer(**kw, device="gpu").fit(strict.asarray(X))  # fit takes device input too
    expected = cpu.transform(X[:30])
    with dispatch():
        on_device = gpu.transform(strict.asarray(X[:30]))
        complete = gpu.transform(strict.asarray(np.nan_to_num(X[:30])))
    assert isinstance(on_device, DeviceArray) and isinstance(complete, DeviceArray)
    assert_allclose(on_device.get(), expected)
    off = gpu.transform(strict.asarray(X[:30]))
    assert type(off) is np.ndarray
    assert_allclose(off, expected)


# -- chunks sized to the device's free memory --------------------------------------------------
def _free_for_rows(circuit, rows):
    """Free device bytes with which passes of ``circuit`` run ``rows`` rows at once.

    The stand-in's free memory does not shrink when the model allocates its parameters,
    so this is the memory needed beyond what the parameters hold.
    """
    return memory_needed(circuit.parameter_bytes, circuit.row_bytes, rows) - circuit.parameter_bytes


@pytest.fixture
def batch_sizes(monkeypatch):
    """The number of rows of every upward pass."""
    sizes, forward = [], Circuit.forward

    def recording(self, X, mode="sum"):
        sizes.append(X.shape[0])
        return forward(self, X, mode)

    monkeypatch.setattr(Circuit, "forward", recording)
    return sizes


@pytest.mark.parametrize("solver", ["anemone", "em", "minibatch_em", "adam"])
def test_a_device_short_of_memory_runs_in_chunks_with_unchanged_results(
    strict_gpu, monkeypatch, batch_sizes, solver
):
    X = _data()
    kw = dict(n_latents=3, max_iter=2, batch_size=64, solver=solver, random_state=0, dtype="float64")
    cpu = PCDensityEstimator(**kw).fit(X)
    expected = _queries(cpu, X[:40], X[~np.isnan(X[:, 0])][:40])
    batch_sizes.clear()
    monkeypatch.setattr(StrictBackend, "free_bytes", _free_for_rows(cpu.circuit_, 7))
    gpu = PCDensityEstimator(**kw, device="gpu").fit(X)
    assert gpu.batch_size == 64  # the learning rule's mini-batch is unchanged ...
    assert max(batch_sizes) == 7  # ... its flows are summed over chunks of 7 rows
    assert_allclose(gpu.history_["train_loglik"], cpu.history_["train_loglik"], rtol=1e-12)
    got = _queries(gpu, X[:40], X[~np.isnan(X[:, 0])][:40])
    assert max(batch_sizes) == 7
    # Draws depend on how the rows are chunked (the same distribution, other random numbers).
    filled = got.pop("sample_conditional")
    assert not np.isnan(filled).any() and np.array_equal(filled[~np.isnan(X[:40])], X[:40][~np.isnan(X[:40])])
    del expected["sample_conditional"]
    for name, value in got.items():
        assert_allclose(value, expected[name], rtol=1e-10, err_msg=name)
    assert gpu.sample(50, random_state=1).shape == (50, 4)


def test_a_device_too_small_for_one_row_is_refused_with_the_numbers(strict_gpu, monkeypatch):
    X = _data()
    kw = dict(n_latents=3, max_iter=1, batch_size=64, random_state=0, dtype="float64")
    circuit = PCDensityEstimator(**kw).fit(X).circuit_
    params, row = circuit.parameter_bytes, circuit.row_bytes
    needed = memory_needed(params, row, 1)
    monkeypatch.setattr(StrictBackend, "free_bytes", needed - 1)
    with pytest.raises(ValueError) as info:
        PCDensityEstimator(**kw, device="gpu").fit(X)
    message = str(info.value)
    free = f"({needed - 1:,} bytes) is available on the gpu"
    for part in ("n_latents=3", "4 variables", f"({needed:,} bytes;", free, "lower n_latents (now 3)",
                 "device='cpu'", "dtype='float32'"):
        assert part in message
    # A fitted model on a GPU whose free memory has since shrunk: its queries refuse too.
    monkeypatch.setattr(StrictBackend, "free_bytes", needed)
    gpu = PCDensityEstimator(**kw, device="gpu").fit(X)
    short = needed - params - 1  # what the pass needs beyond the parameters, less one byte
    monkeypatch.setattr(StrictBackend, "free_bytes", short)
    with pytest.raises(ValueError, match=rf"\({needed - params:,} bytes, beyond the .* it holds;.* "
                                         rf"\({short:,} bytes\) is available on the gpu"):
        gpu.score_samples(X)
    monkeypatch.setattr(StrictBackend, "free_bytes", short + 1)
    assert_allclose(gpu.score_samples(X), PCDensityEstimator(**kw).fit(X).score_samples(X), rtol=1e-12)


def test_the_classifier_on_the_device_path_equals_the_cpu(strict_gpu):
    # The default search (mixture candidates on these mixed columns, scored by held-out
    # log p(y | x)), early stopping and class-conditional samples, all on the stand-in.
    X = _data(seed=3)
    y = np.where(np.nan_to_num(X[:, 3]) > 0, "up", "down")
    kw = dict(max_iter=3, early_stopping=True, random_state=0, dtype="float64")
    cpu = PCClassifier(**kw).fit(X, y)
    gpu = PCClassifier(**kw, device="gpu").fit(X, y)
    assert gpu.estimator_.device_ == "gpu"
    assert gpu.estimator_.capacity_search_["chosen"] == cpu.estimator_.capacity_search_["chosen"]
    history = [model.estimator_.history_["valid_loglik"] for model in (gpu, cpu)]
    assert_allclose(*history, rtol=1e-10)
    assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), rtol=1e-10)
    X_gpu, y_gpu = gpu.sample(20, y="up", random_state=1)
    X_cpu, y_cpu = cpu.sample(20, y="up", random_state=1)
    assert_allclose(X_gpu, X_cpu)
    assert (y_gpu == "up").all() and (y_cpu == "up").all()
