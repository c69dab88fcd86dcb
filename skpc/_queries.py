"""Conditional queries on a fitted :class:`~skpc.PCDensityEstimator`.

Everything here works on the engine's codes (see :mod:`skpc.columns`: categorical
codes, standardised Gaussian values, NaN = missing) and on the estimator's fitted
circuit; the public, documented entry points are the estimator's methods
``conditional_marginals``, ``conditional_mean``, ``predict_mpe`` and
``conditional_log_prob``.

Conditional marginals come from one upward and one downward pass: with the missing
entries marginalised, the flow of an input unit of variable v is the posterior
probability that a top-down sample passes through it given the observed entries, and
those flows sum to one over the input units of v. So
``p(x_v = c | observed) = sum_n flow(n) * p_n(c)`` and
``E[x_v | observed] = sum_n flow(n) * E_n[x_v]``, exactly, for every missing v at once
(for a full-covariance Gaussian unit over several variables, ``E_n[x_v]`` is its mean
conditional on the observed variables of its region).
"""

import numpy as np

from skpc._backend import to_host

#: On the CPU, scoring passes run on chunks padded to a multiple of this many rows (with
#: all-missing rows): BLAS computes the last columns of a product that do not fill its
#: kernel's width by other code, so in float32 a row's score would otherwise depend (in
#: the 7th digit) on its position in the batch. Padded, a row's results do not depend on
#: its neighbours. (On a GPU, chunks are sized to the free memory and are not padded.)
ROW_MULTIPLE = 16


def padded(Z, backend):
    """The rows ``Z`` followed by all-missing rows up to a multiple of ``ROW_MULTIPLE``."""
    extra = -Z.shape[0] % ROW_MULTIPLE if backend.name == "cpu" else 0
    return np.concatenate([Z, np.full((extra, Z.shape[1]), np.nan, Z.dtype)]) if extra else Z


def marginals(est, X, columns=None):
    """Conditional marginals of every column given the observed entries of its row.

    Parameters
    ----------
    est : fitted PCDensityEstimator
    X : ndarray of shape (n_samples, n_features), NaN = missing
    columns : array-like of int, optional
        Only these columns (default: all).

    Returns
    -------
    probs : ndarray of shape (n_samples, n_columns, max_categories)
        ``probs[i, j, c] = p(x_j = c | observed entries of row i)`` for a missing
        categorical entry; a one-hot of the value for an observed one; zeros for
        Gaussian columns.
    mean : ndarray of shape (n_samples, n_columns)
        ``E[x_j | observed entries of row i]`` for a missing entry, the value itself for
        an observed one.
    """
    circuit = est.circuit_
    to_numpy = circuit.backend.to_numpy
    n, d = X.shape
    cols = np.arange(d) if columns is None else np.asarray(columns, dtype=np.int64)
    position = np.full(d, -1)
    position[cols] = np.arange(len(cols))
    n_codes = est.columns_.n_codes  # known levels and "unseen"
    probs = np.zeros((n, len(cols), max(1, int(n_codes.max()))))
    mean = np.zeros((n, len(cols)))
    for sl in circuit.chunks(n, est.batch_size):
        Xd = circuit.to_device(padded(X[sl], circuit.backend))
        ws = circuit.forward(Xd)
        circuit.backward(ws, circuit.new_stats())
        for leaf, rows, data in zip(circuit.leaves, circuit.leaf_rows, ws.inputs, strict=True):
            if leaf.kind == "multivariate_gaussian":
                _add_joint_means(leaf, data, ws.flow[rows], position, mean[sl], to_numpy)
                continue
            sel = np.flatnonzero(position[leaf.variables] >= 0)
            if not len(sel):
                continue
            on_device = circuit.backend.asarray(sel)
            flow = np.swapaxes(to_numpy(ws.flow[rows][on_device]), 1, 2).astype(np.float64)  # (r, b, k)
            flow = flow[:, : sl.stop - sl.start]  # without the padding rows
            if leaf.kind == "categorical":
                unit = np.swapaxes(to_numpy(leaf.probs[on_device]).astype(np.float64), 1, 2)  # (r, k, c)
                target, part = probs[sl], np.swapaxes(flow @ unit, 0, 1)  # (b, r, c)
                index = (slice(None), position[leaf.variables[sel]], slice(0, part.shape[2]))
            else:
                unit = to_numpy(leaf.mean[on_device]).astype(np.float64)[:, :, None]  # (r, k, 1)
                target, part = mean[sl], (flow @ unit)[:, :, 0].T  # (b, r)
                index = (slice(None), position[leaf.variables[sel]])
            if len(np.unique(index[1])) == len(index[1]):
                target[index] += part
            else:  # a variable with several input regions
                np.add.at(target, index, part)
    categorical = n_codes[cols] > 0
    probs[:, categorical] /= probs[:, categorical].sum(axis=2, keepdims=True)
    mean[:, categorical] = probs[:, categorical] @ np.arange(probs.shape[2])
    Xc = X[:, cols]
    observed = ~np.isnan(Xc)
    mean[observed] = Xc[observed]
    hot = observed & categorical
    probs[hot] = np.arange(probs.shape[2]) == Xc[hot][:, None]
    return probs, mean


