"""PCImputer: fill missing values with a probabilistic circuit, as a scikit-learn transformer."""

import copy
import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.impute import MissingIndicator
from sklearn.utils._mask import _get_mask
from sklearn.utils._missing import is_scalar_nan
from sklearn.utils._param_validation import MissingValues, StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from skpc import _queries
from skpc._backend import to_host, to_output
from skpc._model_file import ModelFileMixin
from skpc._validation import column_label
from skpc.estimator import PCDensityEstimator

#: Parameters passed through to the inner PCDensityEstimator.
_FORWARDED = (
    "structure", "n_latents", "solver", "batch_size", "step_size", "schedule", "max_iter", "tol",
    "pseudocount", "n_categories", "leaf", "early_stopping", "validation_fraction",
    "n_iter_no_change", "random_state", "verbose", "device", "dtype", "structure_params", "min_var",
    "reg_covar",
)


class PCImputer(ModelFileMixin, TransformerMixin, BaseEstimator):
    """Impute missing values from a probabilistic circuit fitted on incomplete data.

    ``fit`` learns a :class:`~skpc.PCDensityEstimator` from ``X`` with its missing values
    marginalised out exactly (no prior filling); ``transform`` fills each row's NaN entries
    from the circuit's distribution of the missing entries given the observed ones.

    Parameters
    ----------
    strategy : {"mode", "mpe", "mean", "sample"}, default="mode"
        How NaN entries are filled:

        - ``"mode"``: each entry independently takes its most probable value given the
          observed entries of its row (exact; maximises the expected number of correct
          entries). Gaussian columns take their conditional mean.
        - ``"mpe"``: the most probable joint completion of the row
          (:meth:`PCDensityEstimator.predict_mpe`: exact for small numbers of completions,
          else max-product with local search).
        - ``"mean"``: the exact conditional mean ``E[x_j | observed]`` (minimises the
          expected squared error; categories are treated as ordinal numbers).
        - ``"sample"``: a draw from ``p(missing | observed)`` (multiple imputation: vary
          ``random_state``).
    missing_values : int, float, str, np.nan, None or pandas.NA, default=np.nan
        The placeholder of a missing value, as in :class:`sklearn.impute.SimpleImputer`:
        every entry equal to it is imputed. When it is not NaN, an input holding NaN is
        refused.
    add_indicator : bool, default=False
        Append a :class:`~sklearn.impute.MissingIndicator` to the output: one 0/1 column
        per feature that had missing values in ``fit`` (after the imputed columns), as
        scikit-learn's imputers do.
    keep_empty_features : bool, default=False
        What becomes of a feature with no observed value in ``fit`` (left out of the
        circuit, with a warning): dropped from the output of ``transform`` (``False``),
        or kept with its missing entries filled with 0 (``True``), as in
        :class:`~sklearn.impute.SimpleImputer`.
    structure, n_latents, solver, batch_size, step_size, schedule, max_iter, tol, pseudocount, \
n_categories, leaf, early_stopping, validation_fraction, n_iter_no_change, random_state, verbose, \
device, dtype, structure_params, min_var, reg_covar
        Passed to the inner :class:`~skpc.PCDensityEstimator` (same meanings and defaults).
        ``random_state`` also seeds ``strategy="sample"``. Categorical columns must not
        meet new categories in ``transform``; set ``n_categories`` when a split may hide
        the largest category.

    Attributes
    ----------
    estimator_ : PCDensityEstimator
        The fitted circuit, over the features with at least one observed value.
    indicator_ : MissingIndicator
        Only when ``add_indicator=True``: the indicator of the missing entries.
    n_iter_ : int
        Epochs run by the inner estimator.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has feature names that are all strings.

    See Also
    --------
    sklearn.impute.IterativeImputer, sklearn.impute.KNNImputer

    Examples
    --------
    >>> import numpy as np
    >>> from skpc import PCImputer
    >>> from skpc.datasets import load_debd
    >>> X = load_debd("nltcs")[:2000]
    >>> X[::3, 0] = np.nan
    >>> imp = PCImputer(n_latents=8, max_iter=5, random_state=0).fit(X)
    >>> bool(np.isnan(imp.transform(X)).any())
    False
    """

    _parameter_constraints = {
        "strategy": [StrOptions({"mode", "mpe", "mean", "sample"})],
        "missing_values": [MissingValues()],
        "add_indicator": ["boolean"],
        "keep_empty_features": ["boolean"],
        **{name: PCDensityEstimator._parameter_constraints[name] for name in _FORWARDED},
    }

    def __init__(
        self,
        strategy="mode",
        *,
        missing_values=np.nan,
        add_indicator=False,
        keep_empty_features=False,
        structure="hclt",
        n_latents="auto",
        solver="anemone",
        batch_size=512,
        step_size=1.0,
        schedule="cosine",
        max_iter="auto",
        tol=1e-3,
        pseudocount=0.001,
        n_categories="auto",
        leaf="auto",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        random_state=None,
        verbose=0,
        device="cpu",
        dtype="float32",
        structure_params=None,
        min_var=1e-3,
        reg_covar=0.0,
    ):
        self.strategy = strategy
        self.missing_values = missing_values
        self.add_indicator = add_indicator
        self.keep_empty_features = keep_empty_features
        self.structure = structure
        self.n_latents = n_latents
        self.solver = solver
        self.batch_size = batch_size
        self.step_size = step_size
        self.schedule = schedule
        self.max_iter = max_iter
        self.tol = tol
        self.pseudocount = pseudocount
        self.n_categories = n_categories
        self.leaf = leaf
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.dtype = dtype
        self.structure_params = structure_params
        self.min_var = min_var
        self.reg_covar = reg_covar

    @classmethod
    def _around(cls, estimator, **params):
        """A PCImputer over an already fitted ``estimator`` (``skpc impute`` on a density model)."""
        imputer = cls(**{**{name: getattr(estimator, name) for name in _FORWARDED}, **params})
        imputer.n_iter_, imputer.n_features_in_ = estimator.n_iter_, estimator.n_features_in_
        inner = copy.copy(estimator)  # the same circuit; the names move to the imputer, as in fit
        if hasattr(estimator, "feature_names_in_"):
            imputer.feature_names_in_ = estimator.feature_names_in_
            del inner.feature_names_in_
        imputer.estimator_ = inner
        imputer._valid_mask = np.ones(estimator.n_features_in_, dtype=bool)
        return imputer

    def _validate(self, X, reset):
        """``X`` on the host as floats, and its mask of missing entries."""
        X = validate_data(
            self, to_host(X), reset=reset, dtype=[np.float64, np.float32],
            ensure_all_finite="allow-nan" if is_scalar_nan(self.missing_values) else True,
        )
        return X, _get_mask(X, self.missing_values)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the circuit on ``X``, marginalising its missing values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Entries equal to ``missing_values`` (NaN by default) are missing.
        y : None
            Ignored.

        Returns
        -------
        self : PCImputer
        """
        X, mask = self._validate(X, reset=True)
        if self.add_indicator:
            self.indicator_ = MissingIndicator(missing_values=self.missing_values, error_on_new=False).fit(X)
        self._valid_mask = ~mask.all(axis=0)
        if not self._valid_mask.any():
            raise ValueError("every column of X is missing; PCImputer needs at least one observed value.")
        if not self._valid_mask.all():
            names = getattr(self, "feature_names_in_", None)
            empty = ", ".join(column_label(names, j) for j in np.flatnonzero(~self._valid_mask))
            fate = "kept and filled with 0" if self.keep_empty_features else "dropped from the output"
            warnings.warn(
                f"Skipping features without any observed values: {empty} ({fate}; see keep_empty_features).",
                UserWarning,
            )
        params = {name: getattr(self, name) for name in _FORWARDED}
        X_valid = np.where(mask, np.nan, X)[:, self._valid_mask]
        self.estimator_ = PCDensityEstimator(**params).fit(X_valid)
        self.n_iter_ = self.estimator_.n_iter_
        return self

    def transform(self, X):
        """Fill the missing entries of ``X`` according to ``strategy``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_filled : ndarray of shape (n_samples, n_features_out)
            Observed entries are returned unchanged. Features without an observed value
            in ``fit`` are dropped unless ``keep_empty_features=True``; with
            ``add_indicator=True`` the indicator columns follow. A device array under
            array-API dispatch for device input when the circuit lives on the GPU (see
            :class:`~skpc.PCDensityEstimator`'s ``device``).
        """
        check_is_fitted(self)
        X_host, mask = self._validate(X, reset=False)
        est, valid = self.estimator_, self._valid_mask
        X_valid = np.where(mask, np.nan, X_host)[:, valid]
        est._check_categories(X_valid)
        if not mask[:, valid].any():
            out = X_valid
        elif self.strategy == "mpe":
            out = est.predict_mpe(X_valid)
        elif self.strategy == "sample":
            out = est.sample_conditional(X_valid, random_state=self.random_state)
        else:
            proba, out = _queries.marginals(est, est._check_query_X(X_valid))
            if self.strategy == "mode":
                categorical = est.n_categories_ > 0
                out[:, categorical] = proba[:, categorical].argmax(axis=2)
        seen = ~mask[:, valid]
        out = np.where(seen, X_valid, out).astype(X_host.dtype, copy=False)  # observed entries as given
        if self.keep_empty_features and not valid.all():
            full = np.where(mask, 0, X_host).astype(X_host.dtype, copy=False)
            full[:, valid] = out
            out = full
        if self.add_indicator:
            out = np.hstack([out, self.indicator_.transform(X_host).astype(out.dtype)])
        return to_output(out, X, est.circuit_.backend)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: the imputed features, then the indicator's.

        Parameters
        ----------
        input_features : array-like of str or None, default=None

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self, "n_features_in_")
        names = _check_feature_names_in(self, input_features)
        out = names if self.keep_empty_features else names[self._valid_mask]
        if self.add_indicator:
            out = np.concatenate([out, self.indicator_.get_feature_names_out(names)])
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = is_scalar_nan(self.missing_values)
        return tags
