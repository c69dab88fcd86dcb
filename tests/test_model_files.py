"""Safe model files (skpc.io): round trips, and clear errors for corrupt, truncated or tampered files."""

import json
import pickle
import zipfile
from numbers import Integral
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval

import skpc
from skpc import PCDensityEstimator
from skpc._backend import Backend
from skpc.io import FORMAT_VERSION, ModelFileError
from skpc.structures import RegionGraph

INVALID = "is not a valid skpc model file"


def _mixed_data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = np.c_[rng.integers(0, 3, size=(n, 3)), rng.normal(size=(n, 2))]
    X[rng.random(X.shape) < 0.1] = np.nan
    return pd.DataFrame(X, columns=["a", "b", "c", "x", "y"])


@pytest.fixture(scope="module")
def model():
    return PCDensityEstimator(n_latents=3, max_iter=2, random_state=0).fit(_mixed_data())


@pytest.fixture
def saved(model, tmp_path):
    path = tmp_path / "model.skpc"
    model.save(path)
    return path


def _arrays(path):
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def _rewrite(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _meta(arrays):
    return json.loads(str(arrays["metadata"][()]))


def _with_meta(arrays, **changes):
    meta = _meta(arrays)
    meta.update(changes)
    return {**arrays, "metadata": np.array(json.dumps(meta))}


def _with_model(arrays, part=None, **changes):
    """The archive with the top node's entries (or those of its ``part``, e.g. "state") changed."""
    meta = _meta(arrays)
    (meta["model"] if part is None else meta["model"][part]).update(changes)
    return {**arrays, "metadata": np.array(json.dumps(meta))}


def _assert_same_model(a, b, X):
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))
    np.testing.assert_array_equal(a.sample(20, random_state=3), b.sample(20, random_state=3))
    for pa, pb in zip(a.circuit_.get_params(), b.circuit_.get_params(), strict=True):
        for x, y in zip(pa, pb, strict=True):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)
    for name in ("leaf_types_", "n_categories_", "n_features_in_", "n_iter_", "converged_", "history_"):
        np.testing.assert_equal(getattr(a, name), getattr(b, name))
    assert a.get_params() == b.get_params()


# -- round trips -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_round_trip_scores_identically(tmp_path, dtype):
    X = _mixed_data()
    pc = PCDensityEstimator(n_latents=3, max_iter=2, random_state=0, dtype=dtype).fit(X)
    skpc.save(pc, tmp_path / "m")
    assert (tmp_path / "m").exists() and not (tmp_path / "m.npz").exists()
    loaded = skpc.load(tmp_path / "m")
    _assert_same_model(pc, loaded, X)
    np.testing.assert_array_equal(loaded.feature_names_in_, ["a", "b", "c", "x", "y"])
    assert loaded.device_ == "cpu"
    with pytest.raises(ValueError, match="feature names should match"):
        loaded.score_samples(X[["b", "a", "c", "x", "y"]])


def test_round_trip_of_a_given_kronecker_region_graph(tmp_path):
    # ((0, 1), (2, 3)) with two partitions at the root and shared child regions.
    scopes = [(0,), (1,), (2,), (3,), (0, 1), (2, 3), (0, 2), (1, 3), (0, 1, 2, 3)]
    partitions = [[], [], [], [], [(0, 1)], [(2, 3)], [(0, 2)], [(1, 3)], [(4, 5), (6, 7)]]
    graph = RegionGraph(scopes, partitions, 8, product="kronecker")
    X = np.random.default_rng(0).integers(0, 2, size=(50, 4)).astype(float)
    pc = PCDensityEstimator(structure=graph, n_latents=2, max_iter=2, random_state=0, dtype="float64").fit(X)
    pc.save(tmp_path / "k")
    loaded = PCDensityEstimator.load(tmp_path / "k")
    _assert_same_model(pc, loaded, X)
    assert loaded.structure_.scopes == scopes and loaded.structure_.partitions == partitions
    assert loaded.structure is loaded.structure_ and loaded.structure_.product == "kronecker"


