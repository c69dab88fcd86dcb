"""PCClassifier: exact p(y | x) from one probabilistic circuit over the features and the label."""

from numbers import Integral

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from skpc._fronts import (
    FORWARDED,
    check_features,
    check_labels,
    inner_call,
    inner_params,
    is_frame,
    take_rows,
)
from skpc._model_file import ModelFileMixin
from skpc.engine.parallel import single_threaded_blas
from skpc.estimator import PCDensityEstimator

#: Rows encoded at once by ``predict_log_proba`` (each is then scored once per class).
PREDICT_CHUNK_ROWS = 4096


def _label_key(X):
    """Name (or index) of the label column that ``_append_column`` adds to ``X``."""
    names = list(X.columns) if is_frame(X) else None
    if names is None or not all(isinstance(name, str) for name in names):
        return X.shape[1]  # positions, so that the new name has the same type as the others
    key = "label"
    while key in names:
        key = "_" + key
    return key


def _append_column(X, values):
    """``X`` with ``values`` as one more, last, column (DataFrames stay DataFrames)."""
    if not is_frame(X):
        if X.dtype.kind not in "biuf":  # strings or objects: the codes stay integers
            X = X.astype(object)
        return np.column_stack([X, values])
    key = _label_key(X)
    X = X.copy(deep=False)
    if isinstance(key, int):
        X.columns = range(key)
    X[key] = values
    return X


def _log_joint(density, codes, n_classes):
    """``log p(x, y=c)`` of each row of the engine's ``codes`` (the label last, its value
    ignored) and each class c, shape (n_rows, n_classes): the rows scored once per class,
    with the class's code ``c`` written in the label column."""
    rows = np.array(codes, dtype=np.float64)  # a copy whose label column is rewritten
    out = np.empty((rows.shape[0], n_classes))
    with single_threaded_blas():  # the engine uses the cores itself
        for c in range(n_classes):
            rows[:, -1] = c
            out[:, c] = density._log_likelihood(rows)
    return out


class JointDensity(PCDensityEstimator):
    """PCClassifier's circuit of p(x, y), the label its last column, coded ``0..n_classes-1``.

    A PCDensityEstimator whose early stopping and capacity search (``structure="auto"``)
    maximise the held-out log p(y | x), the classifier's task, instead of the joint
    log-likelihood, which the features dominate: ``history_["valid_loglik"]`` and the
    candidates' ``"valid_loglik"`` in ``capacity_search_`` are means of log p(y | x).
    The search takes the candidate with the best held-out log p(y | x): the one-standard-
    error rule's smaller circuits measured worse or equal there (log loss at 50% missing
    features, the folds of ``benchmarks/classification.py``: wine 0.232 against 0.204,
    nltcs 0.512 against 0.506, breast cancer 0.166 against 0.167).
    """

    _capacity_rule = "best score"

    #: One start for the refit: the classifier's figures (benchmarks/RESULTS_classification.md)
    #: were measured so, and its training log-likelihood is the joint one, not its log loss.
    _refit_starts = 1

    def _selection_scores(self, X):
        labels = np.asarray(X[:, -1]).astype(np.int64)
        joint = _log_joint(self, X, int(self.columns_.n_levels[-1]))
        return joint[np.arange(len(joint)), labels] - logsumexp(joint, axis=1)


