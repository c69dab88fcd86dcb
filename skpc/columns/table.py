"""What each column of the user's table is, fitted once, and the codes the engine sees.

:class:`Columns` is fitted on the training data and kept in the model. Per column it
records the name, the input dtype, the kind (``"categorical"`` or ``"gaussian"``), the
levels of a categorical column (numbers, strings, booleans, pandas categories) in the
order of their codes ``0..K-1``, and the location and scale of a Gaussian column.

:meth:`Columns.encode` turns any input into the engine's codes, a float array where a
categorical entry is its level's code (``K`` for a value never seen in training), a
Gaussian entry is standardised, ``(x - loc) / scale``, and NaN marks a missing entry.
:meth:`Columns.decode` and :meth:`Columns.complete` turn codes back into the user's
types; ``complete`` only writes the entries that were missing, so observed entries come
back bit for bit. The engine and the solvers never see raw user data.

The rule for ``leaf="auto"`` (documented in the estimator): non-numeric, boolean and
pandas ``category`` columns are categorical; a numeric column whose observed values are
all integers is categorical when it has at most ``min(AUTO_MAX_LEVELS, sqrt(n))``
distinct values (n: its observed entries), so that each level has on average at least
``sqrt(n)`` rows; every other column is Gaussian.
"""

import math
import warnings
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_array

from skpc.columns.checks import (
    check_dtype,
    check_finite,
    check_not_sparse,
    check_object_values,
    column_label,
    plain,
    unseen_value_error,
)

#: An integer-valued numeric column with more distinct values than this is Gaussian
#: under ``leaf="auto"``.
AUTO_MAX_LEVELS = 32

#: A string column whose distinct values are more than this share of its observed
#: entries (and more than ``AUTO_MAX_LEVELS``) draws a warning: nearly every row is its
#: own level (an identifier, a date or free text), which no model generalises from.
ID_LIKE_SHARE = 0.5

#: Rows per chunk of the passes over numeric arrays (memmaps are never loaded whole).
CHUNK_ROWS = 65536

#: Numeric arrays up to this many entries are encoded once; memmaps and larger arrays are
#: encoded batch by batch as the passes ask for their rows.
ENCODE_AT_ONCE = 2**26

KINDS = ("categorical", "gaussian")


def row_chunks(n, size=CHUNK_ROWS):
    """Slices of at most ``size`` rows covering ``range(n)``."""
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def is_frame(X):
    return hasattr(X, "dtypes") and hasattr(X, "columns") and hasattr(X, "iloc")


def _numeric_array(X):
    return isinstance(X, np.ndarray) and X.dtype.kind in "biuf"


def as_table(X):
    """``X`` as a DataFrame or a 2-D numpy array, rejecting what skpc cannot read.

    A DataFrame is kept as it is; anything else goes through scikit-learn's
    ``check_array`` with its dtype kept (numbers, booleans, strings and objects).
    """
    check_not_sparse(X)
    if is_frame(X):
        if X.shape[0] < 1:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required."
            )
        return X
    if isinstance(X, np.ndarray) and X.ndim == 2:
        check_dtype(X.dtype, "X" if X.shape[1] != 1 else column_label(None, 0))
    X = check_array(X, dtype=None, ensure_all_finite=False, ensure_min_samples=1)
    check_dtype(X.dtype, "X")
    return X.astype(str) if X.dtype.kind == "S" else X


def missing_mask(X):
    """Boolean mask of the missing entries of a table from :func:`as_table` (NaN, None,
    ``pd.NA``)."""
    if _numeric_array(X):
        return np.isnan(X) if X.dtype.kind == "f" else np.zeros(X.shape, dtype=bool)
    return pd.isna(X).to_numpy() if is_frame(X) else pd.isna(X)


def _column_values(X, j):
    """Column ``j`` of a DataFrame or an object/string array as a pandas Series."""
    return X.iloc[:, j] if is_frame(X) else pd.Series(X[:, j], copy=False)


