"""Input checks that name the offending column, value or parameter, and a memory estimate.

scikit-learn's ``validate_data`` rejects most bad inputs, but some of its messages do not
say which column is at fault (strings, complex numbers, infinities). These checks run
around it so that the user always learns the column and the value. The memory estimate
lets :class:`~skpc.PCDensityEstimator` refuse a circuit that cannot fit before it
allocates anything.
"""

import numpy as np
import scipy.sparse as sp

#: Peak memory of training, in multiples of the parameters' size: the parameters, their
#: logarithms and transposes, the batch statistics, the top-down statistics and the update.
PARAMETER_COPIES = 6

#: Peak memory of a pass, in multiples of its workspace: the workspace itself and the
#: temporaries of the layer being computed (a few arrays of that layer's size).
WORKSPACE_COPIES = 3

#: Fewest rows a pass on a GPU runs at once: passes run in chunks sized to the free device
#: memory, and a circuit that cannot hold this many rows is refused.
MIN_CHUNK_ROWS = 1


def column_label(names, j):
    """``"column j ('name')"``, or ``"column j"`` when there are no feature names."""
    return f"column {j} ({names[j]!r})" if names is not None else f"column {j}"


def _check_values_are_numbers(values, label):
    """Raise ValueError naming the first entry of an object/string column that is no number."""
    for value in values:
        try:
            float(value)
        except (TypeError, ValueError) as e:
            # TypeError for an object that is no number at all, ValueError for a bad string.
            value = value.item() if isinstance(value, np.generic) else value
            raise type(e)(
                f"{label} holds the non-numeric value {value!r} ({e}); PCDensityEstimator needs "
                "numbers (encode categories as integer codes 0..K-1 and missing values as NaN)."
            ) from None


def _check_dtype(dtype, label, values):
    kind = getattr(dtype, "kind", "O")
    if kind == "c":
        raise ValueError(
            f"Complex data not supported: {label} has the complex dtype {dtype}; PCDensityEstimator "
            "models real-valued data (pass X.real if the imaginary parts are all zero)."
        )
    if kind in "mM":
        raise ValueError(f"{label} has the dtype {dtype}; convert dates and durations to numbers first.")
    if kind in "OUS":
        _check_values_are_numbers(values, label)


def check_input_types(X):
    """Reject sparse, complex, date and non-numeric inputs with a message naming the column.

    Parameters
    ----------
    X : array-like or pandas DataFrame
        The raw input, before ``validate_data``.

    Raises
    ------
    TypeError
        For a sparse matrix, or a column holding an object that is no number (``None``,
        a dict ...).
    ValueError
        For a complex or date column, a string that is not a number, or a pandas
        categorical column whose categories are not numbers.
    """
    if sp.issparse(X):
        raise TypeError(
            f"X is a sparse matrix ({type(X).__name__}); PCDensityEstimator needs dense data, where "
            "a missing value is NaN and not an implicit zero. Use X.toarray() if the zeros are real values."
        )
    if hasattr(X, "dtypes") and hasattr(X, "columns"):  # a pandas DataFrame
        names = [str(c) for c in X.columns]
        for j, dtype in enumerate(X.dtypes):
            column = X.iloc[:, j]
            label = column_label(names, j)
            if getattr(dtype, "name", "") == "category":
                categories = column.cat.categories
                if categories.dtype.kind not in "biuf":
                    raise ValueError(
                        f"{label} is categorical with non-numeric categories {list(categories[:5])}; "
                        f"encode it as integer codes, e.g. X[{X.columns[j]!r}].cat.codes with -1 "
                        "replaced by NaN."
                    )
                continue
            _check_dtype(dtype, label, column.to_numpy())
        return
    if isinstance(X, np.ndarray) and X.dtype.kind in "biuf":
        return
    try:
        array = np.asarray(X)
    except (TypeError, ValueError):
        return  # ragged or odd input: validate_data reports it
    if array.ndim == 2:
        for j in range(array.shape[1]):
            _check_dtype(array.dtype, column_label(None, j), array[:, j])
    elif array.dtype.kind in "cmM":
        _check_dtype(array.dtype, "X", array.ravel())


def check_values(X, names, dtype):
    """Reject infinite values, and values whose squares overflow ``dtype``, naming them.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated float data (NaN allowed: it marks a missing value).
    names : ndarray of str or None
        Feature names, for the message.
    dtype : numpy dtype
        The circuit's float type; Gaussian leaves square the values.
    """
    if X.dtype.kind not in "fc":  # integers are finite and small enough to square
        return
    limit = np.sqrt(np.finfo(dtype).max) / 16
    for rows in row_chunks(X.shape[0]):  # chunked: a memmap is never loaded whole
        chunk = X[rows]
        with np.errstate(invalid="ignore"):
            bad = ~(np.abs(chunk) <= limit) & ~np.isnan(chunk)
        if not bad.any():
            continue
        i, j = np.argwhere(bad)[0]
        value, i = chunk[i, j], i + rows.start
        if np.isinf(value):
            raise ValueError(
                f"{column_label(names, j)} has the value {value} at row {i}; use NaN for a missing value."
            )
        raise ValueError(
            f"{column_label(names, j)} has the value {value:g} at row {i}, beyond what "
            f"dtype={np.dtype(dtype).name!r} can square (|x| <= {limit:.2g}); rescale the column or "
            "use dtype='float64'."
        )


