"""Checks of raw user input that name the offending column, value and parameter.

Every message about a column is written here, once, and used by every entry point
(estimators, imputer, command line), so the user always learns which column, which value,
and which parameter fixes it.
"""

import numpy as np
import scipy.sparse as sp


def column_label(names, j):
    """``"column j ('name')"``, or ``"column j"`` when there are no feature names."""
    return f"column {j} ({names[j]!r})" if names is not None else f"column {j}"


def plain(value):
    """A numpy scalar as the Python value it holds (for messages and JSON); others as they are."""
    return value.item() if isinstance(value, np.generic) else value


def check_not_sparse(X):
    if sp.issparse(X):
        raise TypeError(
            f"X is a sparse matrix ({type(X).__name__}); skpc needs dense data, where a missing value "
            "is NaN and not an implicit zero. Use X.toarray() if the zeros are real values."
        )


def check_dtype(dtype, label):
    """Reject complex, date and duration columns."""
    kind = getattr(dtype, "kind", "O")
    if kind == "c":
        raise ValueError(
            f"Complex data not supported: {label} has the complex dtype {dtype}; skpc models real-valued "
            "data (pass X.real if the imaginary parts are all zero)."
        )
    if kind in "mM":
        raise ValueError(
            f"{label} has the dtype {dtype}; convert dates and durations to numbers first "
            "(for example seconds since a reference time)."
        )


def check_object_values(values, label):
    """Reject entries of an object column that are neither numbers, strings nor booleans.

    The message keeps numpy's wording ("argument must be a string or a number"), which
    scikit-learn's own checks expect.
    """
    for value in values:
        if value is None or isinstance(value, (str, bool, np.bool_, int, float, np.number)):
            continue
        raise TypeError(
            f"{label} holds {plain(value)!r} ({type(value).__name__}): the argument must be a string "
            "or a number (or None / NaN for a missing value)."
        )


def check_finite(values, label, offset=0):
    """Reject infinite entries of a numeric column (NaN marks a missing value); rows are
    counted from ``offset``."""
    bad = np.isinf(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{label} has the value {values[i]} at row {i + offset}; use NaN for a missing value."
        )


def unseen_value_error(label, value, levels, row):
    shown = ", ".join(repr(plain(v)) for v in levels[:8]) + (", ..." if len(levels) > 8 else "")
    return ValueError(
        f"{label} is categorical and got the value {plain(value)!r} at row {row}, not seen in training "
        f"(levels: {shown}). Set handle_unknown='score' to give unseen values a small probability, "
        "or declare the column's levels with n_categories, or make it Gaussian with leaf."
    )
