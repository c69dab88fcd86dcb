"""What the thin fronts over PCDensityEstimator share: forwarded parameters and input checks.

A front (:class:`~skpc.PCClassifier`, :class:`~skpc.PCOutlierDetector`) reads the user's
table with the data layer (:func:`skpc.columns.as_table`) and checks counts and feature
names itself, so that scikit-learn's messages name the front; the columns themselves are
described and encoded by its inner :class:`~skpc.PCDensityEstimator`: whatever column
types the estimator accepts, the fronts accept.
"""

import warnings

import numpy as np
from sklearn.utils import check_array, check_consistent_length, column_or_1d
from sklearn.utils.validation import validate_data

from skpc._backend import to_host
from skpc.columns import as_table, is_frame

#: PCDensityEstimator's parameters that the fronts pass through unchanged (same names,
#: meanings and defaults). ``warm_start`` is left out: every ``fit`` builds a new circuit.
FORWARDED = (
    "structure", "n_latents", "solver", "batch_size", "step_size", "schedule", "max_iter", "tol",
    "pseudocount", "n_categories", "leaf", "handle_unknown", "early_stopping", "validation_fraction",
    "n_iter_no_change", "random_state", "verbose", "device", "dtype", "structure_params", "min_var",
    "reg_covar", "final_step_size", "schedule_warmup", "batches_per_update", "momentum",
)

#: The inner estimator's feature-name warnings repeat the front's own (the front checks names).
_NAME_WARNINGS = r"X (does not have valid|has) feature names"

__all__ = [
    "FORWARDED", "check_features", "check_labels", "inner_call", "inner_params", "is_frame", "take_rows",
]


def inner_params(front):
    """The forwarded parameters of a front, as keyword arguments of PCDensityEstimator."""
    return {name: getattr(front, name) for name in FORWARDED}


def check_features(front, X, reset):
    """The user's ``X`` as a table (a DataFrame, or a 2-D array with its dtype kept), with
    its feature count and names checked (and set when ``reset``)."""
    X = as_table(to_host(X))
    validate_data(front, X, reset=reset, skip_check_array=True)
    return X


def check_labels(front, X, y):
    """Class labels as a 1-D array of ``len(X)`` (scikit-learn's checks and messages)."""
    if y is None:
        raise ValueError(
            f"This {type(front).__name__} estimator requires y to be passed, but the target y is None."
        )
    y = column_or_1d(check_array(y, ensure_2d=False, dtype=None, input_name="y"), warn=True)
    check_consistent_length(X, y)
    return y


def take_rows(X, rows):
    """The rows ``rows`` (indices or a mask) of a DataFrame or an array."""
    return X.iloc[rows] if is_frame(X) else X[rows]


def inner_call(method, *args, **kwargs):
    """Call a method of the inner estimator without repeating the front's name warnings."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_NAME_WARNINGS, category=UserWarning)
        return np.asarray(method(*args, **kwargs))