def test_array_valued_parameters_round_trip(tmp_path):
    X = _mixed_data().to_numpy()
    leaf = np.array(["categorical"] * 3 + ["gaussian"] * 2)
    # n_categories in the fitted attribute's format: 0 for the Gaussian columns.
    n_categories = [np.int64(4)] * 3 + [np.int64(0)] * 2
    pc = PCDensityEstimator(n_latents=2, max_iter=1, leaf=leaf, n_categories=n_categories,
                            random_state=np.random.RandomState(0)).fit(X)
    pc.save(tmp_path / "p")
    loaded = skpc.load(tmp_path / "p")
    assert loaded.get_params()["leaf"] == leaf.tolist()
    assert loaded.get_params()["n_categories"] == [4, 4, 4, 0, 0]
    assert loaded.random_state is None  # a RandomState is not plain metadata
    np.testing.assert_array_equal(loaded.n_categories_, [4, 4, 4, 0, 0])
    np.testing.assert_array_equal(loaded.score_samples(X), pc.score_samples(X))
    with pytest.raises(ValueError, match="parameter structure=.* cannot be saved"):
        skpc.save(pc.set_params(structure=object()), tmp_path / "q")


def test_file_holds_only_plain_arrays(saved):
    with zipfile.ZipFile(saved) as z:
        assert all(name.endswith(".npy") for name in z.namelist())
    for name, a in _arrays(saved).items():  # would raise on any pickled (object) array
        assert a.dtype.kind in "iufbU", name
    assert _meta(_arrays(saved))["format_version"] == FORMAT_VERSION


def test_model_saved_from_another_device_loads_on_the_cpu(model, tmp_path):
    # A backend named "gpu": saving must copy parameters to the host and record the device.
    fake_gpu = Backend(np, "gpu")
    on_gpu = pickle.loads(pickle.dumps(model))
    on_gpu.circuit_.to(fake_gpu)
    on_gpu.device_ = "gpu"
    on_gpu.save(tmp_path / "g")
    assert _meta(_arrays(tmp_path / "g"))["model"]["state"]["device_"] == "gpu"
    loaded = skpc.load(tmp_path / "g")
    assert loaded.device_ == "cpu" and loaded.circuit_.backend.name == "cpu"
    np.testing.assert_array_equal(loaded.score_samples(_mixed_data()), model.score_samples(_mixed_data()))


def test_pickle_keeps_working(model):
    X = _mixed_data()
    _assert_same_model(model, pickle.loads(pickle.dumps(model)), X)


def test_saving_an_unfitted_model_fails(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        PCDensityEstimator().save(tmp_path / "x")


def test_interrupted_save_leaves_no_file(model, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.save(tmp_path / "m")
    assert list(tmp_path.iterdir()) == []


def test_other_skpc_version_warns_and_loads(saved, model):
    _rewrite(saved, _with_meta(_arrays(saved), skpc_version="0.0.1"))
    with pytest.warns(UserWarning, match=r"saved by skpc 0\.0\.1, this is skpc"):
        loaded = skpc.load(saved)
    _assert_same_model(model, loaded, _mixed_data())


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        skpc.load(tmp_path / "nothing")


# -- corrupt and foreign files ---------------------------------------------------------------------
def test_truncated_file(saved):
    raw = saved.read_bytes()
    for size in (0, 10, len(raw) // 2, len(raw) - 10):
        saved.write_bytes(raw[:size])
        with pytest.raises(ModelFileError, match=INVALID):
            skpc.load(saved)


def test_random_bytes(tmp_path):
    path = tmp_path / "r"
    for seed in range(3):
        path.write_bytes(np.random.default_rng(seed).bytes(2000))
        with pytest.raises(ValueError, match=INVALID):
            skpc.load(path)


def test_a_text_file_is_named_as_not_an_archive(tmp_path):
    path = tmp_path / "model.csv"
    path.write_text("0,1,1\n1,0,1\n")
    with pytest.raises(ModelFileError, match="not an .npz archive"):
        skpc.load(path)


def test_flipped_bytes_inside_the_archive(saved):
    raw = bytearray(saved.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 64] = bytes(64)
    saved.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match=INVALID):
        skpc.load(saved)


_RAN = []


class _Payload:
    def __reduce__(self):
        return (_RAN.append, ("code ran",))


def test_a_pickle_disguised_as_a_model_is_never_unpickled(model, tmp_path):
    for payload in (model, _Payload(), {"metadata": _Payload()}):
        path = tmp_path / "evil.skpc"
        path.write_bytes(pickle.dumps(payload))
        with pytest.raises(ModelFileError, match=INVALID):
            skpc.load(path)
    # A pickled object array inside a genuine-looking archive.
    arrays = {"metadata": np.array([_Payload()], dtype=object)}
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(ModelFileError, match="pickle"):
        skpc.load(path)
    assert _RAN == []


def test_a_single_npy_array_or_a_foreign_npz(tmp_path):
    path = tmp_path / "a"
    with open(path, "wb") as f:
        np.save(f, np.zeros(3))
    with pytest.raises(ModelFileError, match="single array"):
        skpc.load(path)
    _rewrite(path, {"weights": np.zeros(3)})
    with pytest.raises(ModelFileError, match="metadata"):
        skpc.load(path)
    _rewrite(path, {"metadata": np.array(json.dumps({"format": "other"}))})
    with pytest.raises(ModelFileError, match="no 'skpc-model' format tag"):
        skpc.load(path)


# -- tampered files --------------------------------------------------------------------------------
def test_wrong_format_version(saved):
    _rewrite(saved, _with_meta(_arrays(saved), format_version=FORMAT_VERSION + 1))
    with pytest.raises(ModelFileError, match=rf"format version {FORMAT_VERSION + 1}, written by skpc 0\.1"):
        skpc.load(saved)


def test_the_column_description_round_trips(model, saved):
    meta = _meta(_arrays(saved))
    assert meta["model"]["state"]["columns_"]["columns"]["names"] == ["a", "b", "c", "x", "y"]
    loaded = skpc.load(saved)
    for name in ("kinds", "loc", "scale", "n_codes"):
        np.testing.assert_array_equal(getattr(loaded.columns_, name), getattr(model.columns_, name))
    for a, b in zip(loaded.columns_.levels, model.columns_.levels, strict=True):
        assert (a is None and b is None) or a.tolist() == b.tolist()
    # Unseen values score the same after loading.
    X = _mixed_data().iloc[:5].copy()
    X["a"] = 9.0
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))


