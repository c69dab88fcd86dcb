"""Input layers: the univariate distributions at the bottom of a circuit.

Each input layer holds ``n_units`` units for each of its regions (one variable each) and
knows: its values for a batch in the engine's scaled linear space (1 where a value is
missing, which marginalises it), its sufficient statistics weighted by flows (expected
statistics for missing values), its M-step, and how to draw or pick a value for a chosen
unit. Arrays are laid out ``(regions, units, batch)`` to match the engine's buffers.
"""

import contextlib
import hashlib
import warnings

import numpy as np
from sklearn.cluster import KMeans
from sklearn.covariance import ledoit_wolf
from sklearn.exceptions import ConvergenceWarning

from skpc.engine.parallel import threadpool_controller

#: At most this many training rows (a random subset) feed the k-means start of
#: :class:`MultivariateGaussian`.
KMEANS_ROWS = 5000

#: k-means++ seedings of that start; the one of least inertia is kept. One seeding can
#: split a cluster and merge the outliers into the others, and EM does not leave that
#: optimum (3 blobs in 3-D with 20 uniform outliers: a fold's 4 diagonal units held out
#: -6.09 nats per row from one seeding, -5.64 from the best of three).
KMEANS_INITS = 3

#: Inside :func:`shared_kmeans`: each k-means start computed there, by its rows, number
#: of clusters and seed.
_kmeans_memo = None


@contextlib.contextmanager
def shared_kmeans():
    """Compute each k-means start once inside the block.

    The capacity search fits many candidates on the same rows from the same seed (full and
    diagonal covariances, several ``reg_covar``): they start from the same k-means, which
    is then computed once for all of them.
    """
    global _kmeans_memo
    outer, _kmeans_memo = _kmeans_memo, {}
    try:
        yield
    finally:
        _kmeans_memo = outer


def _kmeans(x, n_clusters, seed):
    """Labels and centres of the best of ``KMEANS_INITS`` k-means++ seedings on the rows ``x``."""
    key = None
    if _kmeans_memo is not None:
        key = (hashlib.blake2b(np.ascontiguousarray(x).tobytes(), digest_size=16).digest(), x.shape,
               n_clusters, seed)
        if key in _kmeans_memo:
            return _kmeans_memo[key]
    # One OpenMP thread: on small starts the threads' start-up and spinning cost far more
    # than the work (360 rows x 5 columns, 2 clusters: 0.27 s with 2 threads on a busy
    # 2-core machine, 0.01 s with one).
    with warnings.catch_warnings(), threadpool_controller().limit(limits=1, user_api="openmp"):
        warnings.simplefilter("ignore", ConvergenceWarning)  # fewer distinct points
        km = KMeans(n_clusters, n_init=KMEANS_INITS, random_state=seed).fit(x)
    result = (km.labels_, km.cluster_centers_)
    if key is not None:
        _kmeans_memo[key] = result
    return result


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

    def _store(self, logp, values, scale, logs):
        """Write log-densities ``logp`` (r, k, batch) in the engine's scaled linear space:
        normalised to a maximum of 1 over units in ``values``, the log of that maximum in
        ``scale``, and ``logp`` itself in ``logs`` when given."""
        if logs is not None:
            logs[...] = logp
        scale[...] = logp.max(axis=1)
        self.backend.xp.exp(logp - scale[:, None, :], out=values)


