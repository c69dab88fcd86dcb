"""Compile a region graph into folded layers and run the passes over them.

All node values live in one buffer of shape ``(regions, k, batch)`` (in the scaled
linear space described in layers.py): input layers fill the first rows, then each sum
layer (all regions of one height and one shape) writes a contiguous block of rows. The
backward pass walks the same layers in reverse with a buffer of flows of the same shape.
Passes over more rows than one batch run in chunks, so memory is O(batch x units)
whatever the data size; on a GPU the chunks are also sized to its free memory.
"""

from collections import defaultdict

import numpy as np

from skpc._backend import CPU
from skpc.engine import parallel
from skpc.engine.layers import SumLayer
from skpc.engine.memory import MIN_CHUNK_ROWS, circuit_bytes, rows_that_fit

#: Kind of the input layers of regions over several variables (full-covariance Gaussians).
MULTIVARIATE = "multivariate_gaussian"


class _Workspace:
    """Buffers for one batch size, reused across batches (no allocation in the loop)."""

    def __init__(self, circuit, batch):
        xp, dtype = circuit.backend.xp, circuit.dtype
        shape = (circuit.n_rows, circuit.n_units, batch)
        self.batch = batch
        self.values = xp.ones(shape, dtype)
        # Log-scales are float64 whatever the dtype: they carry the log-likelihood, and a
        # float32 sum of per-layer logs would make a row's score depend on its position.
        self.scale = xp.zeros((circuit.n_rows, batch), np.float64)
        self.flow = xp.zeros(shape, dtype)
        # Exact log-densities of the input rows whose layer keeps them (Gaussian; see
        # SumLayer.plan_exact_logs); no buffer when no input layer keeps them.
        self.logs = (xp.zeros((circuit.n_input_rows, circuit.n_units, batch), dtype)
                     if any(leaf.exact_logs for leaf in circuit.leaves) else None)
        layers = circuit.sum_layers
        self.prods = [xp.empty((L.n_folds, L.n_in, batch), dtype) for L in layers]
        self.mixed = [xp.empty((L.n_folds, L.n_out, batch), dtype) for L in layers]
        self.pscales = [xp.empty((L.n_folds, batch), np.float64) for L in layers]
        self.inputs = [None] * len(circuit.leaves)
        self.stats = None  # a tile's own statistics (see Circuit.accumulate), made on first use
        self._scoring = None

    def scoring(self):
        """The same buffers for a pass that keeps no layer's products (scoring): every layer
        writes its products, mixed values and their log-scale into the largest layer's
        buffers, so they stay in cache instead of streaming one buffer per layer."""
        if self._scoring is None:
            view = self._scoring = _Workspace.__new__(_Workspace)
            vars(view).update(vars(self))
            view.prods, view.mixed, view.pscales = map(_shared, (self.prods, self.mixed, self.pscales))
        return self._scoring


def _shared(arrays):
    """Views of the same shapes as ``arrays``, all at the start of the largest one."""
    if not arrays:
        return []
    flat = max(arrays, key=lambda a: a.size).reshape(-1)
    return [flat[: a.size].reshape(a.shape) for a in arrays]


