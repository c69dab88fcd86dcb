"""Safe model files: arrays and plain metadata, never pickle.

A model file is an uncompressed numpy ``.npz`` archive (a zip of ``.npy`` arrays) read
with ``allow_pickle=False``, so loading it cannot run code. It holds:

``metadata``
    A 0-d unicode array holding a JSON object: ``format`` (``"skpc-model"``),
    ``format_version``, ``skpc_version``, the estimator's constructor parameters
    (``params``), the training record (``n_iter``, ``converged``, ``history``), the
    device and dtype it was fitted with, the units per region (``n_latents``, as
    resolved from ``"auto"``), the region graph's ``root``, ``product`` and ``name``,
    and the kind of each parameter block (``blocks``).
``leaf_types``, ``n_categories``, ``feature_names`` (optional)
    The per-column fitted attributes.
``scope_offsets``, ``scope_variables``
    Region ``r``'s scope is ``scope_variables[scope_offsets[r]:scope_offsets[r + 1]]``.
``partition_regions``, ``partition_offsets``, ``partition_children``
    Partition ``i`` belongs to region ``partition_regions[i]`` and has the children
    ``partition_children[partition_offsets[i]:partition_offsets[i + 1]]``.
``param_<b>_<j>``
    Parameter array ``j`` of block ``b`` (input layers, then sum layers, as in
    :attr:`skpc.engine.Circuit.blocks`), always saved as numpy from the host.

:func:`load` rebuilds the circuit from the region graph, then checks every array's
name, dtype and shape against it and every parameter's values (finite, probabilities
non-negative and normalised, variances positive, covariance matrices symmetric positive
definite): a corrupt, truncated or tampered file
raises :class:`ModelFileError`, a ``ValueError``.
"""

import json
import os
import tempfile
import warnings
import zipfile

import numpy as np
from sklearn.utils.validation import check_is_fitted

from skpc import __version__
from skpc._backend import get_backend
from skpc.estimator import PCDensityEstimator
from skpc.structures import RegionGraph

FORMAT = "skpc-model"
#: Version of the file layout; :func:`load` reads exactly this version.
FORMAT_VERSION = 1
_GRAPH_KEYS = (
    "scope_offsets", "scope_variables", "partition_regions", "partition_offsets", "partition_children",
)


class ModelFileError(ValueError):
    """A file is not a valid skpc model file (corrupt, truncated, tampered or too new)."""


def _flatten(lists):
    offsets = np.cumsum([0] + [len(x) for x in lists]).astype(np.int64)
    return offsets, np.array([v for x in lists for v in x], dtype=np.int64)


def _plain_params(estimator):
    """Constructor parameters as JSON values (a RegionGraph structure is stored as the graph)."""
    params = {}
    for name, value in estimator.get_params(deep=False).items():
        if isinstance(value, (np.ndarray, np.generic, list, tuple)):
            value = np.asarray(value).tolist()
        if isinstance(value, RegionGraph):
            value = "<structure_>"
        elif name == "random_state" and not (value is None or isinstance(value, int)):
            value = None  # a RandomState's state is not plain metadata
        try:
            json.dumps(value)
        except TypeError:
            raise ValueError(f"parameter {name}={value!r} cannot be saved in a model file.") from None
        params[name] = value
    return params


def save(estimator, path):
    """Write a fitted :class:`~skpc.PCDensityEstimator` to ``path`` (no pickle).

    The file is written to a temporary name and then renamed, so an interrupted save
    never leaves a half-written file at ``path``.

    Parameters
    ----------
    estimator : PCDensityEstimator
        A fitted estimator (on any device; parameters are copied to the host).
    path : str or path-like
        Where to write; no extension is added.
    """
    if not isinstance(estimator, PCDensityEstimator):
        raise TypeError(
            f"skpc.save writes a PCDensityEstimator, got a {type(estimator).__name__}; save its fitted "
            "circuit (the estimator_ attribute of PCClassifier, PCOutlierDetector and PCImputer) or "
            "pickle it with joblib.dump."
        )
    check_is_fitted(estimator)
    circuit, graph = estimator.circuit_, estimator.structure_
    blocks = circuit.blocks
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "skpc_version": __version__,
        "params": _plain_params(estimator),
        "n_iter": int(estimator.n_iter_),
        "converged": bool(estimator.converged_),
        "history": {k: [float(v) for v in vals] for k, vals in estimator.history_.items()},
        "device": estimator.device_,
        "dtype": circuit.dtype.name,
        "n_latents": int(estimator.n_latents_),
        "root": int(graph.root),
        "product": graph.product,
        "graph_name": graph.name,
        "blocks": [[b.kind, len(b.params)] for b in blocks],
    }
    arrays = {
        "metadata": np.array(json.dumps(meta)),
        "leaf_types": np.asarray(estimator.leaf_types_, dtype=str),
        "n_categories": np.asarray(estimator.n_categories_, dtype=np.int64),
    }
    if hasattr(estimator, "feature_names_in_"):
        arrays["feature_names"] = np.asarray(estimator.feature_names_in_, dtype=str)
    arrays["scope_offsets"], arrays["scope_variables"] = _flatten(graph.scopes)
    owners = [r for r in range(graph.n_regions) for _ in graph.partitions[r]]
    arrays["partition_regions"] = np.array(owners, dtype=np.int64)
    arrays["partition_offsets"], arrays["partition_children"] = _flatten(
        [part for parts in graph.partitions for part in parts]
    )
    for b, block in enumerate(blocks):
        for j, p in enumerate(block.params):
            arrays[f"param_{b}_{j}"] = circuit.backend.to_numpy(p)
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


