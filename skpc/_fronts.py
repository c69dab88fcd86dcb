"""What the thin fronts over PCDensityEstimator share: forwarded parameters and input checks.

A front (:class:`~skpc.PCClassifier`, :class:`~skpc.PCOutlierDetector`) checks shapes,
counts and feature names itself, so that scikit-learn's messages name the front, and
leaves the values to its inner :class:`~skpc.PCDensityEstimator`, which owns the column
rules: whatever column types the estimator accepts, the fronts accept.
"""

import warnings

import numpy as np
from sklearn.utils.validation import validate_data

from skpc._backend import to_host
from skpc._validation import check_input_types

#: PCDensityEstimator's parameters that the fronts pass through unchanged (same names,
#: meanings and defaults). ``warm_start`` is left out: every ``fit`` builds a new circuit.
FORWARDED = (
    "structure", "n_latents", "solver", "batch_size", "step_size", "schedule", "max_iter", "tol",
    "pseudocount", "n_categories", "leaf", "early_stopping", "validation_fraction",
    "n_iter_no_change", "random_state", "verbose", "device", "dtype", "structure_params", "min_var",
    "reg_covar",
)

#: The inner estimator's feature-name warnings repeat the front's own (the front checks names).
_NAME_WARNINGS = r"X (does not have valid|has) feature names"


def inner_params(front):
    """The forwarded parameters of a front, as keyword arguments of PCDensityEstimator."""
    return {name: getattr(front, name) for name in FORWARDED}


def is_frame(X):
    """Whether ``X`` is a pandas DataFrame (without importing pandas)."""
    return hasattr(X, "columns") and hasattr(X, "iloc")


def check_features(front, X, reset, y=None):
    """Validate ``X`` (and ``y``) in the front, and return what the inner estimator gets.

    A pandas DataFrame is passed on as it is (its column types intact), any other input
    as the array ``check_array`` makes of it (its dtype kept).

    Returns
    -------
    X : DataFrame or ndarray
    y : ndarray or None
    """
    X = to_host(X)
    check_input_types(X)
    kwargs = dict(reset=reset, dtype=None, ensure_all_finite=False)
    checked = validate_data(front, X, **kwargs) if y is None else validate_data(front, X, y, **kwargs)
    X_checked, y = (checked, None) if y is None else checked
    return (X if is_frame(X) else X_checked), y


def take_rows(X, rows):
    """The rows ``rows`` (indices or a mask) of a DataFrame or an array."""
    return X.iloc[rows] if is_frame(X) else X[rows]


def inner_call(method, *args, **kwargs):
    """Call a method of the inner estimator without repeating the front's name warnings."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_NAME_WARNINGS, category=UserWarning)
        return np.asarray(method(*args, **kwargs))