def _series_kind(series, label):
    """``"numeric"``, or ``"levels"`` for a column that can only be categorical."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "levels"
    if pd.api.types.is_bool_dtype(dtype):
        return "levels"
    if pd.api.types.is_numeric_dtype(dtype):
        check_dtype(np.dtype(dtype.numpy_dtype if hasattr(dtype, "numpy_dtype") else dtype), label)
        return "numeric"
    if getattr(dtype, "kind", "O") in "cmM" or pd.api.types.is_datetime64_any_dtype(dtype) \
            or pd.api.types.is_timedelta64_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        raise ValueError(
            f"{label} has the dtype {dtype}; convert dates and durations to numbers first "
            "(for example seconds since a reference time)."
        )
    values = series.dropna().to_numpy(dtype=object)
    check_object_values(values, label)
    if all(isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_)) for v in values):
        return "numeric"
    return "levels"


def _numeric(series):
    """A numeric Series as float64 with NaN for missing entries."""
    return series.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)


def _sorted_levels(values):
    """Distinct non-missing values in a stable order: numbers numerically, others by text."""
    unique = pd.unique(pd.Series(values, dtype=object).dropna())
    try:
        return sorted(unique)
    except TypeError:  # mixed types (numbers and strings): numbers first, then text
        return sorted(unique, key=lambda v: (isinstance(v, str), str(v)))


class _NumericSummary:
    """Per-column facts of numeric rows, gathered chunk by chunk (combine with ``+``)."""

    def __init__(self, X, keep_levels, offset=0, names=None):
        X = np.asarray(X, dtype=np.float64)
        for j in np.flatnonzero(np.isinf(X).any(axis=0))[:1]:
            check_finite(X[:, j], column_label(names, j), offset)
        self.keep = np.asarray(keep_levels, dtype=bool)
        seen = ~np.isnan(X)
        self.count = seen.sum(axis=0).astype(np.float64)
        safe = np.where(seen, X, 0.0)
        self.mean = safe.sum(axis=0) / np.maximum(self.count, 1)
        self.m2 = (np.where(seen, X - self.mean, 0.0) ** 2).sum(axis=0)
        self.integral = np.all(~seen | (safe == np.round(safe)), axis=0)
        self.levels = []
        for j in range(X.shape[1]):
            limit = None if keep_levels[j] else AUTO_MAX_LEVELS
            if limit is not None and not self.integral[j]:
                self.levels.append(None)
                continue
            values = np.unique(X[seen[:, j], j])
            self.levels.append(values if limit is None or len(values) <= limit else None)

    def __add__(self, other):
        out = object.__new__(_NumericSummary)
        n = self.count + other.count
        delta = other.mean - self.mean
        out.count = n
        out.mean = self.mean + delta * np.where(n > 0, other.count / np.maximum(n, 1), 0.0)
        out.m2 = self.m2 + other.m2 + delta**2 * self.count * other.count / np.maximum(n, 1)
        out.integral = self.integral & other.integral
        out.keep = self.keep
        out.levels = []
        for a, b, keep in zip(self.levels, other.levels, self.keep, strict=True):
            both = None if a is None or b is None else np.union1d(a, b)
            out.levels.append(both if both is None or keep or len(both) <= AUTO_MAX_LEVELS else None)
        return out


def summarise(X, keep_levels, names=None):
    """Summary of a numeric array, in chunks (see :class:`_NumericSummary`)."""
    total = None
    for rows in row_chunks(X.shape[0]):
        part = _NumericSummary(X[rows], keep_levels, rows.start, names)
        total = part if total is None else total + part
    return total


class Columns:
    """The fitted description of a table's columns, and its encoding for the engine.

    Parameters
    ----------
    leaf : {"auto", "categorical", "gaussian"}, array-like of str, or dict
        Kind of each column; a dict maps column names (or indices) to kinds, the other
        columns follow ``"auto"``.
    n_categories : "auto", int, array-like of int or None, or dict
        Declared levels ``0..K-1`` of integer-coded categorical columns; 0 or None means
        "not categorical" (Gaussian); a single int applies to every column.
    handle_unknown : {"score", "error"}
        What a categorical value never seen in training does in ``encode``: take the
        column's "unseen" code ``K`` (a small probability in the model), or raise.

    Attributes
    ----------
    names : ndarray of str or None
    kinds : ndarray of str
    levels : list of ndarray or None
        Levels of each categorical column, in code order (None for Gaussian columns).
    loc, scale : ndarray of float64
        Location and scale of Gaussian columns (0 and 1 for categorical ones).
    dtypes : list
        The input dtype of each column (numpy or pandas dtype).
    frame : bool
        Fitted on a DataFrame (outputs without input are DataFrames).
    """

    def __init__(self, leaf="auto", n_categories="auto", handle_unknown="score"):
        self.leaf = leaf
        self.n_categories = n_categories
        self.handle_unknown = handle_unknown
        #: The circuit holds an "unseen" category per categorical column (False only for
        #: models read from version-1 files, see :meth:`legacy`).
        self.unseen = True
        self._cache = {}  # facts derived from the fitted description (see _derived)

    @classmethod
    def legacy(cls, kinds, n_levels, names=None):
        """The description a model of skpc 0.1 (model file version 1) implied: categorical
        columns over the codes ``0..K-1`` with no "unseen" category (an unseen value
        raises), Gaussian columns in their own units."""
        out = cls(handle_unknown="error")
        out.unseen, out.frame = False, False
        out.kinds = np.asarray(kinds, dtype=str)
        out.names = None if names is None else np.asarray(names, dtype=object)
        out.levels = [np.arange(k, dtype=np.float64) if kind == "categorical" else None
                      for kind, k in zip(out.kinds, n_levels, strict=True)]
        out.loc, out.scale = np.zeros(len(out.kinds)), np.ones(len(out.kinds))
        out.dtypes = [np.dtype(np.float64)] * len(out.kinds)
        return out

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X, names=None, summary=None):
        """Record what each column of ``X`` is.

        Parameters
        ----------
        X : DataFrame or ndarray (from :func:`as_table`)
        names : ndarray of str or None
            Feature names (``feature_names_in_``), for messages and outputs.
        summary : _NumericSummary, optional
            Facts of a numeric array gathered elsewhere (dask blocks); ``X`` is then a
            sample of its rows used for the dtypes only.
        """
        d = X.shape[1]
        self._cache = {}
        self.names = None if names is None else np.asarray(names, dtype=object)
        self.frame = is_frame(X)
        self.dtypes = list(X.dtypes) if self.frame else [X.dtype] * d
        leaf = self._per_column(self.leaf, "leaf", d)
        n_cat = self._per_column(self.n_categories, "n_categories", d)
        self.kinds = np.empty(d, dtype=object)
        self.levels = [None] * d
        self.loc, self.scale = np.zeros(d), np.ones(d)
        if _numeric_array(X):
            summary = summarise(X, self.keep_levels(d, names), names) if summary is None else summary
            for j in range(d):
                self._decide(j, leaf[j], n_cat[j], "numeric", summary.count[j], summary.integral[j],
                             summary.levels[j], summary.mean[j], summary.m2[j])
        else:
            for j in range(d):
                self._fit_column(j, _column_values(X, j), leaf[j], n_cat[j])
        self.kinds = self.kinds.astype(str)
        return self

    def keep_levels(self, d, names=None):
        """Per column: whether ``leaf`` forces it categorical, so that its summary keeps
        every level (see :func:`summarise`)."""
        self.names = None if names is None else np.asarray(names, dtype=object)
        return [kind == "categorical" for kind in self._per_column(self.leaf, "leaf", d)]

    def _fit_column(self, j, series, leaf, n_cat):
        label = self.label(j)
        kind = _series_kind(series, label)
        if kind == "numeric":
            values = _numeric(series)
            check_finite(values, label)
            s = _NumericSummary(values[:, None], [leaf == "categorical"])
            self._decide(j, leaf, n_cat, kind, s.count[0], s.integral[0], s.levels[0], s.mean[0], s.m2[0])
            return
        observed = int(series.notna().sum())
        if isinstance(series.dtype, pd.CategoricalDtype):
            levels = list(series.cat.categories)  # every declared category, as OrdinalEncoder
        else:
            levels = _sorted_levels(series.to_numpy(dtype=object))
        self._decide(j, leaf, n_cat, kind, observed, False, levels, 0.0, 0.0)

    def _decide(self, j, leaf, n_cat, kind, count, integral, levels, mean, m2):
        label = self.label(j)
        if count == 0:
            raise ValueError(f"{label} has no observed value (all NaN); drop it.")
        declared = n_cat not in ("auto", None) and n_cat > 0
        if kind == "levels":
            if leaf == "gaussian" or n_cat is None or (n_cat != "auto" and n_cat >= 0):
                what = "leaf='gaussian'" if leaf == "gaussian" else f"n_categories={n_cat!r}"
                raise ValueError(
                    f"{label} holds non-numeric values ({', '.join(map(repr, list(levels)[:3]))}, ...) "
                    f"and can only be categorical, but {what} makes it numeric; change that entry."
                )
            categorical = True
            if len(levels) > max(AUTO_MAX_LEVELS, ID_LIKE_SHARE * count):
                warnings.warn(
                    f"{label} holds {len(levels)} distinct values in {count} rows: as a categorical "
                    "column nearly every row is a level of its own, which the model cannot learn from "
                    "(new values score as unseen). Drop it, or turn it into numbers (dates: "
                    "pandas.to_datetime).", UserWarning, stacklevel=2)
        elif declared:
            if leaf == "gaussian":
                raise ValueError(
                    f"{label}: leaf='gaussian' and n_categories={n_cat} contradict each other; "
                    "set one of them."
                )
            categorical, levels = True, np.arange(n_cat, dtype=np.float64)
        elif n_cat is None or n_cat == 0:
            if leaf == "categorical":
                raise ValueError(
                    f"{label}: leaf='categorical' and n_categories={n_cat!r} (not categorical) contradict "
                    "each other; set one of them."
                )
            categorical = False
        elif leaf == "auto":
            limit = min(AUTO_MAX_LEVELS, max(2, math.isqrt(int(count))))
            categorical = bool(integral) and levels is not None and len(levels) <= limit
        else:
            categorical = leaf == "categorical"
        if categorical:
            self.kinds[j] = "categorical"
            self.levels[j] = np.asarray(levels) if kind == "numeric" else np.asarray(levels, dtype=object)
        else:
            self.kinds[j] = "gaussian"
            std = math.sqrt(m2 / count) if count else 0.0
            self.loc[j], self.scale[j] = mean, (std if std > 0 and np.isfinite(std) else 1.0)
            if not np.isfinite(mean):
                raise ValueError(f"{label} is too large to summarise in float64 (mean {mean}); rescale it.")

    def _per_column(self, value, name, d):
        """A parameter given once, per column (array) or by name (dict), as a list of d."""
        default = "auto"
        if isinstance(value, dict):
            out = [default] * d
            for key, v in value.items():
                out[self._index(key, name, d)] = v
        elif isinstance(value, str) or value is None or isinstance(value, Integral):
            out = [value] * d
        else:
            out = list(np.asarray(value, dtype=object).ravel())
            if len(out) != d:
                raise ValueError(f"{name} has {len(out)} entries, expected one per column ({d}).")
        for j, v in enumerate(out):
            if name == "leaf" and v not in ("auto", *KINDS):
                raise ValueError(
                    f"unknown leaf type {v!r} for {self.label(j)}; use 'auto', 'categorical' or 'gaussian'."
                )
            if name == "n_categories" and not (v == "auto" or v is None or (
                    isinstance(v, (Integral, np.integer)) and not isinstance(v, bool) and v >= 0)):
                raise ValueError(
                    f"n_categories for {self.label(j)} must be 'auto', a non-negative integer, or None "
                    f"(0 or None: not categorical), got {v!r}."
                )
            if name == "n_categories" and isinstance(v, (Integral, np.integer)):
                out[j] = int(v)
        return out

    def _index(self, key, name, d):
        if isinstance(key, (Integral, np.integer)) and not isinstance(key, bool) and -d <= key < d:
            return int(key) % d
        if self.names is not None:
            hits = np.flatnonzero(self.names == str(key))
            if len(hits):
                return int(hits[0])
        known = "" if self.names is None else f"; the columns are {list(self.names)}"
        raise ValueError(f"{name} names the column {key!r}, which X does not have{known}.")

    # -- facts -----------------------------------------------------------------------------
    def label(self, j):
        return column_label(self.names, j)

    @property
    def n_features(self):
        return len(self.kinds)

    @property
    def n_levels(self):
        """Known levels of each column (0 for Gaussian columns): ``n_categories_``."""
        return np.array([0 if lv is None else len(lv) for lv in self.levels], dtype=np.int64)

    @property
    def n_codes(self):
        """Categories of each column in the engine: the known levels plus "unseen"."""
        return np.where(self.n_levels > 0, self.n_levels + int(self.unseen), 0)

    @property
    def numeric_levels(self):
        """Per column: the levels as float64 when they are all numbers, else None."""
        return self._derived()["numeric_levels"]

    def _derived(self):
        """Facts that follow from the fitted description, computed once (encoding runs per
        batch): the levels as numbers, and the column groups of :meth:`_encode_numeric`
        (categorical with levels 0..K-1, coded as they are; other categorical; Gaussian)."""
        if not getattr(self, "_cache", None):
            numeric = []
            for lv in self.levels:
                try:
                    numeric.append(None if lv is None else np.asarray(lv, dtype=np.float64))
                except (TypeError, ValueError):
                    numeric.append(None)
            identity = np.array([j for j, lv in enumerate(self.levels)
                                 if lv is not None and lv.dtype.kind in "iuf"
                                 and np.array_equal(lv, np.arange(len(lv)))], dtype=np.int64)
            categorical = np.flatnonzero(self.kinds == "categorical")
            self._cache = {"numeric_levels": numeric, "identity": identity,
                           "other": np.setdiff1d(categorical, identity),
                           "gaussian": np.flatnonzero(self.kinds != "categorical")}
        return self._cache

    def describe(self, most=10):
        """One line per column (the first ``most`` of them, then a count): name, kind, and
        levels or location and scale (for ``verbose``)."""
        lines = []
        for j in range(min(self.n_features, most)):
            if self.kinds[j] == "categorical":
                lv = self.levels[j]
                shown = ", ".join(repr(plain(v)) for v in lv[:6])
                more = ", ..." if len(lv) > 6 else ""
                lines.append(f"  {self.label(j)}: categorical, {len(lv)} levels ({shown}{more})")
            else:
                lines.append(f"  {self.label(j)}: gaussian, location {self.loc[j]:.4g}, "
                             f"scale {self.scale[j]:.4g}")
        if self.n_features > most:
            rest = self.kinds[most:]
            lines.append(f"  ... {len(rest)} more: {int(np.sum(rest == 'categorical'))} categorical, "
                         f"{int(np.sum(rest == 'gaussian'))} gaussian (leaf_types_ lists them all)")
        return "\n".join(lines)

    # -- encoding --------------------------------------------------------------------------
    def check(self, X, offset=0):
        """Check a whole table before it is encoded in batches: infinite values, and unseen
        categorical values under ``handle_unknown="error"``; rows are counted from
        ``offset`` (a piece of a larger array)."""
        if _numeric_array(X):
            for rows in row_chunks(X.shape[0]):
                self._encode_numeric(X[rows], check_only=True, offset=offset + rows.start)
        else:
            self._encode_table(X)

    def encode(self, X, dtype=np.float64):
        """The engine's codes of ``X``, checked whole (rows counted from 0).

        An ndarray of ``dtype``; for a memmap or a numeric array of more than
        ``ENCODE_AT_ONCE`` entries, a row-indexable view that encodes the rows it is asked
        for, so that the data are never copied whole.
        """
        if X.shape[1] != self.n_features:
            raise ValueError(f"X has {X.shape[1]} features, but the model expects {self.n_features}.")
        if not _numeric_array(X):
            return self._encode_table(X).astype(dtype, copy=False)
        if isinstance(X, np.memmap) or X.size > ENCODE_AT_ONCE:
            self.check(X)
            return _EncodedRows(X, self)
        if 0 < X.shape[0] <= CHUNK_ROWS and dtype == np.float64:  # one chunk: its codes as they are
            return self._encode_numeric(X)
        out = np.empty(X.shape, dtype=dtype)
        for rows in row_chunks(X.shape[0]):  # float64 arithmetic, stored in dtype
            out[rows] = self._encode_numeric(X[rows], offset=rows.start)
        return out

    def _encode_numeric(self, X, check_only=False, offset=0):
        """Codes of numeric rows, whole column groups at a time (this runs per batch)."""
        X = np.asarray(X)
        out = np.array(X, dtype=np.float64)
        if X.dtype.kind == "f":
            bad = np.isinf(out)
            if bad.any():
                j = int(np.flatnonzero(bad.any(axis=0))[0])
                check_finite(out[:, j], self.label(j), offset)
        groups = self._derived()
        identity, gaussian = groups["identity"], groups["gaussian"]
        if len(identity):
            whole = len(identity) == out.shape[1]
            V = self._identity_codes(out if whole else out[:, identity], identity, offset)
            if not whole:
                out[:, identity] = V
        for j in groups["other"]:
            out[:, j] = self._codes(j, out[:, j], offset)
        if len(gaussian):
            out[:, gaussian] = (out[:, gaussian] - self.loc[gaussian]) / self.scale[gaussian]
        return None if check_only else out

    def _identity_codes(self, V, columns, offset):
        """Codes of values ``V`` (rows x len(columns)) of categorical columns whose levels are
        0..K-1: the values themselves, K where unseen (or an error), NaN where missing.
        Writes into ``V`` and returns it."""
        K = self.n_levels[columns]
        with np.errstate(invalid="ignore"):
            unseen = ~np.isnan(V) & ~((V >= 0) & (V < K) & (V == np.round(V)))
        if unseen.any():
            if self.handle_unknown == "error":
                i, c = np.argwhere(unseen)[0]
                j = columns[c]
                raise unseen_value_error(self.label(j), V[i, c], self.levels[j], i + offset)
            V[unseen] = np.broadcast_to(K, V.shape)[unseen]
        return V

    def _codes(self, j, values, offset=0):
        """Codes of a numeric column's values (NaN stays NaN; unseen -> K or an error)."""
        if j in self._derived()["identity"]:
            return self._identity_codes(values.copy()[:, None], np.array([j]), offset)[:, 0]
        levels = self.levels[j]
        K = len(levels)
        seen = ~np.isnan(values)
        numeric = self.numeric_levels[j]
        if numeric is None:
            codes = pd.Index(levels).get_indexer(values).astype(np.float64)
        else:
            idx = np.minimum(np.searchsorted(numeric, np.where(seen, values, 0.0)), K - 1)
            codes = idx.astype(np.float64)
            codes[numeric[idx] != values] = -1
        unseen = seen & (codes < 0)
        if unseen.any():
            if self.handle_unknown == "error":
                i = int(np.flatnonzero(unseen)[0])
                raise unseen_value_error(self.label(j), values[i], levels, i + offset)
            codes = np.where(unseen, K, codes)
        return np.where(seen, codes, np.nan)

    def _encode_table(self, X):
        out = np.empty(X.shape, dtype=np.float64)
        for j in range(self.n_features):
            series = _column_values(X, j)
            label = self.label(j)
            if _series_kind(series, label) == "numeric" and not (
                    self.kinds[j] == "categorical" and self.numeric_levels[j] is None):
                values = _numeric(series)
                check_finite(values, label)
                out[:, j] = (self._codes(j, values) if self.kinds[j] == "categorical"
                             else (values - self.loc[j]) / self.scale[j])
                continue
            if self.kinds[j] != "categorical":
                level = series.dropna().iloc[0]
                raise ValueError(
                    f"{label} is Gaussian (numeric) in the model but holds the non-numeric value {level!r}."
                )
            values = series.to_numpy(dtype=object)
            missing = pd.isna(series).to_numpy()
            codes = pd.Index(self.levels[j], dtype=object).get_indexer(values).astype(np.float64)
            unseen = ~missing & (codes < 0)
            if unseen.any():
                if self.handle_unknown == "error":
                    i = int(np.flatnonzero(unseen)[0])
                    raise unseen_value_error(label, values[i], self.levels[j], i)
                codes[unseen] = len(self.levels[j])
            codes[missing] = np.nan
            out[:, j] = codes
        return out

    def log_jacobian(self, Z):
        """``-sum log(scale)`` over the observed Gaussian entries of each encoded row:
        what turns a density of the standardised values into one of the user's values."""
        gaussian = np.flatnonzero(self.kinds == "gaussian")
        if not len(gaussian):
            return np.zeros(Z.shape[0])
        seen = ~np.isnan(np.asarray(Z[:, gaussian], dtype=np.float64))
        return -(seen * np.log(self.scale[gaussian])).sum(axis=1)

    # -- decoding --------------------------------------------------------------------------
    def _values(self, j, z):
        """User values of column j from engine values ``z`` (no NaN)."""
        if self.kinds[j] == "categorical":
            codes = np.clip(np.round(z), 0, len(self.levels[j]) - 1).astype(np.int64)
            return self.levels[j][codes]
        values = z * self.scale[j] + self.loc[j]
        dtype = self.dtypes[j]
        if _is_integer_dtype(dtype):
            values = np.round(values)
        return values

    def decode(self, Z):
        """Rows of engine values (no NaN) in the fitted input's types: a DataFrame with the
        same columns and dtypes when fitted on one, else an ndarray (float64, or object when
        some levels are not numbers)."""
        columns = [self._values(j, Z[:, j]) for j in range(self.n_features)]
        if self.frame:
            names = self.names if self.names is not None else range(self.n_features)
            return pd.DataFrame({name: _as_dtype(col, self.dtypes[j])
                                 for j, (name, col) in enumerate(zip(names, columns, strict=True))})
        if all(lv is None or nl is not None for lv, nl in zip(self.levels, self.numeric_levels, strict=True)):
            return np.column_stack([np.asarray(c, dtype=np.float64) for c in columns]).reshape(Z.shape)
        out = np.empty(Z.shape, dtype=object)
        for j, c in enumerate(columns):
            out[:, j] = c
        return out

    def complete(self, X, Z, missing):
        """A copy of the user's ``X`` with its ``missing`` entries taken from engine values
        ``Z``; every other entry is copied bit for bit. Returns the type of ``X``:
        a DataFrame (same columns and dtypes where they can hold the values), or an ndarray
        of ``X``'s dtype when ``dtype`` fits (float64 for integer arrays)."""
        if is_frame(X):
            out = X.copy()
            for j in np.flatnonzero(missing.any(axis=0)):
                rows = np.flatnonzero(missing[:, j])
                values = self._values(j, Z[rows, j])
                column = out.iloc[:, j]
                if len(rows) == len(column):  # nothing observed (a CSV's empty column reads as floats)
                    out[out.columns[j]] = pd.Series(_as_dtype(values, self.dtypes[j]), index=out.index)
                    continue
                if pd.api.types.is_integer_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
                    values = values.astype(column.dtype.numpy_dtype if hasattr(column.dtype, "numpy_dtype")
                                           else column.dtype)
                filled = column.copy()
                try:
                    filled.iloc[rows] = values
                except (TypeError, ValueError):  # a dtype that cannot hold them (categories short of a level)
                    filled = column.astype(object)
                    filled.iloc[rows] = values
                out[out.columns[j]] = filled
            return out
        X = np.asarray(X)
        dtype = X.dtype if X.dtype.kind in "fO" else np.float64
        if X.dtype.kind in "US":
            dtype = object
        out = np.array(X, dtype=dtype)
        for j in np.flatnonzero(missing.any(axis=0)):
            rows = np.flatnonzero(missing[:, j])
            out[rows, j] = self._values(j, Z[rows, j])
        return out

    # -- model files -------------------------------------------------------------------------
    def get_state(self):
        """The description as JSON-able values (levels as lists, dtypes by name)."""
        return {
            "kinds": self.kinds.tolist(),
            "levels": [None if lv is None else [plain(v) for v in lv] for lv in self.levels],
            "level_types": [None if lv is None else lv.dtype.kind for lv in self.levels],
            "loc": self.loc.tolist(), "scale": self.scale.tolist(),
            "dtypes": [str(dt) for dt in self.dtypes], "frame": bool(self.frame),
            "names": None if self.names is None else [str(n) for n in self.names],
            "handle_unknown": self.handle_unknown, "unseen": bool(self.unseen),
            "categories": [list(map(plain, dt.categories)) if isinstance(dt, pd.CategoricalDtype) else None
                           for dt in self.dtypes],
        }

    @classmethod
    def from_state(cls, state):
        out = cls(handle_unknown=state["handle_unknown"])
        out.unseen = bool(state.get("unseen", True))
        out.kinds = np.asarray(state["kinds"], dtype=str)
        out.levels = [None if lv is None else np.asarray(lv, dtype=object if kind == "O" else None)
                      for lv, kind in zip(state["levels"], state["level_types"], strict=True)]
        out.loc, out.scale = np.asarray(state["loc"], float), np.asarray(state["scale"], float)
        out.dtypes = [pd.CategoricalDtype(cats) if cats is not None else pd.api.types.pandas_dtype(name)
                      for name, cats in zip(state["dtypes"], state["categories"], strict=True)]
        out.frame = state["frame"]
        out.names = None if state["names"] is None else np.asarray(state["names"], dtype=object)
        return out


def _is_integer_dtype(dtype):
    try:
        return pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    except TypeError:
        return False


def _as_dtype(values, dtype):
    """A decoded column in its input dtype (categories keep their categories)."""
    if isinstance(dtype, pd.CategoricalDtype):
        return pd.Categorical(values, dtype=dtype)
    try:
        return pd.array(values, dtype=dtype) if not isinstance(dtype, np.dtype) else np.asarray(values, dtype)
    except (TypeError, ValueError):
        return values


class _EncodedRows:
    """Rows of a numeric array encoded when indexed (``view[rows]``), so a memmap or a
    large array is never copied whole; ``shape`` is that of the array."""

    def __init__(self, X, columns):
        self.raw, self.columns = X, columns
        self.shape = X.shape
        self.dtype = np.dtype(np.float64)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, rows):
        return self.columns._encode_numeric(self.raw[rows])

    def __array__(self, dtype=None, copy=None):
        out = self.columns._encode_numeric(self.raw)
        return out if dtype is None else out.astype(dtype)