def _add_joint_means(leaf, data, flow, position, target, to_numpy):
    """Add ``sum_k flow(k) * E_k[x_v | observed]`` of a full-covariance Gaussian layer.

    A unit's conditional mean of a missing dimension depends on the observed dimensions
    of its region (:meth:`~skpc.leaves.MultivariateGaussian.unit_means`).
    """
    wanted = position[leaf.variables] >= 0  # (r, d)
    if not wanted.any():
        return
    flow = to_numpy(flow).astype(np.float64)  # (r, k, b)
    means = to_numpy(leaf.unit_means(data))  # (r, k, b, d)
    part = np.einsum("rkb,rkbd->brd", flow, means)[: target.shape[0]]  # without the padding rows
    r, j = np.nonzero(wanted)
    np.add.at(target, (slice(None), position[leaf.variables[r, j]]), part[:, r, j])


def mpe(est, X, exact_limit):
    """Most probable completion of each row (see ``PCDensityEstimator.predict_mpe``)."""
    out = X.copy()
    miss = np.isnan(X)
    # log of the number of completions of each row; inf when a Gaussian entry is missing.
    with np.errstate(divide="ignore"):
        log_size = np.where(est.n_categories_ > 0, np.log(np.maximum(est.n_categories_, 1)), np.inf)
    log_count = np.where(miss, log_size, 0.0).sum(axis=1)
    exact = miss.any(axis=1) & (log_count <= np.log(max(exact_limit, 1)) + 1e-9)
    approx = miss.any(axis=1) & ~exact
    if exact.any():
        out[exact] = _enumerate(est, X[exact])
    if approx.any():
        start = est._descend(X[approx], "argmax", 0)
        out[approx] = _local_search(est, X[approx], start)
    return out


def _completions(x, n_categories):
    """Every completion of the missing (categorical) entries of one row."""
    cols = np.flatnonzero(np.isnan(x))
    grid = np.indices(n_categories[cols]).reshape(len(cols), -1).T
    rows = np.repeat(x[None, :], len(grid), axis=0)
    rows[:, cols] = grid
    return rows


def _enumerate(est, X, block=1 << 16):
    """Exact MPE by scoring every completion, several rows per pass of ``block`` rows."""
    out = np.empty_like(X)

    def flush(pending):
        candidates = np.concatenate([c for _, c in pending])
        ll = est._log_likelihood(candidates)
        start = 0
        for i, c in pending:
            out[i] = c[np.argmax(ll[start : start + len(c)])]
            start += len(c)

    pending, size = [], 0
    for i, x in enumerate(X):
        pending.append((i, _completions(x, est.n_categories_)))
        size += len(pending[-1][1])
        if size >= block:
            flush(pending)
            pending, size = [], 0
    if pending:
        flush(pending)
    return out


def _local_search(est, X, Y, max_sweeps=20, rtol=1e-5):
    """Coordinate ascent on p(x) over the missing categorical entries, from ``Y``.

    Each step sets one missing entry to its most probable value given all the others
    (exact, from :func:`marginals`), and only when that is more probable than the current
    one by a relative ``rtol``: p(Y) never decreases and the search ends.
    """
    Y = Y.copy()
    miss = np.isnan(X) & (est.n_categories_ > 0)
    active = miss.any(axis=1)  # rows not yet known to be coordinate-wise optimal
    for _ in range(max_sweeps):
        changed = np.zeros(len(X), dtype=bool)
        for j in np.flatnonzero(miss.any(axis=0)):
            rows = np.flatnonzero(miss[:, j] & active)
            if not len(rows):
                continue
            Z = Y[rows]
            Z[:, j] = np.nan
            p = marginals(est, Z, [j])[0][:, 0, : est.n_categories_[j]]  # known levels only
            current = p[np.arange(len(rows)), Y[rows, j].astype(np.int64)]
            best = p.argmax(axis=1)
            better = p[np.arange(len(rows)), best] > current * (1 + rtol)
            Y[rows[better], j] = best[better]
            changed[rows[better]] = True
        active = changed
        if not active.any():
            break
    return Y