class Categorical(InputLayer):
    """Categorical units; ``probs[r, c, k]`` is unit k's probability of category c.

    Parameters
    ----------
    n_categories : ndarray of int
        Categories of each region's variable; regions with fewer than the maximum are
        padded with zero-probability categories.
    rng : numpy.random.Generator or None
        Source of random initial probabilities (uniform when None).
    unseen : bool
        The last category of each variable stands for "a value not seen in training":
        it starts with a negligible probability, keeps what the M-step's pseudocount
        gives it (training data never holds it), and is never drawn or picked.
    """

    kind = "categorical"

    #: Initial probability of the "unseen" category, relative to the others.
    UNSEEN_START = 1e-6

    #: Share of the M-step's pseudocount that goes to the "unseen" category (at most).
    UNSEEN_SHARE = 0.01

    def __init__(self, variables, n_units, n_categories, backend, dtype, rng=None, unseen=False):
        super().__init__(variables, n_units, backend, dtype)
        xp = backend.xp
        self.n_categories = np.asarray(n_categories, dtype=np.int64)
        self.max_categories = int(self.n_categories.max())
        self.unseen = bool(unseen)
        valid = np.arange(self.max_categories)[None, :] < self.n_categories[:, None]
        self.valid = xp.asarray(valid[:, :, None].astype(self.dtype))
        # Values that can be drawn or picked: every category but "unseen".
        n_known = self.n_categories - int(self.unseen)
        known = np.arange(self.max_categories)[None, :] < n_known[:, None]
        self._known = xp.asarray(known[:, None, :])  # (r, 1, C)
        # How the pseudocount is shared, (r, C, 1): the "unseen" category takes a small
        # fixed share (below 1 / (2 (K + 1)), so it stays below every seen level's), the
        # known categories the rest, equally: a unit the data never reach keeps its
        # known categories as uniform as without "unseen".
        share = np.minimum(self.UNSEEN_SHARE, 0.5 / self.n_categories) if self.unseen else 0.0
        weight = np.where(known, ((1 - share) / np.maximum(n_known, 1))[:, None], 0.0)
        if self.unseen:
            weight[np.arange(self.n_regions), n_known] = share
        self._smoothing = xp.asarray(weight[:, :, None].astype(self.dtype))
        self._last_category = xp.asarray(n_known - 1)[:, None]
        self._categories = xp.arange(self.max_categories, dtype=self.dtype)[None, :, None]
        # Random starts for the known categories only: the "unseen" one takes no random
        # numbers, so a circuit's start (and fit) is the same with or without it.
        known_shape = (self.n_regions, self.max_categories - int(self.unseen), self.n_units)
        drawn = np.exp(-2.0 * rng.random(known_shape)) if rng is not None else np.ones(known_shape)
        init = np.zeros((self.n_regions, self.max_categories, self.n_units))
        init[:, : known_shape[1]] = drawn
        if self.unseen:
            regions = np.arange(self.n_regions)
            init[regions, n_known] = self.UNSEEN_START * drawn[regions, : max(known_shape[1], 1)].mean(axis=1)
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
        self._cum = xp.cumsum(xp.where(self._known, self._table[:, :, :-1], 0), axis=2)

    @property
    def params(self):
        return (self.probs,)

    def prepare(self, X):
        """One-hot codes ``(regions, C+1, batch)``; the extra category marks a missing value."""
        xp = self.backend.xp
        x = X[:, self._columns].T
        C = self.max_categories
        # Written in place by the comparisons (no integer codes, no boolean temporaries).
        onehot = xp.empty((self.n_regions, C + 1, X.shape[0]), self.dtype)
        xp.equal(x[:, None, :], self._categories, out=onehot[:, :C])  # NaN equals no category
        xp.isnan(x, out=onehot[:, C])
        return onehot

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
            table[:, :, -1] = xp.where(self._known, table[:, :, :-1], 0).max(axis=2)
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

    def m_step(self, suff, pseudocount, prior_share=1.0):
        (counts,) = suff
        total = counts.sum(axis=1, keepdims=True)
        probs = (counts + pseudocount * self._smoothing) / (total + pseudocount)
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
            value = xp.argmax(xp.where(self._known, self._table[rows, k, :-1], -1), axis=2)
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
    reg_covar : float
        Added to the variance in each M-step, before the floor (GaussianMixture's
        ``reg_covar``).
    var_prior : float, default=0.0
        Share of the rows a unit needs to estimate its variance (``var_prior * n_rows``
        rows over ``n_rows`` rows): a unit with a flow ``s`` below that gets the shortfall
        ``w`` as pseudo-rows of the region's variance ``data_std ** 2``, its variance
        ``(s var_ml + w data_std ** 2) / (s + w)`` (as :class:`MultivariateGaussian`'s
        ``cov_prior``). It keeps a unit from collapsing onto one row. 0: no prior.
    """

    kind = "gaussian"

    def __init__(self, variables, n_units, backend, dtype, rng=None, min_var=1e-3, data_mean=None,
                 data_std=None, reg_covar=0.0, var_prior=0.0):
        super().__init__(variables, n_units, backend, dtype)
        xp = backend.xp
        self.min_var = float(min_var)
        self.reg_covar = float(reg_covar)
        self.var_prior = float(var_prior)
        shape = (self.n_regions, self.n_units)
        loc = np.zeros(self.n_regions) if data_mean is None else np.asarray(data_mean)
        spread = np.ones(self.n_regions) if data_std is None else np.asarray(data_std)
        self._prior_var = xp.asarray((spread**2)[:, None].astype(self.dtype))  # (r, 1)
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
        self._store(logp, values, scale, logs)

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

    def m_step(self, suff, pseudocount, prior_share=1.0):
        xp = self.backend.xp
        s0, s1, s2 = suff
        has_mass = s0 > 1e-12
        safe = xp.where(has_mass, s0, 1.0)
        mean = xp.where(has_mass, s1 / safe, self.mean)
        var = s2 / safe - mean**2
        if self.var_prior:  # a unit's shortfall of flow, as pseudo-rows of the region's variance
            w = shortfall(xp, s0, self.var_prior, prior_share)
            var = (safe * var + w * self._prior_var) / (safe + w)
        var = xp.where(has_mass, var + self.reg_covar, self.var)
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


class MultivariateGaussian(InputLayer):
    """Full-covariance Gaussian units over the several variables of an input region.

    Unit k of region r has mean ``mean[r, k]`` (d,) and covariance ``cov[r, k]`` (d, d).
    A circuit gets these units for every input region over more than one variable
    (all of them Gaussian columns); with ``d = 1`` they would equal :class:`Gaussian`.

    Missing values (NaN) are integrated out (``mode="sum"``: the density of the
    observed part is the marginal Gaussian over the observed dimensions) or maximised
    out (``"max"``). For a row with observed mask o and missing mask m, everything is
    computed from the unit's precision ``Lambda = Sigma^-1`` and its missing block
    ``Lambda_mm`` only (a row missing 6 of 30 values factorises a 6 x 6 matrix, not
    ``Sigma_oo``): with ``diff`` the observed part of ``x - mu`` (zeros elsewhere) and
    ``g = Lambda diff``, the marginal's quadratic form is ``diff . g - g_m
    Lambda_mm^-1 g_m`` and ``log|Sigma_oo| = log|Sigma| + log|Lambda_mm|`` (the block
    inverse), and the conditional distribution of the missing dimensions is
    ``N(mu_m - Lambda_mm^-1 g_m, Lambda_mm^-1)``; EM uses its moments as the expected
    statistics of a partly observed row, and sampling and the max-product descent draw
    (or take the mean of) the missing dimensions from it. A batch's blocks are padded
    to its largest number of missing values with the identity. Complete rows need no
    per-row matrix: one Cholesky factor per unit serves them.
    Matrix algebra runs in float64 whatever the dtype (the matrices are small).

    Parameters
    ----------
    variables : ndarray of int of shape (n_regions, d)
        The sorted columns of X that each region reads.
    rng : numpy.random.Generator or None
        Source of the random initial means.
    min_var : float
        Floor of the covariance's eigenvalues after each M-step (for ``d = 1`` exactly
        the floor of :class:`Gaussian`'s variance). A full covariance whose copy in
        ``dtype`` would lose the floor (many eigenvalues at a small floor) has its
        eigenvalues kept above ``d * eps * lambda_max`` too (``eps`` of ``dtype``, 1.2e-7
        in float32).
    data_mean, data_std : ndarray of shape (n_regions, d) or None
        Per-variable location and scale: without ``data``, initial means are
        ``data_mean + data_std * noise``, initial covariances ``diag(max(data_std**2,
        min_var))``.
    data : ndarray of shape (n_samples, n_features) or None
        Training rows (all columns of X; not modified) for a k-means start, as
        :class:`sklearn.mixture.GaussianMixture` does: regions over the same columns
        share one k-means (the best of :data:`KMEANS_INITS` k-means++ seedings, seed
        drawn from ``rng``) with ``n_units`` clusters per region on at most
        :data:`KMEANS_ROWS` rows without NaN in those columns; unit means are the
        centres and covariances the clusters' (the columns' covariance for a cluster of
        at most d rows), eigenvalues floored at ``min_var``. Regions over the same
        columns (repetitions of a depth-0 RAT) thus start at different centres, and
        regions over different columns get different seeds. Columns with fewer complete
        rows than clusters keep the random start.
    reg_covar : float
        Added to the covariance's diagonal in each M-step, before the eigenvalue floor
        (GaussianMixture's ``reg_covar``).
    diagonal : bool, default=False
        Diagonal covariances (a mixture of such units is ``GaussianMixture``'s
        ``covariance_type="diag"``): the start, the prior and every M-step keep only the
        diagonal. Missing values are integrated out the same way.
    cov_prior : float, default=0.0
        The flow a unit's covariance needs, as a share of the flow into its region
        (``cov_prior * n_rows`` rows over ``n_rows`` rows): a unit with less gets the
        shortfall ``w`` as pseudo-rows of a conjugate prior, the M-step's covariance
        being ``(S_xx - S_1 mean mean^T + w Psi) / (S_1 + w)`` with ``Psi`` the
        covariance of the region's columns over ``data`` (the identity without it). A
        unit that takes the flow of fewer rows than its covariance needs spreads like the
        data instead of collapsing onto them; a unit with enough keeps its
        maximum-likelihood covariance. 0: no prior.
    """

    kind = "multivariate_gaussian"

    #: Exact log-densities go to the ``logs`` buffer, as for :class:`Gaussian`.
    exact_logs = True

    def __init__(self, variables, n_units, backend, dtype, rng=None, min_var=1e-3, data_mean=None,
                 data_std=None, data=None, reg_covar=0.0, cov_prior=0.0, diagonal=False):
        super().__init__(np.asarray(variables, dtype=np.int64).reshape(len(variables), -1), n_units,
                         backend, dtype)
        xp = backend.xp
        self.min_var = float(min_var)
        self.reg_covar = float(reg_covar)
        self.cov_prior = float(cov_prior)
        self.diagonal = bool(diagonal)
        self.dim = self.variables.shape[1]
        self._prior_cov = xp.asarray(self._columns_cov(data))  # (r, d, d) float64
        shape = (self.n_regions, self.n_units, self.dim)
        loc = np.zeros(self.variables.shape) if data_mean is None else np.asarray(data_mean, dtype=np.float64)
        spread = np.ones(self.variables.shape) if data_std is None else np.asarray(data_std, dtype=np.float64)
        noise = rng.standard_normal(shape) if rng is not None else np.zeros(shape)
        mean = loc[:, None, :] + spread[:, None, :] * noise
        var = np.maximum(spread**2, self.min_var)  # (r, d)
        cov = np.zeros((*shape, self.dim)) + np.eye(self.dim) * var[:, None, None, :]
        if data is not None and rng is not None:
            self._kmeans_start(np.asarray(data), mean, cov, rng)
        self.set_params((xp.asarray(mean.astype(self.dtype)), xp.asarray(cov.astype(self.dtype))))

    def _columns_cov(self, data):
        """``Psi`` of ``cov_prior``: each region's covariance over the complete rows of
        ``data``, Ledoit-Wolf shrunk (eigenvalues floored at ``min_var``), or the identity.

        Shrunk, so that it is well conditioned on any number of rows: the sample covariance
        of 37 rows in 30-D has eigenvalues near zero, and a single Gaussian refitted there
        (with ``Psi`` the identity on its folds' 29 rows, fewer than its columns) scored -162
        nats per test row where its folds had scored -32."""
        psi = np.zeros((self.n_regions, self.dim, self.dim)) + np.eye(self.dim)
        if data is None or not self.cov_prior:
            return psi
        for r, scope in enumerate(self.variables):
            x = np.asarray(data[:, scope], dtype=np.float64)
            x = x[~np.isnan(x).any(axis=1)]
            if x.shape[0] > 2:  # on two rows Ledoit-Wolf estimates no shrinkage: their singular covariance
                psi[r] = np.atleast_2d(ledoit_wolf(x)[0])
        return self._shaped(np, psi)

    def _shaped(self, xp, cov):
        """Covariances ``(..., d, d)`` symmetrised (diagonal when ``diagonal``), their
        eigenvalues floored at ``min_var`` (full ones further where their copy in ``dtype``
        would lose that floor: see :func:`floor_eigenvalues`)."""
        if self.diagonal:  # its eigenvalues are its diagonal
            variances = xp.maximum(xp.diagonal(cov, axis1=-2, axis2=-1), self.min_var)
            return variances[..., None] * xp.eye(self.dim)
        return floor_eigenvalues(xp, 0.5 * (cov + xp.swapaxes(cov, -1, -2)), self.min_var, self.dtype)

    def n_free_parameters(self):
        """Means and distinct covariance entries of every unit."""
        d = self.dim
        return self.n_regions * self.n_units * (d + (d if self.diagonal else d * (d + 1) // 2))

    def _kmeans_start(self, data, mean, cov, rng):
        """Overwrite ``mean`` and ``cov`` (host float64) with a k-means start from ``data``."""
        seed = rng.integers(2**31 - 1) if hasattr(rng, "integers") else rng.randint(2**31 - 1)
        gen = np.random.default_rng(seed)
        if data.shape[0] > KMEANS_ROWS:
            data = data[np.sort(gen.choice(data.shape[0], KMEANS_ROWS, replace=False))]
        scopes, group = np.unique(self.variables, axis=0, return_inverse=True)
        group = np.asarray(group).reshape(-1)
        k = self.n_units
        for g, scope in enumerate(scopes):
            regions = np.flatnonzero(group == g)
            x = np.asarray(data[:, scope], dtype=np.float64)
            x = x[~np.isnan(x).any(axis=1)]
            n_clusters = k * len(regions)
            if x.shape[0] < max(n_clusters, 2):
                continue  # too few complete rows: keep the random start
            labels, centres = _kmeans(x, n_clusters, int(gen.integers(2**31 - 1)))
            pooled = np.atleast_2d(np.cov(x, rowvar=False))
            covs = np.empty((n_clusters, self.dim, self.dim))
            for c in range(n_clusters):
                members = x[labels == c]
                if members.shape[0] > self.dim:
                    diff = members - centres[c]
                    covs[c] = diff.T @ diff / members.shape[0]
                else:
                    covs[c] = pooled
            covs = self._shaped(np, covs)
            mean[regions] = centres.reshape(len(regions), k, self.dim)
            cov[regions] = covs.reshape(len(regions), k, self.dim, self.dim)

    def set_params(self, params, normalise=False):
        xp = self.backend.xp
        mean, cov = params
        self.mean = mean.astype(self.dtype, copy=False)
        self.cov = cov.astype(self.dtype, copy=False)
        self._mean64 = self.mean.astype(np.float64)
        self._cov64 = self.cov.astype(np.float64)
        self._eye = xp.eye(self.dim, dtype=np.float64)
        if self.diagonal:  # independent columns: no factorisation
            self._var64 = xp.diagonal(self._cov64, axis1=2, axis2=3).copy()  # (r, k, d)
            self._log_var = xp.log(self._var64)
            self._inv_std = (1.0 / xp.sqrt(self._var64)).astype(self.dtype)
            self._logdet = self._log_var.sum(axis=2)
            self._prec64 = (1.0 / self._var64)[..., None] * self._eye  # for pick's conditionals
            return
        chol = xp.linalg.cholesky(self._cov64)
        # Complete rows: |L^-1 (x - mu)|^2 is the quadratic form; log|Sigma| = 2 sum log L_ii.
        whiten = xp.swapaxes(xp.linalg.inv(chol), 2, 3)  # (L^-1)^T
        self._whiten = xp.ascontiguousarray(whiten.astype(self.dtype))
        self._prec64 = xp.matmul(whiten, xp.swapaxes(whiten, 2, 3))  # Sigma^-1, for the partly observed rows
        self._logdet = 2 * xp.log(xp.diagonal(chol, axis1=2, axis2=3)).sum(axis=2)  # (r, k) float64

    @property
    def params(self):
        return (self.mean, self.cov)

    def columns(self, X):
        """This layer's columns of ``X`` as ``(n_regions, batch, d)`` and their NaN mask."""
        x = self.backend.xp.transpose(X[:, self._columns], (1, 0, 2))
        return x, self.backend.xp.isnan(x)

    def prepare(self, X):
        """Observed values (0 where missing) ``(r, batch, d)``, the observed mask, the
        number of observed values ``(r, batch)``, and the (region, row) pairs with some
        but not all values observed (none for diagonal units, whose missing values the
        passes integrate out column by column, without d x d matrices per row)."""
        xp = self.backend.xp
        x, miss = self.columns(X)
        seen = ~miss
        n_seen = seen.sum(axis=2)
        partial = xp.nonzero((n_seen > 0) & (n_seen < self.dim) & (not self.diagonal))
        return xp.where(miss, 0, x).astype(self.dtype), seen, n_seen, partial

    def _partial_pairs(self, data):
        """The partly observed (region, row) pairs: their regions ``(m, 1)`` and units
        ``(1, k)`` as index arrays, the units' means ``(m, k, d)``, ``diff`` (the observed
        part of ``x - mu``) and ``g = Lambda diff`` ``(m, k, d)``, and the observed masks
        ``(m, 1, d)`` (float64)."""
        xp = self.backend.xp
        x, seen, _, (ri, bi) = data
        diff = (x.astype(np.float64)[:, None] - self._mean64[:, :, None]) * seen[:, None]
        g = xp.matmul(diff, self._prec64)  # every row's at once: a product per unit, not per pair
        unit = xp.arange(self.n_units)[None, :]
        return ri[:, None], unit, self._mean64[ri], diff[ri, :, bi], g[ri, :, bi], seen[ri, bi][:, None, :]

    def _observed_marginal(self, data):
        """The quadratic form and the log-determinant of ``Sigma_oo`` ``(m, k)`` of the
        partly observed pairs' marginals (see the class docstring)."""
        xp = self.backend.xp
        region, unit, _, diff, g, seen = self._partial_pairs(data)
        block, g_m, _, _ = self._missing_block(region, unit, seen, g)
        sol = xp.linalg.solve(block, g_m[..., None])[..., 0]
        # block is positive definite: a Cholesky factor gives its log-determinant at half
        # the cost of slogdet's LU.
        logdet = 2 * xp.log(xp.diagonal(xp.linalg.cholesky(block), axis1=-2, axis2=-1)).sum(axis=-1)
        return (diff * g).sum(axis=-1) - (g_m * sol).sum(axis=-1), self._logdet[region[:, 0]] + logdet

    def _observed_conditional(self, data, with_cov=False):
        """The conditional mean ``(m, k, d)`` and, when asked, covariance ``(m, k, d, d)``
        of the partly observed pairs (see :meth:`_conditional`)."""
        region, unit, mu, diff, g, seen = self._partial_pairs(data)
        return self._conditional(region, unit, mu, diff, g, seen, with_cov)

    def _missing_block(self, region, unit, seen, g):
        """The missing block ``Lambda_mm`` of the precisions of units ``(region, unit)``
        (index arrays broadcast to a shape ``S`` of two axes) for rows observed where
        ``seen`` (bool, ``S + (d,)`` broadcast), compacted to the ``t`` columns most missing
        in any row ``(S, t, t)`` with the identity on the padding; ``g``'s entries in those
        columns ``(S, t)``, 0 on the padding; the columns and their mask ``(S, t)``."""
        xp = self.backend.xp
        n_miss = self.dim - seen.sum(axis=-1)
        t = int(self.backend.to_numpy(n_miss.max()))
        cols = xp.argsort(seen.astype(np.int8), axis=-1)[..., :t]  # the missing columns first
        valid = xp.arange(t) < n_miss[..., None]
        both = valid[..., :, None] & valid[..., None, :]
        block = self._prec64[region[..., None, None], unit[..., None, None],
                             cols[..., :, None], cols[..., None, :]]
        block = xp.where(both, block, xp.eye(t))
        return block, xp.where(valid, xp.take_along_axis(g, cols, axis=-1), 0.0), cols, valid

    def _conditional(self, region, unit, mu, diff, g, seen, with_cov):
        """The conditional mean (observed entries equal to x) ``S + (d,)`` and, when asked,
        the conditional covariance (zero on the observed rows and columns) ``S + (d, d)`` of
        units ``(region, unit)`` with means ``mu``, given ``diff`` and ``g`` of values
        observed where ``seen`` (see :meth:`_missing_block` and the class docstring)."""
        xp = self.backend.xp
        block, g_m, cols, valid = self._missing_block(region, unit, seen, g)
        mean = mu + diff
        if cols.shape[-1] == 0:  # nothing missing
            return mean, (xp.zeros(mean.shape + (self.dim,)) if with_cov else None)
        if with_cov:
            inv = xp.linalg.inv(block)  # one factorisation serves the mean and the covariance
            sol = xp.matmul(inv, g_m[..., None])[..., 0]
        else:
            sol = xp.linalg.solve(block, g_m[..., None])[..., 0]
        a = xp.arange(mean.shape[0])[:, None, None]
        b = xp.arange(mean.shape[1])[None, :, None]
        mean[a, b, cols] -= xp.where(valid, sol, 0.0)  # a row's columns are distinct
        if not with_cov:
            return mean, None
        cov = xp.zeros(mean.shape + (self.dim,))
        both = valid[..., :, None] & valid[..., None, :]
        cov[a[..., None], b[..., None], cols[..., :, None], cols[..., None, :]] = xp.where(both, inv, 0.0)
        return mean, cov

    def _n_partial(self, data):
        return int(data[3][0].shape[0])

    def forward(self, data, values, scale, mode="sum", logs=None):
        """Write densities normalised to a maximum of 1 over units into ``values``
        (r, k, batch), their log-scale into ``scale`` (r, batch) and, when given, the
        log-densities into ``logs`` (r, k, batch).

        Missing values are integrated out (``"sum"``: the marginal density of the
        observed ones, 1 when none is observed) or maximised out (``"max"``: the
        conditional density of the missing ones at its mode is
        ``N(0; 0, Sigma_m|o)``, and ``log|Sigma_oo| + log|Sigma_m|o| = log|Sigma|``, so
        the value is the full-dimensional density with the quadratic form of the
        observed part).
        """
        xp = self.backend.xp
        x, seen, n_seen, (ri, bi) = data
        log2pi = np.log(2 * np.pi)
        diff = (x[:, None, :, :] - self.mean[:, :, None, :]) * seen[:, None, :, :].astype(self.dtype)
        if self.diagonal:
            white = diff * self._inv_std[:, :, None, :]
        else:
            white = xp.matmul(diff, self._whiten)  # (r, k, batch, d)
        quad = (white * white).sum(axis=3)
        if self.diagonal and mode == "sum":  # the observed columns' log-variances and constants only
            logdet = xp.swapaxes(xp.matmul(seen.astype(np.float64), xp.swapaxes(self._log_var, 1, 2)), 1, 2)
            constant = n_seen[:, None, :] * log2pi
        else:
            logdet, constant = self._logdet[:, :, None], self.dim * log2pi
        logp = -0.5 * (quad + (logdet + constant).astype(self.dtype))
        if self._n_partial(data):
            quad_o, logdet_o = self._observed_marginal(data)
            if mode == "sum":
                part = -0.5 * (quad_o + logdet_o + n_seen[ri, bi][:, None] * log2pi)
            else:
                part = -0.5 * (quad_o + self._logdet[ri] + self.dim * log2pi)
            logp[ri, :, bi] = part.astype(self.dtype)
        if mode == "sum":
            logp = xp.where(n_seen[:, None, :] > 0, logp, 0.0).astype(self.dtype)
        self._store(logp, values, scale, logs)

    def new_stats(self):
        """Flow, flow-weighted x and x x^T (float64), and the flow of unobserved rows."""
        xp = self.backend.xp
        r, k, d = self.n_regions, self.n_units, self.dim
        return [xp.zeros((r, k)), xp.zeros((r, k, d)), xp.zeros((r, k, d, d)), xp.zeros((r, k))]

    def accumulate(self, stats, data, flow):
        """Add the statistics of a batch: observed ones for complete rows, the moments of
        the conditional distribution for partly observed rows, and the flow of rows with
        none of the region's values (their expectation is added in :meth:`sufficient`)."""
        xp = self.backend.xp
        x, seen, n_seen, (ri, bi) = data
        flow = flow.astype(np.float64)
        x = x.astype(np.float64)
        stats[3] += (flow * (n_seen == 0)[:, None, :]).sum(axis=2)
        f = flow * (n_seen > 0)[:, None, :]  # (r, k, batch)
        stats[0] += f.sum(axis=2)
        if self.diagonal:  # a missing value's conditional mean and variance are the unit's own
            filled = xp.where(seen[:, None, :, :], x[:, None, :, :], self._mean64[:, :, None, :])
            missing_var = xp.matmul(f, (~seen).astype(np.float64)) * self._var64  # (r, k, d)
            extra = missing_var[..., None] * self._eye
        elif not self._n_partial(data):  # complete rows
            stats[1] += xp.matmul(f, x)
            stats[2] += xp.matmul(xp.swapaxes(f[:, :, :, None] * x[:, None, :, :], 2, 3), x[:, None, :, :])
            return
        else:  # partly observed rows count as their conditional means plus covariances
            cmean, ccov = self._observed_conditional(data, with_cov=True)
            filled = xp.broadcast_to(x[:, None], (*flow.shape, self.dim)).copy()  # (r, k, batch, d)
            filled[ri, :, bi] = cmean
            # ri is non-decreasing (the pairs come from nonzero on (region, row))
            self.backend.add_sorted(stats[2], ri, flow[ri, :, bi][..., None, None] * ccov)
            extra = 0.0
        weighted = f[..., None] * filled
        stats[1] += weighted.sum(axis=2)
        stats[2] += xp.matmul(xp.swapaxes(weighted, 2, 3), filled) + extra

    def sufficient(self, stats):
        """``(S_1, S_x, S_xx)``: unobserved rows contribute ``[1, mu, Sigma + mu mu^T]``."""
        s0, s1, s2, missing = stats
        mu, cov = self._mean64, self._cov64
        return (
            s0 + missing,
            s1 + missing[..., None] * mu,
            s2 + missing[..., None, None] * (cov + mu[..., :, None] * mu[..., None, :]),
        )

    def m_step(self, suff, pseudocount, prior_share=1.0):
        """``mean = S_x / S_1``, ``cov = S_xx / S_1 - mean mean^T + reg_covar I`` with its
        eigenvalues floored at ``min_var``; units without flow keep their parameters. Like
        :class:`Gaussian`, no pseudocount. ``prior_share`` of ``cov_prior``'s pseudo-rows
        enter (see :mod:`skpc.solvers.base`)."""
        xp = self.backend.xp
        s0, s1, s2 = suff
        has_mass = s0 > 1e-12
        safe = xp.where(has_mass, s0, 1.0)
        mean = s1 / safe[..., None]
        cov = s2 / safe[..., None, None] - mean[..., :, None] * mean[..., None, :]
        if self.cov_prior:  # a unit's shortfall of flow, as pseudo-rows of Psi (class docstring)
            w = shortfall(xp, s0, self.cov_prior, prior_share)[..., None, None]
            n = safe[..., None, None]
            cov = (n * cov + w * self._prior_cov[:, None]) / (n + w)
        cov = self._shaped(xp, cov + self.reg_covar * self._eye)
        mean = xp.where(has_mass[..., None], mean, self._mean64)
        cov = xp.where(has_mass[..., None, None], cov, self._cov64)
        return (mean.astype(self.dtype), cov.astype(self.dtype))

    def node_flow(self, suff):
        return suff[0]

    def unit_means(self, data):
        """``E_k[x | observed values of the region]`` of every unit, ``(r, k, batch, d)``."""
        xp = self.backend.xp
        x, seen, _, (ri, bi) = data
        out = xp.where(seen[:, None, :, :], x[:, None, :, :].astype(np.float64), self._mean64[:, :, None, :])
        if self._n_partial(data):
            out[ri, :, bi] = self._observed_conditional(data)[0]
        return out

    def pick(self, X, units, rng, mode):
        """Values ``(r, n, d)`` for chosen units ``(r, n)`` (-1: none): observed entries
        are kept, missing ones drawn from (``"sample"``) or set to the mean of (``"argmax"``)
        the chosen unit's conditional distribution given the region's observed entries."""
        xp = self.backend.xp
        x, miss = self.columns(X)
        seen = ~miss
        k = xp.maximum(units, 0)
        rows = xp.arange(self.n_regions)[:, None]
        mu = self._mean64[rows, k]  # (r, n, d)
        diff = xp.where(seen, x.astype(np.float64) - mu, 0.0)
        g = xp.matmul(self._prec64[rows, k], diff[..., None])[..., 0]
        value, ccov = self._conditional(rows, k, mu, diff, g, seen, mode == "sample")
        if mode == "sample":
            # The symmetric square root, by eigendecomposition: the conditional covariance
            # is singular on the observed dimensions (their draws are discarded) and may be
            # near singular elsewhere, where a Cholesky factor fails; unlike V sqrt(W) it
            # does not depend on the signs of the eigenvectors (which rounding can flip).
            w, v = xp.linalg.eigh(0.5 * (ccov + xp.swapaxes(ccov, -1, -2)))
            root = xp.matmul(v * xp.sqrt(xp.maximum(w, 0.0))[..., None, :], xp.swapaxes(v, -1, -2))
            z = rng.standard_normal(units.shape + (self.dim,), dtype=np.float64)
            value = value + xp.matmul(root, z[..., None])[..., 0]
        return xp.where(miss & (units >= 0)[..., None], value.astype(x.dtype), x)


def shortfall(xp, s0, share, prior_share):
    """Pseudo-rows of a prior for the units short of rows (``cov_prior``, ``var_prior``):
    each unit's flow ``s0`` ``(r, k)`` below ``share`` of its region's flow, times
    ``prior_share`` (the share of the statistics that an update takes as new)."""
    return prior_share * xp.maximum(share * s0.sum(axis=1, keepdims=True) - s0, 0.0)


def floor_eigenvalues(xp, cov, floor, dtype=np.float64):
    """Symmetric matrices ``(..., d, d)`` with their eigenvalues raised to at least ``floor``.

    Rounding the entries to ``dtype`` moves the eigenvalues by up to ``sqrt(d) * eps / 2 *
    lambda_max``, which can make a matrix with many eigenvalues at a small floor
    indefinite in float32 (collinear columns, clusters of few rows). The matrices whose
    rounded copy would keep less than half the floor have their eigenvalues raised to
    ``d * eps * lambda_max`` too, which rounding cannot undo; the others are untouched."""
    w, v = xp.linalg.eigh(cov)

    def rebuild(lowest):
        return xp.matmul(v * xp.maximum(w, lowest)[..., None, :], xp.swapaxes(v, -1, -2))

    out = rebuild(floor)
    if np.dtype(dtype) == np.float64:
        return out
    rounded = xp.linalg.eigvalsh(out.astype(dtype).astype(np.float64))[..., :1]
    lost = rounded < floor / 2
    if not bool(lost.any()):
        return out
    safe = xp.maximum(floor, cov.shape[-1] * np.finfo(dtype).eps * w[..., -1:])
    return rebuild(xp.where(lost, safe, floor))
