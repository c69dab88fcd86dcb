"""Safe model files: arrays and plain metadata, never pickle.

A model file is an uncompressed numpy ``.npz`` archive (a zip of ``.npy`` arrays) read
with ``allow_pickle=False``, so loading it cannot run code. It holds a JSON document
(the array ``metadata``) and the arrays it names. The document describes the saved
estimator as a tree of *nodes*, one per skpc estimator (an estimator holding fitted
estimators, such as :class:`~skpc.PCImputer`'s ``estimator_``, holds their nodes):

``class``
    The class name; only the classes in :data:`SAVABLE` are read.
``params``
    The constructor parameters (``get_params(deep=False)``) as JSON; a ``RegionGraph``
    structure is stored as the graph (``"<structure_>"``), an estimator-valued
    parameter as a node.
``state``
    Every other attribute of the object (the fitted ones), encoded by :func:`_encode`:
    JSON numbers, strings, booleans and lists as they are, and tagged objects for the
    rest: ``{"array": key}`` (an array of the archive; ``"object": true`` for an object
    array of strings such as ``feature_names_in_``), ``{"scalar": v, "dtype": d}``,
    ``{"dtype": d}``, ``{"tuple": [...]}``, ``{"dict": {...}}`` and ``{"model": node}``.
``circuit``
    Only for a :class:`~skpc.PCDensityEstimator`: the region graph's ``root``,
    ``product`` and ``name``, the kind of each parameter block (``blocks``), and the
    ``prefix`` of its arrays:

    ``<prefix>scope_offsets``, ``<prefix>scope_variables``
        Region ``r``'s scope is ``scope_variables[scope_offsets[r]:scope_offsets[r + 1]]``.
    ``<prefix>partition_regions``, ``<prefix>partition_offsets``, ``<prefix>partition_children``
        Partition ``i`` belongs to region ``partition_regions[i]`` and has the children
        ``partition_children[partition_offsets[i]:partition_offsets[i + 1]]``.
    ``<prefix>param_<b>_<j>``
        Parameter array ``j`` of block ``b`` (input layers, then sum layers, as in
        :attr:`skpc.engine.Circuit.blocks`), always saved as numpy from the host.

Arrays of a nested node are named after its path (``estimator_.leaf_types_``). A new
fitted attribute (for example the data layer's description of the columns) is saved with
no change here when it is made of arrays, numbers, strings, lists and dicts; an object of
a new class is saved when its class is added to :data:`SAVABLE`.

:func:`load` rebuilds each circuit from its region graph, then checks every array's
name, dtype and shape against it and every parameter's values (finite, probabilities
non-negative and normalised, variances positive, covariance matrices symmetric positive
definite): a corrupt, truncated or tampered file raises :class:`ModelFileError`, a
``ValueError``. Files of format version 1 (one ``PCDensityEstimator``, skpc 0.1.0) are
read too.
"""

import json
import os
import tempfile
import warnings
import zipfile

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.impute import MissingIndicator
from sklearn.utils.validation import check_is_fitted

from skpc import __version__
from skpc._backend import get_backend
from skpc.classifier import JointDensity, PCClassifier
from skpc.columns import Columns
from skpc.estimator import PCDensityEstimator
from skpc.imputer import PCImputer
from skpc.outlier import PCOutlierDetector
from skpc.structures import RegionGraph

FORMAT = "skpc-model"
#: Version of the file layout that :func:`save` writes.
FORMAT_VERSION = 2
#: Versions :func:`load` reads: 1 (skpc 0.1.0: one PCDensityEstimator) and 2 (any estimator).
READ_VERSIONS = (1, 2)
#: The classes a model file may hold, by name: :func:`load` builds nothing else.
SAVABLE = {cls.__name__: cls for cls in (PCDensityEstimator, JointDensity, PCImputer, PCClassifier,
                                         PCOutlierDetector, MissingIndicator)}