def _first_param(arrays, kind):
    blocks = _meta(arrays)["model"]["circuit"]["blocks"]
    return f"param_{[k for k, _ in blocks].index(kind)}_0"


@pytest.mark.parametrize("kind", ["categorical", "gaussian", "sum"])
def test_parameter_arrays_of_the_wrong_shape_or_dtype(saved, kind):
    arrays = _arrays(saved)
    key = _first_param(arrays, kind)
    for bad in (arrays[key][..., :-1], arrays[key].astype(np.float64), arrays[key].astype(np.int32)):
        _rewrite(saved, {**arrays, key: bad})
        with pytest.raises(ModelFileError, match=rf"array '{key}' has dtype {bad.dtype} and shape"):
            skpc.load(saved)


@pytest.mark.parametrize(
    "kind, change, message",
    [("sum", lambda w: np.where(w == w.max(), np.nan, w), "non-finite"),
     ("sum", lambda w: w * 1.5, "not normalised"),
     ("categorical", lambda p: np.where(p == p.max(), -p, p), "not normalised"),
     ("gaussian", lambda m: m + np.inf, "non-finite")],
)
def test_tampered_parameter_values(saved, kind, change, message):
    arrays = _arrays(saved)
    key = _first_param(arrays, kind)
    _rewrite(saved, {**arrays, key: change(arrays[key]).astype(arrays[key].dtype)})
    with pytest.raises(ModelFileError, match=message):
        skpc.load(saved)


def test_non_positive_variances(saved):
    arrays = _arrays(saved)
    key = _first_param(arrays, "gaussian").replace("_0", "_1")
    _rewrite(saved, {**arrays, key: np.zeros_like(arrays[key])})
    with pytest.raises(ModelFileError, match="variances"):
        skpc.load(saved)


def test_tampered_region_graph(saved):
    arrays = _arrays(saved)
    n_regions = len(arrays["scope_offsets"]) - 1
    children = arrays["partition_children"]
    root = _meta(arrays)["model"]["circuit"]["root"]
    cases = {
        "do not exist": {"partition_children": np.where(children == children.max(), 10**6, children)},
        "integer array": {"partition_children": children.astype(float)},
        "inconsistent offsets": {"scope_offsets": arrays["scope_offsets"][:-1]},
        # Make the root a child of its own first partition: a cycle.
        "cycle": {"partition_children": np.where(np.arange(len(children)) == 0, root, children)},
        # The same region twice in one partition (and another one unreachable).
        "overlap|reachable": {"partition_children": np.r_[children[:1], children[:1], children[2:]]},
    }
    for message, change in cases.items():
        _rewrite(saved, {**arrays, **change})
        with pytest.raises(ModelFileError, match=message):
            skpc.load(saved)
    assert n_regions > 1


def test_tampered_estimator_parameters(saved):
    arrays = _arrays(saved)
    params = _meta(arrays)["model"]["params"]
    for change, message in [({"n_latents": 4}, "do not match|dtype"), ({"n_latents": -1}, "n_latents"),
                            ({"evil": 1}, "unknown estimator parameters"), ({"solver": "x"}, "solver")]:
        _rewrite(saved, _with_model(arrays, params={**params, **change}))
        with pytest.raises(ModelFileError, match=message):
            skpc.load(saved)


