"""Input layers: the univariate distributions at the bottom of a circuit.

Each input layer holds ``n_units`` units for each of its regions (one variable each) and
knows: its values for a batch in the engine's scaled linear space (1 where a value is
missing, which marginalises it), its sufficient statistics weighted by flows (expected
statistics for missing values), its M-step, and how to draw or pick a value for a chosen
unit. Arrays are laid out ``(regions, units, batch)`` to match the engine's buffers.
"""

import numpy as np


class InputLayer:
    """Common interface of input layers.

    Parameters
    ----------
    variables : ndarray of int
        The column of X each region of this layer reads.
    n_units : int
        Units per region (the circuit's ``k``).
    backend : Backend
    dtype : numpy dtype
    """

    kind = None

    def __init__(self, variables, n_units, backend, dtype):
        self.variables = np.asarray(variables, dtype=np.int64)
        self.n_units = int(n_units)
        self.backend = backend
        self.dtype = np.dtype(dtype)
        self._columns = backend.xp.asarray(self.variables)

    @property
    def n_regions(self):
        return len(self.variables)

    def columns(self, X):
        """This layer's columns of ``X`` as ``(n_regions, batch)`` and their NaN mask."""
        x = X[:, self._columns].T
        return x, self.backend.xp.isnan(x)

    def log_prob(self, X, mode="sum"):
        """Log-density of every unit at every row, ``(regions, units, batch)``.

        A missing value gives 0 (``mode="sum"``) or the unit's maximum (``"max"``).
        """
        xp = self.backend.xp
        values = xp.empty((self.n_regions, self.n_units, X.shape[0]), self.dtype)
        scale = xp.empty((self.n_regions, X.shape[0]), self.dtype)
        self.forward(self.prepare(X), values, scale, mode)
        with np.errstate(divide="ignore"):
            return self.backend.xp.log(values) + scale[:, None, :]