#: Attributes of a PCDensityEstimator that are not saved: the circuit (saved as the region graph and parameter
#: arrays), the state of an interrupted fit or of a stream of ``partial_fit`` calls, and
#: the parameters the circuit was built with (the saved ones, on load).
_NOT_SAVED = {"circuit_", "structure_", "_stream", "_checkpoint", "_built_with"}
_GRAPH_KEYS = (
    "scope_offsets", "scope_variables", "partition_regions", "partition_offsets", "partition_children",
)
_MODEL_PARAM = "__skpc_model__"


class ModelFileError(ValueError):
    """A file is not a valid skpc model file (corrupt, truncated, tampered or too new)."""


# -- writing ----------------------------------------------------------------------------------------
def _flatten(lists):
    offsets = np.cumsum([0] + [len(x) for x in lists]).astype(np.int64)
    return offsets, np.array([v for x in lists for v in x], dtype=np.int64)


def _plain_params(estimator, prefix, arrays):
    """Constructor parameters as JSON values (a RegionGraph structure is stored as the graph)."""
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        if isinstance(value, (np.ndarray, np.generic, list, tuple)):
            value = np.asarray(value).tolist()
        if isinstance(value, RegionGraph):
            value = "<structure_>"
        elif isinstance(value, BaseEstimator) and type(value).__name__ in SAVABLE:
            value = {_MODEL_PARAM: _node(value, f"{prefix}{name}.", arrays)}
        elif name == "random_state" and not (value is None or isinstance(value, int)):
            value = None  # a RandomState's state is not plain metadata
        try:
            json.dumps(value)
        except TypeError:
            raise ValueError(f"parameter {name}={value!r} cannot be saved in a model file.") from None
        params[name] = value
    return params


def _array(arrays, key, a):
    tag = {"array": key}
    if a.dtype == object:  # names and string levels: saved as unicode, restored as object
        if not all(isinstance(v, str) for v in a.flat):
            raise ValueError(f"{key} is an object array of non-strings; it cannot be saved in a model file.")
        a, tag["object"] = a.astype(str), True
    if a.dtype.kind not in "biufU":
        raise ValueError(f"{key} has the dtype {a.dtype}; it cannot be saved in a model file.")
    if key in arrays or key == "metadata":
        raise ValueError(f"two arrays would be saved as {key!r}.")
    arrays[key] = a
    return tag


