"""Memory sizing of a compiled circuit: what a pass allocates, and how many rows fit.

The estimate lets :class:`~skpc.PCDensityEstimator` refuse a circuit that cannot fit
before it allocates anything, and lets :class:`~skpc.engine.Circuit` size its chunks to a
GPU's free memory.
"""

import numpy as np

#: Peak memory of training, in multiples of the parameters' size: the parameters, their
#: logarithms and transposes, the batch statistics, the top-down statistics and the update.
PARAMETER_COPIES = 6

#: Peak memory of a pass, in multiples of its workspace: the workspace itself and the
#: temporaries of the layer being computed (a few arrays of that layer's size).
WORKSPACE_COPIES = 3

#: Fewest rows a pass on a GPU runs at once: passes run in chunks sized to the free device
#: memory, and a circuit that cannot hold this many rows is refused.
MIN_CHUNK_ROWS = 1


def circuit_bytes(graph, n_latents, leaf_types, n_categories, batch, dtype, diagonal=False):
    """Bytes of a compiled circuit's parameters and of its workspace for one batch.

    Counts exactly what :class:`~skpc.engine.Circuit` allocates: categorical input units
    padded to the largest number of categories, two parameters per Gaussian unit, a mean
    and a covariance matrix per full-covariance Gaussian unit (an input region over d > 1
    variables: d + d^2), one weight per sum edge; the workspace holds values and flows of
    every region, the products and mixed values of every sum region, the prepared inputs
    (one-hot codes of categorical columns, values and masks of Gaussian ones) and, with
    Gaussian columns, the exact log-densities of every input region, for ``batch`` rows.
    A full-covariance region also counts its passes' temporaries per row
    (:func:`joint_temporary_bytes`): they grow with d (or d^2) times the batch.

    Parameters
    ----------
    graph : RegionGraph
    n_latents : int
    leaf_types : ndarray of str
        Input distribution of each variable.
    n_categories : ndarray of int
        Categories of each variable (0 for Gaussian ones).
    batch : int
        Rows per batch.
    dtype : numpy dtype
    diagonal : bool, default=False
        Whether the units of the regions over several variables have diagonal covariances.

    Returns
    -------
    parameter_bytes, workspace_bytes : int
    """
    k = int(n_latents)
    inputs = [tuple(graph.scopes[r]) for r in range(graph.n_regions) if graph.is_input(r)]
    variables = [s[0] for s in inputs if len(s) == 1]
    joint = [len(s) for s in inputs if len(s) > 1]  # full-covariance Gaussian regions
    categorical = [v for v in variables if leaf_types[v] == "categorical"]
    n_gaussian = len(variables) - len(categorical)
    max_categories = max((int(n_categories[v]) for v in categorical), default=0)
    params = len(categorical) * max_categories * k + 2 * n_gaussian * k
    params += sum(k * (d + d * d) for d in joint)
    item = np.dtype(dtype).itemsize
    # values and flows in dtype, log-scales in float64, prepared inputs in dtype
    work = 2 * k * graph.n_regions * batch * item + graph.n_regions * batch * 8
    work += (len(categorical) * (max_categories + 1) + 2 * n_gaussian) * batch * item
    if n_gaussian or joint:  # exact log-densities of every input row (see Circuit's workspace)
        work += len(inputs) * k * batch * item
    for d in joint:  # values in dtype, observed mask (bool), count of observed values (int64)
        work += (d * item + d + 8) * batch + joint_temporary_bytes(k, d, item, diagonal) * batch
    for r in range(graph.n_regions):
        if not graph.is_input(r):
            n_in = sum(k if graph.product == "hadamard" or len(p) == 1 else k * k
                       for p in graph.partitions[r])
            n_out = 1 if r == graph.root else k
            params += n_out * n_in
            work += batch * (n_in + n_out) * item + batch * 8  # products, mixed values, their log-scale
    return params * item, work