class PCClassifier(ModelFileMixin, ClassifierMixin, BaseEstimator):
    """Classification with one probabilistic circuit over the features and the label.

    ``fit`` learns a :class:`~skpc.PCDensityEstimator` of the joint distribution
    p(x, y), the label being one more categorical column of the circuit. Predictions are
    exact: ``p(y | x) = p(x, y) / sum_y' p(x, y')``, where ``p(x, y)`` marginalises the
    missing (NaN) features of ``x`` exactly. Features missing at prediction time, or in
    training, need no imputation.

    One joint circuit, rather than one circuit per class with class priors, because it
    measured better: on breast cancer, wine and digits, at 0% and 50% missing test
    entries, its log loss was 2.4 to 5.3 times lower, its accuracy within a point on
    complete data and 6 points higher on wine and digits at 50% missing (half a point
    lower on breast cancer); the per-class circuits, each fitted on a fraction of the
    rows, were overconfident (``benchmarks/RESULTS_classification.md``). It is also one
    fit instead of one per class.

    Parameters
    ----------
    structure, n_latents, solver, batch_size, step_size, schedule, max_iter, tol, pseudocount, \
n_categories, leaf, handle_unknown, early_stopping, validation_fraction, n_iter_no_change, \
random_state, verbose, device, dtype, structure_params, min_var, reg_covar, \
final_step_size, schedule_warmup, batches_per_update, momentum
        Passed to the inner :class:`~skpc.PCDensityEstimator` (same meanings and
        defaults), which models the features and the label; ``leaf`` and
        ``n_categories`` describe the features (the label is always categorical, with
        one category per class). A :class:`~skpc.structures.RegionGraph` given as
        ``structure`` must cover ``n_features + 1`` variables, the label being the last;
        ``structure="pd"`` (an image) does not apply. ``random_state`` also seeds
        ``sample``. Early stopping and the capacity search of ``structure="auto"``
        choose by the held-out log p(y | x) (the log loss), not by the joint likelihood.

    Attributes
    ----------
    estimator_ : JointDensity
        The fitted circuit over the features and the label (its last column holds the
        class codes ``0..n_classes-1``, in the order of ``classes_``): a
        :class:`~skpc.PCDensityEstimator` whose early stopping and capacity search
        choose by the held-out log p(y | x).
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted (as :class:`~sklearn.preprocessing.LabelEncoder`).
    n_iter_ : int
        Epochs run by the inner estimator.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has feature names that are all strings.

    See Also
    --------
    sklearn.naive_bayes.CategoricalNB : A circuit with one hidden variable, the class.
    sklearn.ensemble.HistGradientBoostingClassifier : Handles NaN features natively.

    Notes
    -----
    ``fit`` takes no ``sample_weight``: the solvers learn from unweighted flows.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_wine
    >>> from skpc import PCClassifier
    >>> X, y = load_wine(return_X_y=True)
    >>> clf = PCClassifier(random_state=0).fit(X, y)
    >>> X_missing = X.copy()
    >>> X_missing[::2, :6] = np.nan   # half the rows lose six of their 13 features
    >>> bool(clf.score(X_missing, y) > 0.85)
    True
    """

    _parameter_constraints = {name: PCDensityEstimator._parameter_constraints[name] for name in FORWARDED}

    def __init__(
        self,
        structure="auto",
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
        min_var=1e-6,
        reg_covar="auto",
        final_step_size=None,
        schedule_warmup=0.0,
        batches_per_update=1,
        momentum=0.0,
    ):
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
        self.final_step_size = final_step_size
        self.schedule_warmup = schedule_warmup
        self.batches_per_update = batches_per_update
        self.momentum = momentum

    def _label_column_params(self, X, n_classes):
        """``leaf`` and ``n_categories`` of the inner circuit: the features' and the label's
        (always categorical over the codes ``0..n_classes-1``)."""
        d, key, leaf, n_cat = X.shape[1], _label_key(X), self.leaf, self.n_categories
        if isinstance(leaf, dict) or (isinstance(leaf, str) and leaf == "auto"):
            leaf = {**(leaf if isinstance(leaf, dict) else {}), key: "categorical"}
        else:
            kinds = [leaf] * d if isinstance(leaf, str) else list(np.asarray(leaf, dtype=object).ravel())
            if len(kinds) != d:
                raise ValueError(f"leaf has {len(kinds)} entries, expected one per feature ({d}).")
            leaf = [*kinds, "categorical"]
        if isinstance(n_cat, dict) or (isinstance(n_cat, str) and n_cat == "auto"):
            n_cat = {**(n_cat if isinstance(n_cat, dict) else {}), key: n_classes}
        else:
            one = n_cat is None or np.ndim(n_cat) == 0
            values = [n_cat] * d if one else list(np.asarray(n_cat, dtype=object))
            if len(values) != d:
                raise ValueError(f"n_categories has {len(values)} entries, expected one per feature ({d}).")
            n_cat = [*values, n_classes]
        return {"leaf": leaf, "n_categories": n_cat}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the circuit of p(x, y) on the features ``X`` and the labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features; NaN marks a missing value (marginalised out exactly).
        y : array-like of shape (n_samples,)
            Class labels: numbers, strings or booleans.

        Returns
        -------
        self : PCClassifier
        """
        if self.structure == "pd":
            raise ValueError(
                "structure='pd' builds a circuit over an image; PCClassifier's circuit also holds "
                "the label: use 'hclt', 'rat' or a RegionGraph over n_features + 1 variables."
            )
        X = check_features(self, X, reset=True)
        y = check_labels(self, X, y)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        codes = encoder.transform(y)
        params = {**inner_params(self), **self._label_column_params(X, len(self.classes_))}
        self.estimator_ = JointDensity(**params).fit(_append_column(X, codes))
        self.n_iter_ = self.estimator_.n_iter_
        return self

    def _joint_log_proba(self, X):
        """``log p(x, y=c)`` of each row and class, shape (n_samples, n_classes)."""
        check_is_fitted(self)
        X = check_features(self, X, reset=False)
        out = np.empty((X.shape[0], len(self.classes_)))
        for start in range(0, X.shape[0], PREDICT_CHUNK_ROWS):
            part = take_rows(X, slice(start, start + PREDICT_CHUNK_ROWS))
            # Encoded once, with label 0; _log_joint writes each class's code in its place.
            labelled = _append_column(part, np.zeros(part.shape[0], dtype=int))
            codes = inner_call(self.estimator_._codes, labelled)
            out[start:start + len(codes)] = _log_joint(self.estimator_, codes, len(self.classes_))
        return out

    def predict_log_proba(self, X):
        """Exact ``log p(y | x)`` of each class, missing (NaN) features marginalised.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        joint = self._joint_log_proba(X)
        return joint - logsumexp(joint, axis=1, keepdims=True)

    def predict_proba(self, X):
        """Exact ``p(y | x)`` of each class, missing (NaN) features marginalised.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; each row sums to 1.
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """The most probable class of each row given its observed features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        joint = self._joint_log_proba(X)
        return self.classes_[np.argmax(joint, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy of ``predict(X)`` against ``y`` (missing features marginalised).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows in the accuracy.

        Returns
        -------
        score : float
        """
        return super().score(X, y, sample_weight=sample_weight)

    def sample(self, n_samples=1, y=None, random_state=None):
        """Draw rows from the circuit: from p(x, y), or from p(x | y) for given labels.

        Parameters
        ----------
        n_samples : int, default=1
        y : label, array-like of shape (n_samples,) or None, default=None
            ``None`` draws the labels too (from the class frequencies the circuit
            learned); a single label draws every row from that class; an array gives
            each row its class.
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        X : ndarray or DataFrame of shape (n_samples, n_features)
            In the types of the training data (a DataFrame for a model fitted on one).
        y : ndarray of shape (n_samples,)
            The labels of the rows (drawn, or the given ones).
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        rng = check_random_state(random_state)
        if y is None:
            rows = self.estimator_.sample(n_samples, random_state=rng)
        else:
            labels = np.asarray(y)  # no cast to classes_' dtype: it could truncate a string
            labels = np.full(n_samples, labels.item(), dtype=labels.dtype) if labels.ndim == 0 else labels
            if labels.shape != (n_samples,):
                raise ValueError(f"y has shape {labels.shape}; expected one label or ({n_samples},).")
            unknown = ~np.isin(labels, self.classes_)
            if unknown.any():
                raise ValueError(
                    f"y holds the label {labels[unknown][0]!r}, not one of classes_ {self.classes_}."
                )
            # Every feature missing, the label given, in the engine's codes; the draws are
            # decoded to the types the circuit was fitted on, as ``sample`` does.
            evidence = np.full((n_samples, self.n_features_in_ + 1), np.nan)
            evidence[:, -1] = np.searchsorted(self.classes_, labels)
            inner = self.estimator_
            rows = inner._output(inner.columns_.decode(inner._descend(evidence, "sample", rng)), None)
        if is_frame(rows):
            features, codes = rows.iloc[:, :-1], rows.iloc[:, -1].to_numpy()
        else:
            features, codes = rows[:, :-1], rows[:, -1]
        return features, self.classes_[np.asarray(codes, dtype=np.float64).astype(np.int64)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
