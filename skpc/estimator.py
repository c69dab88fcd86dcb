"""PCDensityEstimator: the scikit-learn front of skpc."""

import functools
import time
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from skpc import _capacity, _dask, _queries
from skpc._backend import get_backend, to_host, to_output
from skpc._dask import is_dask_array
from skpc._model_file import ModelFileMixin
from skpc.columns import Columns, as_table, is_frame, row_chunks
from skpc.engine import Circuit
from skpc.engine.memory import check_memory
from skpc.engine.parallel import single_threaded_blas
from skpc.leaves import Categorical, Gaussian, MultivariateGaussian
from skpc.solvers import SOLVERS, check_options, step_size_at
from skpc.structures import RegionGraph, hclt, hclt_mixture, mixture, poon_domingos, rat_spn

#: HCLT's mutual information is estimated on at most this many rows (sampled).
MAX_STRUCTURE_ROWS = 200_000

#: ``structure="hclt"`` with ``n_latents="auto"``: a mixture of HCLTs with 16 states per
#: latent from this many training rows on, 8 below (where bigger trees overfit); with
#: ``n_components="auto"`` too, AUTO_HCLT_STATES // n_latents trees (4 or 8). Chosen on
#: the validation sets of the five debd data sets (benchmarks/RESULTS_learning.md).
AUTO_MANY_ROWS = 5000
AUTO_HCLT_STATES = 64

#: Parameters that fix the circuit ``fit`` builds: changing one under ``warm_start``
#: builds a new circuit (with a warning) instead of continuing the fitted one.
STRUCTURAL_PARAMS = ("structure", "n_latents", "structure_params", "leaf", "n_categories", "handle_unknown",
                     "dtype", "device", "min_var", "reg_covar")

#: ``n_latents="auto"`` for a single HCLT and for the other structures.
DEFAULT_LATENTS = 32

#: ``max_iter="auto"``: epochs from AUTO_MANY_ROWS training rows on, and below (small
#: data sets overfit after fewer passes; the cosine schedule then decays sooner).
AUTO_EPOCHS, AUTO_EPOCHS_FEW_ROWS = 50, 20