def joint_temporary_bytes(k, d, item, diagonal=False):
    """Bytes per row of a full-covariance Gaussian region's temporaries: differences and
    whitened differences (``2 k d`` values in the dtype), and for a row with some of the
    region's values missing, ``k`` blocks of the precision over its missing values (at most
    d x d) with their inverses or the conditional covariances, and products with the
    precision (float64). Diagonal units (``diagonal``) integrate missing values out column by
    column: their statistics' conditional means and weighted means instead (``2 k d``
    float64)."""
    if diagonal:
        return 2 * k * d * item + 2 * k * d * 8
    return 2 * k * d * item + k * (2 * d * d + 2 * d) * 8


def memory_needed(parameter_bytes, row_bytes, rows):
    """Peak bytes of training a circuit in passes of ``rows`` rows.

    ``PARAMETER_COPIES`` times the parameters plus ``WORKSPACE_COPIES`` times the
    workspace of ``rows`` rows (``row_bytes`` is the workspace of one row, see
    :func:`circuit_bytes`).
    """
    return PARAMETER_COPIES * parameter_bytes + WORKSPACE_COPIES * rows * row_bytes


def _size(n):
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def rows_that_fit(rows, parameter_bytes, row_bytes, available, smallest, *, held=0, n_latents,
                  n_variables, dtype, device):
    """The most rows, up to ``rows``, whose pass fits in ``available`` free bytes.

    A pass over b rows needs ``memory_needed(parameter_bytes, row_bytes, b)``, of which
    ``held`` bytes (the parameters, once allocated) are already in use and not free.
    Raises ValueError when not even ``smallest`` rows fit, naming the circuit's size, the
    bytes needed and the bytes free, and what to change. ``available=None`` (unknown)
    allows ``rows``.
    """
    if available is None:
        return rows
    fit = (available + held - PARAMETER_COPIES * parameter_bytes) // (WORKSPACE_COPIES * row_bytes)
    if fit >= smallest:
        return int(min(fit, rows))
    needed = memory_needed(parameter_bytes, row_bytes, smallest) - held
    change = f"lower n_latents (now {n_latents})"
    change += " or batch_size" if device == "cpu" else ", free memory on the GPU, or use device='cpu'"
    if np.dtype(dtype) == np.float64:
        change += ", or use dtype='float32'"
    beyond = f", beyond the {_size(held)} it holds" if held else ""
    raise ValueError(
        f"the circuit (n_latents={n_latents}, {n_variables} variables, {np.dtype(dtype).name}) needs about "
        f"{_size(needed)} ({needed:,} bytes{beyond}; parameters {_size(parameter_bytes)}, held about "
        f"{PARAMETER_COPIES} times while training, plus a workspace of "
        f"{_size(WORKSPACE_COPIES * smallest * row_bytes)} for {smallest} row{'s' if smallest > 1 else ''} "
        f"at once) but only {_size(available)} ({available:,} bytes) is available on the {device}; {change}."
    )


def check_memory(graph, n_latents, leaf_types, n_categories, batch, dtype, backend, available=None,
                 diagonal=False):
    """Raise ValueError, before anything is allocated, when the circuit cannot fit in memory.

    On the CPU a pass holds ``batch`` rows at once; on a GPU passes run in chunks sized to
    the free device memory (:meth:`~skpc.engine.Circuit.chunks`), so only the smallest
    chunk, ``MIN_CHUNK_ROWS`` rows, must fit. ``available`` defaults to the backend's
    :meth:`~skpc._backend.Backend.available_memory`; nothing is checked when that is
    unknown. ``diagonal``: as :func:`circuit_bytes`. Returns the bytes needed
    (:func:`memory_needed`).
    """
    params, row = circuit_bytes(graph, n_latents, leaf_types, n_categories, 1, dtype, diagonal)
    smallest = batch if backend.name == "cpu" else MIN_CHUNK_ROWS
    available = backend.available_memory() if available is None else available
    rows_that_fit(smallest, params, row, available, smallest, n_latents=n_latents,
                  n_variables=graph.n_variables, dtype=dtype, device=backend.name)
    return memory_needed(params, row, smallest)
