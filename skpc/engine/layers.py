"""The folded sum layer: every region of one height and shape, as one batched operation.

A sum layer gathers its regions' products from the circuit's value buffer (log-space
additions: Hadamard products, or outer sums for Kronecker products) and mixes them with
a log-matmul-exp. Values are laid out ``(folds, batch, units)`` so that each fold is one
contiguous row-major matrix and every product stays on the BLAS path.
"""

import numpy as np


def _as_ref(index, xp):
    """A slice when ``index`` is a contiguous range (a view, no copy), else an index array."""
    index = np.asarray(index, dtype=np.int64)
    if len(index) and np.array_equal(index, np.arange(index[0], index[0] + len(index))):
        return slice(int(index[0]), int(index[0]) + len(index))
    return xp.asarray(index)


def _ref_rows(ref, xp):
    if isinstance(ref, slice):
        return xp.arange(ref.start, ref.stop)
    return ref


class SumLayer:
    """Sum units of ``F`` regions, each mixing the products of its partitions.

    Parameters
    ----------
    rows : slice
        Buffer rows this layer writes (one per region).
    parts : list of ndarray of shape (F, arity)
        For each partition position, the buffer rows of the children of each region.
    n_units : int
        Units per child region (k).
    n_out : int
        Sum units per region (k, or 1 at the root).
    product : {"hadamard", "kronecker"}
    backend : Backend
    dtype : numpy dtype
    rng : numpy.random.Generator
    """

    kind = "sum"

    def __init__(self, rows, parts, n_units, n_out, product, backend, dtype, rng):
        xp = backend.xp
        self.backend, self.dtype = backend, np.dtype(dtype)
        self.rows, self.n_units, self.n_out, self.product = rows, n_units, n_out, product
        self.n_folds = rows.stop - rows.start
        self.parts = [np.asarray(p, dtype=np.int64) for p in parts]
        # Children of one position are scatter targets in the backward pass; repeated
        # rows (shared child regions) must be accumulated with scatter-add.
        self.refs = [[_as_ref(p[:, a], xp) for a in range(p.shape[1])] for p in self.parts]
        self.repeated = [[len(np.unique(p[:, a])) < len(p) for a in range(p.shape[1])] for p in self.parts]
        self.part_size = n_units if product == "hadamard" else n_units * n_units
        self.n_in = self.part_size * len(parts)
        w = np.exp(-2.0 * rng.random((self.n_folds, n_out, self.n_in)))
        self.set_params((xp.asarray(w.astype(self.dtype)),), normalise=True)

    # -- parameters -------------------------------------------------------------------
    def set_params(self, params, normalise=False):
        xp = self.backend.xp
        (w,) = params
        if normalise:
            w = w / w.sum(axis=2, keepdims=True)
        self.weights = w.astype(self.dtype, copy=False)
        self._weights_t = xp.ascontiguousarray(xp.transpose(self.weights, (0, 2, 1)))
        with np.errstate(divide="ignore"):
            self.log_weights = xp.log(self.weights)

    @property
    def params(self):
        return (self.weights,)

    def new_stats(self):
        return [self.backend.xp.zeros_like(self.weights)]

    def sufficient(self, stats):
        """Edge flows ``F(n, c) = theta[n, c] * sum_b G[b, n] E[b, c]``."""
        return (self.weights * stats[0],)

    def m_step(self, suff, pseudocount):
        (flows,) = suff
        total = flows.sum(axis=2, keepdims=True)
        return ((flows + pseudocount / self.n_in) / (total + pseudocount),)

    def node_flow(self, suff):
        return suff[0].sum(axis=2)

    # -- passes -------------------------------------------------------------------------
    def gather(self, buf, out):
        """Log-values of all products, ``out[f, b, :]`` of shape (F, B, n_in)."""
        k = self.n_units
        for p, refs in enumerate(self.refs):
            block = out[:, :, p * self.part_size : (p + 1) * self.part_size]
            if self.product == "hadamard":
                block[...] = buf[refs[0]]
                for ref in refs[1:]:
                    block += buf[ref]
            else:
                a, c = buf[refs[0]], buf[refs[1]]
                block.reshape(self.n_folds, -1, k, k)[...] = a[:, :, :, None] + c[:, :, None, :]

    def forward(self, buf, prod, scale, mode="sum"):
        """Mix the products ``prod`` (gathered here) into ``buf[rows]``.

        In ``"sum"`` mode ``prod`` is left holding ``exp(prod - max)`` and ``scale`` the
        mixed values before the log, both reused by the backward pass; in ``"max"`` mode
        ``prod`` keeps the raw log-products for the argmax descent.
        """
        xp = self.backend.xp
        self.gather(buf, prod)
        out = buf[self.rows]
        if mode == "max":
            best = (self.log_weights[:, None, :, :] + prod[:, :, None, :]).max(axis=3)
            out[:, :, : self.n_out] = best
            return
        m = prod.max(axis=2, keepdims=True)
        prod -= m
        xp.exp(prod, out=prod)
        xp.matmul(prod, self._weights_t, out=scale)
        # Guard log(0) when every product is negligible next to tiny weights.
        xp.maximum(scale, np.finfo(self.dtype).tiny, out=scale)
        if self.n_out == out.shape[2]:
            xp.log(scale, out=out)
            out += m
        else:
            out[:, :, : self.n_out] = xp.log(scale) + m

    def backward(self, flow, prod, scale, stats):
        """Push flows from ``flow[rows]`` to the children; add edge statistics to ``stats``."""
        xp = self.backend.xp
        g = flow[self.rows][:, :, : self.n_out] / scale  # (F, B, n_out)
        stats[0] += xp.matmul(xp.transpose(g, (0, 2, 1)), prod)
        back = xp.matmul(g, self.weights)
        back *= prod  # product flows, (F, B, n_in)
        k = self.n_units
        for p, refs in enumerate(self.refs):
            block = back[:, :, p * self.part_size : (p + 1) * self.part_size]
            if self.product == "hadamard":
                pieces = [block] * len(refs)
            else:
                block = block.reshape(self.n_folds, -1, k, k)
                pieces = [block.sum(axis=3), block.sum(axis=2)]
            for ref, repeated, piece in zip(refs, self.repeated[p], pieces):
                if repeated:
                    self.backend.scatter_add(flow, ref, piece)
                else:
                    flow[ref] += piece

    def choose(self, units, prod, rng, mode):
        """Pick one product per active sum unit and mark the chosen children's units.

        ``units[r, n]`` is the unit of region r used by sample n (-1: region unused).
        """
        xp = self.backend.xp
        o = units[self.rows]  # (F, N)
        active = o >= 0
        fold = xp.arange(self.n_folds)[:, None]
        oc = xp.maximum(o, 0)
        if mode == "sample":
            w = self.weights[fold, oc] * prod  # (F, N, n_in), posterior given the evidence
            cum = xp.cumsum(w, axis=2)
            u = rng.random(o.shape, dtype=self.dtype)[..., None] * cum[..., -1:]
            choice = xp.minimum((cum <= u).sum(axis=2), self.n_in - 1)
        else:
            choice = xp.argmax(self.log_weights[fold, oc] + prod, axis=2)
        n = xp.arange(o.shape[1])[None, :]
        k = self.n_units
        for p, refs in enumerate(self.refs):
            local = choice - p * self.part_size
            inside = active & (local >= 0) & (local < self.part_size)
            if self.product == "hadamard":
                targets = [local] * len(refs)
            else:
                targets = [local // k, local % k]
            for ref, target in zip(refs, targets):
                child = xp.broadcast_to(_ref_rows(ref, xp)[:, None], o.shape)
                units[child[inside], xp.broadcast_to(n, o.shape)[inside]] = target[inside]