class Categorical(InputLayer):
    """Categorical units; ``probs[r, c, k]`` is unit k's probability of category c.

    Parameters
    ----------
    n_categories : ndarray of int
        Categories of each region's variable; regions with fewer than the maximum are
        padded with zero-probability categories.
    rng : numpy.random.Generator or None
        Source of random initial probabilities (uniform when None).
    """

    kind = "categorical"

    def __init__(self, variables, n_units, n_categories, backend, dtype, rng=None):
        super().__init__(variables, n_units, backend, dtype)
        xp = backend.xp
        self.n_categories = np.asarray(n_categories, dtype=np.int64)
        self.max_categories = int(self.n_categories.max())
        valid = np.arange(self.max_categories)[None, :] < self.n_categories[:, None]
        self.valid = xp.asarray(valid[:, :, None].astype(self.dtype))
        self._last_category = xp.asarray(self.n_categories - 1)[:, None]
        shape = (self.n_regions, self.max_categories, self.n_units)
        init = np.exp(-2.0 * rng.random(shape)) if rng is not None else np.ones(shape)
        self.set_params((xp.asarray(init.astype(self.dtype)) * self.valid,), normalise=True)

    def set_params(self, params, normalise=False):
        (probs,) = params
        xp = self.backend.xp
        if normalise:
            probs = probs / probs.sum(axis=1, keepdims=True)
        self.probs = probs.astype(self.dtype, copy=False)
        # (r, k, C+1): one row of probabilities per unit, and a last column of ones that
        # a missing value selects (it marginalises the variable).
        ones = xp.ones((self.n_regions, self.n_units, 1), dtype=self.dtype)
        table = xp.concatenate([xp.transpose(self.probs, (0, 2, 1)), ones], axis=2)
        self._table = xp.ascontiguousarray(table)
        self._cum = xp.cumsum(self._table[:, :, :-1], axis=2)

    @property
    def params(self):
        return (self.probs,)

    def prepare(self, X):
        """One-hot codes ``(regions, C+1, batch)``; the extra category marks a missing value."""
        xp = self.backend.xp
        x, miss = self.columns(X)
        codes = xp.where(miss, self.max_categories, x).astype(np.int64)
        cats = xp.arange(self.max_categories + 1)[None, :, None]
        return (codes[:, None, :] == cats).astype(self.dtype)

    #: Probabilities are stored unscaled, so their logarithms are exact.
    exact_logs = False

    def forward(self, onehot, values, scale, mode="sum", logs=None):
        """Write the probabilities of the observed categories into ``values`` (r, k, batch)
        and 0 into the log-scale ``scale`` (r, batch).

        A missing value gives 1 (it is summed out), or in ``"max"`` mode the unit's
        largest probability (it is maximised out, for the max-product pass).
        """
        xp = self.backend.xp
        table = self._table
        if mode == "max":
            table = table.copy()
            table[:, :, -1] = table[:, :, :-1].max(axis=2)
        xp.matmul(table, onehot, out=values)
        scale[...] = 0.0

    def new_stats(self):
        return [self.backend.xp.zeros_like(self._table)]

    def accumulate(self, stats, onehot, flow):
        xp = self.backend.xp
        stats[0] += xp.matmul(flow, xp.transpose(onehot, (0, 2, 1)))  # (r, k, C+1)

    def sufficient(self, stats):
        """Observed counts plus expected counts of the missing values, as ``(r, C, k)``."""
        xp = self.backend.xp
        counts = xp.transpose(stats[0][:, :, :-1], (0, 2, 1))
        missing_flow = stats[0][:, None, :, -1]
        return (counts + self.probs * missing_flow,)

    def m_step(self, suff, pseudocount):
        (counts,) = suff
        n_cats = self.valid.sum(axis=1, keepdims=True)
        total = counts.sum(axis=1, keepdims=True)
        probs = (counts + self.valid * (pseudocount / n_cats)) / (total + pseudocount)
        return (probs * self.valid,)

    def node_flow(self, suff):
        """Flow into each unit, ``(r, k)``."""
        return suff[0].sum(axis=1)

    def pick(self, X, units, rng, mode):
        """Values for this layer's regions given chosen units ``(r, n)`` (-1: none).

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
            value = xp.minimum((cum <= u).sum(axis=2), self._last_category)
        else:
            value = xp.argmax(self._table[rows, k, :-1], axis=2)
        return xp.where(miss & (units >= 0), value.astype(x.dtype), x)


class Gaussian(InputLayer):
    """Normal units with mean ``mean[r, k]`` and variance ``var[r, k]`` (floored).

    Parameters
    ----------
    rng : numpy.random.Generator or None
        Source of the random initial means.
    min_var : float
        Floor of the variance after each M-step.
    data_mean, data_std : ndarray or None
        Per-region location and scale used to spread the initial means.
    """

    kind = "gaussian"

    def __init__(self, variables, n_units, backend, dtype, rng=None, min_var=1e-3, data_mean=None,
                 data_std=None):
        super().__init__(variables, n_units, backend, dtype)
        xp = backend.xp
        self.min_var = float(min_var)
        shape = (self.n_regions, self.n_units)
        loc = np.zeros(self.n_regions) if data_mean is None else np.asarray(data_mean)
        spread = np.ones(self.n_regions) if data_std is None else np.asarray(data_std)
        noise = rng.standard_normal(shape) if rng is not None else np.zeros(shape)
        mean = loc[:, None] + spread[:, None] * noise
        var = np.maximum(spread[:, None] ** 2, self.min_var) * np.ones(shape)
        self.set_params((xp.asarray(mean.astype(self.dtype)), xp.asarray(var.astype(self.dtype))))

    def set_params(self, params, normalise=False):
        mean, var = params
        self.mean = mean.astype(self.dtype, copy=False)
        self.var = var.astype(self.dtype, copy=False)

    @property
    def params(self):
        return (self.mean, self.var)

    def prepare(self, X):
        """Observed values (0 where missing) and the observed mask, ``(regions, batch)`` each."""
        xp = self.backend.xp
        x, miss = self.columns(X)
        return xp.where(miss, 0, x).astype(self.dtype), (~miss).astype(self.dtype)

    #: Normalised densities of units far from a row underflow to 0; the exact
    #: log-densities go to the ``logs`` buffer for the sum layers' log-space path.
    exact_logs = True

    def forward(self, data, values, scale, mode="sum", logs=None):
        """Write densities normalised to a maximum of 1 over units into ``values``
        (r, k, batch), their log-scale into ``scale`` (r, batch) and, when given, the
        log-densities into ``logs`` (r, k, batch).

        A missing value has density 1 (it is integrated out), or in ``"max"`` mode the
        unit's peak density (it is maximised out).
        """
        xp = self.backend.xp
        x, seen = data
        mean, var = self.mean[:, :, None], self.var[:, :, None]
        logp = -0.5 * ((x[:, None, :] - mean) ** 2 / var + xp.log(2 * np.pi * var))
        missing = 0.0 if mode == "sum" else -0.5 * xp.log(2 * np.pi * var)
        logp = xp.where(seen[:, None, :] > 0, logp, missing)
        if logs is not None:
            logs[...] = logp
        scale[...] = logp.max(axis=1)
        xp.exp(logp - scale[:, None, :], out=values)

    def new_stats(self):
        xp = self.backend.xp
        return [xp.zeros((self.n_regions, self.n_units, 1), self.dtype) for _ in range(4)]

    def accumulate(self, stats, data, flow):
        xp = self.backend.xp
        x, seen = data
        f = flow * seen[:, None, :]  # (r, k, batch): flow on observed entries
        stats[0] += f.sum(axis=2, keepdims=True)
        stats[1] += xp.matmul(f, x[:, :, None])
        stats[2] += xp.matmul(f, (x * x)[:, :, None])
        stats[3] += (flow - f).sum(axis=2, keepdims=True)

    def sufficient(self, stats):
        s0, s1, s2, missing_flow = (s[:, :, 0] for s in stats)
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
