"""Input layers: the univariate distributions at the bottom of a circuit.

Each input layer holds ``n_units`` units for each of its variables and knows four
things: its log-probabilities for a batch (0 where a value is missing, which
marginalises it), its sufficient statistics weighted by flows (expected statistics for
missing values), its M-step, and how to draw or pick a value for a chosen unit.
Arrays are laid out ``(variables, batch, units)`` to match the engine's buffers.
"""

import numpy as np


class InputLayer:
    """Common interface of input layers.

    Parameters
    ----------
    variables : ndarray of int
        The column of X each region of this layer reads.
    n_units : int
        Units per variable (the circuit's ``k``).
    backend : Backend
    dtype : numpy dtype
    """

    kind = None

    def __init__(self, variables, n_units, backend, dtype):
        self.variables = np.asarray(variables, dtype=np.int64)
        self.n_units = int(n_units)
        self.backend = backend
        self.dtype = np.dtype(dtype)

    @property
    def n_regions(self):
        return len(self.variables)

    def columns(self, X):
        """This layer's columns of ``X`` as ``(n_regions, batch)`` and their NaN mask."""
        x = X[:, self.variables].T
        return x, self.backend.xp.isnan(x)


class Categorical(InputLayer):
    """Categorical units; ``probs[r, c, k]`` is unit k's probability of category c.

    Parameters
    ----------
    n_categories : ndarray of int
        Categories of each variable; variables with fewer than the maximum are padded
        with zero-probability categories.
    """

    kind = "categorical"

    def __init__(self, variables, n_units, n_categories, backend, dtype, rng=None):
        super().__init__(variables, n_units, backend, dtype)
        xp = backend.xp
        self.n_categories = np.asarray(n_categories, dtype=np.int64)
        self.max_categories = int(self.n_categories.max())
        valid = np.arange(self.max_categories)[None, :] < self.n_categories[:, None]
        self.valid = xp.asarray(valid[:, :, None].astype(self.dtype))
        shape = (self.n_regions, self.max_categories, self.n_units)
        init = np.exp(-2.0 * rng.random(shape)) if rng is not None else np.ones(shape)
        self.set_params((xp.asarray(init.astype(self.dtype)) * self.valid,), normalise=True)

    def set_params(self, params, normalise=False):
        (probs,) = params
        xp = self.backend.xp
        if normalise:
            probs = probs / probs.sum(axis=1, keepdims=True)
        self.probs = probs.astype(self.dtype, copy=False)
        with np.errstate(divide="ignore"):
            self.log_probs = xp.log(self.probs)
        # (r, c, k) -> (r, k, c): one category row per unit, for sampling.
        self._cum = xp.cumsum(xp.transpose(self.probs, (0, 2, 1)), axis=2)

    @property
    def params(self):
        return (self.probs,)

    def encode(self, X):
        """Integer codes ``(n_regions, batch)`` (0 where missing) and the missing mask."""
        x, miss = self.columns(X)
        xp = self.backend.xp
        return xp.where(miss, 0, x).astype(np.int64), miss

    def log_prob(self, X, out):
        xp = self.backend.xp
        codes, miss = self.encode(X)
        rows = xp.arange(self.n_regions)[:, None]
        out[...] = self.log_probs[rows, codes]  # (r, batch, k)
        out[miss] = 0.0

    def max_log_prob(self):
        """Log-probability of each unit's most likely category, ``(r, k)``."""
        return self.log_probs.max(axis=1)

    def new_stats(self):
        xp = self.backend.xp
        return [xp.zeros_like(self.probs), xp.zeros((self.n_regions, 1, self.n_units), self.dtype)]

    def accumulate(self, stats, X, flow):
        xp = self.backend.xp
        codes, miss = self.encode(X)
        cats = xp.arange(self.max_categories)[None, :, None]
        onehot = ((codes[:, None, :] == cats) & ~miss[:, None, :]).astype(self.dtype)
        stats[0] += onehot @ flow  # (r, C, batch) @ (r, batch, k)
        if bool(miss.any()):
            stats[1] += miss[:, None, :].astype(self.dtype) @ flow

    def sufficient(self, stats):
        """Statistics per parameter: observed counts plus expected counts of missing values."""
        counts, missing_flow = stats
        return (counts + self.probs * missing_flow,)

    def m_step(self, suff, pseudocount):
        (counts,) = suff
        n_cats = self.valid.sum(axis=1, keepdims=True)
        probs = (counts + self.valid * (pseudocount / n_cats)) / (
            counts.sum(axis=1, keepdims=True) + pseudocount
        )
        return (probs * self.valid,)

    def node_flow(self, suff):
        """Flow into each unit, ``(r, k)``."""
        return suff[0].sum(axis=1)

    def pick(self, X, units, rng, mode):
        """Values for the variables of this layer given chosen units ``(r, n)`` (-1: none).

        Observed entries of X are kept; missing ones are drawn (``mode="sample"``) or set
        to the unit's most likely category (``mode="argmax"``).
        """
        xp = self.backend.xp
        x, miss = self.columns(X)
        rows = xp.arange(self.n_regions)[:, None]
        k = xp.maximum(units, 0)
        if mode == "sample":
            cum = self._cum[rows, k]  # (r, n, C)
            u = rng.random(units.shape, dtype=self.dtype)[..., None] * cum[..., -1:]
            value = (cum <= u).sum(axis=2)
            value = xp.minimum(value, xp.asarray(self.n_categories)[:, None] - 1)
        else:
            value = xp.argmax(self.log_probs[rows, :, k], axis=2)
        return xp.where(miss & (units >= 0), value.astype(x.dtype), x)