def _encode(value, key, arrays):
    """``value`` as JSON; its arrays go to ``arrays`` under names starting with ``key``."""
    if isinstance(value, np.generic):  # before float: np.float64 is a float
        return {"scalar": value.item(), "dtype": value.dtype.str}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.ndarray):
        return _array(arrays, key, value)
    if isinstance(value, np.dtype):
        return {"dtype": value.str}
    if isinstance(value, list):
        return [_encode(v, f"{key}.{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, f"{key}.{i}", arrays) for i, v in enumerate(value)]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: _encode(v, f"{key}.{i}", arrays) for i, (k, v) in enumerate(value.items())}}
    if isinstance(value, Columns):  # the data layer's description: plain JSON values
        return {"columns": value.get_state()}
    if SAVABLE.get(type(value).__name__) is type(value):
        return {"model": _node(value, f"{key}.", arrays)}
    raise ValueError(f"{key} ({type(value).__name__}) cannot be saved in a model file.")


def _node(obj, prefix, arrays):
    """The JSON node of ``obj`` (a class of SAVABLE); its arrays go to ``arrays``."""
    name = type(obj).__name__
    params = obj.get_params(deep=False) if isinstance(obj, BaseEstimator) else {}
    skip = set(params) | (_NOT_SAVED if isinstance(obj, PCDensityEstimator) else set())
    node = {
        "class": name,
        "params": _plain_params(obj, prefix, arrays) if params else {},
        "state": {k: _encode(v, prefix + k, arrays) for k, v in vars(obj).items() if k not in skip},
    }
    if isinstance(obj, PCDensityEstimator) and hasattr(obj, "circuit_"):
        node["circuit"] = _circuit_arrays(obj, prefix, arrays)
    return node


def _circuit_arrays(estimator, prefix, arrays):
    circuit, graph = estimator.circuit_, estimator.structure_
    arrays[f"{prefix}scope_offsets"], arrays[f"{prefix}scope_variables"] = _flatten(graph.scopes)
    owners = [r for r in range(graph.n_regions) for _ in graph.partitions[r]]
    arrays[f"{prefix}partition_regions"] = np.array(owners, dtype=np.int64)
    arrays[f"{prefix}partition_offsets"], arrays[f"{prefix}partition_children"] = _flatten(
        [part for parts in graph.partitions for part in parts]
    )
    for b, block in enumerate(circuit.blocks):
        for j, p in enumerate(block.params):
            arrays[f"{prefix}param_{b}_{j}"] = circuit.backend.to_numpy(p)
    return {
        "prefix": prefix,
        "dtype": circuit.dtype.name,
        "root": int(graph.root),
        "product": graph.product,
        "graph_name": graph.name,
        "blocks": [[b.kind, len(b.params)] for b in circuit.blocks],
    }


def save(estimator, path):
    """Write a fitted skpc estimator to ``path`` (no pickle).

    The file is written to a temporary name and then renamed, so an interrupted save
    never leaves a half-written file at ``path``.

    Parameters
    ----------
    estimator : PCDensityEstimator, PCImputer, PCClassifier or PCOutlierDetector
        A fitted estimator (on any device; parameters are copied to the host). A
        scikit-learn ``Pipeline`` is not a model file: store it with ``skops.io.dump``.
    path : str or path-like
        Where to write; no extension is added.
    """
    if SAVABLE.get(type(estimator).__name__) is not type(estimator):
        raise TypeError(
            f"skpc.save writes skpc's estimators ({', '.join(n for n in SAVABLE if n.startswith('PC'))}), "
            f"not a {type(estimator).__name__}; store pipelines and other scikit-learn objects with "
            "skops.io.dump (see docs/model_files.md)."
        )
    check_is_fitted(estimator)
    arrays = {}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "skpc_version": __version__,
        "model": _node(estimator, "", arrays),
    }
    arrays["metadata"] = np.array(json.dumps(meta))
    directory = os.path.dirname(os.path.abspath(os.fspath(path)))
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a saved model is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# -- reading ----------------------------------------------------------------------------------------
class _Reader:
    """The archive's arrays, with a record of those a node used (any other is an error)."""

    def __init__(self, data, backend):
        self.data, self.backend, self.used = data, backend, {"metadata"}

    def __getitem__(self, key):
        if not isinstance(key, str) or key not in self.data.files:
            raise ModelFileError(f"the array {key!r} is missing.")
        self.used.add(key)
        return self.data[key]

    def unused(self):
        return sorted(set(self.data.files) - self.used)


def _int_array(reader, key, ndim=1):
    a = reader[key]
    if a.dtype.kind not in "iu" or a.ndim != ndim:
        raise ModelFileError(f"array {key!r} must be a {ndim}-d integer array, not {a.dtype} {a.shape}.")
    return a.astype(np.int64)


def _ragged(offsets, values, key):
    if offsets.size == 0 or offsets[0] != 0 or np.any(np.diff(offsets) < 0) or offsets[-1] != values.size:
        raise ModelFileError(f"array {key!r} holds inconsistent offsets.")
    return [tuple(int(v) for v in values[a:b]) for a, b in zip(offsets[:-1], offsets[1:], strict=True)]


def _read_graph(reader, meta):
    prefix = meta["prefix"]
    g = {key: _int_array(reader, prefix + key) for key in _GRAPH_KEYS}
    scopes = _ragged(g["scope_offsets"], g["scope_variables"], prefix + "scope_offsets")
    children = _ragged(g["partition_offsets"], g["partition_children"], prefix + "partition_offsets")
    n = len(scopes)
    owners = g["partition_regions"]
    if not isinstance(meta["root"], int):
        raise ModelFileError("the region graph's root must be an integer.")
    ids = np.concatenate([owners, g["partition_children"], [meta["root"]]])
    if len(owners) != len(children) or np.any((ids < 0) | (ids >= n)):
        raise ModelFileError("the region graph refers to regions that do not exist.")
    partitions = [[] for _ in range(n)]
    for r, part in zip(owners, children, strict=True):
        partitions[r].append(part)
    _check_acyclic(partitions)
    graph = RegionGraph(scopes, partitions, int(meta["root"]), str(meta["product"]), str(meta["graph_name"]))
    return graph.validate()


def _check_acyclic(partitions):
    """Kahn's algorithm: a cycle would make the graph's recursive passes loop."""
    indegree = np.zeros(len(partitions), dtype=np.int64)
    for parts in partitions:
        for part in parts:
            indegree[list(part)] += 1
    ready = list(np.flatnonzero(indegree == 0))
    seen = 0
    while ready:
        r = ready.pop()
        seen += 1
        for part in partitions[r]:
            for c in part:
                indegree[c] -= 1
                if indegree[c] == 0:
                    ready.append(c)
    if seen != len(partitions):
        raise ModelFileError("the region graph has a cycle.")


def _check_block_values(kind, arrays, name):
    for j, a in enumerate(arrays):
        if not np.all(np.isfinite(a)):
            raise ModelFileError(f"parameters {name}_{j} ({kind}) hold non-finite values.")
    axis = {"categorical": 1, "sum": 2}.get(kind)
    if axis is not None:
        (p,) = arrays
        tol = 1e-3 if p.dtype == np.float32 else 1e-8
        if np.any(p < 0) or not np.allclose(p.sum(axis=axis), 1.0, atol=tol):
            raise ModelFileError(f"parameters {name}_0 ({kind}) are not normalised probabilities.")
    if kind == "gaussian" and np.any(arrays[1] <= 0):
        raise ModelFileError(f"parameters {name}_1 (gaussian variances) must be positive.")
    if kind == "multivariate_gaussian":
        cov = arrays[1].astype(np.float64)
        tol = 1e-5 if arrays[1].dtype == np.float32 else 1e-10
        scale = np.abs(cov).max() if cov.size else 1.0
        if not np.allclose(cov, np.swapaxes(cov, -1, -2), rtol=0, atol=tol * scale) or (
                cov.size and np.linalg.eigvalsh(cov).min() <= 0):
            raise ModelFileError(
                f"parameters {name}_1 (covariance matrices) must be symmetric positive definite.")


def _decode(value, reader):
    """The inverse of :func:`_encode`."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(v, reader) for v in value]
    tags = set(value) if isinstance(value, dict) else None
    if tags in ({"array"}, {"array", "object"}):
        a = reader[value["array"]]
        return a.astype(object) if value.get("object") else a
    if tags == {"scalar", "dtype"}:
        return np.dtype(value["dtype"]).type(value["scalar"])
    if tags == {"dtype"}:
        return np.dtype(value["dtype"])
    if tags == {"tuple"}:
        return tuple(_decode(v, reader) for v in value["tuple"])
    if tags == {"dict"}:
        return {str(k): _decode(v, reader) for k, v in value["dict"].items()}
    if tags == {"model"}:
        return _build(value["model"], reader)
    if tags == {"columns"}:
        try:
            return Columns.from_state(value["columns"])
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"the column description is invalid ({e}).") from None
    raise ModelFileError(f"cannot read the value {str(value)[:80]}.")


def _build(node, reader):
    """The object described by ``node``, checked (see the module's docstring)."""
    cls = SAVABLE.get(node.get("class"))
    if cls is None:
        raise ModelFileError(f"unknown class {node.get('class')!r}; model files hold {sorted(SAVABLE)}.")
    params = dict(node.get("params", {}))
    if issubclass(cls, BaseEstimator):
        unknown = set(params) - set(cls().get_params())
        if unknown:
            raise ModelFileError(f"unknown estimator parameters {sorted(unknown)}.")
        for name, value in params.items():
            if isinstance(value, dict) and set(value) == {_MODEL_PARAM}:
                params[name] = _build(value[_MODEL_PARAM], reader)
        graph = None
        if issubclass(cls, PCDensityEstimator) and "circuit" in node:
            graph = _read_graph(reader, node["circuit"])
            if params.get("structure") == "<structure_>":
                params["structure"] = graph
        obj = cls(**params)
        obj._validate_params()
    else:
        obj = object.__new__(cls)
    for name, value in node.get("state", {}).items():
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("__"):
            raise ModelFileError(f"invalid attribute name {name!r}.")
        if name in params:
            raise ModelFileError(f"the attribute {name!r} is a constructor parameter.")
        setattr(obj, name, _decode(value, reader))
    if graph is not None:
        _load_circuit(obj, reader, node["circuit"], graph)
    if cls is PCImputer:
        _check_imputer(obj)
    return obj


def _load_circuit(est, reader, meta, graph):
    """Check the per-column attributes, then rebuild the circuit as ``fit`` did and load its parameters."""
    d = graph.n_variables
    leaf_types = getattr(est, "leaf_types_", None)
    n_categories = getattr(est, "n_categories_", None)
    if not all(isinstance(a, np.ndarray) for a in (leaf_types, n_categories)):
        raise ModelFileError("leaf_types_ and n_categories_ must be arrays.")
    if n_categories.dtype.kind not in "iu":
        raise ModelFileError("n_categories_ must be an integer array.")
    if leaf_types.dtype.kind != "U" or leaf_types.shape != (d,) or n_categories.shape != (d,):
        raise ModelFileError(f"leaf_types and n_categories must hold one entry per variable ({d}).")
    unknown = set(leaf_types.tolist()) - {"categorical", "gaussian"}
    if unknown or np.any(n_categories[leaf_types == "categorical"] < 1):
        raise ModelFileError(f"invalid leaf types {sorted(unknown)} or numbers of categories.")
    est.n_categories_ = n_categories.astype(np.int64)
    if not hasattr(est, "columns_"):  # version 1: integer codes, raw units, no "unseen" category
        est.columns_ = Columns.legacy(leaf_types, est.n_categories_, getattr(est, "feature_names_in_", None))
    columns = est.columns_
    if (not isinstance(columns, Columns) or columns.n_features != d
            or columns.kinds.tolist() != leaf_types.tolist()
            or not np.array_equal(columns.n_levels, est.n_categories_)):
        raise ModelFileError("the column description (columns_) does not match leaf_types_ and "
                             "n_categories_.")
    if getattr(est, "n_features_in_", d) != d:
        raise ModelFileError(f"n_features_in_ must be {d}, the number of variables of the region graph.")
    est.n_features_in_ = d
    names = getattr(est, "feature_names_in_", None)
    if names is not None and (not isinstance(names, np.ndarray) or names.shape != (d,)
                              or not all(isinstance(v, str) for v in names)):
        raise ModelFileError(f"feature_names must hold {d} strings.")
    # Build the circuit as fit does, on the device asked for, with its structure given, then
    # load the parameters (their logs and transposes are computed there, as fitting there
    # would have). The region graph is given, so "auto" units per region come from the file.
    k = getattr(est, "n_latents_", None) if est.n_latents == "auto" else est.n_latents
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ModelFileError(f"n_latents must be a positive integer, got {k!r}.")
    structure, n_latents, device = est.structure, est.n_latents, est.device
    est.structure, est.device, est.n_latents = graph, reader.backend.name, k
    est._build(np.zeros((1, d)), np.random.RandomState(0))
    est.structure, est.device, est.n_latents = structure, device, n_latents
    est._built_with = est._structural()  # what warm_start compares with: the saved parameters
    blocks = est.circuit_.blocks
    if [[b.kind, len(b.params)] for b in blocks] != meta["blocks"]:
        raise ModelFileError("the parameter blocks do not match the region graph.")
    new = []
    for b, block in enumerate(blocks):
        keys = [f"{meta['prefix']}param_{b}_{j}" for j in range(len(block.params))]
        arrays = tuple(reader[key] for key in keys)
        for key, a, ref in zip(keys, arrays, block.params, strict=True):
            if a.dtype != ref.dtype or a.shape != ref.shape:
                raise ModelFileError(
                    f"array '{key}' has dtype {a.dtype} and shape {a.shape}, "
                    f"expected {ref.dtype} and {ref.shape}."
                )
        _check_block_values(block.kind, arrays, f"{meta['prefix']}param_{b}")
        new.append(tuple(reader.backend.asarray(a) for a in arrays))
    est.circuit_.set_params(new)


def _check_imputer(imp):
    inner, valid = getattr(imp, "estimator_", None), getattr(imp, "_valid_mask", None)
    if not isinstance(inner, PCDensityEstimator) or not hasattr(inner, "circuit_"):
        raise ModelFileError("a PCImputer's estimator_ must be a fitted PCDensityEstimator.")
    if (not isinstance(valid, np.ndarray) or valid.dtype != bool or valid.shape != (imp.n_features_in_,)
            or valid.sum() != inner.n_features_in_):
        raise ModelFileError("a PCImputer's _valid_mask does not match its estimator_.")


def _node_from_version_1(meta, data):
    """Version 1 (skpc 0.1.0) held one PCDensityEstimator: its node in today's terms."""
    state = {
        "n_latents_": meta["n_latents"],
        "leaf_types_": {"array": "leaf_types"},
        "n_categories_": {"array": "n_categories"},
        "device_": meta["device"],
        "n_iter_": meta["n_iter"],
        "converged_": meta["converged"],
        "history_": {"dict": meta["history"]},
    }
    if "feature_names" in data.files:
        state["feature_names_in_"] = {"array": "feature_names", "object": True}
    circuit = {key: meta[key] for key in ("dtype", "root", "product", "graph_name", "blocks")}
    return {"class": "PCDensityEstimator", "params": meta["params"], "state": state,
            "circuit": {"prefix": "", **circuit}}


def _read(data, backend):
    meta = json.loads(str(data["metadata"][()]))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError("the file is not an skpc model (no 'skpc-model' format tag).")
    version = meta.get("format_version")
    if version not in READ_VERSIONS:
        raise ModelFileError(
            f"the file has format version {version!r}, written by skpc {meta.get('skpc_version')}; "
            f"skpc {__version__} reads versions {', '.join(map(str, READ_VERSIONS))} "
            "(upgrade skpc to read newer files)."
        )
    if meta["skpc_version"] != __version__:
        warnings.warn(
            f"the model was saved by skpc {meta['skpc_version']}, this is skpc {__version__}; its file "
            f"format (version {version}) is understood, but check its scores.",
            UserWarning,
            stacklevel=3,
        )
    node = _node_from_version_1(meta, data) if version == 1 else meta["model"]
    reader = _Reader(data, backend)
    est = _build(node, reader)
    if reader.unused():
        raise ModelFileError(f"unexpected arrays {reader.unused()}.")
    return est


def load(path, device="cpu"):
    """Read a model written by :func:`save`; never unpickles anything.

    Parameters
    ----------
    path : str or path-like
    device : {"cpu", "gpu", "auto"}, default="cpu"
        Where the loaded circuits live (a model saved from the GPU loads on the CPU).

    Returns
    -------
    estimator : PCDensityEstimator or PCImputer
        Fitted, scoring (and transforming) exactly as the saved one did on the same
        device and dtype.

    Raises
    ------
    ModelFileError
        A ``ValueError``: the file is not a valid skpc model file of a format version
        this skpc reads (corrupt, truncated, tampered, a pickle, or a different file
        type); a newer version is named with the skpc version that wrote it.

    Warns
    -----
    UserWarning
        When the file was written by another skpc version.
    """
    backend = get_backend(device)
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
        # Neither an .npz (zip) nor an .npy file: numpy would guess "pickled data", which misleads.
        if not magic.startswith(b"PK\x03\x04") and magic != b"\x93NUMPY":
            raise ModelFileError("it is not an .npz archive.")
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ModelFileError("the file is a single array, not a model archive.")
        with data:
            return _read(data, backend)
    except ModelFileError as e:
        raise ModelFileError(f"{os.fspath(path)} is not a valid skpc model file: {e}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ModelFileError(f"{os.fspath(path)} is not a valid skpc model file: {e}") from e
    except (ValueError, KeyError, IndexError, TypeError, MemoryError, AttributeError) as e:
        raise ModelFileError(
            f"{os.fspath(path)} is not a valid skpc model file: {type(e).__name__}: {e}"
        ) from e
