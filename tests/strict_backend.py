"""A CPU stand-in for the GPU backend that fails on any implicit host/device mix.

Arrays "on the device" are :class:`DeviceArray` (an ndarray subclass). Like cupy, they
refuse: a numpy function called on them (``np.sum(device)``), a ufunc mixing them with
host ndarrays, and implicit conversion to Python numbers or lists (``float``,
``.item()``, ``.tolist()``). The namespace :data:`strict` plays cupy's role; the only way
back to the host is ``Backend.to_numpy`` (``.get()``). Running the estimator on this
backend makes a host/device leak fail on a machine without a GPU.

Like cupy's arrays, device arrays carry ``__cuda_array_interface__`` (how skpc recognises
device input). The free device memory the backend reports is
:attr:`StrictBackend.free_bytes` (None: unknown), so tests can make the "GPU" small.
"""

import numpy as np

from skpc._backend import Backend


class DeviceLeak(TypeError):
    pass


def _host(x):
    """Unwrap device arrays (recursively in tuples and lists) for the real numpy call."""
    if isinstance(x, DeviceArray):
        return x.view(np.ndarray)
    if isinstance(x, tuple):
        return tuple(_host(v) for v in x)
    if isinstance(x, list):
        return [_host(v) for v in x]
    return x


def _device(x):
    if isinstance(x, np.ndarray) and not isinstance(x, DeviceArray):
        return x.view(DeviceArray)
    if isinstance(x, tuple):
        return tuple(_device(v) for v in x)
    return x


def _is_host_array(x):
    return isinstance(x, np.ndarray) and not isinstance(x, DeviceArray) and x.ndim > 0


class DeviceArray(np.ndarray):
    """An array that lives "on the device"."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out", ())
        for x in (*inputs, *out):
            if _is_host_array(x):
                raise DeviceLeak(f"host array mixed into device ufunc {ufunc.__name__}")
        kwargs = {k: _host(v) for k, v in kwargs.items()}
        result = getattr(ufunc, method)(*_host(inputs), **kwargs)
        return _device(result) if not out else (out[0] if len(out) == 1 else out)

    def __array_function__(self, func, types, args, kwargs):
        raise DeviceLeak(f"numpy.{func.__name__} called on a device array")

    def __float__(self):
        raise DeviceLeak("float() of a device array (an implicit transfer)")

    __int__ = __float__

    def item(self, *args):
        raise DeviceLeak(".item() of a device array (an implicit transfer)")

    def tolist(self):
        raise DeviceLeak(".tolist() of a device array (an implicit transfer)")

    def __getitem__(self, key):
        if isinstance(key, np.ndarray) and not isinstance(key, DeviceArray) and key.dtype != bool:
            raise DeviceLeak("a device array indexed by a host array")
        return super().__getitem__(_host(key) if isinstance(key, tuple) else key)

    @property
    def __cuda_array_interface__(self):
        # What cupy's arrays expose; the pointer is a host one, never to be used as CUDA's.
        return {"shape": self.shape, "typestr": self.dtype.str, "data": (self.ctypes.data, False),
                "version": 3}

    def get(self):
        """The explicit transfer to the host (cupy's ``.get()``)."""
        return np.array(self.view(np.ndarray))


class _Generator:
    def __init__(self, seed):
        self._rng = np.random.default_rng(seed)

    def random(self, *args, **kwargs):
        return _device(np.asarray(self._rng.random(*args, **kwargs)))

    def standard_normal(self, *args, **kwargs):
        return _device(np.asarray(self._rng.standard_normal(*args, **kwargs)))


class _Random:
    default_rng = staticmethod(_Generator)


class _StrictNamespace:
    """numpy's functions, taking and returning device arrays only."""

    random = _Random()

    def __init__(self, module=np):
        self._module = module

    @property
    def linalg(self):
        """``numpy.linalg`` under the same rules (cupy.linalg's batched functions)."""
        return _StrictNamespace(np.linalg)

    def __getattr__(self, name):
        attr = getattr(self._module, name)
        if not callable(attr) or isinstance(attr, type):
            return attr
        if isinstance(attr, np.ufunc):
            return _UfuncProxy(attr)

        def call(*args, **kwargs):
            for x in (*args, *kwargs.values()):
                if _is_host_array(x) and name not in ("asarray", "array"):  # explicit uploads
                    raise DeviceLeak(f"host array passed to device function {name}")
            return _device(attr(*_host(args), **{k: _host(v) for k, v in kwargs.items()}))

        return call


class _UfuncProxy:
    def __init__(self, ufunc):
        self._ufunc = ufunc

    def __call__(self, *args, **kwargs):
        for x in (*args, *kwargs.get("out", ())):
            if _is_host_array(x):
                raise DeviceLeak(f"host array passed to device ufunc {self._ufunc.__name__}")
        out = kwargs.get("out")
        result = self._ufunc(*_host(args), **{k: _host(v) for k, v in kwargs.items()})
        if out is None:
            return _device(result)
        return out[0] if isinstance(out, tuple) and len(out) == 1 else out

    def __getattr__(self, name):
        method = getattr(self._ufunc, name)

        def call(*args, **kwargs):
            return method(*_host(args), **{k: _host(v) for k, v in kwargs.items()})

        return call


strict = _StrictNamespace()


class StrictBackend(Backend):
    """The "gpu" backend of the tests: the strict namespace above."""

    #: Free device memory in bytes that ``available_memory`` reports (None: unknown).
    free_bytes = None

    def __init__(self):
        super().__init__(strict, "gpu")

    def available_memory(self):
        return self.free_bytes

    def device_name(self):
        return "strict stand-in"

    def asarray(self, a, dtype=None):
        if isinstance(a, DeviceArray):
            return a if dtype is None else a.astype(dtype)
        return _device(np.array(a, dtype=dtype))

    def to_numpy(self, a):
        return a.get() if isinstance(a, DeviceArray) else np.asarray(a)

    def scatter_add(self, target, index, values):
        np.add.at(target.view(np.ndarray), _host(index), _host(values))
