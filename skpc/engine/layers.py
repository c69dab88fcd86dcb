"""The folded sum layer: every region of one height and shape, as one batched operation.

Values are stored in *scaled linear space*: region r holds ``values[r]`` of shape
``(units, batch)`` with its maximum over units equal to 1, and a log-scale
``scale[r]`` of shape ``(batch,)``; the log-value of unit k is
``log(values[r, k]) + scale[r]``. Products are then plain multiplications, the mixing is
one matrix product per fold, and the only logarithm per layer is of the ``(batch,)``
maxima -- no ``exp``/``log`` per unit, which dominate a log-space engine on a CPU. When a
product underflows (children that disagree sharply), the layer recomputes that batch in
log space with the max trick, so results stay exact to working precision. On a GPU the
layer always takes that log-space path: there exp is cheap, and the underflow test would
cost a host round trip per layer.

Arrays are laid out ``(folds, units, batch)``: the batch is the contiguous axis, so the
reductions over units and every matrix product stay on fast vectorised paths.
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


#: Initial log-weights are uniform on [-spread, 0]. Kronecker layers mix k^2 products, and
#: from near-uniform weights the k sum units of a region stay near-identical for many
#: epochs (a symmetric plateau); a wider spread breaks the symmetry. Chosen on validation
#: data (benchmarks/RESULTS_structures.md): Poon-Domingos and RAT-SPN on digits gain 4-6
#: nats, while for Hadamard (HCLT) layers the wider spread overfits jester and dna.
INIT_LOG_SPREAD = {"hadamard": 2.0, "kronecker": 8.0}


#: A scoring pass leaves a row of a region unnormalised when its maximum is at least this:
#: a parent's products then lose at most this factor per child before its own maximum is
#: checked against the underflow guard (two children at 2^-32 leave 5e-20, 11 decades above
#: float32's guard). Measured, scoring plants and images k=32: 2^-48 sent images to the
#: log-space path 14 times per pass, 2^-32 never, and normalised fewer rows than 2^-16
#: (1.05-1.09x).
LAZY_FLOOR = 2.0**-32


def underflow_guard(dtype):
    """Below this maximum a mixed value may have lost terms to underflow."""
    info = np.finfo(dtype)
    return float(info.tiny / info.eps)


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
        self.refs = [[_as_ref(p[:, a], xp) for a in range(p.shape[1])] for p in self.parts]
        # A Kronecker partition of two children holds k^2 products; a partition with one
        # child (in either kind of graph) holds that child's k units ("flat": unit j of
        # the partition is unit j of every child).
        self.flat = [product == "hadamard" or p.shape[1] == 1 for p in self.parts]
        self.part_sizes = [n_units if flat else n_units * n_units for flat in self.flat]
        self.offsets = np.cumsum([0, *self.part_sizes]).tolist()
        self.n_in = self.offsets[-1]
        self.one_child = len(self.parts) == 1 and self.parts[0].shape[1] == 1
        self.guard = underflow_guard(self.dtype)
        self.tiniest = self.dtype.type(np.finfo(self.dtype).smallest_subnormal)
        w = np.exp(-INIT_LOG_SPREAD[product] * rng.random((self.n_folds, n_out, self.n_in)))
        self.set_params((xp.asarray(w.astype(self.dtype)),), normalise=True)

    def plan_flow_writes(self, written):
        """Decide how each child position receives its flow in the backward pass.

        ``written`` holds the buffer rows that layers above (earlier in the backward
        pass) have already written. A child first reached here is assigned (no buffer
        zeroing per batch); one reached before is added to; rows shared within this
        layer need a scatter-add. Rows first reached by a partial position are zeroed
        just before.
        """
        xp = self.backend.xp
        self.flow_ops = []
        for part in self.parts:
            ops = []
            for a in range(part.shape[1]):
                rows = part[:, a]
                fresh = np.unique(rows[~np.isin(rows, list(written))])
                zero = _as_ref(fresh, xp) if len(fresh) else None
                if len(np.unique(rows)) < len(rows):
                    ops.append(("scatter", zero))
                elif len(fresh) == len(rows):
                    ops.append(("assign", None))
                else:
                    ops.append(("add", zero))
                written.update(rows.tolist())
            self.flow_ops.append(ops)
        # One flat partition whose first child is a contiguous block first reached here:
        # the backward pass writes the product flows straight into that child's flows.
        self.direct = (len(self.parts) == 1 and self.flat[0] and self.flow_ops[0][0] == ("assign", None)
                       and isinstance(self.refs[0][0], slice))

    def plan_exact_logs(self, rows):
        """Note which children's exact log-values the log-space path reads from ``logs``.

        Values are stored normalised to a maximum of 1 per region, so a unit far below its
        region's best underflows to 0 -- yet its product with another child's units may be
        the largest. Input layers whose values can underflow (Gaussian) keep their exact
        log-densities; for each child position this plans which folds read them.
        """
        exact = np.asarray(sorted(rows), dtype=np.int64)
        self.exact_refs = []
        for part in self.parts:
            plan = []
            for a in range(part.shape[1]):
                folds = np.flatnonzero(np.isin(part[:, a], exact))
                if len(folds) == 0:
                    plan.append(None)
                elif len(folds) == self.n_folds:
                    plan.append("all")
                else:
                    xp = self.backend.xp  # a list, not a tuple: Circuit.to moves lists
                    plan.append([xp.asarray(folds), xp.asarray(part[folds, a])])
            self.exact_refs.append(plan)

    # -- parameters -------------------------------------------------------------------
    def set_params(self, params, normalise=False):
        xp = self.backend.xp
        (w,) = params
        if normalise:
            w = w / w.sum(axis=2, keepdims=True)
        self.weights = xp.ascontiguousarray(w.astype(self.dtype, copy=False))
        self._weights_t = xp.ascontiguousarray(xp.transpose(self.weights, (0, 2, 1)))

    @property
    def params(self):
        return (self.weights,)

    def new_stats(self):
        return [self.backend.xp.zeros_like(self.weights)]

    def sufficient(self, stats):
        """Edge flows ``F(n, c) = theta[n, c] * sum_b G[n, b] prod[c, b]``."""
        return (self.weights * stats[0],)

    def m_step(self, suff, pseudocount, prior_share=1.0):
        (flows,) = suff
        total = flows.sum(axis=2, keepdims=True)
        return ((flows + pseudocount / self.n_in) / (total + pseudocount),)

    def node_flow(self, suff):
        return suff[0].sum(axis=2)

    # -- upward pass --------------------------------------------------------------------
    def _blocks(self, prod):
        return [prod[:, a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:])]

    def _products(self, values, scale, prod, pscale):
        """Linear products of the children; ``pscale`` gets their common log-scale."""
        xp = self.backend.xp
        k = self.n_units
        blocks = self._blocks(prod)
        part_scales = []
        for i, (refs, flat, block) in enumerate(zip(self.refs, self.flat, blocks)):
            if not flat:
                a, c = values[refs[0]], values[refs[1]]
                xp.multiply(a[:, :, None, :], c[:, None, :, :], out=block.reshape(self.n_folds, k, k, -1))
            elif len(refs) == 1:
                block[...] = values[refs[0]]
            else:  # the first product written straight into the block: no copy
                xp.multiply(values[refs[0]], values[refs[1]], out=block)
                for ref in refs[2:]:
                    block *= values[ref]
            # The log-scale of a single partition is written straight into pscale.
            s = pscale if i == 0 else xp.empty_like(pscale)
            if len(refs) == 1:
                s[...] = scale[refs[0]]
            else:
                xp.add(scale[refs[0]], scale[refs[1]], out=s)
                for ref in refs[2:]:
                    s += scale[ref]
            part_scales.append(s)
        if len(part_scales) > 1:  # bring all partitions to one scale before mixing them
            part_scales[0] = pscale.copy()
            for s in part_scales[1:]:
                xp.maximum(pscale, s, out=pscale)
            for s, block in zip(part_scales, blocks):
                block *= xp.exp(s - pscale)[:, None, :]

    def _log_products(self, values, scale, prod, pscale, exact):
        """The same products computed in log space with the max trick (underflow-safe).

        Children with exact log-values in ``exact`` (see :meth:`plan_exact_logs`) read
        them from there.
        """
        xp = self.backend.xp
        k = self.n_units
        with np.errstate(divide="ignore"):
            for refs, flat, plan, block in zip(self.refs, self.flat, self.exact_refs, self._blocks(prod)):
                logs = []
                for ref, how in zip(refs, plan):
                    if how == "all":
                        log = exact[ref]
                    else:
                        log = xp.log(values[ref]) + scale[ref][:, None, :]
                        if how is not None:
                            folds, rows = how
                            log[folds] = exact[rows]
                    logs.append(log)
                if flat:
                    block[...] = sum(logs[1:], logs[0])
                else:
                    out = block.reshape(self.n_folds, k, k, -1)
                    out[...] = logs[0][:, :, None, :] + logs[1][:, None, :, :]
        m = prod.max(axis=1)
        m = xp.where(xp.isfinite(m), m, 0.0).astype(self.dtype)
        prod -= m[:, None, :]
        xp.exp(prod, out=prod)
        pscale[...] = m

    def _mix(self, prod, mixed, mode):
        xp = self.backend.xp
        if mode == "max":
            mixed[...] = (self.weights[:, :, :, None] * prod[:, None, :, :]).max(axis=2)
        else:
            xp.matmul(self.weights, prod, out=mixed)

    def forward(self, values, scale, prod, mixed, pscale, mode="sum", exact=None, scoring=False):
        """Compute this layer's regions into ``values[rows]`` and ``scale[rows]``.

        ``prod`` (F, n_in, B), ``mixed`` (F, n_out, B) and ``pscale`` (F, B) are kept
        for the backward pass and the top-down descent. ``mode="max"`` replaces the sum
        by a max (the max-product pass). ``exact`` holds the exact log-values of the
        input rows that keep them (read by the log-space path).

        ``scoring=True`` (nothing but the layers above reads this pass, on a CPU): the
        mixing writes straight into ``values[rows]``, which stay unnormalised -- the
        log-scale is then the products' own, and the layers above read the values with it
        as they are (a pass fewer). Only a row whose maximum is below :data:`LAZY_FLOOR`
        is normalised, on its own: a row's values never depend on the other rows.
        """
        xp = self.backend.xp
        lazy = scoring and self.backend.name == "cpu" and self.n_out == values.shape[1]
        if lazy:  # the mixed values and their log-scale are the layer's own
            mixed, pscale = values[self.rows], scale[self.rows]
        if self.backend.name == "cpu":
            if lazy and self.one_child:  # the products are the child's values: mix them in place
                pscale[...] = scale[self.refs[0][0]]
                self._mix(values[self.refs[0][0]], mixed, mode)
            else:
                self._products(values, scale, prod, pscale)
                self._mix(prod, mixed, mode)
            top = mixed.max(axis=1)
            low = top.min(initial=np.inf)  # free on a CPU: no device to wait for
            if low < self.guard:
                self._log_products(values, scale, prod, pscale, exact)
                self._mix(prod, mixed, mode)
                top = mixed.max(axis=1)
                low = top.min(initial=np.inf)
        else:
            # On a GPU exp is cheap and a host round trip per layer is not: always take
            # the underflow-safe path, so an epoch never waits on the host.
            self._log_products(values, scale, prod, pscale, exact)
            self._mix(prod, mixed, mode)
            top = mixed.max(axis=1)
        if lazy:
            if low < LAZY_FLOOR:  # rare: normalise those rows alone, so no row depends on another
                f, b = xp.nonzero(top < LAZY_FLOOR)
                with np.errstate(divide="ignore"):
                    values[self.rows][f, :, b] /= xp.maximum(top[f, b], self.tiniest)[:, None]
                    scale[self.rows][f, b] += xp.log(top[f, b].astype(np.float64))
            return
        with np.errstate(divide="ignore"):
            # A zero maximum is a probability-zero event: values 0, log-scale -inf.
            out = scale[self.rows]
            xp.log(top, out=out, dtype=np.float64)
            out += pscale
            # Dividing by the smallest positive number instead of 0 keeps zero values 0.
            denominator = xp.maximum(top, self.tiniest, out=top)[:, None, :]
            if self.n_out == values.shape[1]:
                xp.divide(mixed, denominator, out=values[self.rows])
            else:
                values[self.rows, : self.n_out] = mixed / denominator

    # -- downward passes --------------------------------------------------------------
    def backward(self, flow, prod, mixed, stats):
        """Push flows from ``flow[rows]`` to the children; add edge statistics to ``stats``."""
        xp = self.backend.xp
        # Nothing reads this layer's flows after this: the ratios overwrite them.
        g = flow[self.rows][:, : self.n_out]
        xp.divide(g, mixed, out=g)  # (F, n_out, B)
        stats[0] += xp.matmul(g, xp.transpose(prod, (0, 2, 1)))
        if self.direct:  # the product flows are the first child's flows: computed in place
            back = flow[self.refs[0][0]]
            xp.matmul(self._weights_t, g, out=back)
        else:
            back = xp.matmul(self._weights_t, g)
        back *= prod  # product flows, (F, n_in, B)
        k = self.n_units
        for p, (refs, flat, block) in enumerate(zip(self.refs, self.flat, self._blocks(back))):
            if flat:
                pieces = [block] * len(refs)
            else:
                block = block.reshape(self.n_folds, k, k, -1)
                pieces = [block.sum(axis=2), block.sum(axis=1)]
            for a, (ref, (op, zero), piece) in enumerate(zip(refs, self.flow_ops[p], pieces)):
                if self.direct and a == 0:
                    continue
                if zero is not None:
                    flow[zero] = 0.0
                if op == "assign":
                    flow[ref] = piece
                elif op == "add":
                    flow[ref] += piece
                else:
                    self.backend.scatter_add(flow, ref, piece)

    def choose(self, units, prod, rng, mode):
        """Pick one product per active sum unit and mark the chosen children's units.

        ``units[r, n]`` is the unit of region r used by sample n (-1: region unused).
        """
        xp = self.backend.xp
        o = units[self.rows]  # (F, N)
        active = o >= 0
        fold = xp.arange(self.n_folds)[:, None]
        # Posterior of each product given the evidence: weight * product value.
        w = self.weights[fold, xp.maximum(o, 0)] * xp.transpose(prod, (0, 2, 1))  # (F, N, n_in)
        if mode == "sample":
            cum = xp.cumsum(w, axis=2)
            u = rng.random(o.shape, dtype=self.dtype)[..., None] * cum[..., -1:]
            choice = xp.minimum((cum <= u).sum(axis=2), self.n_in - 1)
        else:
            choice = xp.argmax(w, axis=2)
        n = xp.broadcast_to(xp.arange(o.shape[1])[None, :], o.shape)
        k = self.n_units
        for p, refs in enumerate(self.refs):
            local = choice - self.offsets[p]
            inside = active & (local >= 0) & (local < self.part_sizes[p])
            targets = [local] * len(refs) if self.flat[p] else [local // k, local % k]
            for ref, target in zip(refs, targets):
                child = xp.broadcast_to(_ref_rows(ref, xp)[:, None], o.shape)
                units[child[inside], n[inside]] = target[inside]