def _one_blas_thread(method):
    """Run ``method`` with single-threaded BLAS: the engine uses the cores itself, one
    thread per core over tiles of rows (:mod:`skpc.engine.parallel`)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with single_threaded_blas():
            return method(self, *args, **kwargs)

    return wrapper


def _child_generator(random_state):
    """A numpy Generator seeded from a scikit-learn random state (shuffling streams)."""
    return np.random.default_rng(check_random_state(random_state).randint(np.iinfo(np.int32).max))


def _float_dtype(dtype):
    """``dtype`` as a numpy float dtype (float32 or float64), as numpy spells it."""
    try:
        out = np.dtype(dtype)
    except TypeError:
        out = None
    if out not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise InvalidParameterError(
            f"The 'dtype' parameter of PCDensityEstimator must be float32 or float64 (a string, a numpy "
            f"type or a numpy dtype), got {dtype!r}."
        )
    return out


class PCDensityEstimator(ModelFileMixin, DensityMixin, BaseEstimator):
    """Density estimation with a probabilistic circuit.

    The circuit's structure is built from the training data (a hidden Chow-Liu tree by
    default) and its parameters are learned by expectation-maximisation: full-batch EM,
    mini-batch EM, or anemone (mini-batch EM with a KL trust region). Queries are exact:
    log-likelihoods marginalise missing values (NaN), and samples are drawn top-down.

    Parameters
    ----------
    structure : {"auto", "hclt", "mixture", "rat", "pd"} or RegionGraph, default="auto"
        The region graph. ``"auto"`` (with ``n_latents="auto"`` and no
        ``structure_params``) chooses the circuit and its size on held-out rows of the
        training data: Gaussian mixtures (RATs of depth 0 with full- or
        diagonal-covariance leaves, from a single Gaussian up), single HCLTs and, on
        complete tables of at most 2000 rows and 16 columns, kernel density estimates
        (one Gaussian unit per row) for continuous columns, HCLTs of several sizes
        otherwise, each scored on rows it was not fitted on (5-fold cross-validation
        up to 20 000 cells, above it one held-out fifth); the choice is refitted on
        all rows (see ``capacity_search_`` and
        ``docs/defaults.md``). Training sets of 200 000 cells (rows x columns) or more,
        and a size given in ``n_latents`` or ``structure_params``, skip the search and
        get ``"hclt"``. ``"hclt"`` learns hidden Chow-Liu trees from the data (by
        default a mixture of several, see ``n_latents`` and ``structure_params``);
        ``"mixture"`` is a finite mixture of ``n_latents`` components, each a
        full-covariance Gaussian over the continuous columns times one categorical
        distribution per categorical column (:func:`~skpc.structures.mixture`:
        ``GaussianMixture`` on continuous data, a latent class model otherwise);
        ``"rat"`` builds random balanced binary trees (RAT-SPN,
        :func:`~skpc.structures.rat_spn`); ``"pd"`` builds a Poon-Domingos architecture
        over an image (:func:`~skpc.structures.poon_domingos`); a
        :class:`~skpc.structures.RegionGraph` is used as given (see the second example).
    n_latents : "auto" or int, default="auto"
        Units per region (k): the number of states of each hidden variable.
        ``"auto"``: for ``structure="hclt"`` with more than one tree (the default), 16
        when there are at least ``AUTO_MANY_ROWS`` (5000) training rows and 8 below
        (smaller trees overfit small data sets less); 32 for a single HCLT and for
        the other structures. The value used is ``n_latents_``. A number given here
        makes the default ``"hclt"`` a single HCLT (see ``structure_params``).
    solver : {"anemone", "minibatch_em", "em", "adam"}, default="anemone"
        Parameter-update rule (see the user guide). ``"adam"`` is the gradient baseline:
        Adam on unnormalised log-weights (and Gaussian means and log-variances, and
        for full-covariance units means and log-Cholesky factors), with
        ``step_size`` as its learning rate and no pseudocount.
    batch_size : int, default=512
        Rows per mini-batch, and per chunk of the full-batch passes.
    step_size : float in (0, 1], default=1.0
        Step size ``a`` of the mini-batch solvers, learning rate of ``"adam"`` (ignored
        by ``"em"``). Adam wants a smaller value: 0.1 (with ``batch_size=256``) was best
        in the benchmarks.
    schedule : {"cosine", "constant"}, default="cosine"
        Step-size schedule over the updates of the ``max_iter`` epochs; cosine decays
        to a tenth (see ``final_step_size`` and ``schedule_warmup``).
        The defaults (anemone, step 1.0 with cosine decay, batch 512, pseudocount
        0.001) won a validation-set sweep on the five debd data sets
        (``benchmarks/RESULTS_learning.md``).
    max_iter : "auto" or int, default="auto"
        Maximum number of epochs (the length of the step-size schedule). ``"auto"``:
        50, or 20 when there are fewer than 5000 training rows (small data sets
        overfit after fewer passes; chosen on validation data). The value used is
        ``max_iter_``.
    tol : float, default=1e-3
        Convergence threshold on the per-sample log-likelihood gain of an epoch
        (on the validation set when ``early_stopping=True``).
    pseudocount : float, default=0.001
        Smoothing of every M-step.
    n_categories : "auto", int, array-like or dict, default="auto"
        Declared levels of integer-coded categorical columns: ``K`` makes a column
        categorical over the codes ``0..K-1`` (also those absent from the training
        data); ``0`` or ``None`` makes it not categorical (Gaussian); ``"auto"`` leaves it
        to ``leaf``. A single value applies to every column, an array gives one per
        column, a dict maps column names (or indices) to values. The fitted
        ``n_categories_`` has the same format.
    leaf : {"auto", "categorical", "gaussian"}, array-like of str or dict, default="auto"
        Input distribution per column. ``"auto"``: non-numeric (strings, objects),
        boolean and pandas ``category`` columns are categorical over their observed
        levels (a category column over all its categories); a numeric column whose
        observed values are all integers is categorical when it has at most
        ``min(32, sqrt(n))`` distinct values (``n``: its observed entries; so that each
        level has on average ``sqrt(n)`` rows); every other column is Gaussian. A single
        type applies to every column, an array gives one per column, a dict maps column
        names (or indices) to types; the fitted ``leaf_types_`` has the same format.
        ``verbose`` prints the choice.
    handle_unknown : {"score", "error"}, default="score"
        A categorical value never seen in training (a new level in a test fold, say):
        ``"score"`` gives it the probability of the column's "unseen" category, which
        each input unit holds out of the pseudocount (``pseudocount * min(0.01,
        1 / (2 (K + 1))) / (flow + pseudocount)``, where ``flow`` is the number of
        training rows the unit explains: below every seen level's), so it scores finite
        and low and the row can be flagged as unlikely; queries treat it as evidence in
        the same way.
        ``"error"`` raises a ValueError naming the column and the value, as
        :class:`~sklearn.preprocessing.OneHotEncoder` does.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data, stop when its log-likelihood stops
        improving, and keep the best epoch's parameters.
    validation_fraction : float in (0, 1), default=0.1
    n_iter_no_change : int, default=10
        Epochs without a gain above ``tol`` before stopping (as scikit-learn's MLP).
        The mini-batch solvers' training log-likelihood can dip for a few epochs while
        the step size is large (jester: epochs 11-13); with the former default 3 the
        default fit stopped there (validation -52.82 against -52.68 for the full
        budget; nltcs stopped at epoch 26, -5.963 against -5.946).
    warm_start : bool, default=False
        Continue from the fitted circuit instead of building a new one. When a parameter
        that fixes the circuit (``STRUCTURAL_PARAMS``: ``structure``, ``n_latents``,
        ``structure_params``, ``leaf``, ``n_categories``, ``dtype``, ``device``,
        ``min_var``, ``reg_covar``) changed since it was built, ``fit`` warns and builds a
        new one.
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
        ``1`` prints one line per epoch; ``2`` also one line per mini-batch update (its
        rows, all ``batches_per_update`` mini-batches of it, mean log-likelihood before
        the update, and step size). Full-batch EM has no
        mini-batches: ``2`` prints what ``1`` prints.
    device : {"cpu", "gpu", "auto"}, default="cpu"
        Where the circuit lives and computes (``"auto"``: the GPU when cupy finds one).
        Inputs may be numpy or device (cupy) arrays; results are numpy arrays, except
        under scikit-learn's array-API dispatch
        (``sklearn.set_config(array_api_dispatch=True)``) with a model on the GPU: then
        queries on device input return device arrays, and so does ``sample``. On the GPU,
        passes run in chunks of at most ``batch_size`` rows sized to the free device
        memory.
    dtype : {"float32", "float64"} or numpy float type, default="float32"
        The circuit's float type (``np.float32``, ``np.dtype("float64")`` and the
        strings are all accepted). Whatever it is, observed entries of the input pass
        through the completing queries (``sample_conditional``, ``predict_mpe``) bit for
        bit.
    structure_params : dict or None, default=None
        Options of the structure builder. ``"hclt"``: ``n_components`` ("auto"), the
        number of HCLTs; more than one builds a mixture of HCLTs
        (:func:`~skpc.structures.hclt_mixture`: the first tree from the data, the
        others from bootstrap resamples drawn from ``random_state``) mixed by a root
        sum. ``"auto"``: with ``n_latents="auto"``, 64 hidden states per variable in
        all: 4 trees of 16 states from 5000 training rows on, 8 trees of 8 states
        below; with a number ``n_latents``, a single HCLT (1). These sizes and the
        5000-row rule won a validation-set sweep on the five debd data sets
        (``benchmarks/RESULTS_learning.md``).
        ``"rat"``: ``depth`` (None), ``n_repetitions`` (4) and ``multivariate_leaves``
        (False; True stops the splits at ``depth`` and puts full-covariance Gaussian
        units on the regions there, for continuous columns: ``depth=0`` is then a
        Gaussian mixture with ``n_repetitions * n_latents`` full-covariance
        components); the random trees are drawn from ``random_state``.
        ``"pd"``: ``image_shape`` (a square image when the number of columns is a
        square) and ``delta`` ((4, 2)).
    min_var : float, default=1e-6
        Floor of the variance of Gaussian input units after every M-step, relative to
        each column's variance (Gaussian columns are standardised before the circuit
        sees them, so scaling a column by ``c`` changes every log-density by exactly
        ``-log|c|``; for full-covariance units, the floor of the covariance's
        eigenvalues in standardised units, raised where the matrix rounded to ``dtype``
        would lose it). The default is :class:`sklearn.mixture.GaussianMixture`'s
        ``reg_covar``; regularisation is ``reg_covar``'s job.
    reg_covar : "auto" or float, default="auto"
        ``"auto"``: chosen by the search of ``structure="auto"`` (0, 0.01 or 0.1; 0 where
        the rows suffice for full covariances), else 0; the value used is
        ``reg_covar_``. Added to the variance of Gaussian input units (the diagonal of
        full-covariance ones) in every M-step, before the ``min_var`` floor, as
        :class:`sklearn.mixture.GaussianMixture`'s ``reg_covar``, in the units of the
        standardised columns (GaussianMixture on standardised data). Where ``min_var`` only
        lifts the smallest variances, this shrinks every covariance toward a sphere,
        which helps full covariances fitted on few rows per column. Only used by the EM
        solvers (``"em"``, ``"minibatch_em"``, ``"anemone"``); ``"adam"`` ignores it.
    final_step_size : float in [0, 1] or None, default=None
        Where ``schedule="cosine"`` ends: the step size at the end of the ``max_iter``
        budget. ``None``: a tenth of ``step_size``. At most ``step_size``. The anemone
        authors used 0.1 after ``step_size=0.4``. Not for ``solver="em"``.
    schedule_warmup : float in [0, 1), default=0.0
        Fraction of the budget's updates held at ``step_size`` before the cosine decay
        starts (the authors held 1,000 of 20,000 updates: 0.05). The schedule counts
        updates: update ``t`` of ``T = max_iter * updates per epoch`` takes the step at
        progress ``t / T`` (``skpc.solvers.step_size_at``). Not for ``solver="em"``.
    batches_per_update : int, default=1
        Mini-batches of ``batch_size`` rows whose flows are summed before one update:
        each update sees ``batches_per_update * batch_size`` rows, while every pass
        holds at most ``batch_size`` of them (memory stays that of one mini-batch). The
        same update as ``batch_size * batches_per_update`` rows at once. The authors'
        anemone batch of 16,384 rows is ``batch_size=512, batches_per_update=32``. Not
        for ``solver="em"``.
    momentum : float in [0, 1), default=0.0
        Momentum on the flows (``"minibatch_em"`` and ``"anemone"`` only): each update
        uses a bias-corrected exponential moving average of the (summed) flows of this
        and the earlier updates of the same ``fit``, ``v = momentum * v + (1 - momentum)
        * flows``, divided by ``1 - momentum ** t`` after ``t`` updates (as pyjuice's
        ``Anemone(momentum=0.9)``); it restarts with each ``fit`` and each ``partial_fit`` call.
        0 uses each update's own flows.

    Attributes
    ----------
    circuit_ : Circuit
        The compiled circuit and its parameters.
    n_latents_ : int
        Units per region of the circuit (``n_latents`` with ``"auto"`` resolved).
    reg_covar_ : float
        ``reg_covar`` with ``"auto"`` resolved.
    capacity_search_ : dict or None
        The search of ``structure="auto"`` (None when it was skipped): ``"candidates"``,
        one dict per candidate with its ``"params"``, held-out ``"valid_loglik"`` (mean
        per held-out row, at each fold's best epoch), ``"best_epoch"`` (of its mean held-out
        curve), ``"n_parameters"`` (free ones, as BIC counts them), ``"n_folds"`` it was
        scored on (fewer than all when the race screened it out), ``"standard_error"`` (of
        its difference from the best candidate; None when screened out) and
        ``"seconds"``; ``"best"``, the index of the chosen one; ``"chosen"``, the settings
        of the refit; ``"random_states"`` of the folds, ``"n_folds"``, ``"n_valid_rows"``
        (of the first fold) and the search's total ``"seconds"``.
    max_iter_ : int
        Epoch budget of the last ``fit`` (``max_iter`` with ``"auto"`` resolved).
    structure_ : RegionGraph
    leaf_types_ : ndarray of str
        Input distribution of each column (``"categorical"`` or ``"gaussian"``).
    n_categories_ : ndarray of int
        Levels of each categorical column seen in training or declared (0 for Gaussian
        columns); the circuit holds one more, "unseen" (see ``handle_unknown``).
    columns_ : skpc.columns.Columns
        What each column is: kind, levels (``columns_.levels[j]``, in code order),
        location and scale of Gaussian columns, names and input dtypes. Outputs are
        decoded through it into the input's types.
    n_iter_ : int
        Epochs run.
    converged_ : bool
        Whether training stopped on its own: by ``n_iter_no_change`` epochs without a gain
        above ``tol``, at the epoch chosen by the search of ``structure="auto"``, or with
        a last epoch that gained at most ``tol``. A ``ConvergenceWarning`` is raised
        when ``max_iter`` epochs ran out while the training log-likelihood still gained
        more than ``tol``, with a constant step or full-batch EM; a cosine schedule is a
        plan over ``max_iter`` epochs and does not warn.
    history_ : dict of lists
        Per epoch: ``"train_loglik"`` (mean per sample), ``"valid_loglik"`` (when early
        stopping), ``"seconds"`` (cumulative).
    device_ : str
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has feature names that are all strings.

    Examples
    --------
    >>> from skpc import PCDensityEstimator
    >>> from skpc.datasets import load_debd
    >>> X = load_debd("nltcs")
    >>> pc = PCDensityEstimator(n_latents=8, max_iter=2, random_state=0).fit(X)
    >>> pc.score(load_debd("nltcs", "test")) > -7
    True

    Any region graph can be passed as the structure. Here a root region with one
    partition into single-variable regions and Hadamard products: a mixture of
    ``n_latents`` fully factorised distributions (a diagonal Gaussian mixture on
    continuous data).

    >>> import numpy as np
    >>> from skpc.structures import RegionGraph
    >>> d = 3
    >>> graph = RegionGraph(scopes=[(0,), (1,), (2,), (0, 1, 2)],
    ...                     partitions=[[], [], [], [(0, 1, 2)]], root=3, product="hadamard")
    >>> X = np.random.default_rng(0).normal(size=(200, d))
    >>> gmm = PCDensityEstimator(structure=graph, n_latents=2, solver="em", max_iter=5).fit(X)
    >>> gmm.leaf_types_.tolist()
    ['gaussian', 'gaussian', 'gaussian']
    """

    _parameter_constraints = {
        "structure": [StrOptions({"auto", "hclt", "mixture", "rat", "pd"}), RegionGraph],
        "n_latents": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "solver": [StrOptions(set(SOLVERS))],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "step_size": [Interval(Real, 0, 1, closed="right")],
        "schedule": [StrOptions({"constant", "cosine"})],
        "max_iter": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "pseudocount": [Interval(Real, 0, None, closed="left")],
        "n_categories": [StrOptions({"auto"}), Interval(Integral, 0, None, closed="left"), "array-like",
                         dict, None],
        "leaf": [StrOptions({"auto", "categorical", "gaussian"}), "array-like", dict],
        "handle_unknown": [StrOptions({"score", "error"})],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "device": [StrOptions({"cpu", "gpu", "auto"})],
        "dtype": [StrOptions({"float32", "float64"}), type, np.dtype],
        "structure_params": [dict, None],
        "min_var": [Interval(Real, 0, None, closed="neither")],
        "reg_covar": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "final_step_size": [Interval(Real, 0, 1, closed="both"), None],
        "schedule_warmup": [Interval(Real, 0, 1, closed="left")],
        "batches_per_update": [Interval(Integral, 1, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
    }

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
        warm_start=False,
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
        self.warm_start = warm_start
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

    # -- input checks (the data layer, skpc/columns) -----------------------------------------
    def _validate_X(self, X, reset):
        """The user's ``X`` as a DataFrame or a 2-D ndarray, with names and width checked."""
        X = as_table(to_host(X))  # validation runs on the host (see to_host)
        validate_data(self, X, reset=reset, skip_check_array=True)
        return X

    def _encode(self, X, dtype=np.float64):
        """The engine's codes of a validated ``X`` (see :meth:`Columns.encode`)."""
        return self.columns_.encode(X, dtype)

    def _fit_columns(self, X, summary=None):
        names = getattr(self, "feature_names_in_", None)
        self.columns_ = Columns(self.leaf, self.n_categories, self.handle_unknown).fit(X, names, summary)
        self.leaf_types_, self.n_categories_ = self.columns_.kinds, self.columns_.n_levels
        if self.verbose:
            print("columns:\n" + self.columns_.describe(), flush=True)

    # -- building -------------------------------------------------------------------------------
    def _build(self, X, rng):
        """Structure and circuit from the engine's codes ``X`` of the training rows."""
        backend = get_backend(self.device)
        dtype = _float_dtype(self.dtype)
        n_codes = self.columns_.n_codes
        self.reg_covar_ = 0.0 if self.reg_covar == "auto" else self.reg_covar
        self.n_latents_ = DEFAULT_LATENTS if self.n_latents == "auto" else self.n_latents
        # structure="auto" tries kernel density estimates on complete rows: a unit on each (_capacity).
        bandwidth = getattr(self, "_kernel_bandwidth", None)
        if bandwidth is not None:
            self.n_latents_ = X.shape[0]
        # Kernels, and the search's diagonal candidates, have diagonal covariances (_capacity).
        diagonal = bandwidth is not None or getattr(self, "_diagonal_cov", False)
        if isinstance(self.structure, RegionGraph):
            graph = self.structure
            if graph.n_variables != X.shape[1]:
                raise ValueError(
                    f"the region graph covers {graph.n_variables} variables, X has {X.shape[1]} columns."
                )
        elif self.structure == "mixture":
            self._structure_params()  # it takes none: an error for any given
            graph = mixture(self.leaf_types_)
        elif self.structure in ("rat", "pd"):
            graph = self._build_structure(X.shape[1], rng)
        else:
            self.n_latents_, n_components = self._hclt_size(X.shape[0])
            # Mutual information needs pairwise counts only: a sample of rows suffices.
            sample = X if X.shape[0] <= MAX_STRUCTURE_ROWS else X[np.sort(
                rng.choice(X.shape[0], MAX_STRUCTURE_ROWS, replace=False))]
            n_cat = n_codes
            if n_components == 1:
                graph = hclt(sample, n_cat)
            else:
                graph = hclt_mixture(np.asarray(sample), n_components, n_cat, random_state=rng)

        def make_leaf(kind, variables):
            variables = np.asarray(variables)
            if kind == "categorical":
                return Categorical(variables, self.n_latents_, n_codes[variables], backend, dtype, rng,
                                   unseen=self.columns_.unseen)
            # Gaussian columns arrive standardised: the start and the floors are relative
            # to each column's scale.
            zeros, ones = np.zeros(variables.shape), np.ones(variables.shape)
            options = dict(min_var=self.min_var, reg_covar=self.reg_covar_, data_mean=zeros, data_std=ones)
            # structure="auto" gives some candidates a prior for the units short of the rows
            # their (co)variance needs (_capacity.covariance_rows), as a share of the rows.
            prior = getattr(self, "_prior_rows", {}).get(kind, 0.0) / X.shape[0]
            if kind == MultivariateGaussian.kind:  # an input region over several columns
                if bandwidth is not None:  # the kernels are placed below: no k-means start
                    return MultivariateGaussian(variables, self.n_latents_, backend, dtype, diagonal=diagonal,
                                                **options)
                return MultivariateGaussian(variables, self.n_latents_, backend, dtype, rng, data=X,
                                            cov_prior=prior, diagonal=diagonal, **options)
            return Gaussian(variables, self.n_latents_, backend, dtype, rng, var_prior=prior, **options)

        check_memory(graph, self.n_latents_, self.leaf_types_, n_codes, min(self.batch_size, X.shape[0]),
                     dtype, backend, diagonal=diagonal)
        self.structure_ = graph
        self.device_ = backend.name
        self._built_with = self._structural()
        self.circuit_ = Circuit(graph, self.n_latents_, make_leaf, self.leaf_types_, backend, dtype, rng)
        if bandwidth is not None:
            self._place_kernels(X, bandwidth)

    def _place_kernels(self, centres, bandwidth):
        """Make the circuit (a depth-0 RAT of diagonal Gaussian units, one per row of
        ``centres``) the kernel density estimate of ``centres``: equal weights, means at the
        rows, every variance ``h**2`` with Scott's ``h = bandwidth * n ** (-1 / (d + 4))`` on
        the standardised columns (floored at ``min_var``)."""
        circuit, xp = self.circuit_, self.circuit_.backend.xp
        (leaf,) = circuit.leaves
        n, d = centres.shape
        var = max((bandwidth * n ** (-1.0 / (d + 4))) ** 2, self.min_var)
        mean = np.broadcast_to(centres[:, leaf.variables[0]], leaf.mean.shape)
        cov = np.zeros(leaf.cov.shape) + var * np.eye(leaf.dim)
        leaf.set_params((xp.asarray(mean.astype(circuit.dtype)), xp.asarray(cov.astype(circuit.dtype))))
        for layer in circuit.sum_layers:
            (w,) = layer.params
            layer.set_params((xp.full(w.shape, 1.0 / w.shape[2], dtype=circuit.dtype),))

    # -- fitting ------------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    @_one_blas_thread
    def fit(self, X, y=None):
        """Learn the structure and the parameters of a circuit from ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data; NaN marks a missing value.
        y : None
            Ignored.

        Returns
        -------
        self : PCDensityEstimator

        Notes
        -----
        A ``KeyboardInterrupt`` (Ctrl-C) during ``fit`` is re-raised after the estimator
        is put back to the end of its last complete epoch: parameters, ``n_iter_`` and
        ``history_`` (``converged_`` is False). With no complete epoch the estimator is
        left unfitted, or, under ``warm_start``, as it was before this call.
        """
        self._check_solver_options()
        if is_dask_array(X):
            return self._fit_dask(X)
        warm = self._continues()
        X = self._validate_X(X, reset=not warm)
        if not warm:
            self._fit_columns(X)
        table, X = X, self._encode(X, _float_dtype(self.dtype) if not warm else self.circuit_.dtype)
        rng = check_random_state(self.random_state)
        rows, valid_rows = np.arange(X.shape[0]), None
        if self.early_stopping:
            order = rng.permutation(X.shape[0])
            n_valid = max(1, int(round(self.validation_fraction * X.shape[0])))
            if n_valid >= X.shape[0]:
                raise ValueError("validation_fraction leaves no training rows; lower it or add data.")
            valid_rows, rows = np.sort(order[:n_valid]), np.sort(order[n_valid:])
            # structure="auto" holds out the folds of its cross-validation (_capacity).
            if getattr(self, "_valid_rows", None) is not None:
                valid_rows = np.sort(self._valid_rows)
                rows = np.setdiff1d(np.arange(X.shape[0]), valid_rows)

        def work():
            X_train, chosen = X if valid_rows is None else X[rows], {}
            if not warm:
                # structure="auto": held-out scores of candidates choose this fit's settings
                # (the candidates are fitted on the user's training rows, as this fit is).
                self.capacity_search_ = None
                if _capacity.wanted(self, X_train):
                    chosen = _capacity.search(self, _capacity.take(table, rows), rng)
            X_valid = None if valid_rows is None else X[valid_rows]
            jacobian = self._jacobian_total(X, rows)

            def train():
                self._train(lambda solver, shuffle, epoch: self._run_epoch(
                    X, rows, solver, shuffle, epoch, self.max_iter_), len(rows), X_valid, rng, jacobian)

            with _capacity.settings(self, chosen):
                if not warm:
                    self._build(X_train, rng)
                n_starts = _capacity.refit_starts(self, chosen)
                if self.verbose and n_starts > 1:
                    print(f"refit start 1/{n_starts}", flush=True)
                train()
                # structure="auto": the refit keeps the best of a few starts (_capacity.REFIT_STARTS).
                for start in range(2, n_starts + 1):
                    if self.verbose:
                        print(f"refit start {start}/{n_starts}", flush=True)
                    kept = {name: getattr(self, name) for name in ("circuit_", "structure_", "n_iter_",
                                                                   "history_", "converged_")}
                    self._build(X_train, rng)
                    train()
                    if kept["history_"]["train_loglik"][-1] >= self.history_["train_loglik"][-1]:
                        vars(self).update(kept)

        return self._interruptible(warm, work)

    def _jacobian_total(self, X, rows=None):
        """Sum over ``X[rows]`` of the standardisation's log-Jacobian (see ``_log_likelihood``):
        what turns the circuit's summed log-likelihood into the user's units."""
        if not np.any(self.columns_.kinds == "gaussian"):
            return 0.0
        rows = np.arange(X.shape[0]) if rows is None else rows
        return float(sum(self.columns_.log_jacobian(X[rows[sl]]).sum() for sl in row_chunks(len(rows))))

    def _interruptible(self, warm, work):
        """Run ``work()``; on Ctrl-C go back to the last complete epoch (see ``fit``)."""
        self._checkpoint = self._snapshot() if warm else None
        try:
            work()
        except KeyboardInterrupt:
            self._restore_checkpoint()
            raise
        finally:
            del self._checkpoint
        return self

    def _run_epoch(self, X, rows, solver, shuffle, epoch, n_epochs):
        """One pass over ``X[rows]``; returns the summed log-likelihood before each update.

        ``n_epochs=None`` (streaming) keeps the step size constant.
        """
        circuit = self.circuit_
        if getattr(self, "_kernel_bandwidth", None) is not None:  # a kernel density: nothing to learn
            return float(np.sum(self._log_likelihood(X[rows], jacobian=False)))
        n = len(rows)
        m = self.batches_per_update
        n_updates = -(-n // min(self.batch_size * m, n))
        total = 0.0
        if solver.full_batch:
            stats, total = circuit.flows(X, self.batch_size, rows)
            solver.update(circuit, stats, n, 1.0)
            return total
        # Equal-sized batches: a tiny last batch would take a full step on a few rows.
        for i, part in enumerate(np.array_split(shuffle.permutation(rows), n_updates)):
            # The flows of the update's m mini-batches, summed (over smaller chunks when a
            # mini-batch does not fit the GPU at once).
            stats, batch_total = circuit.flows(X, -(-len(part) // m), np.sort(part))
            total += batch_total
            if n_epochs is None:
                a = self.step_size
            else:
                progress = (epoch * n_updates + i) / (n_epochs * n_updates)
                a = step_size_at(self.step_size, self.schedule, progress, self.final_step_size,
                                 self.schedule_warmup)
            if self.verbose >= 2:
                mean = float(circuit.backend.to_numpy(batch_total)) / len(part)
                print(f"  batch {i + 1:4d}/{n_updates}  rows {len(part)}  train {mean:.4f}  step {a:.4g}",
                      flush=True)
            solver.update(circuit, stats, len(part), a)
        return total

    def _structural(self):
        """The parameters that fix the circuit, in a form that compares with ``==``."""
        return {name: np.asarray(value).tolist() if isinstance(value, (np.ndarray, list, tuple)) else value
                for name, value in self.get_params(deep=False).items() if name in STRUCTURAL_PARAMS}

    def _continues(self):
        """Whether ``fit`` continues the fitted circuit (``warm_start``, nothing structural changed)."""
        if not (self.warm_start and hasattr(self, "circuit_")):
            return False
        built = getattr(self, "_built_with", None)
        now = self._structural()
        changed = [name for name in STRUCTURAL_PARAMS if built is not None and built[name] != now[name]]
        if changed:
            warnings.warn(
                f"warm_start=True, but {', '.join(f'{n}={now[n]!r} (was {built[n]!r})' for n in changed)} "
                "changed since the circuit was built; a new circuit is built and fitted from the start.",
                UserWarning,
            )
            return False
        return True

    def _fit_dask(self, X):
        """``fit`` on a dask array: E-steps run per block where the data live."""
        if self.early_stopping:
            raise ValueError("early_stopping is not available for dask arrays; hold out validation data.")
        warm = self._continues()
        X = _dask.known_chunks(X)
        blocks = _dask.row_blocks(X)
        head = self._validate_X(np.asarray(X[:MAX_STRUCTURE_ROWS].compute()), reset=not warm)
        if not warm:
            keep = Columns(self.leaf).keep_levels(head.shape[1], getattr(self, "feature_names_in_", None))
            self._fit_columns(head, _dask.summarise(blocks, keep))
        _dask.check(blocks, self.columns_.check, X.chunks[0])
        blocks = _dask.encoded(blocks, self.columns_)
        rng = check_random_state(self.random_state)
        if not warm:
            self._build(self.columns_.encode(head)[: head.shape[0]], rng)
        n = X.shape[0]

        def run_epoch(solver, shuffle, epoch):
            if solver.full_batch:
                stats, total = _dask.flows(self.circuit_, blocks, self.batch_size)
                solver.update(self.circuit_, stats, n, 1.0)
                return total
            total = 0.0
            for j in shuffle.permutation(len(blocks)):
                block = _dask.fetch(blocks[j])
                total += self._run_epoch(block, np.arange(len(block)), solver, shuffle, epoch, self.max_iter_)
            return total

        jacobian = sum(_dask.compute_each(blocks, self._jacobian_total))
        return self._interruptible(warm, lambda: self._train(run_epoch, n, None, rng, jacobian))

    @_fit_context(prefer_skip_nested_validation=True)
    @_one_blas_thread
    def partial_fit(self, X, y=None):
        """One streaming pass of mini-batch updates over ``X``.

        The first call builds the structure and the column description from ``X`` (so
        it should be representative: a level that only later pieces hold is learned as
        its column's "unseen" category; declare the levels with ``n_categories`` or a
        pandas ``category`` dtype when later pieces may hold new ones); each call then
        runs the solver over ``X`` in batches of ``batch_size`` with a constant
        ``step_size``. With ``solver="em"`` a call is one
        full-batch EM step on ``X``. A dask array is streamed block by block.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or dask array
        y : None
            Ignored.

        Returns
        -------
        self : PCDensityEstimator
        """
        self._check_solver_options()
        if is_dask_array(X):
            for block in _dask.row_blocks(X):
                self.partial_fit(_dask.fetch(block))
            return self
        first = not hasattr(self, "circuit_")
        X = self._validate_X(X, reset=first)
        if first:
            self._fit_columns(X)
        X = self._encode(X)
        if first:
            rng = check_random_state(self.random_state)
            self._build(X, rng)
            self._stream = _child_generator(rng)
            self.n_iter_, self.converged_ = 0, False
            self.history_ = {"train_loglik": [], "seconds": []}
        elif not hasattr(self, "_stream"):  # streaming on after fit
            self._stream = _child_generator(self.random_state)
        start = time.perf_counter()
        solver = self._make_solver()
        total = self._run_epoch(X, np.arange(X.shape[0]), solver, self._stream, 0, None)
        self.n_iter_ += 1
        total = float(self.circuit_.backend.to_numpy(total)) + self._jacobian_total(X)
        self.history_["train_loglik"].append(total / X.shape[0])
        self.history_["seconds"].append(time.perf_counter() - start)
        return self

    def _train(self, run_epoch, n, X_valid, rng, jacobian=0.0):
        """Epochs of ``run_epoch`` over ``n`` rows, with history, early stopping and convergence.

        ``jacobian`` is the rows' summed log-Jacobian (``_jacobian_total``), added to each
        epoch's total so that the training log-likelihood is in the user's units.
        """
        circuit = self.circuit_
        solver = self._make_solver()
        shuffle = _child_generator(rng)
        history = {"train_loglik": [], "valid_loglik": [], "seconds": []}
        best, best_epoch, best_params, stale, start = -np.inf, -1, None, 0, time.perf_counter()
        self.converged_ = False
        if self.max_iter == "auto":
            self.max_iter_ = AUTO_EPOCHS if n >= AUTO_MANY_ROWS else AUTO_EPOCHS_FEW_ROWS
        else:
            self.max_iter_ = self.max_iter
        # structure="auto" may stop the refit at the epoch chosen on held-out rows (_capacity).
        stop_after = getattr(self, "_stop_after", None) or self.max_iter_
        n_epochs = min(self.max_iter_, stop_after)
        for epoch in range(n_epochs):
            total = run_epoch(solver, shuffle, epoch)
            history["train_loglik"].append((float(circuit.backend.to_numpy(total)) + jacobian) / n)
            history["seconds"].append(time.perf_counter() - start)
            if X_valid is not None:
                history["valid_loglik"].append(float(np.mean(self._selection_scores(X_valid))))
            score = history["valid_loglik" if X_valid is not None else "train_loglik"][-1]
            if not np.isfinite(score):
                raise FloatingPointError(
                    f"the log-likelihood became {score} at epoch {epoch + 1}; try dtype='float64' "
                    "or a larger pseudocount."
                )
            self.n_iter_ = epoch + 1
            self._checkpoint = self._snapshot(history)  # before the epoch is reported done
            self._report(history, epoch, n_epochs)
            # As scikit-learn's MLP: the patience counts epochs without a gain above tol
            # over the best score, and the best epoch's parameters are kept, even one
            # whose gain was below tol.
            stale = 0 if score > best + self.tol else stale + 1
            if score > best:
                best, best_epoch = score, epoch
                if X_valid is not None:
                    best_params = [tuple(p.copy() for p in params) for params in circuit.get_params()]
            if stale >= self.n_iter_no_change:
                self.converged_ = True
                break
        if best_params is not None and best_epoch != epoch:
            circuit.set_params(best_params)
        if not history["valid_loglik"]:
            del history["valid_loglik"]
        self.history_ = history
        if self.n_iter_ < self.max_iter_:
            self.converged_ = True  # stopped by patience, or at the epoch the capacity search chose
        if self.converged_:
            return
        train = history["train_loglik"]
        gain = train[-1] - train[-2] if len(train) > 1 else np.inf
        self.converged_ = bool(gain <= self.tol)
        # A cosine schedule is a plan over max_iter epochs (its step has decayed when they
        # run out); with a constant step or full-batch EM, max_iter is only a cap: then warn,
        # as scikit-learn's iterative estimators do, when the training log-likelihood was
        # still improving by more than tol.
        planned = self.schedule == "cosine" and not SOLVERS[self.solver].full_batch
        if not self.converged_ and not planned:
            warnings.warn(
                f"PCDensityEstimator stopped after max_iter={self.max_iter_} epochs while the training "
                f"log-likelihood was still improving ({gain:.3g} per sample in the last epoch, above "
                f"tol={self.tol}); raise max_iter or tol.",
                ConvergenceWarning,
            )

    def _check_solver_options(self):
        """ValueError for a schedule or accumulation option that means nothing for the solver."""
        check_options(SOLVERS[self.solver], self.schedule, self.step_size,
                      final_step_size=self.final_step_size, schedule_warmup=self.schedule_warmup,
                      batches_per_update=self.batches_per_update, momentum=self.momentum)

    def _make_solver(self):
        solver = SOLVERS[self.solver]
        return solver(self.pseudocount, momentum=self.momentum) if self.momentum else solver(self.pseudocount)

    def _report(self, history, epoch, n_epochs):
        if not self.verbose:
            return
        seconds = history["seconds"][-1]
        left = seconds / (epoch + 1) * (n_epochs - epoch - 1)
        valid = f"  valid {history['valid_loglik'][-1]:.4f}" if history["valid_loglik"] else ""
        print(
            f"epoch {epoch + 1:4d}/{n_epochs}  train {history['train_loglik'][-1]:.4f}{valid}"
            f"  {seconds:7.1f}s  (at most {left:.0f}s left)",
            flush=True,
        )

    def _log_likelihood(self, X, jacobian=True):
        """Log-density of each row of the engine's codes ``X`` in the user's units: the
        circuit's value plus the Jacobian of the standardisation of Gaussian columns
        (``jacobian=False``: the circuit's value alone, as training totals are kept)."""
        circuit = self.circuit_
        out = np.empty(X.shape[0], dtype=np.float64)
        for sl in circuit.chunks(X.shape[0], self.batch_size):
            Z = X[sl]
            rows = circuit.to_device(_queries.padded(Z, circuit.backend))
            values = circuit.log_likelihood(rows, len(rows))  # in tiles, on the engine's threads
            out[sl] = circuit.backend.to_numpy(values)[: len(Z)]
            if jacobian:
                out[sl] += self.columns_.log_jacobian(Z)
        return out

    # -- queries ------------------------------------------------------------------------------
    @_one_blas_thread
    def score_samples(self, X):
        """Log-likelihood of each sample; NaN entries are marginalised out exactly.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
            A device array under array-API dispatch for device input (see ``device``).
        """
        return self._output(self._scores(X), X)

    def _scores(self, X):
        check_is_fitted(self)
        return self._log_likelihood(self._codes(X))

    def _codes(self, X):
        """The engine's codes of the user's rows ``X`` of a fitted model."""
        return self._encode(self._validate_X(X, reset=False))

    #: How the capacity search picks among its candidates (``_capacity.RULES``): the
    #: smallest within one standard error of the best held-out log-likelihood.
    _capacity_rule = "one standard error"

    #: Starts of the search's refit, the best kept by its training log-likelihood
    #: (``_capacity.REFIT_STARTS``); a front may keep its first (PCClassifier, PCImputer).
    _refit_starts = None

    def _selection_scores(self, X):
        """Per-row scores of the engine's codes ``X`` that early stopping and the capacity
        search maximise: the log-likelihood here; a front may score its own task instead
        (PCClassifier: log p(y | x))."""
        return self._log_likelihood(X)

    @_one_blas_thread
    def score(self, X, y=None):
        """Mean per-sample log-likelihood of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(np.mean(self._scores(X)))

    @_one_blas_thread
    def sample(self, n_samples=1, random_state=None):
        """Draw samples from the fitted circuit.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        X : ndarray or DataFrame of shape (n_samples, n_features)
            In the types of the training data: a DataFrame with the same columns and
            dtypes when the model was fitted on one (strings as strings, integers as
            integers, categories as categories); else a float64 array whose categorical
            columns hold their levels (an object array when some levels are not numbers).
            A device array when the model lives on the GPU and array-API dispatch is on
            (``sklearn.set_config(array_api_dispatch=True)``): with no input to follow,
            samples stay where the model is.
        """
        check_is_fitted(self)
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
        empty = np.full((n_samples, self.n_features_in_), np.nan)
        return self._output(self.columns_.decode(self._descend(empty, "sample", random_state)), None)

    def _descend(self, X, mode, random_state):
        circuit = self.circuit_
        backend = circuit.backend
        seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
        rng = backend.rng(seed)
        out = np.empty(X.shape, dtype=np.float64)
        for sl in circuit.chunks(X.shape[0], self.batch_size):
            out[sl] = backend.to_numpy(circuit.descend(circuit.to_device(X[sl]), mode, rng))
        return out

    def _structure_params(self, d=None):
        """``structure_params`` completed with the defaults of the named structure."""
        params = dict(self.structure_params or {})
        if self.structure in ("auto", "hclt"):
            allowed = {"n_components": "auto"}
        elif self.structure == "mixture":
            allowed = {}
        elif self.structure == "rat":
            allowed = {"depth": None, "n_repetitions": 4, "multivariate_leaves": False}
        else:
            side = int(round(np.sqrt(d)))
            allowed = {"image_shape": (side, side) if side * side == d else None, "delta": (4, 2)}
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise ValueError(
                f"structure_params has unknown key(s) {unknown} for structure={self.structure!r}; "
                f"expected some of {sorted(allowed)}."
            )
        params = {**allowed, **params}
        if self.structure == "rat" and not isinstance(params["multivariate_leaves"], (bool, np.bool_)):
            raise ValueError(
                "structure_params['multivariate_leaves'] must be True or False, got "
                f"{params['multivariate_leaves']!r}."
            )
        if self.structure in ("auto", "hclt"):
            m = params["n_components"]
            if m != "auto" and (not isinstance(m, Integral) or isinstance(m, bool) or m < 1):
                raise ValueError(
                    f"structure_params['n_components'] must be 'auto' or a positive integer, got {m!r}."
                )
        return params

    def _hclt_size(self, n_rows):
        """``(n_latents, n_components)`` of ``structure="hclt"`` fitted on ``n_rows`` rows."""
        k, m = self.n_latents, self._structure_params()["n_components"]
        if k == "auto":
            k = DEFAULT_LATENTS if m == 1 else 16 if n_rows >= AUTO_MANY_ROWS else 8
        if m == "auto":
            m = max(1, AUTO_HCLT_STATES // k) if self.n_latents == "auto" else 1
        return k, m

    def _build_structure(self, d, rng):
        """The region graph of ``structure="rat"`` or ``"pd"`` over ``d`` columns."""
        params = self._structure_params(d)
        if self.structure == "rat":
            return rat_spn(d, params["depth"], params["n_repetitions"], rng,
                           multivariate_leaves=params["multivariate_leaves"])
        if params["image_shape"] is None or int(np.prod(params["image_shape"])) != d:
            raise ValueError(
                f"structure='pd' needs structure_params['image_shape'] with height * width = {d} "
                f"(the number of columns), got {params['image_shape']!r}."
            )
        return poon_domingos(params["image_shape"], params["delta"])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    # -- interruption and model files ------------------------------------------------------------
    def _snapshot(self, history=None):
        """Copies of the parameters and of the training record, taken after a complete epoch."""
        history = self.history_ if history is None else history
        return {
            "params": [tuple(p.copy() for p in params) for params in self.circuit_.get_params()],
            "n_iter_": self.n_iter_,
            "history_": {name: list(values) for name, values in history.items() if values},
        }

    def _restore_checkpoint(self):
        """After a KeyboardInterrupt in ``fit``: go back to the last complete epoch.

        With no complete epoch (and no previous fit continued by ``warm_start``) the
        estimator is left unfitted: every fitted attribute is removed.
        """
        checkpoint = self._checkpoint
        if checkpoint is None:
            for name in [a for a in vars(self) if a.endswith("_") and not a.startswith("__")]:
                delattr(self, name)
            return
        self.circuit_.set_params(checkpoint["params"])
        self.n_iter_, self.history_ = checkpoint["n_iter_"], checkpoint["history_"]
        self.converged_ = False

    # -- conditional queries (implemented in skpc/_queries.py) -----------------------------------
    def _output(self, out, X):
        """Query results for the input ``X`` as given: numpy, or device arrays (``to_output``);
        a DataFrame or an object array (the user's own types, see skpc.columns) as it is."""
        if is_frame(out) or (isinstance(out, np.ndarray) and out.dtype.kind == "O"):
            return out
        return to_output(out, X, self.circuit_.backend)

    def _check_query_X(self, X):
        """The validated user ``X``, its engine codes as an ndarray, and its missing mask."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        Z = np.asarray(self._encode(X), dtype=np.float64)
        return X, Z, np.isnan(Z)

    def _completed(self, X, Z, X_given):
        """``X`` with its missing entries from the engine values ``Z`` (observed entries
        bit for bit), in ``X``'s type (see ``_output``)."""
        X_host, _, missing = X
        return self._output(self.columns_.complete(X_host, Z, missing), X_given)

    @_one_blas_thread
    def sample_conditional(self, X, random_state=None):
        """Fill the NaN entries of each row by sampling from p(missing | observed).

        An upward pass with the observed entries as evidence, then a top-down draw: the
        completion of each row is an exact sample of its conditional distribution.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NaN marks the entries to sample; the other entries are kept.
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        X_filled : ndarray or DataFrame of shape (n_samples, n_features)
            ``X``'s type (a DataFrame keeps its columns and dtypes); observed entries
            are copied bit for bit.
        """
        query = self._check_query_X(X)
        return self._completed(query, self._descend(query[1], "sample", random_state), X)

    @_one_blas_thread
    def predict_mpe(self, X, return_log_prob=False, exact_limit=4096):
        """Most probable completion (MPE) of the NaN entries of each row.

        ``argmax_{x_missing} p(x_missing, x_observed)``. A row whose missing entries are
        all categorical with at most ``exact_limit`` joint completions is solved exactly,
        by scoring every completion. Any other row (more completions, or a missing
        Gaussian entry) starts from the max-product completion (a max-product upward pass,
        an argmax descent; on a non-deterministic circuit such as an HCLT it maximises over
        the hidden states too, so it is an approximation) followed by coordinate ascent:
        each missing categorical entry in turn moves to its most probable value given all
        the others while that raises p(x). The result is then a local optimum at least as
        probable as the max-product one, not guaranteed to be the global MPE. Missing
        Gaussian entries keep the max-product value (the mean of the chosen unit).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_log_prob : bool, default=False
            Also return ``log p`` of each completed row.
        exact_limit : int, default=4096
            Largest number of completions of a row that is enumerated exactly.

        Returns
        -------
        X_mpe : ndarray of shape (n_samples, n_features)
        log_prob : ndarray of shape (n_samples,)
            Only when ``return_log_prob=True``: the joint log-probability (log-density for
            Gaussian columns) of each completed row; subtract ``score_samples(X)`` for the
            conditional one.
        """
        query = self._check_query_X(X)
        if not isinstance(exact_limit, Integral) or exact_limit < 0:
            raise ValueError(f"exact_limit must be a non-negative integer, got {exact_limit!r}.")
        Z = _queries.mpe(self, query[1], exact_limit)
        out = self._completed(query, Z, X)
        return (out, self._output(self._log_likelihood(Z), X)) if return_log_prob else out

    @_one_blas_thread
    def conditional_marginals(self, X):
        """Distribution of each missing categorical entry given the observed ones.

        Exact, for all missing entries at once, from one upward and one downward pass.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_features, n_categories)
            ``n_categories`` is ``max(n_categories_)``.
            ``proba[i, j, c] = p(x_ij = c | observed entries of row i)`` for a missing
            categorical entry, a one-hot of the value for an observed one, zeros for
            Gaussian columns.
        """
        proba = _queries.marginals(self, self._check_query_X(X)[1])[0]
        proba = proba[:, :, : max(1, int(self.n_categories_.max()))]
        beyond = np.arange(proba.shape[2]) >= self.n_categories_[:, None]  # incl. "unseen"
        proba[:, beyond] = 0.0
        return self._output(proba, X)

    @_one_blas_thread
    def conditional_mean(self, X):
        """Fill the NaN entries of each row with ``E[x_j | observed entries]``, exactly.

        For a categorical column whose levels are numbers this is the mean of its levels
        under ``p(x_j | observed)`` (an ordinal mean); a column with other levels
        (strings) takes its most probable level.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_filled : ndarray or DataFrame of shape (n_samples, n_features)
            ``X``'s type; observed entries are copied bit for bit.
        """
        query = self._check_query_X(X)
        return self._output(_queries.conditional_means(self, *query), X)

    @_one_blas_thread
    def conditional_log_prob(self, X, query, evidence=None):
        """Exact ``log p(x_query | x_evidence)`` of each row.

        Two marginal passes: ``log p(x_query, x_evidence) - log p(x_evidence)``, every
        other column marginalised.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query and evidence entries must be observed (not NaN).
        query : array-like of int or str, or bool mask of shape (n_features,) or (n_samples, n_features)
            The columns (indices, or names on a model fitted with names) or entries whose
            probability is asked.
        evidence : same as query, or None, default=None
            The conditioning columns (or entries); ``None`` uses every observed entry that
            is not a query entry. An empty evidence gives the marginal ``log p(x_query)``.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
        """
        names = getattr(self, "feature_names_in_", None)
        query, evidence = (_queries.by_name(spec, names, label) for spec, label in
                           ((query, "query"), (evidence, "evidence")))
        Z = self._check_query_X(X)[1]
        return self._output(_queries.conditional_log_prob(self, Z, query, evidence), X)