def _int_array(data, key, ndim=1):
    a = data[key]
    if a.dtype.kind not in "iu" or a.ndim != ndim:
        raise ModelFileError(f"array {key!r} must be a {ndim}-d integer array, not {a.dtype} {a.shape}.")
    return a.astype(np.int64)


def _ragged(offsets, values, key):
    if offsets.size == 0 or offsets[0] != 0 or np.any(np.diff(offsets) < 0) or offsets[-1] != values.size:
        raise ModelFileError(f"array {key!r} holds inconsistent offsets.")
    return [tuple(int(v) for v in values[a:b]) for a, b in zip(offsets[:-1], offsets[1:], strict=True)]


def _read_graph(data, meta):
    g = {key: _int_array(data, key) for key in _GRAPH_KEYS}
    scopes = _ragged(g["scope_offsets"], g["scope_variables"], "scope_offsets")
    children = _ragged(g["partition_offsets"], g["partition_children"], "partition_offsets")
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


def _read(data):
    meta = json.loads(str(data["metadata"][()]))
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError("the file is not an skpc model (no 'skpc-model' format tag).")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"the file has format version {meta.get('format_version')!r}; skpc {__version__} reads "
            f"version {FORMAT_VERSION} (upgrade skpc to read newer files)."
        )
    if meta["skpc_version"] != __version__:
        warnings.warn(
            f"the model was saved by skpc {meta['skpc_version']}, this is skpc {__version__}; "
            "the file format is the same, but check its scores.",
            UserWarning,
            stacklevel=3,
        )
    params = dict(meta["params"])
    unknown = set(params) - set(PCDensityEstimator().get_params())
    if unknown:
        raise ModelFileError(f"unknown estimator parameters {sorted(unknown)}.")
    graph = _read_graph(data, meta)
    if params.get("structure") == "<structure_>":
        params["structure"] = graph
    est = PCDensityEstimator(**params)
    est._validate_params()
    leaf_types = data["leaf_types"]
    n_categories = _int_array(data, "n_categories")
    d = graph.n_variables
    if leaf_types.dtype.kind != "U" or leaf_types.shape != (d,) or n_categories.shape != (d,):
        raise ModelFileError(f"leaf_types and n_categories must hold one entry per variable ({d}).")
    unknown = set(leaf_types.tolist()) - {"categorical", "gaussian"}
    if unknown or np.any(n_categories[leaf_types == "categorical"] < 1):
        raise ModelFileError(f"invalid leaf types {sorted(unknown)} or numbers of categories.")
    est.leaf_types_, est.n_categories_ = leaf_types, n_categories
    est.n_features_in_ = d
    if "feature_names" in data.files:
        names = data["feature_names"]
        if names.dtype.kind != "U" or names.shape != (d,):
            raise ModelFileError(f"feature_names must hold {d} strings.")
        est.feature_names_in_ = names.astype(object)
    # Build the circuit as fit does, with its structure given, then load the parameters.
    # The region graph is given, so "auto" units per region come from the file's record.
    k = meta.get("n_latents") if est.n_latents == "auto" else est.n_latents
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ModelFileError(f"n_latents must be a positive integer, got {k!r}.")
    structure, n_latents = est.structure, est.n_latents
    est.structure, est.device, est.n_latents = graph, "cpu", k
    est._build(np.zeros((1, d)), np.random.RandomState(0))
    est.structure, est.device, est.n_latents = structure, params["device"], n_latents
    blocks = est.circuit_.blocks
    if [[b.kind, len(b.params)] for b in blocks] != meta["blocks"]:
        raise ModelFileError("the parameter blocks do not match the region graph.")
    expected = {"metadata", "leaf_types", "n_categories", "feature_names", *_GRAPH_KEYS}
    expected |= {f"param_{b}_{j}" for b, block in enumerate(blocks) for j in range(len(block.params))}
    if set(data.files) - expected:
        raise ModelFileError(f"unexpected arrays {sorted(set(data.files) - expected)}.")
    new = []
    for b, block in enumerate(blocks):
        arrays = tuple(data[f"param_{b}_{j}"] for j in range(len(block.params)))
        for j, (a, ref) in enumerate(zip(arrays, block.params, strict=True)):
            if a.dtype != ref.dtype or a.shape != ref.shape:
                raise ModelFileError(
                    f"array 'param_{b}_{j}' has dtype {a.dtype} and shape {a.shape}, "
                    f"expected {ref.dtype} and {ref.shape}."
                )
        _check_block_values(block.kind, arrays, f"param_{b}")
        new.append(arrays)
    est.circuit_.set_params(new)
    est.n_iter_, est.converged_ = int(meta["n_iter"]), bool(meta["converged"])
    est.history_ = {str(k): [float(v) for v in vals] for k, vals in meta["history"].items()}
    return est


def load(path, device="cpu"):
    """Read a model written by :func:`save`; never unpickles anything.

    Parameters
    ----------
    path : str or path-like
    device : {"cpu", "gpu", "auto"}, default="cpu"
        Where the loaded circuit lives (a model saved from the GPU loads on the CPU).

    Returns
    -------
    estimator : PCDensityEstimator
        Fitted, scoring exactly as the saved one did on the same device and dtype.

    Raises
    ------
    ModelFileError
        A ``ValueError``: the file is not a valid skpc model file of this format version
        (corrupt, truncated, tampered, a pickle, or a different file type).

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
            est = _read(data)
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
    if backend.name != "cpu":
        est.circuit_.to(backend)
        # Recompute logs and transposes on the device, as fitting there would have.
        est.circuit_.set_params(est.circuit_.get_params())
        est.device_ = backend.name
    return est
