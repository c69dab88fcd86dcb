"""PCImputer: fill missing values with a probabilistic circuit, as a scikit-learn transformer."""

from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import check_is_fitted, validate_data

from skpc import _queries
from skpc._backend import to_host, to_output
from skpc.columns import as_table, is_frame
from skpc.estimator import PCDensityEstimator

#: Parameters passed through to the inner PCDensityEstimator.
_FORWARDED = (
    "structure", "n_latents", "solver", "batch_size", "step_size", "schedule", "max_iter", "tol",
    "pseudocount", "n_categories", "leaf", "handle_unknown", "early_stopping", "validation_fraction",
    "n_iter_no_change", "random_state", "verbose", "device", "dtype", "structure_params", "min_var",
    "reg_covar",
)


class PCImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Impute missing values (NaN) from a probabilistic circuit fitted on incomplete data.

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
    structure, n_latents, solver, batch_size, step_size, schedule, max_iter, tol, pseudocount, \
n_categories, leaf, handle_unknown, early_stopping, validation_fraction, n_iter_no_change, \
random_state, verbose, device, dtype, structure_params, min_var, reg_covar
        Passed to the inner :class:`~skpc.PCDensityEstimator` (same meanings and defaults).
        ``random_state`` also seeds ``strategy="sample"``. A categorical value not seen
        in training is evidence like any other (``handle_unknown="score"``); it is
        never imputed.

    Attributes
    ----------
    estimator_ : PCDensityEstimator
        The fitted circuit.
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
        **{name: PCDensityEstimator._parameter_constraints[name] for name in _FORWARDED},
    }

    def __init__(
        self,
        strategy="mode",
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
        handle_unknown="score",
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
        self.handle_unknown = handle_unknown
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

    def _validate(self, X, reset):
        X = as_table(to_host(X))  # the data layer's checks and messages (skpc.columns)
        validate_data(self, X, reset=reset, skip_check_array=True)
        return X

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the circuit on ``X``, marginalising its missing values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NaN marks a missing value; no column may be entirely missing.
        y : None
            Ignored.

        Returns
        -------
        self : PCImputer
        """
        X = self._validate(X, reset=True)
        params = {name: getattr(self, name) for name in _FORWARDED}
        self.estimator_ = PCDensityEstimator(**params).fit(X)
        self.n_iter_ = self.estimator_.n_iter_
        return self

    def transform(self, X):
        """Fill the NaN entries of ``X`` according to ``strategy``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_filled : ndarray or DataFrame of shape (n_samples, n_features)
            Observed entries are returned unchanged, bit for bit, in the input's dtype
            (an object array for string columns). With ``set_output(transform="pandas")``
            and a DataFrame input, a DataFrame with the input's columns and dtypes. A
            device array under array-API dispatch for device input when the circuit lives
            on the GPU (see
            :class:`~skpc.PCDensityEstimator`'s ``device``).
        """
        check_is_fitted(self)
        X_host = self._validate(X, reset=False)
        est = self.estimator_
        query = est._check_query_X(X_host)
        _, Z, missing = query
        if not missing.any():
            out = est.columns_.complete(X_host, Z, missing)
        elif self.strategy == "mean":
            out = _queries.conditional_means(est, *query)
        else:
            if self.strategy == "mpe":
                Z = _queries.mpe(est, Z, 4096)
            elif self.strategy == "sample":
                Z = est._descend(Z, "sample", self.random_state)
            else:
                Z = _queries.modes(est, Z)
            out = est.columns_.complete(X_host, Z, missing)
        # Observed entries are copied bit for bit; a DataFrame keeps its dtypes when
        # pandas output is asked for (set_output), else results are arrays as in
        # scikit-learn's imputers.
        if is_frame(out):
            return out if _get_output_config("transform", self)["dense"] == "pandas" else out.to_numpy()
        return out if out.dtype == object else to_output(out, X, est.circuit_.backend)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
