"""The one module that knows about devices: numpy on the CPU, cupy on the GPU.

Everything else in skpc is written against ``backend.xp`` and the few helpers here
(host/device moves, random numbers, scatter-add) that the array API standard lacks.
cupy is imported here and nowhere else. It also holds the rule that decides where
results go (:func:`to_output`): numpy by default, device arrays under scikit-learn's
array-API dispatch.
"""

import os

import numpy as np
from sklearn import get_config

_GPU_HINT = (
    "device='gpu' needs cupy and a CUDA device; install them with "
    "`pip install 'skpc[gpu]'` (or the cupy wheel matching your CUDA version)."
)


def _import_cupy():
    try:
        import cupy  # noqa: PLC0415 -- the single place cupy is imported
    except ImportError:
        return None
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:  # no driver, no device
        return None
    return cupy


class Backend:
    """An array namespace with the extras the engine needs.

    Parameters
    ----------
    xp : module
        ``numpy`` or ``cupy`` (or a wrapper with the same interface, for tests).
    name : str
        ``"cpu"`` or ``"gpu"``.
    """

    def __init__(self, xp, name):
        self.xp = xp
        self.name = name

    def __getstate__(self):
        # The name, not the module: pickle, joblib and skops.io then store plain data. A
        # fitted model stores its parameters on the host, so any backend comes back as the CPU's.
        return {"name": self.name}

    def __setstate__(self, state):
        self.xp, self.name = np, "cpu"

    def __repr__(self):
        return f"Backend({self.name!r})"

    def device_name(self):
        """The GPU's name, or "cpu"."""
        if self.name == "cpu":
            return "cpu"
        return self.xp.cuda.runtime.getDeviceProperties(0)["name"].decode()

    def asarray(self, a, dtype=None):
        """Move ``a`` to this backend's device (no copy if it is already there)."""
        return self.xp.asarray(a, dtype=dtype)

    def to_numpy(self, a):
        """Move ``a`` to the host as a numpy array."""
        if isinstance(a, np.ndarray) or np.isscalar(a):
            return np.asarray(a)
        if hasattr(a, "get"):
            return a.get()
        return np.asarray(a)

    def available_memory(self):
        """Bytes this device can still allocate, or None when unknown.

        On the GPU: cupy's free device memory plus the free blocks of its memory pool. On
        the CPU: ``MemAvailable`` of ``/proc/meminfo`` (or ``os.sysconf`` elsewhere).
        """
        if self.name != "cpu":
            try:
                free, _ = self.xp.cuda.runtime.memGetInfo()
                return int(free) + int(self.xp.get_default_memory_pool().free_bytes())
            except Exception:  # not a cupy-like namespace
                return None
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None

    def rng(self, seed):
        """A random generator on this device, seeded from an integer."""
        return self.xp.random.default_rng(seed)

    def scatter_add(self, target, index, values):
        """``target[index] += values`` along axis 0, correct for repeated indices."""
        if self.name == "cpu":
            np.add.at(target, index, values)
        else:
            import cupyx  # noqa: PLC0415 -- this module is the one place cupy is imported

            cupyx.scatter_add(target, index, values)

    def add_sorted(self, target, index, values):
        """``target[index] += values`` along axis 0 for a non-decreasing ``index``.

        On the CPU each run of equal indices is summed by ``np.add.reduceat``: for a few
        target rows of small blocks (the statistics of partly observed rows) it is ~5x
        faster than ``np.add.at``, which wins on large blocks (the engine's flows).
        """
        if self.name != "cpu" or len(index) == 0:
            self.scatter_add(target, index, values)
            return
        starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
        target[index[starts]] += np.add.reduceat(values, starts, axis=0)


CPU = Backend(np, "cpu")


def get_backend(device):
    """Resolve ``device`` ("cpu", "gpu" or "auto") to a :class:`Backend`."""
    if isinstance(device, Backend):
        return device
    if device == "cpu":
        return CPU
    if device in ("gpu", "auto"):
        cupy = _import_cupy()
        if cupy is not None:
            return Backend(cupy, "gpu")
        if device == "gpu":
            raise ValueError(_GPU_HINT)
        return CPU
    raise ValueError(f"device must be 'cpu', 'gpu' or 'auto', got {device!r}.")


def is_device_array(a):
    """True for an array in GPU memory (a cupy array: it has the CUDA array interface)."""
    return hasattr(a, "__cuda_array_interface__")


def to_host(a):
    """``a`` copied to the host when it is a device array; anything else as it is.

    Inputs are validated, and the queries' host-side work done, on the host: a device
    array given to skpc is copied there once (the circuit's passes still run on the
    model's device).
    """
    return a.get() if is_device_array(a) else a


def to_output(out, X, backend):
    """Results of a query on ``X`` where the user expects them; the one rule for outputs.

    Results are numpy arrays, except under scikit-learn's array-API dispatch
    (``sklearn.set_config(array_api_dispatch=True)``) when the model lives on the GPU and
    ``X`` is a device array: then they are device arrays on the model's device, as
    scikit-learn's array-API estimators return results in their input's namespace.
    ``X=None`` stands for a query without input (``sample``): its results stay on the
    GPU whenever dispatch is on and the model lives there. A model on the CPU always
    returns numpy: move it with ``skpc.load(path, device="gpu")`` or fit it there.

    Parameters
    ----------
    out : ndarray or tuple of ndarray
        The results, on the host.
    X : array-like or None
        The query's input as the user gave it.
    backend : Backend
        The model's backend.
    """
    on_device = (
        backend.name != "cpu" and get_config()["array_api_dispatch"] and (X is None or is_device_array(X))
    )
    if not on_device:
        return out
    return tuple(backend.asarray(a) for a in out) if isinstance(out, tuple) else backend.asarray(out)