def test_tampered_column_attributes_and_extra_arrays(saved):
    arrays = _arrays(saved)
    for change, message in [
        ({"leaf_types_": arrays["leaf_types_"][:-1]}, "one entry per variable"),
        ({"leaf_types_": np.where(arrays["leaf_types_"] == "gaussian", "poisson", arrays["leaf_types_"])},
         "poisson"),
        ({"n_categories_": np.zeros_like(arrays["n_categories_"])}, "numbers of categories"),
        ({"feature_names_in_": arrays["feature_names_in_"][:2]}, "feature_names"),
        ({"payload": np.zeros(3)}, "unexpected arrays"),
    ]:
        _rewrite(saved, {**arrays, **change})
        with pytest.raises(ModelFileError, match=message):
            skpc.load(saved)


def test_tampered_resolved_latents(tmp_path):
    X = _mixed_data()
    path = tmp_path / "auto.skpc"
    PCDensityEstimator(max_iter=1, random_state=0).fit(X).save(path)  # n_latents="auto"
    arrays = _arrays(path)
    for k, message in [(4, "do not match|dtype"), (-1, "n_latents"), ("8", "n_latents"), (None, "n_latents")]:
        _rewrite(path, _with_model(arrays, "state", n_latents_=k))
        with pytest.raises(ModelFileError, match=message):
            skpc.load(path)


def test_a_huge_model_claim_fails_before_allocating(saved):
    arrays = _arrays(saved)
    params = _meta(arrays)["model"]["params"]
    _rewrite(saved, _with_model(arrays, params={**params, "n_latents": 10**7}))
    with pytest.raises(ModelFileError, match="GiB"):
        skpc.load(saved)


# -- files of earlier format versions ----------------------------------------------------------------
DATA = Path(__file__).parent / "data"