def column_mask(spec, shape, name):
    """A boolean mask of ``shape`` from column indices or a (broadcastable) boolean mask."""
    n, d = shape
    spec = np.asarray(to_host(spec))
    if spec.dtype == bool:
        if spec.shape not in ((d,), (n, d)):
            raise ValueError(
                f"{name} as a boolean mask must have shape ({d},) or ({n}, {d}), got {spec.shape}."
            )
        return np.broadcast_to(spec, shape)
    if spec.ndim > 1 or (spec.size and not np.issubdtype(spec.dtype, np.integer)):
        raise ValueError(f"{name} must be column indices or a boolean mask, got {spec!r}.")
    mask = np.zeros(d, dtype=bool)
    for j in spec.ravel():
        if not -d <= j < d:
            raise ValueError(f"{name} column index {j} is out of range for {d} columns.")
        mask[j] = True
    return np.broadcast_to(mask, shape)


def conditional_means(est, X, Z, missing):
    """``X`` with each missing entry replaced by its exact conditional mean, in ``X``'s type.

    Gaussian columns: ``E[x_j | observed]``; categorical columns whose levels are
    numbers: the mean of the levels under ``p(x_j | observed)``; categorical columns
    with other levels (strings): the most probable level.
    """
    probs, fill = marginals(est, Z)
    columns = est.columns_
    means = {}
    for j in np.flatnonzero((columns.kinds == "categorical") & missing.any(axis=0)):
        p = probs[:, j, : columns.n_levels[j]]
        levels = columns.numeric_levels[j]
        fill[:, j] = p.argmax(axis=1)
        if levels is not None:
            means[j] = (p @ levels) / p.sum(axis=1)
    out = columns.complete(X, fill, missing)
    for j, mean in means.items():
        rows = np.flatnonzero(missing[:, j])
        if hasattr(out, "iloc"):
            out[out.columns[j]] = out.iloc[:, j].astype(np.float64)
            out.iloc[rows, j] = mean[rows]
        else:
            out[rows, j] = mean[rows]
    return out


def modes(est, Z):
    """Engine values that fill each missing entry with its most probable value given the
    observed entries of its row: the level for categorical columns (seen levels only),
    the conditional mean for Gaussian ones."""
    probs, fill = marginals(est, Z)
    for j in np.flatnonzero(est.columns_.kinds == "categorical"):
        fill[:, j] = probs[:, j, : est.n_categories_[j]].argmax(axis=1)
    return fill


def by_name(spec, names, label):
    """Column names in ``spec`` as indices (other specs unchanged)."""
    if spec is None or isinstance(spec, np.ndarray) and spec.dtype.kind in "biu":
        return spec
    items = [spec] if isinstance(spec, str) else list(spec) if np.ndim(spec) == 1 else None
    if items is None or not any(isinstance(v, str) for v in items):
        return spec
    if names is None:
        raise ValueError(f"{label} names columns ({items[:3]}), but the model was fitted without names.")
    index = {str(name): j for j, name in enumerate(names)}
    unknown = [v for v in items if isinstance(v, str) and v not in index]
    if unknown:
        raise ValueError(f"{label} names unknown column(s) {unknown}; the columns are {list(names)}.")
    return np.array([index[v] if isinstance(v, str) else v for v in items], dtype=np.int64)


def conditional_log_prob(est, X, query, evidence):
    """log p(x_query | x_evidence) per row, as a difference of two marginal passes."""
    query = column_mask(query, X.shape, "query")
    observed = ~np.isnan(X)
    evidence = observed & ~query if evidence is None else column_mask(evidence, X.shape, "evidence")
    if (query & evidence).any():
        i, j = np.argwhere(query & evidence)[0]
        raise ValueError(f"column {j} is both a query and an evidence column (row {i}).")
    unseen = (query | evidence) & ~observed
    if unseen.any():
        i, j = np.argwhere(unseen)[0]
        raise ValueError(f"row {i}, column {j} is a query or evidence entry but is NaN.")
    joint = np.where(query | evidence, X, np.nan)
    given = np.where(evidence, X, np.nan)
    return est._log_likelihood(joint) - est._log_likelihood(given)