class Gaussian(InputLayer):
    """Normal units with mean ``mean[r, k]`` and variance ``var[r, k]`` (floored).

    Parameters
    ----------
    min_var : float
        Floor of the variance after each M-step.
    data_mean, data_std : ndarray
        Per-variable location and scale used to spread the initial means.
    """

    kind = "gaussian"

    def __init__(self, variables, n_units, backend, dtype, rng=None, min_var=1e-3,
                 data_mean=None, data_std=None):
        super().__init__(variables, n_units, backend, dtype)
        xp = backend.xp
        self.min_var = float(min_var)
        shape = (self.n_regions, self.n_units)
        loc = np.zeros(self.n_regions) if data_mean is None else np.asarray(data_mean)
        scale = np.ones(self.n_regions) if data_std is None else np.asarray(data_std)
        noise = rng.standard_normal(shape) if rng is not None else np.zeros(shape)
        mean = loc[:, None] + scale[:, None] * noise
        var = np.maximum(scale[:, None] ** 2, self.min_var) * np.ones(shape)
        self.set_params((xp.asarray(mean.astype(self.dtype)), xp.asarray(var.astype(self.dtype))))

    def set_params(self, params, normalise=False):
        mean, var = params
        self.mean = mean.astype(self.dtype, copy=False)
        self.var = var.astype(self.dtype, copy=False)

    @property
    def params(self):
        return (self.mean, self.var)

    def log_prob(self, X, out):
        xp = self.backend.xp
        x, miss = self.columns(X)
        x = xp.where(miss, 0, x).astype(self.dtype)[:, :, None]
        mean, var = self.mean[:, None, :], self.var[:, None, :]
        out[...] = -0.5 * ((x - mean) ** 2 / var + xp.log(2 * np.pi * var))
        out[miss] = 0.0

    def max_log_prob(self):
        """Log-density of each unit at its mode (the mean), ``(r, k)``."""
        return -0.5 * self.backend.xp.log(2 * np.pi * self.var)

    def new_stats(self):
        xp = self.backend.xp
        return [xp.zeros((self.n_regions, self.n_units), self.dtype) for _ in range(4)]

    def accumulate(self, stats, X, flow):
        xp = self.backend.xp
        x, miss = self.columns(X)
        seen = (~miss).astype(self.dtype)
        x = xp.where(miss, 0, x).astype(self.dtype)
        f = flow * seen[:, :, None]  # (r, batch, k) flow on observed entries
        stats[0] += f.sum(axis=1)
        stats[1] += (x[:, None, :] @ f)[:, 0, :]
        stats[2] += ((x * x)[:, None, :] @ f)[:, 0, :]
        stats[3] += flow.sum(axis=1) - f.sum(axis=1)

    def sufficient(self, stats):
        s0, s1, s2, missing_flow = stats
        return (
            s0 + missing_flow,
            s1 + missing_flow * self.mean,
            s2 + missing_flow * (self.var + self.mean**2),
        )

    def m_step(self, suff, pseudocount):
        xp = self.backend.xp
        s0, s1, s2 = suff
        has_mass = s0 > 1e-12
        safe = xp.where(has_mass, s0, 1.0)
        mean = xp.where(has_mass, s1 / safe, self.mean)
        var = xp.where(has_mass, s2 / safe - mean**2, self.var)
        return (mean, xp.maximum(var, self.min_var))

    def node_flow(self, suff):
        return suff[0]

    def pick(self, X, units, rng, mode):
        xp = self.backend.xp
        x, miss = self.columns(X)
        rows = xp.arange(self.n_regions)[:, None]
        k = xp.maximum(units, 0)
        value = self.mean[rows, k]
        if mode == "sample":
            value = value + xp.sqrt(self.var[rows, k]) * rng.standard_normal(units.shape, dtype=self.dtype)
        return xp.where(miss & (units >= 0), value.astype(x.dtype), x)

