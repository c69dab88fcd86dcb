"""Fitting on dask arrays (the optional ``dask`` extra); the one module that uses dask.

Full-batch EM's E-step is a sum of statistics over pieces of the data, so each block of
rows is processed where it lives (``Circuit.flows``) and only the statistics, whose size
is that of the parameters, travel to the client for the M-step. The mini-batch solvers
stream the blocks through the client one at a time.
"""

import copy

import numpy as np

from skpc.columns.table import summarise as _summarise


def is_dask_array(X):
    return type(X).__module__.split(".")[0] == "dask"


def known_chunks(X):
    """``X`` with the number of rows of every block known (computed when dask does not know it)."""
    if any(np.isnan(c) for c in X.chunks[0]) or any(np.isnan(c) for c in X.chunks[1]):
        X = X.compute_chunk_sizes()  # one pass over the data (after a boolean mask, say)
    return X


def row_blocks(X):
    """The array as a list of delayed numpy blocks of whole rows."""
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return list(X.to_delayed().ravel())


def _compute(tasks):
    import dask  # noqa: PLC0415 -- optional dependency

    return dask.compute(*tasks)


def _delayed(fn):
    import dask  # noqa: PLC0415

    return dask.delayed(fn, pure=False)  # the circuit changes between epochs: never reuse results


def summarise(blocks, keep_levels):
    """Per-column facts (counts, moments, levels; see ``skpc.columns``) of all blocks,
    computed block by block and combined on the client."""
    parts = _compute([_delayed(_summarise)(b, keep_levels) for b in blocks])
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    return total


def encoded(blocks, columns):
    """The blocks as delayed arrays of the engine's codes (see ``Columns.encode``)."""
    return [_delayed(lambda b: columns.encode(np.asarray(b))[: b.shape[0]])(b) for b in blocks]


def check(blocks, fn, sizes):
    """Run the validation ``fn(block, offset)`` on every block (it raises on bad values);
    ``offset``, from the blocks' row ``sizes``, makes messages count rows from the start
    of the whole array."""
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    _compute([_delayed(fn)(b, int(o)) for b, o in zip(blocks, offsets, strict=True)])


def compute_each(blocks, fn):
    """``fn(block)`` of every block, computed where the blocks live."""
    return _compute([_delayed(fn)(b) for b in blocks])


def _block_flows(circuit, block, batch_size):
    # Workers may be threads of one process: each task gets its own workspace buffers.
    local = copy.copy(circuit)
    local._workspaces = {}
    stats, total = local.flows(block, batch_size)
    return stats, float(local.backend.to_numpy(total))


def flows(circuit, blocks, batch_size):
    """Statistics and summed log-likelihood over all blocks: the distributed E-step."""
    results = _compute([_delayed(_block_flows)(circuit, b, batch_size) for b in blocks])
    stats = [[sum(r[0][i][j] for r in results) for j in range(len(block))]
             for i, block in enumerate(results[0][0])]
    return stats, float(sum(r[1] for r in results))


def fetch(block):
    """One block as a numpy array on the client."""
    return np.asarray(block.compute())