def test_a_version_1_file_still_loads_and_scores_as_when_it_was_written():
    # tests/data/model_v1.skpc was written by skpc 0.1.0 with format version 1 (commit 8905c13),
    # together with the scores and samples that version gave.
    expected = np.load(DATA / "model_v1_expected.npz")
    rows = pd.DataFrame(expected["rows"], columns=["a", "b", "x"])
    loaded = skpc.load(DATA / "model_v1.skpc")
    # Equal to rounding: scoring leaves layers unnormalised since (issue 19), a rounding apart.
    np.testing.assert_allclose(loaded.score_samples(rows), expected["scores"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(loaded.sample(5, random_state=0), expected["samples"])
    np.testing.assert_array_equal(loaded.feature_names_in_, ["a", "b", "x"])


# -- every estimator, every way of storing it ----------------------------------------------------------
def _imputer():
    X = _mixed_data()
    X["e"] = np.nan  # an empty feature, kept
    imp = skpc.PCImputer(n_latents=2, max_iter=1, random_state=0, add_indicator=True,
                         keep_empty_features=True)
    with pytest.warns(UserWarning, match="without any observed values"):
        return imp.fit(X), X


def _outputs(est, X):
    if isinstance(est, skpc.PCImputer):
        return est.transform(X)
    return est.score_samples(X)


def _through_skpc(est, path):
    skpc.save(est, path)
    return skpc.load(path)


def _through_class_methods(est, path):
    est.save(path)
    return type(est).load(path)


def _through_pickle(est, path):
    return pickle.loads(pickle.dumps(est))


def _through_joblib(est, path):
    joblib.dump(est, path)
    return joblib.load(path)


def _through_skops(est, path):
    sio.dump(est, path)
    untrusted = sio.get_untrusted_types(file=path)
    # Only skpc's own classes (and numpy's dtype): no modules, functions or device handles.
    assert all(t.startswith("skpc.") or t == "numpy.dtype" for t in untrusted), untrusted
    return sio.load(path, trusted=untrusted)


@pytest.mark.parametrize("store", [_through_skpc, _through_class_methods, _through_pickle, _through_joblib,
                                   _through_skops])
@pytest.mark.parametrize("make", ["density", "imputer"])
def test_every_estimator_round_trips_every_way(make, store, model, tmp_path):
    est, X = (model, _mixed_data()) if make == "density" else _imputer()
    loaded = store(est, tmp_path / "m")
    assert type(loaded) is type(est)
    np.testing.assert_array_equal(_outputs(loaded, X), _outputs(est, X))
    np.testing.assert_equal(loaded.get_params(), est.get_params())  # NaN markers compare equal here
    np.testing.assert_array_equal(loaded.feature_names_in_, est.feature_names_in_)
    if make == "imputer":
        np.testing.assert_array_equal(loaded.get_feature_names_out(), est.get_feature_names_out())
        _assert_same_model(loaded.estimator_, est.estimator_, X.iloc[:, :5])


def test_imputer_file_holds_its_circuit_and_indicator_as_named_arrays(tmp_path):
    imp, X = _imputer()
    imp.save(tmp_path / "i")
    arrays = _arrays(tmp_path / "i")
    model = _meta(arrays)["model"]
    assert model["class"] == "PCImputer" and model["params"]["add_indicator"] is True
    inner = model["state"]["estimator_"]["model"]
    assert inner["class"] == "PCDensityEstimator" and inner["circuit"]["prefix"] == "estimator_."
    assert "estimator_.param_0_0" in arrays and "estimator_.leaf_types_" in arrays
    assert model["state"]["indicator_"]["model"]["class"] == "MissingIndicator"
    assert all(a.dtype.kind in "biufU" for a in arrays.values())
    # A tampered mask of the imputed features is refused.
    _rewrite(tmp_path / "i", {**arrays, "_valid_mask": ~arrays["_valid_mask"]})
    with pytest.raises(ModelFileError, match="_valid_mask"):
        skpc.load(tmp_path / "i")


def test_the_class_load_method_refuses_another_class(model, tmp_path):
    model.save(tmp_path / "m")
    with pytest.raises(ModelFileError, match="holds a PCDensityEstimator, not a PCImputer"):
        skpc.PCImputer.load(tmp_path / "m")


def test_a_pipeline_is_stored_with_skops_not_skpc_save(tmp_path):
    imp, X = _imputer()
    X = X.iloc[:, :5]
    pipe = make_pipeline(skpc.PCImputer(n_latents=2, max_iter=1, random_state=0), StandardScaler()).fit(X)
    with pytest.raises(TypeError, match="not a Pipeline; store pipelines .* skops.io.dump"):
        skpc.save(pipe, tmp_path / "p")
    loaded = _through_skops(pipe, tmp_path / "p.skops")
    np.testing.assert_array_equal(loaded.transform(X), pipe.transform(X))


class _Holder(BaseEstimator):
    """Stands for an estimator skpc adds later that holds fitted circuits (a classifier, say)."""

    _parameter_constraints = {"n_latents": [Interval(Integral, 1, None, closed="left")]}

    def __init__(self, n_latents=2):
        self.n_latents = n_latents

    def fit(self, X, y):
        self.classes_ = np.unique(y).astype(object)  # string labels
        pc = PCDensityEstimator(n_latents=self.n_latents, max_iter=1, random_state=0)
        self.estimators_ = [clone(pc).fit(X[y == c]) for c in self.classes_]
        self.priors_ = {"kind": "counts", "values": (np.float64(0.25), np.float64(0.75))}
        return self


def test_an_estimator_holding_fitted_circuits_round_trips(tmp_path, monkeypatch):
    monkeypatch.setitem(skpc.io.SAVABLE, "_Holder", _Holder)
    X = _mixed_data().to_numpy()
    y = np.where(np.arange(len(X)) % 4 == 0, "rare", "common")
    holder = _Holder().fit(X, y)
    skpc.save(holder, tmp_path / "h")
    loaded = skpc.load(tmp_path / "h")
    assert loaded.classes_.dtype == object and loaded.classes_.tolist() == ["common", "rare"]
    assert loaded.priors_ == holder.priors_ and type(loaded.priors_["values"][0]) is np.float64
    for a, b in zip(loaded.estimators_, holder.estimators_, strict=True):
        _assert_same_model(a, b, X)
    assert any(k.startswith("estimators_.1.param_") for k in _arrays(tmp_path / "h"))


def test_an_unknown_class_is_refused(saved):
    arrays = _arrays(saved)
    _rewrite(saved, _with_model(arrays, **{"class": "os.system"}))
    with pytest.raises(ModelFileError, match="unknown class 'os.system'"):
        skpc.load(saved)


def test_an_imputer_loads_onto_the_device_with_its_circuit(tmp_path, monkeypatch):
    from tests.strict_backend import StrictBackend

    imp, X = _imputer()
    imp.save(tmp_path / "i")
    real = skpc.io.get_backend
    for module in (skpc.io, skpc.estimator):
        monkeypatch.setattr(module, "get_backend", lambda d: StrictBackend() if d == "gpu" else real(d))
    on_device = skpc.load(tmp_path / "i", device="gpu")
    assert on_device.estimator_.device_ == "gpu" and on_device.estimator_.circuit_.backend.name == "gpu"
    np.testing.assert_allclose(on_device.transform(X), imp.transform(X), rtol=1e-6, atol=1e-6)  # float32
