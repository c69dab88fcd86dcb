"""Input checks that name the offending column, value or parameter.

scikit-learn's ``validate_data`` rejects most bad inputs, but some of its messages do not
say which column is at fault (strings, complex numbers, infinities). These checks run
around it so that the user always learns the column and the value.
"""

import numpy as np
import scipy.sparse as sp


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