class Circuit:
    """A probabilistic circuit compiled from a region graph, with its parameters.

    Parameters
    ----------
    graph : RegionGraph
    n_units : int
        Units per region (k); the root has one.
    make_leaf : callable
        ``make_leaf(kind, variables)`` returns the input layer of that kind whose
        regions read the columns ``variables``: a list of one column per region, or for
        ``kind="multivariate_gaussian"`` an int array ``(regions, d)`` of each region's
        sorted columns.
    leaf_kinds : sequence of str
        Kind of input distribution of each variable.
    backend : Backend
    dtype : numpy dtype
    rng : numpy.random.Generator
        Source of the random initial weights.
    """

    def __init__(self, graph, n_units, make_leaf, leaf_kinds, backend, dtype, rng):
        graph.validate()
        self.graph, self.n_units, self.backend = graph, int(n_units), backend
        self.dtype = np.dtype(dtype)
        self.n_variables = graph.n_variables
        # Inner regions grouped by (height, shape): one sum layer per group, children first.
        heights = graph.heights()
        groups = defaultdict(list)
        for r in range(graph.n_regions):
            if not graph.is_input(r):
                parts = sorted(graph.partitions[r], key=len)
                n_out = 1 if r == graph.root else self.n_units
                groups[(int(heights[r]), tuple(len(p) for p in parts), n_out)].append((r, parts))
        groups = sorted(groups.items())
        # Input rows come first, in the order the layers read them, so that most gathers
        # of input regions are contiguous slices (views) rather than copies.
        consumption = []
        for _, members in groups:
            for p, part in enumerate(members[0][1]):
                for a in range(len(part)):
                    consumption += [m[1][p][a] for m in members if graph.is_input(m[1][p][a])]
        inputs = list(dict.fromkeys(consumption + graph.input_regions()))
        row = {}
        # One input layer per (kind, scope size): single-variable regions take their
        # column's kind; a region over several variables holds full-covariance Gaussian
        # units (MULTIVARIATE), so all its columns must be Gaussian ones.
        by_kind = defaultdict(list)
        for r in inputs:
            scope = tuple(graph.scopes[r])
            if len(scope) == 1:
                by_kind[(leaf_kinds[scope[0]], 1)].append(r)
                continue
            for v in scope:
                if leaf_kinds[v] != "gaussian":
                    raise ValueError(
                        f"input region {r} holds the variables {scope}, so it becomes full-covariance "
                        f"Gaussian units, but column {v} is {str(leaf_kinds[v])!r}: an input region over "
                        "several variables needs Gaussian columns only (set leaf='gaussian' for them, "
                        "or split the region)."
                    )
            by_kind[(MULTIVARIATE, len(scope))].append(r)
        self.leaves, self.leaf_rows = [], []
        for kind, size in sorted(by_kind):
            regions = by_kind[(kind, size)]
            start = len(row)
            row.update({r: start + i for i, r in enumerate(regions)})
            if size == 1:
                variables = [graph.scopes[r][0] for r in regions]
            else:
                variables = np.array([sorted(graph.scopes[r]) for r in regions], dtype=np.int64)
            self.leaves.append(make_leaf(kind, variables))
            self.leaf_rows.append(slice(start, len(row)))
        self.sum_layers = []
        for (_, arities, n_out), members in groups:
            start = len(row)
            for i, (r, _) in enumerate(members):
                row[r] = start + i
            parts = [np.array([[row[c] for c in m[1][p]] for m in members]) for p in range(len(arities))]
            self.sum_layers.append(
                SumLayer(slice(start, len(row)), parts, self.n_units, n_out, graph.product,
                         backend, self.dtype, rng)
            )
        self.n_rows = len(row)
        self.root_row = row[graph.root]
        self.n_input_rows = self.leaf_rows[-1].stop if self.leaves else 0
        exact = [r for leaf, rows in zip(self.leaves, self.leaf_rows) if leaf.exact_logs
                 for r in range(rows.start, rows.stop)]
        for layer in self.sum_layers:
            layer.plan_exact_logs(exact)
        n_categories = np.zeros(self.n_variables, dtype=np.int64)
        for leaf in self.leaves:
            if leaf.kind == "categorical":
                n_categories[leaf.variables] = leaf.n_categories
        # Bytes of the parameters and of one row's workspace, for sizing chunks on a GPU.
        diagonal = any(getattr(leaf, "diagonal", False) for leaf in self.leaves)
        self.parameter_bytes, self.row_bytes = circuit_bytes(
            graph, self.n_units, leaf_kinds, n_categories, 1, self.dtype, diagonal)
        written = {self.root_row}
        for layer in self.sum_layers[::-1]:
            layer.plan_flow_writes(written)
        self._workspaces = {}
        self.n_weights = sum(p.size for layer in self.sum_layers for p in layer.params)

    # -- parameters -----------------------------------------------------------------------
    @property
    def blocks(self):
        """Everything that holds parameters: input layers, then sum layers."""
        return self.leaves + self.sum_layers

    def get_params(self):
        return [b.params for b in self.blocks]

    def set_params(self, params):
        for block, p in zip(self.blocks, params):
            block.set_params(p)

    def new_stats(self):
        return [b.new_stats() for b in self.blocks]

    def sufficient(self, stats):
        """Per-parameter statistics (expected ones for missing values) from raw stats."""
        return [b.sufficient(s) for b, s in zip(self.blocks, stats)]

    def n_parameters(self):
        """Entries of the parameter arrays (what they occupy in memory)."""
        return int(sum(p.size for params in self.get_params() for p in params))

    def n_free_parameters(self):
        """Free parameters, as BIC counts them (a symmetric or diagonal covariance counts
        its distinct entries): what the capacity search compares."""
        return int(sum(b.n_free_parameters() if hasattr(b, "n_free_parameters")
                       else sum(p.size for p in b.params) for b in self.blocks))

    # -- passes ---------------------------------------------------------------------------
    @property
    def threads(self):
        """Threads the tiles of a pass run on (:func:`skpc.engine.parallel.threads_for`)."""
        return parallel.threads_for(self.n_weights)

    def workspace(self, batch, slot=0):
        """The buffers of a pass over ``batch`` rows; ``slot`` tells apart those used at once."""
        key = (batch, slot)
        ws = self._workspaces.get(key)
        if ws is None:
            # A full batch or tile, a last partial one, the top-down row, for each slot.
            if len(self._workspaces) >= 3 * parallel.THREADS:
                self._workspaces.pop(next(iter(self._workspaces)))
            ws = self._workspaces[key] = _Workspace(self, batch)
        return ws

    def forward(self, X, mode="sum"):
        """Upward pass over one batch; returns the workspace holding every value.

        ``X`` is a ``(batch, n_variables)`` array on the backend, NaN where a value is
        missing (marginalised). ``mode="max"`` runs the max-product pass instead.
        """
        return self._forward(self.workspace(X.shape[0]), X, mode)

    def _forward(self, ws, X, mode="sum", scoring=False):
        """``scoring=True``: only the root's log-value is read afterwards (see SumLayer.forward)."""
        for i, (leaf, rows) in enumerate(zip(self.leaves, self.leaf_rows)):
            ws.inputs[i] = leaf.prepare(X)
            leaf.forward(ws.inputs[i], ws.values[rows], ws.scale[rows], mode,
                         ws.logs[rows] if leaf.exact_logs else None)
        layers = list(zip(self.sum_layers, ws.prods, ws.mixed, ws.pscales))
        for i, (layer, prod, mixed, pscale) in enumerate(layers):
            # The root is read from its log-scale alone, so it is always normalised.
            lazy = scoring and i < len(layers) - 1
            layer.forward(ws.values, ws.scale, prod, mixed, pscale, mode, ws.logs, lazy)
        return ws

    def root_values(self, ws):
        """Log-value of the root for each row of the last forward pass."""
        return ws.scale[self.root_row]

    def backward(self, ws, stats):
        """Downward pass after :meth:`forward`: adds flows and leaf statistics to ``stats``."""
        n_leaves = len(self.leaves)
        ws.flow[self.root_row, 0] = 1.0  # every other row is written before it is read
        for layer, prod, mixed, s in zip(
            self.sum_layers[::-1], ws.prods[::-1], ws.mixed[::-1], stats[n_leaves:][::-1]
        ):
            layer.backward(ws.flow, prod, mixed, s)
        for leaf, rows, data, s in zip(self.leaves, self.leaf_rows, ws.inputs, stats):
            leaf.accumulate(s, data, ws.flow[rows])

    def _tiled(self, X, work):
        """Run ``work(ws, rows)`` over the tiles of ``X`` (see :mod:`skpc.engine.parallel`);
        yields its results in tile order. A GPU takes the whole batch at once."""
        n = X.shape[0]
        if self.backend.name != "cpu":
            yield work(self.forward(X), slice(0, n))
            return
        jobs = [(self.workspace(sl.stop - sl.start, slot % self.threads), sl)
                for slot, sl in enumerate(parallel.tiles(n, parallel.tile_rows_for(self.n_weights)))]
        yield from parallel.run_waves(lambda _, job: work(self._forward(job[0], X[job[1]]), job[1]), jobs,
                                      self.threads)

    def accumulate(self, X, stats):
        """Forward and backward over one batch; returns its per-sample log-likelihoods.

        On a CPU each tile adds its flows to statistics of its own, which are then added
        to ``stats`` in tile order: the result does not depend on the threads.
        """
        ll = self.backend.xp.empty(X.shape[0], dtype=np.float64)

        def work(ws, rows):
            ll[rows] = self.root_values(ws)
            if self.backend.name != "cpu":
                self.backward(ws, stats)
                return None
            if ws.stats is None:
                ws.stats = self.new_stats()
            else:
                for block in ws.stats:
                    for array in block:
                        array[...] = 0
            self.backward(ws, ws.stats)
            return ws.stats

        for own in self._tiled(X, work):
            if own is not None:
                for block, mine in zip(stats, own):
                    for total, part in zip(block, mine):
                        total += part
        return ll

    def to_device(self, X):
        """A host array of rows as a contiguous array of the circuit's dtype on its device."""
        return self.backend.asarray(np.ascontiguousarray(X, dtype=self.dtype))

    def flows(self, X, batch_size, rows=None):
        """Statistics and summed log-likelihood of the host rows ``X[rows]``, in chunks.

        This is the E-step of full-batch EM, and of one mini-batch (``batch_size`` rows or
        more: a batch too large for the GPU's free memory runs in chunks). Statistics of
        pieces of a data set add up, so the pieces can be processed anywhere (see the dask
        integration). The log-likelihood stays on the device (a 0-d array).
        """
        rows = np.arange(X.shape[0]) if rows is None else rows
        stats, total = self.new_stats(), 0.0
        for sl in self.chunks(len(rows), batch_size):
            total += self.accumulate(self.to_device(X[rows[sl]]), stats).sum()
        return stats, total

    def chunks(self, n, batch_size):
        """Slices of ``batch_size`` rows covering ``range(n)``; fewer on a GPU short of memory.

        On a GPU a chunk holds as many rows as its free memory allows
        (:func:`~skpc.engine.memory.rows_that_fit`); when not even ``MIN_CHUNK_ROWS`` fit,
        a ValueError says how much memory is needed and what to change.
        """
        size = self.rows_per_chunk(min(batch_size, n)) if n else 1
        for start in range(0, n, size):
            yield slice(start, min(n, start + size))

    def rows_per_chunk(self, rows):
        """``rows``, or on a GPU the most rows up to that whose pass fits its free memory."""
        if self.backend.name == "cpu" or (rows, 0) in self._workspaces:
            return rows
        return rows_that_fit(rows, self.parameter_bytes, self.row_bytes, self.backend.available_memory(),
                             MIN_CHUNK_ROWS, held=self.parameter_bytes, n_latents=self.n_units,
                             n_variables=self.n_variables, dtype=self.dtype, device=self.backend.name)

    def log_likelihood(self, X, batch_size):
        """Per-sample log-likelihood of ``X`` (a backend array, float64), in chunks.

        On a CPU the tiles of all chunks run striped over the threads, without waiting for
        each other: tile i on thread ``i % THREADS`` with that thread's workspace.
        """
        xp = self.backend.xp
        out = xp.empty(X.shape[0], dtype=np.float64)
        if self.backend.name != "cpu":
            for sl in self.chunks(X.shape[0], batch_size):
                ws = self.workspace(sl.stop - sl.start).scoring()
                out[sl] = self.root_values(self._forward(ws, X[sl], scoring=True))
            return out
        widest = max((L.n_folds * L.n_in for L in self.sum_layers), default=1) * self.dtype.itemsize
        tiles = [slice(sl.start + t.start, sl.start + t.stop)
                 for sl in self.chunks(X.shape[0], batch_size)
                 for t in parallel.tiles(sl.stop - sl.start, parallel.score_rows_for(self.n_weights, widest))]
        jobs = [(self.workspace(t.stop - t.start, i % self.threads), t) for i, t in enumerate(tiles)]

        def work(job):
            ws, rows = job
            out[rows] = self.root_values(self._forward(ws.scoring(), X[rows], scoring=True))

        parallel.run_striped(work, jobs, self.threads)
        return out

    def top_down_stats(self):
        """Statistics of the data-free pass: TD(n) * theta (and TD(n) * E[T] at inputs).

        A row with every value missing has p = 1 at every node, so its flows are exactly
        the top-down probabilities of DESIGN.md section 2. Its forward pass is known
        without computing it (every product is 1, every mixed value sums the weights to
        1), so only the backward pass runs, over a constant workspace.
        """
        ws = self._workspaces.get("top-down")
        if ws is None:
            xp = self.backend.xp
            ws = self._workspaces["top-down"] = _Workspace(self, 1)
            empty = xp.full((1, self.n_variables), np.nan, dtype=self.dtype)
            ws.inputs = [leaf.prepare(empty) for leaf in self.leaves]
            for array in ws.prods + ws.mixed:
                array[...] = 1.0
        stats = self.new_stats()
        self.backward(ws, stats)
        return stats

    def descend(self, X, mode, rng):
        """Complete the NaN entries of each row of ``X`` top-down.

        ``mode="sample"`` draws them from p(missing | observed); ``mode="argmax"`` follows
        the max-product pass and picks the most likely unit and value at every step.
        """
        xp = self.backend.xp
        ws = self.forward(X, mode="max" if mode == "argmax" else "sum")
        units = xp.full((self.n_rows, X.shape[0]), -1, dtype=np.int64)
        units[self.root_row] = 0
        for layer, prod in zip(self.sum_layers[::-1], ws.prods[::-1]):
            layer.choose(units, prod, rng, mode)
        out = X.copy()
        for leaf, rows in zip(self.leaves, self.leaf_rows):
            values = leaf.pick(X, units[rows], rng, mode)
            # Only regions on the chosen path write (a variable may have several regions).
            r, n = xp.nonzero(units[rows] >= 0)
            if leaf.variables.ndim == 1:
                out[n, xp.asarray(leaf.variables)[r]] = values[r, n]
            else:  # a region over several variables: values (r, n, d)
                out[n[:, None], xp.asarray(leaf.variables)[r]] = values[r, n]
        return out

    # -- devices and pickling ---------------------------------------------------------------
    def to(self, backend):
        """Move every array of the circuit to ``backend`` (in place); returns self."""
        for obj in [self, *self.blocks]:
            for name, value in list(vars(obj).items()):
                setattr(obj, name, _move(value, backend))
            obj.backend = backend
        self._workspaces = {}
        return self

    def __getstate__(self):
        # Parameters are stored as numpy so that a GPU model unpickles without cupy.
        state = dict(vars(self))
        state["_workspaces"] = {}
        if self.backend.name != "cpu":
            state = {k: _move(v, CPU) for k, v in state.items()}
            state["leaves"] = [_moved_copy(b, CPU) for b in self.leaves]
            state["sum_layers"] = [_moved_copy(b, CPU) for b in self.sum_layers]
        state["backend"] = CPU
        return state


def _move(value, backend):
    if isinstance(value, list):
        return [_move(v, backend) for v in value]
    if isinstance(value, np.ndarray) or type(value).__module__.startswith("cupy"):
        return backend.asarray(value) if backend.name != "cpu" else CPU.to_numpy(value)
    return value


def _moved_copy(block, backend):
    copy = object.__new__(type(block))
    for name, value in vars(block).items():
        setattr(copy, name, _move(value, backend))
    copy.backend = backend
    return copy