def circuit_bytes(graph, n_latents, leaf_types, n_categories, batch, dtype):
    """Bytes of a compiled circuit's parameters and of its workspace for one batch.

    Counts exactly what :class:`~skpc.engine.Circuit` allocates: categorical input units
    padded to the largest number of categories, two parameters per Gaussian unit, a mean
    and a covariance matrix per full-covariance Gaussian unit (an input region over d > 1
    variables: d + d^2), one weight per sum edge; the workspace holds values and flows of
    every region, the products and mixed values of every sum region, the prepared inputs
    (one-hot codes of categorical columns, values and masks of Gaussian ones) and, with
    Gaussian columns, the exact log-densities of every input region, for ``batch`` rows.
    A full-covariance region also counts its forward pass's temporaries per row
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
        work += (d * item + d + 8) * batch + joint_temporary_bytes(k, d, item) * batch
    for r in range(graph.n_regions):
        if not graph.is_input(r):
            n_in = sum(k if graph.product == "hadamard" or len(p) == 1 else k * k
                       for p in graph.partitions[r])
            n_out = 1 if r == graph.root else k
            params += n_out * n_in
            work += batch * (n_in + n_out) * item + batch * 8  # products, mixed values, their log-scale
    return params * item, work


def joint_temporary_bytes(k, d, item):
    """Bytes per row of a full-covariance Gaussian region's forward-pass temporaries:
    differences and whitened differences (``2 k d`` values in the dtype), and for a row
    with some of the region's values missing, ``k`` padded d x d matrices, their inverses,
    and solutions (float64)."""
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


def check_memory(graph, n_latents, leaf_types, n_categories, batch, dtype, backend, available=None):
    """Raise ValueError, before anything is allocated, when the circuit cannot fit in memory.

    On the CPU a pass holds ``batch`` rows at once; on a GPU passes run in chunks sized to
    the free device memory (:meth:`~skpc.engine.Circuit.chunks`), so only the smallest
    chunk, ``MIN_CHUNK_ROWS`` rows, must fit. ``available`` defaults to the backend's
    :meth:`~skpc._backend.Backend.available_memory`; nothing is checked when that is
    unknown. Returns the bytes needed (:func:`memory_needed`).
    """
    params, row = circuit_bytes(graph, n_latents, leaf_types, n_categories, 1, dtype)
    smallest = batch if backend.name == "cpu" else MIN_CHUNK_ROWS
    available = backend.available_memory() if available is None else available
    rows_that_fit(smallest, params, row, available, smallest, n_latents=n_latents,
                  n_variables=graph.n_variables, dtype=dtype, device=backend.name)
    return memory_needed(params, row, smallest)


def row_chunks(n, size=65536):
    """Slices of at most ``size`` rows covering ``range(n)``."""
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def column_sums(X):
    """Additive per-column facts of ``X`` gathered in one chunked pass (no full copy).

    Sums of several pieces of data combine with :func:`combine_sums`, so a data set
    split across machines is summarised piece by piece.
    """
    d = X.shape[1]
    sums = {"observed": np.zeros(d), "total": np.zeros(d), "squares": np.zeros(d),
            "integral": np.ones(d, dtype=bool), "max": np.full(d, -np.inf)}
    for rows in row_chunks(X.shape[0]):
        chunk = np.asarray(X[rows], dtype=np.float64)
        seen = ~np.isnan(chunk)
        values = np.where(seen, chunk, 0.0)
        sums = combine_sums([sums, {
            "observed": seen.sum(axis=0), "total": values.sum(axis=0),
            "squares": (values * values).sum(axis=0),
            "integral": np.all(~seen | ((values == np.round(values)) & (values >= 0)), axis=0),
            "max": np.where(seen, chunk, -np.inf).max(axis=0),
        }])
    return sums


def combine_sums(parts):
    """Combine the outputs of :func:`column_sums` over pieces of one data set."""
    out = {key: sum(p[key] for p in parts) for key in ("observed", "total", "squares")}
    out["integral"] = np.logical_and.reduce([p["integral"] for p in parts])
    out["max"] = np.maximum.reduce([p["max"] for p in parts])
    return out


def column_summary(X=None, sums=None):
    """Per-column ``observed`` count, ``integral`` (all observed values are integers >= 0),
    ``max``, ``mean`` and ``std`` of the observed values, from ``X`` or from its sums."""
    sums = column_sums(X) if sums is None else sums
    count = np.maximum(sums["observed"], 1)
    mean = sums["total"] / count
    std = np.sqrt(np.maximum(sums["squares"] / count - mean**2, 0.0))
    return {"observed": sums["observed"], "integral": sums["integral"], "max": sums["max"],
            "mean": mean, "std": std}
