"""Fused CPU passes of a sum layer whose partitions are flat (Hadamard), compiled by numba.

numpy runs a layer as a dozen separate calls, each a pass over every (region, unit, row)
value of the layer, and pays its call overhead on each; at k <= 64 those passes, not the
matrix products, take most of an epoch. These kernels do the same arithmetic one region
(fold) at a time: the product of the children, the common scale of the partitions, the
mixing (one BLAS call), the normalisation and the log-scale, and in the backward pass the
ratios flow / value, the edge statistics, the product flows and the children's flows, all
while the fold's few (units x rows) arrays sit in cache, and without the GIL (so the tiles
of :mod:`skpc.engine.parallel` overlap fully).

They are optional: without numba (``pip install 'skpc[fast]'``), or with
:data:`ENABLED` set to False, :class:`~skpc.engine.layers.SumLayer` runs its numpy code,
which stays the reference (tests compare the two). Only the sum pass of the CPU's scaled
linear space is fused; an underflow, the max-product pass, Kronecker partitions and the
GPU take the numpy path.
"""

import numpy as np

try:
    import numba
except ImportError:  # the optional extra is not installed
    numba = None

#: Use the compiled kernels when numba is installed (tests switch them off to compare).
ENABLED = numba is not None


def available():
    return ENABLED and numba is not None


# Loops index the arrays directly: numba vectorises them, while slicing views inside a loop
# costs as much as numpy's own passes.


def _forward(values, scale, children, bounds, weights, prod, mixed, pscale, first_row, top):
    """Write the layer's normalised values into ``values``, their maxima over units into
    ``top`` (F, B) and the products' log-scales into ``pscale``; the caller adds the log
    of ``top`` (numpy's vectorised log is faster than a scalar one per row)."""
    n_folds, n_parts = children.shape[0], bounds.shape[0] - 1
    k, n = values.shape[1], values.shape[2]
    n_out = weights.shape[1]
    part_scale = np.empty((n_parts, n), np.float64)
    factor = np.empty(n, np.float64)
    denominator = np.empty(n, mixed.dtype)
    for f in range(n_folds):
        for p in range(n_parts):
            start = p * k
            c = children[f, bounds[p]]
            for j in range(k):
                for b in range(n):
                    prod[f, start + j, b] = values[c, j, b]
            for b in range(n):
                part_scale[p, b] = scale[c, b]
            for a in range(bounds[p] + 1, bounds[p + 1]):
                c = children[f, a]
                for j in range(k):
                    for b in range(n):
                        prod[f, start + j, b] *= values[c, j, b]
                for b in range(n):
                    part_scale[p, b] += scale[c, b]
        for b in range(n):
            pscale[f, b] = part_scale[0, b]
        for p in range(1, n_parts):
            for b in range(n):
                pscale[f, b] = max(pscale[f, b], part_scale[p, b])
        if n_parts > 1:  # bring all partitions to one scale before mixing them
            for p in range(n_parts):
                for b in range(n):
                    factor[b] = np.exp(part_scale[p, b] - pscale[f, b])
                for j in range(p * k, (p + 1) * k):
                    for b in range(n):
                        prod[f, j, b] *= factor[b]
        np.dot(weights[f], prod[f], mixed[f])
        for b in range(n):
            top[f, b] = mixed[f, 0, b]
        for o in range(1, n_out):
            for b in range(n):
                top[f, b] = max(top[f, b], mixed[f, o, b])
        for b in range(n):
            # A zero maximum is a probability-zero event: values 0 (log-scale -inf).
            denominator[b] = top[f, b] if top[f, b] > 0 else 1
        row = first_row + f
        for o in range(n_out):
            for b in range(n):
                values[row, o, b] = mixed[f, o, b] / denominator[b]
    return 0


def _backward(flow, prod, mixed, weights_t, children, bounds, assign, first_row, stats):
    """Push the flows of the layer's regions to their children; add edge statistics."""
    n_folds, n_parts = children.shape[0], bounds.shape[0] - 1
    k, n = flow.shape[1], flow.shape[2]
    n_out, n_in = mixed.shape[1], prod.shape[1]
    ratio = np.empty((n_out, n), mixed.dtype)
    back = np.empty((n_in, n), prod.dtype)
    for f in range(n_folds):
        row = first_row + f
        for o in range(n_out):
            for b in range(n):
                ratio[o, b] = flow[row, o, b] / mixed[f, o, b]
        edges = np.dot(ratio, prod[f].T)
        for o in range(n_out):
            for i in range(n_in):
                stats[f, o, i] += edges[o, i]
        np.dot(weights_t[f], ratio, back)
        for i in range(n_in):  # product flows
            for b in range(n):
                back[i, b] *= prod[f, i, b]
        for p in range(n_parts):
            start = p * k
            for a in range(bounds[p], bounds[p + 1]):
                c = children[f, a]
                if assign[f, a]:
                    for j in range(k):
                        for b in range(n):
                            flow[c, j, b] = back[start + j, b]
                else:
                    for j in range(k):
                        for b in range(n):
                            flow[c, j, b] += back[start + j, b]
    return 0


if numba is not None:
    # error_model="numpy": a division by zero gives inf or NaN as in numpy, not an exception.
    _forward = numba.njit(nogil=True, cache=True, error_model="numpy")(_forward)
    _backward = numba.njit(nogil=True, cache=True, error_model="numpy")(_backward)

forward = _forward
backward = _backward
